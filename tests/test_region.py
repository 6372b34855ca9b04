"""A page whose selected region did not change is not normalized again (`region_key`)."""

from __future__ import annotations

import json
import sqlite3
from functools import partial

import pytest
from test_crawl import NAME, policywatch, seed_page, write_config

from monitor.normalize import (
    ExtractionError,
    PageReading,
    Range,
    Selection,
    normalize,
    region_key,
)

SELECT = Selection.from_config("article", None)


def key(page: str, selection: Selection = SELECT) -> str | None:
    return region_key(page.encode(), content_type="text/html", url="https://x.test/p",
                      selection=selection)  # fmt: skip


def test_markup_outside_the_region_does_not_change_the_key_the_text_inside_does():
    page = seed_page()
    noisy = page.replace("<nav>", "<nav><script>var token = 'f00d';</script>")
    assert noisy != page and key(noisy) == key(page) is not None
    assert key(seed_page(edited=True)) != key(page)
    assert key(page.replace("<article>", "<article class='v2'>")) != key(page)


@pytest.mark.parametrize(
    "change",
    [
        ("<title>Ecomsters privacy policy</title>", "<title>Ecomsters terms</title>"),
        ("<html lang='en'>", "<html lang='de'>"),
        ("<main>", "<main><b>"),  # the region now sits in bold text
        ("<head>", "<head><meta name='last-modified' content='2025-06-01'>"),
    ],
)
def test_what_normalize_reads_outside_the_region_changes_the_key(change):
    page = seed_page()
    assert change[0] in page
    assert key(page.replace(*change)) != key(page)


def test_a_page_has_one_key_in_any_charset():
    """A UTF-8 page is parsed from its bytes, a page in another charset from its text: the
    same page gives the same tree, form feeds and control characters included."""
    page = seed_page().replace("</article>", "<pre>Données\x0cà\x01 caractère\x7f</pre></article>")
    keys = {
        region_key(
            page.encode(charset),
            content_type=f"text/html; charset={charset}",
            url="https://x.test/p",
            selection=SELECT,
        )
        for charset in ("utf-8", "cp1252", "utf-16")
    }
    assert len(keys) == 1 and None not in keys


def test_no_key_where_the_region_could_join_text_around_it():
    page = seed_page()
    assert key(page, Selection.from_config("nav a", None)) is None  # inline: not a block
    table = page.replace("<main>", "<table><tr><td>").replace("</main>", "</td></tr></table>")
    assert key(table) is None
    ranged = Selection(select=(Range(start_before="h2", end_before="footer"),))
    assert key(page, ranged) is None
    assert key(page, Selection()) is None


def test_on_the_corpus_pages_with_one_key_have_one_document(corpus, manifest):
    keyed = 0
    for doc in manifest:
        selection = Selection.from_config(doc["select"], doc["remove"])
        documents: dict[str, str] = {}
        for path in sorted((corpus / doc["id"]).glob("*.html")):
            body = path.read_bytes()
            found = region_key(body, content_type="text/html", url="https://x.test/p",
                               selection=selection)  # fmt: skip
            if found is None:
                continue
            keyed += 1
            try:
                document = normalize(body, content_type="text/html", url="https://x.test/p",
                                     selection=selection)  # fmt: skip
                text = json.dumps(document.to_dict(), sort_keys=True)
            except ExtractionError as err:
                text = err.kind
            assert documents.setdefault(found, text) == text, path
    assert keyed > 300


def outcome(read) -> str:
    try:
        return json.dumps(read().to_dict(), sort_keys=True)
    except ExtractionError as err:
        return f"{err.kind}: {err}"


def test_one_reading_gives_the_key_and_document_of_reading_the_page_twice(corpus, manifest):
    """A worker reads the key, then the document, from one parse of the page: what the one
    reads of the tree must not change what the other finds."""
    for doc in manifest:
        selection = Selection.from_config(doc["select"], doc["remove"])
        for path in sorted((corpus / doc["id"]).glob("*.html"))[:2]:
            body = path.read_bytes()
            settings = {"content_type": "text/html", "url": doc["url"], "selection": selection}
            reading = PageReading(body, **settings)
            key = reading.region_key()
            assert key == region_key(body, **settings), path
            assert outcome(reading.document) == outcome(partial(normalize, body, **settings)), path
            assert reading.region_key() == key, path  # the document took the tree: read again


def test_a_crawl_skips_an_unchanged_region_and_still_sees_a_change_in_it(tmp_path, page_server):
    url = page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [(NAME, url)], [])
    config.write_text(config.read_text() + 'select = "article"\n')
    assert f"{NAME}: baseline" in policywatch("crawl", "--config", str(config)).stdout

    page_server.set("/privacy", seed_page().replace("Pricing", "Plans"))  # outside the region
    assert f"{NAME}: unchanged" in policywatch("crawl", "--config", str(config)).stdout
    with sqlite3.connect(tmp_path / "store.db") as db:
        [(region,)] = db.execute("select trusted_region from targets").fetchall()
    assert region is not None

    page_server.set("/privacy", seed_page(edited=True).replace("Pricing", "Plans"))
    result = policywatch("crawl", "--config", str(config))
    assert f"{NAME}: changed: material change" in result.stdout
