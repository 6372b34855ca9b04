"""Milliseconds per page of `normalize` over the corpus, with selectors and in auto mode.

    python bench/normalize_speed.py [--repeat N] [--profile]

One process; one warm-up pass, then N timed passes (median and mean of every call).
`--profile` prints the cProfile of one pass instead, sorted by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

from normalize_pages import Case, corpus_cases

from monitor.normalize import ExtractionError, normalize


def run(case: Case) -> None:
    try:
        document = normalize(
            case.body, content_type=case.content_type, url=case.url, selection=case.selection
        )
    except ExtractionError:
        return
    document.fingerprint  # noqa: B018 - part of what a check costs
    document.word_count  # noqa: B018


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    cases = corpus_cases()
    for case in cases:
        run(case)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [run(case) for case in cases])
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
        return
    # Wall time is what the brief asks for; CPU time of this process barely moves when other
    # processes load the machine, so it is the steadier figure to compare two versions by.
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for case in cases:
            wall_start, cpu_start = time.perf_counter(), time.process_time()
            run(case)
            cpu.setdefault(case.mode, []).append(time.process_time() - cpu_start)
            wall.setdefault(case.mode, []).append(time.perf_counter() - wall_start)
    for mode in [*wall, "all"]:
        wall_ms = [1000 * t for m, ts in wall.items() if mode in (m, "all") for t in ts]
        cpu_ms = [1000 * t for m, ts in cpu.items() if mode in (m, "all") for t in ts]
        print(
            f"{mode:10} {len(wall_ms) // args.repeat:4} pages: wall median"
            f" {statistics.median(wall_ms):6.2f} ms, mean {statistics.mean(wall_ms):6.2f} ms;"
            f" cpu mean {statistics.mean(cpu_ms):6.2f} ms"
        )


if __name__ == "__main__":
    main()
