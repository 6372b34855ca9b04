"""Flip-flops, one-off glitches, mass edits and regional variants, end to end: a local server
scripted to misbehave, real Scrapy crawls in child processes, a real SQLite file and Apprise
delivering to a local json:// receiver."""

from __future__ import annotations

import html
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlite_utils
from test_crawl import policywatch, seed_page, wait_for, write_config

from crawler.pipelines import answers_left_fit
from monitor import pages

FAST_CONFIRM = "confirm_delay = 0.2"


class ScriptedServer(ThreadingHTTPServer):
    """Serves per path a script of bodies (each request takes the next; the last one stays),
    or bodies by the first language of Accept-Language (`by_language`, "en" by default)."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _ScriptedHandler)
        self.scripts: dict[str, list[str]] = {}
        self.by_language: dict[str, dict[str, str]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.times: list[float] = []  # of each request, in order
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def serve(self, path: str, *bodies: str) -> str:
        self.scripts[path] = list(bodies)
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if p == path)

    def answer(self, path: str, headers: dict[str, str]) -> str | None:
        with self.lock:
            self.requests.append((path, headers))
            self.times.append(time.monotonic())
            if path in self.by_language:
                accepted = headers.get("accept-language", "en").split(",")[0]
                language = accepted.split(";")[0].split("-")[0].strip().lower()
                variants = self.by_language[path]
                return variants.get(language, variants["en"])
            script = self.scripts.get(path)
            if not script:
                return None
            return script.pop(0) if len(script) > 1 else script[0]


class _ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def do_GET(self) -> None:  # noqa: N802
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = self.server.answer(self.path, headers)
        status, kind = (
            (200, "text/html; charset=utf-8") if body is not None else (404, "text/plain")
        )
        data = (body or "not found").encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[ScriptedServer]:
    with running(ScriptedServer()) as server:
        yield server


@contextmanager
def running(server: ScriptedServer) -> Iterator[ScriptedServer]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def crawl(config: Path) -> str:
    result = policywatch("crawl", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def settle(receiver, count: int) -> list[dict]:
    """The messages received, once `count` arrived (or after a short wait for any extra)."""
    wait_for(lambda: len(receiver.messages) >= count, seconds=5)
    time.sleep(0.3)
    return list(receiver.messages)


def policy_page(title: str, paragraphs: list[str], language: str = "en") -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body><main><h1>{html.escape(title)}</h1>"
        f"<h2>Overview</h2>{body}</main></body></html>"
    )


# -- flip-flops ------------------------------------------------------------------------------


def test_flip_flop_alerts_once_for_the_change_once_as_flapping_then_once_for_a_new_text(
    tmp_path, site, json_receiver
):
    a, b = seed_page(), seed_page(edited=True)
    c = b.replace(
        "</article>", "<p>We now keep chat messages for ten years after you leave.</p></article>"
    )
    assert c != b
    url = site.serve("/privacy", a)
    config = write_config(tmp_path, [("policy", url)], [json_receiver.url], extra=FAST_CONFIRM)

    crawl(config)
    site.serve("/privacy", b)
    assert "policy: changed" in crawl(config)
    assert len(settle(json_receiver, 1)) == 1

    outputs = []
    for page in [a, b] * 3:
        site.serve("/privacy", page)
        outputs.append(crawl(config))
    messages = settle(json_receiver, 2)
    assert len(messages) == 2
    assert "flapping between 2 versions" in messages[1]["title"]
    assert "returned" in outputs[0] and all("flapping" in out for out in outputs[1:])

    site.serve("/privacy", c)
    assert "policy: changed" in crawl(config)
    messages = settle(json_receiver, 3)
    assert len(messages) == 3
    assert messages[2]["title"].startswith("policy: ") and "flapping" not in messages[2]["title"]
    assert "ten years" in messages[2]["message"]

    db = sqlite_utils.Database(tmp_path / "store.db")
    versions = list(db["versions"].rows_where(order_by="id"))
    first_a, first_b = versions[0]["id"], versions[1]["id"]
    assert [v["same_as"] for v in versions] == [None, None, *[first_a, first_b] * 3, None]
    assert db["changes"].count == 2  # A → B and B → C: the swings are returns, not changes
    history = policywatch("history", "policy", "--config", str(config)).stdout
    assert history.count(f"same as the version of {versions[0]['created_at']}") == 3


def test_one_glitched_answer_records_nothing_and_sends_nothing(tmp_path, site, json_receiver):
    a = seed_page()
    glitch = seed_page(edited=True)
    url = site.serve("/privacy", a)
    config = write_config(tmp_path, [("policy", url)], [json_receiver.url], extra=FAST_CONFIRM)
    crawl(config)

    site.serve("/privacy", glitch, a)  # one request gets the other text, every later one A
    out = crawl(config)
    assert "policy: transient" in out and "showed the current version again" in out
    assert site.hits("/privacy") == 3  # the baseline, the glitch, its confirmation
    assert "policy: unchanged" in crawl(config)
    assert site.hits("/privacy") == 4  # an unchanged page costs no extra request

    time.sleep(0.5)
    assert json_receiver.messages == []
    db = sqlite_utils.Database(tmp_path / "store.db")
    assert db["versions"].count == 1 and db["changes"].count == 0 and db["alerts"].count == 0
    results = [f["result"] for f in db["fetches"].rows_where(order_by="id")]
    assert results == ["baseline", "transient", "unchanged"]


def test_the_confirming_fetch_is_not_conditional(tmp_path, site, json_receiver):
    url = site.serve("/privacy", seed_page())
    config = write_config(tmp_path, [("policy", url)], [json_receiver.url], extra=FAST_CONFIRM)
    crawl(config)
    db = sqlite_utils.Database(tmp_path / "store.db")
    db.execute("update targets set etag = '\"v1\"', validator_key = ?", ["x"])
    from monitor.config import load_config
    from monitor.watch import validator_key

    key = validator_key(load_config(config).targets[0])
    db.execute("update targets set validator_key = ?", [key])
    db.conn.commit()

    site.serve("/privacy", seed_page(edited=True))
    assert "policy: changed" in crawl(config)
    first, confirming = [h for p, h in site.requests if p == "/privacy"][1:]
    assert first.get("if-none-match") == '"v1"'
    assert "if-none-match" not in confirming


def test_the_confirming_fetch_comes_confirm_delay_after_the_first(tmp_path, site):
    url = site.serve("/privacy", seed_page())
    config = write_config(tmp_path, [("policy", url)], [], extra="confirm_delay = 1.5")
    crawl(config)

    site.serve("/privacy", seed_page(edited=True))
    assert "policy: changed" in crawl(config)
    times = [t for (p, _), t in zip(site.requests, site.times, strict=True) if p == "/privacy"]
    first, confirming = times[1:]
    # The delay counts from the first answer's arrival, so from before it was read: never less.
    assert confirming - first >= 1.5


def test_the_crawl_ends_once_its_last_confirmation_is_recorded(tmp_path, site):
    a, b = seed_page(), seed_page(edited=True)
    c = b.replace("</article>", "<p>We now keep chat messages for ten years.</p></article>")
    url = site.serve("/privacy", a)
    config = write_config(tmp_path, [("policy", url)], [], extra=FAST_CONFIRM)
    crawl(config)

    site.serve("/privacy", b, c)  # the confirming fetch shows a third text: it is read again
    assert "showed yet another text" in crawl(config)
    # Scrapy asks whether an idle crawl may close at its heartbeat, every 5 s; the crawl that
    # held it open for the confirmation closes it at once (within 0.1 s here).
    assert time.monotonic() - site.times[-1] < 2.5


# -- mass edits ------------------------------------------------------------------------------

DOCUMENTS = {
    "/privacy": "Acme Privacy Policy",
    "/terms": "Acme Terms of Service",
    "/cookies": "Acme Cookie Notice",
    "/community": "Acme Community Guidelines",
}


def document_page(title: str, extra: list[str] = ()) -> str:
    own = title.split(" ", 1)[1]
    return policy_page(
        title,
        [
            f"This {own} explains how Acme runs the service and what it asks of its members.",
            f"We may update the {own} from time to time; the date above shows the last change.",
            *extra,
        ],
    )


def test_the_same_paragraph_added_to_four_documents_is_one_notification(
    tmp_path, site, json_receiver
):
    targets = [(title, site.serve(path, document_page(title))) for path, title in DOCUMENTS.items()]
    config = write_config(
        tmp_path, targets, [json_receiver.url], extra=f'alert_on = "any"\n{FAST_CONFIRM}'
    )
    crawl(config)

    for path, title in DOCUMENTS.items():
        own = title.split(" ", 1)[1]
        added = [f"Acme may use content covered by this {own} to train machine learning models."]
        if path == "/terms":
            added.append("Disputes are settled by arbitration in Delaware.")
        site.serve(path, document_page(title, added))
    out = crawl(config)
    assert out.count(": changed") == 4

    [message] = settle(json_receiver, 1)
    assert message["title"].startswith("Same edit on 4 policies")
    for title in DOCUMENTS.values():
        assert title in message["message"]
    assert message["message"].count("to train machine learning models") == 1
    assert "arbitration in Delaware" in message["message"]
    db = sqlite_utils.Database(tmp_path / "store.db")
    kinds = [a["kind"] for a in db["alerts"].rows_where(order_by="id")]
    assert kinds == ["change"] * 4 + ["mass-edit"]
    statuses = {d["status"] for d in db["deliveries"].rows_where("alert_id <= 4")}
    assert statuses == {"superseded"}


# -- regional variants and request settings -----------------------------------------------


def test_a_target_with_accept_language_follows_only_its_own_language(tmp_path, site, json_receiver):
    english = policy_page("Privacy Policy", ["We keep your data for one year."] * 2)
    german = policy_page(
        "Datenschutzerklärung", ["Wir speichern Ihre Daten ein Jahr lang."] * 2, language="de"
    )
    site.by_language["/privacy"] = {"en": english, "de": german}
    url = site.base + "/privacy"
    config = write_config(tmp_path, [("policy-de", url)], [json_receiver.url], extra=FAST_CONFIRM)
    config.write_text(
        config.read_text() + 'headers = {"Accept-Language" = "de-DE,de;q=0.9"}\nalert_on = "any"\n'
    )
    crawl(config)

    site.by_language["/privacy"]["en"] = english.replace("one year", "ten years")
    assert "policy-de: unchanged" in crawl(config)
    time.sleep(0.5)
    assert json_receiver.messages == []

    site.by_language["/privacy"]["de"] = german.replace("ein Jahr lang", "zehn Jahre lang")
    assert "policy-de: changed" in crawl(config)
    [message] = settle(json_receiver, 1)
    assert message["title"].startswith("policy-de:")
    sent = [h for p, h in site.requests if p == "/privacy"]
    assert {h["accept-language"] for h in sent} == {"de-DE,de;q=0.9"}
    assert {h["user-agent"] for h in sent} == {pages.USER_AGENT}


def test_robots_txt_is_fetched_once_a_day_and_still_obeyed_from_the_store(tmp_path, site):
    site.serve("/robots.txt", "User-agent: *\nDisallow: /private\n")
    blocked = site.serve("/private/privacy", seed_page())
    allowed = site.serve("/terms", seed_page())
    config = write_config(tmp_path, [("blocked", blocked), ("allowed", allowed)], [])

    first = policywatch("crawl", "--config", str(config))
    second = policywatch("crawl", "--config", str(config))
    for result in (first, second):
        assert "blocked: failed: blocked by robots.txt" in result.stdout
    assert "allowed: unchanged" in second.stdout
    assert site.hits("/robots.txt") == 1 and site.hits("/private/privacy") == 0

    with sqlite3.connect(tmp_path / "store.db") as db:  # a day later
        db.execute("update robots_files set fetched_at = '2000-01-01T00:00:00+00:00'")
    site.serve("/robots.txt", "User-agent: *\nDisallow:\n")
    third = policywatch("crawl", "--config", str(config))
    assert "blocked: baseline" in third.stdout
    assert site.hits("/robots.txt") == 2


def test_robots_txt_blocks_a_target_visibly_and_obey_robots_false_fetches_it(tmp_path, site):
    site.serve("/robots.txt", "User-agent: *\nDisallow: /private\n")
    blocked = site.serve("/private/privacy", seed_page())
    allowed = site.serve("/private/terms", seed_page())
    config = write_config(tmp_path, [("blocked", blocked), ("allowed", allowed)], [])
    config.write_text(config.read_text() + "obey_robots = false\n")

    result = policywatch("crawl", "--config", str(config))
    assert result.returncode == 1
    assert "blocked: failed: blocked by robots.txt" in result.stdout
    assert "allowed: baseline" in result.stdout
    assert site.hits("/private/privacy") == 0 and site.hits("/private/terms") == 1
    status = policywatch("status", "--config", str(config), "--json")
    [row] = [r for r in json.loads(status.stdout)["targets"] if r["name"] == "blocked"]
    assert row["last_error"].startswith("blocked by robots.txt")


def test_regional_variants_are_listed_side_by_side(tmp_path, site):
    english = policy_page("Privacy Policy", ["We keep your data for one year."] * 2)
    german = policy_page(
        "Datenschutzerklärung", ["Wir speichern Ihre Daten ein Jahr lang."] * 2, language="de"
    )
    site.by_language["/privacy"] = {"en": english, "de": german}
    url = site.base + "/privacy"
    config = write_config(tmp_path, [("en", url), ("de", url)], [], extra=FAST_CONFIRM)
    config.write_text(config.read_text() + 'headers = {"Accept-Language" = "de"}\n')
    crawl(config)
    site.by_language["/privacy"]["de"] = german.replace("ein Jahr lang", "zehn Jahre lang")
    crawl(config)

    result = policywatch("history", "en", "de", "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["changed"] for row in rows][-1] == "de"
    assert sorted(row["changed"] for row in rows) == ["de", "de", "en"]
    last = rows[-1]["versions"]
    assert last["en"]["change"] is None and last["de"]["change"] == "material"
    assert last["de"]["title"] == "Datenschutzerklärung" and last["en"]["title"] == "Privacy Policy"
    table = policywatch("history", "en", "de", "--config", str(config)).stdout
    assert table.splitlines()[0].split()[:4] == ["fetched", "at", "en", "de"]
    assert len(table.splitlines()) == 4


def test_a_target_download_delay_spaces_the_requests_to_its_host(tmp_path, site):
    targets = [(f"p{i}", site.serve(f"/p{i}", seed_page())) for i in range(3)]
    config = write_config(tmp_path, targets, [], extra="[crawl]\nautothrottle = false")
    config.write_text(config.read_text() + "download_delay = 2\n")

    crawl(config)
    times = [
        t for (path, _), t in zip(site.requests, site.times, strict=True) if path != "/robots.txt"
    ]
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # Scrapy randomizes a slot's delay between 0.5 and 1.5 times it: 1-3 s here, against
    # 0.25-0.75 s for the crawl's own DOWNLOAD_DELAY
    assert min(gaps) >= 0.95


def test_the_downloader_runs_further_ahead_once_the_pages_left_would_fit():
    """`StorePipeline.run_ahead_at_the_end`'s rule: once the pages still to answer would fit,
    at the mean size of the answers so far, in the answers the downloader may hold ahead of
    reading, that room is doubled, so that the last pages arrive early and their confirming
    fetches are due by the time they are read. (What it gains is a benchmark's to show:
    0.66 s of a 1,000-page crawl where every page changed, bench/PERFORMANCE.md. Counted
    from a test server's requests, how far reading had got when the last page was first
    asked for swung from 3 to 25 pages with the widening and from 14 to 32 without, as the
    machine's load went.)"""
    mb = 1_000_000
    assert answers_left_fit(left=10, answers=20, answer_bytes=40 * mb, room=20 * mb)
    assert not answers_left_fit(left=11, answers=20, answer_bytes=40 * mb, room=20 * mb)
    assert answers_left_fit(left=1_000, answers=9_000, answer_bytes=180 * mb, room=20 * mb)
    assert not answers_left_fit(left=1_001, answers=9_000, answer_bytes=180 * mb, room=20 * mb)


def test_a_crawl_of_large_changed_pages_confirms_each_once(tmp_path, site):
    """Large pages, read more slowly than they arrive, and a run-ahead widened near the end:
    each changed page is fetched, then confirmed once, and recorded."""
    count = 40
    clause = " ".join(f"clause{i} of the agreement binds each member" for i in range(120))
    pages = {
        f"/p{n}": policy_page(f"Policy {n}", [f"{n} {i} {clause}" for i in range(190)])
        for n in range(count)
    }
    assert 900_000 < len(pages["/p0"]) < 1_100_000
    for path, page in pages.items():
        site.serve(path, page)
    extra = (
        "confirm_delay = 0\n"
        "[crawl]\nautothrottle = false\ndownload_delay = 0\nconcurrent_requests_per_domain = 64"
    )
    config = write_config(tmp_path, [(p[1:], site.base + p) for p in pages], [], extra=extra)
    crawl(config)
    for path, page in pages.items():
        site.serve(path, page.replace("binds each member", "binds every member", 1))
    site.requests.clear()
    output = crawl(config)

    paths = [path for path, _ in site.requests if path in pages]
    assert sorted(paths) == sorted([*pages, *pages])  # each page fetched, then confirmed
    assert output.count(": changed") == count


@pytest.fixture
def other_sites() -> Iterator[list[ScriptedServer]]:
    """Six more sites, each on an address of its own (Scrapy's per-site slots go by host)."""
    with ExitStack() as stack:
        yield [stack.enter_context(running(ScriptedServer(f"127.0.0.{n}"))) for n in range(2, 8)]


def test_a_site_with_many_targets_does_not_hold_back_the_others(tmp_path, site, other_sites):
    """Eight targets on one slow site, listed first, then six sites of one target each, four
    requests at a time: the scheduler hands out requests of sites with nothing under way
    first, so the six are fetched while the first site waits out its delays. (Taken in the
    order listed, the slow site's requests would fill the four places, and the six would
    wait for all eight.)"""
    many = [(f"a{i}", site.serve(f"/a{i}", seed_page())) for i in range(8)]
    others = [(f"b{i}", other.serve("/b", seed_page())) for i, other in enumerate(other_sites)]
    extra = (
        "[crawl]\nautothrottle = false\nconcurrent_requests = 4\n"
        "concurrent_requests_per_domain = 1\ndownload_delay = 0.4"
    )
    config = write_config(tmp_path, many + others, [], extra=extra)

    crawl(config)  # the sites' robots.txt, kept in the store, are not fetched again
    for server in (site, *other_sites):
        server.requests.clear()
        server.times.clear()
    crawl(config)

    first_site = site.times
    other_times = [t for other in other_sites for t in other.times]
    assert sorted(path for path, _ in site.requests) == [f"/a{i}" for i in range(8)]
    assert len(other_times) == 6
    # A slot's delay is 0.2-0.6 s here: the third request of the slow site comes 0.4 s or
    # more after its first.
    assert max(other_times) < first_site[2]
