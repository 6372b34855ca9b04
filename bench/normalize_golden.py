"""Check that `normalize` gives exactly the same output as a saved reference.

    python bench/normalize_golden.py record /tmp/normalize-golden.json   # before a change
    python bench/normalize_golden.py check /tmp/normalize-golden.json    # after it

Every page of `normalize_pages` is recorded: the document as JSON, its fingerprint, text and
word count, or the ExtractionError's kind and message. `check` lists every page that differs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from normalize_pages import Case, corpus_cases, other_cases

from monitor.normalize import ExtractionError, normalize


def output(case: Case) -> dict:
    try:
        document = normalize(
            case.body, content_type=case.content_type, url=case.url, selection=case.selection
        )
    except ExtractionError as error:
        return {"error": [error.kind, error.message, str(error)]}
    return {
        "document": json.dumps(document.to_dict()),
        "fingerprint": document.fingerprint,
        "text": document.text,
        "word_count": document.word_count,
    }


def main(command: str, path: Path) -> int:
    outputs = {case.key: output(case) for case in [*corpus_cases(), *other_cases()]}
    if command == "record":
        path.write_text(json.dumps(outputs, ensure_ascii=False, indent=0))
        print(f"recorded {len(outputs)} outputs to {path}")
        return 0
    reference = json.loads(path.read_text())
    differing = [
        key for key in reference.keys() | outputs.keys() if reference.get(key) != outputs.get(key)
    ]
    for key in sorted(differing):
        print(f"DIFFERS: {key}")
    errors = sum("error" in value for value in outputs.values())
    print(f"{len(outputs)} outputs compared ({errors} extraction errors): {len(differing)} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
