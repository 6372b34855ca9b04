"""The pages the normalize benchmarks read, each with the arguments the other benches pass.

Shared by `normalize_golden.py` (outputs must stay identical) and `normalize_speed.py` (how
long they take): the labelled corpus with the manifest's selectors and without any, the seed
texts, and the unseen HTML and plain-text pages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from monitor.normalize import Selection

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
UNSEEN = ROOT.parent / "unseen"


@dataclass(frozen=True)
class Case:
    """One call of `normalize`: a page's bytes and the arguments it is read with."""

    name: str
    mode: str  # "selectors", "auto", "seed", "unseen"
    body: bytes
    url: str = ""
    content_type: str | None = None
    selection: Selection = field(default_factory=Selection)

    @property
    def key(self) -> str:
        return f"{self.mode}:{self.name}"


def corpus_cases(corpus: Path = SHARED / "policy-corpus") -> list[Case]:
    """Every snapshot of the corpus, with its selectors and in auto mode (as bench/quality.py)."""
    cases = []
    for entry in json.loads((corpus / "manifest.json").read_text()):
        selection = Selection.from_config(entry["select"], entry["remove"])
        for page in sorted((corpus / entry["id"]).glob("*.html")):
            body, name = page.read_bytes(), f"{entry['id']}/{page.stem}"
            cases.append(Case(name, "selectors", body, entry["url"], selection=selection))
            cases.append(Case(name, "auto", body, entry["url"]))
    return cases


def other_cases() -> list[Case]:
    """The seed texts and the unseen pages (as bench/unseen.py reads them)."""
    cases = [
        Case(path.name, "seed", path.read_bytes(), content_type="text/plain; charset=utf-8")
        for path in sorted((SHARED / "seeds").glob("*"))
    ]
    for path in sorted([*UNSEEN.glob("html/*"), *UNSEEN.glob("text/*")]):
        is_html = path.suffix in (".html", ".htm")
        content_type = "text/html; charset=utf-8" if is_html else "text/plain; charset=utf-8"
        cases.append(
            Case(f"{path.parent.name}/{path.name}", "unseen", path.read_bytes(), "", content_type)
        )
    return cases
