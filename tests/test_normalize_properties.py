"""Properties of the normalizer on arbitrary input (hypothesis).

- It never raises on any bytes, any markup, any declared type, except `ExtractionError` (the
  page gives no policy text).
- It is deterministic: the same bytes give the same document.
- Reading a page once for its region key and its document (`PageReading`) gives what
  reading it twice gives.
- It is idempotent on its own output: the canonical text, read again as text/plain (it is
  Markdown-like: "#" headings, "- " items, indented "<link>" lines), gives the same canonical
  text, so a stored version normalized again never shows as a change. Precisely: this holds
  for every document with a title or a section heading, whose text therefore has a "#" line
  that marks it as Markdown (no heading is then guessed). A document of bare paragraphs reads
  back as plain text, where a short first line may be taken for a title. And the rendering
(document.render) neither fences preformatted blocks nor escapes a paragraph that starts with
"#": such blocks read back as other blocks. Both need a change to document.render.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from monitor.extract import visible_texts
from monitor.normalize import (
    ExtractionError,
    PageReading,
    Selection,
    _parse_html,
    normalize,
    region_key,
)

TAGS = ["div", "p", "span", "h1", "h2", "h3", "h4", "ul", "ol", "li", "table", "tr", "td",
        "th", "a", "b", "strong", "em", "br", "section", "article", "main", "nav", "header",
        "footer", "aside", "details", "summary", "pre", "blockquote", "script", "style",
        "noscript", "template", "button", "form", "dl", "dt", "dd", "time", "font"]  # fmt: skip
ATTRIBUTES = ['class="policy"', 'id="content"', 'hidden', 'style="display:none"',
              'href="/x?a=1&b=2"', 'role="main"', 'aria-level="2"', 'lang="fr"',
              'class="cookie-banner"', 'datetime="2025-01-02"']  # fmt: skip
WORDS = st.sampled_from(
    ["Privacy", "policy", "données", "personal", "data", "1.", "2.1", "Section", "Last",
     "Updated:", "January", "1,", "2025", "we", "collect", "&amp;", "<", ">", "&", "§",
     "Datenschutz", "•", "-", "#", "|", "\u00a0", "\u200b", "ü", "你好", "…", "Article", "IV."]
)  # fmt: skip
TEXT = st.lists(st.one_of(WORDS, st.text(max_size=8)), max_size=12).map(" ".join)


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(TAGS))
    attributes = " ".join(draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=2)))
    children = []
    if depth < 4:
        children = draw(st.lists(st.one_of(TEXT, elements(depth + 1)), max_size=4))
    else:
        children = [draw(TEXT)]
    closing = "" if draw(st.booleans()) and draw(st.booleans()) else f"</{tag}>"
    return f"<{tag} {attributes}>{''.join(children)}{closing}"


PAGES = st.builds(
    lambda head, title, body: (
        f"<!doctype html><html{head}><head><title>{title}</title></head>"
        f"<body>{''.join(body)}</body></html>"
    ),
    st.sampled_from(["", ' lang="en"', ' lang="de-DE"']),
    TEXT,
    st.lists(elements(), min_size=1, max_size=5),
)
CONTENT_TYPES = st.sampled_from(
    [None, "text/html", "text/html; charset=utf-8", "text/html; charset=iso-8859-1",
     "text/html; charset=bogus", "text/plain", "text/plain; charset=utf-16",
     "application/octet-stream", "application/xhtml+xml"]
)  # fmt: skip
FAST = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _normalize_or_none(body: bytes, content_type: str | None):
    try:
        return normalize(body, content_type=content_type, url="https://example.com/privacy")
    except ExtractionError:
        return None


@FAST
@given(body=st.binary(max_size=2000), content_type=CONTENT_TYPES)
def test_any_bytes_give_a_document_or_an_extraction_error(body, content_type):
    _normalize_or_none(body, content_type)


@FAST
@given(page=PAGES, content_type=CONTENT_TYPES, encoding=st.sampled_from(["utf-8", "cp1252"]))
def test_any_markup_gives_a_document_or_an_extraction_error(page, content_type, encoding):
    _normalize_or_none(page.encode(encoding, errors="replace"), content_type)


@FAST
@given(page=PAGES)
def test_normalizing_is_deterministic(page):
    first = _normalize_or_none(page.encode(), "text/html")
    second = _normalize_or_none(page.encode(), "text/html")
    assert (first and first.to_dict()) == (second and second.to_dict())
    assert (first and first.fingerprint) == (second and second.fingerprint)


@FAST
@given(page=PAGES)
def test_the_canonical_text_read_again_is_the_same_text(page):
    document = _normalize_or_none(page.encode(), "text/html")
    assume(document is not None)
    assume(document.title or any(s.heading or s.number for s in document.sections))
    blocks = [block for section in document.sections for block in section.blocks]
    assume(not any(b.kind == "pre" or b.text.startswith("#") for b in blocks))
    again = normalize(document.text.encode(), content_type="text/plain; charset=utf-8")
    assert again.text == document.text
    assert again.fingerprint == document.fingerprint


SELECTIONS = st.sampled_from(
    [Selection(), Selection(select=("main",)), Selection(select=("article", "section")),
     Selection(select=("div",), remove=("nav", "p b"))]
)  # fmt: skip


def _document_or_error(read) -> object:
    try:
        return read().to_dict()
    except ExtractionError as err:
        return (err.kind, str(err))


@FAST
@given(page=PAGES, selection=SELECTIONS)
def test_one_reading_gives_the_key_and_document_of_two(page, selection):
    settings = {"content_type": "text/html", "url": "https://x.test/p", "selection": selection}
    reading = PageReading(page.encode(), **settings)
    assert reading.region_key() == region_key(page.encode(), **settings)
    assert _document_or_error(reading.document) == _document_or_error(
        lambda: normalize(page.encode(), **settings)
    )


_VISIBLE_TEXT = etree.XPath(".//text()[not(ancestor::script or ancestor::style)]")


@FAST
@given(page=PAGES)
def test_the_visible_texts_of_a_page_are_its_text_nodes_outside_code(page):
    body = _parse_html(page).find("body")
    assume(body is not None)
    assert list(visible_texts(body)) == _VISIBLE_TEXT(body)


@pytest.mark.parametrize(
    "text",
    [
        "# Privacy Policy\n\n## 1 Data\n\nWe keep it.\n  <https://example.com/a>\n\n- item\n",
        "Intro paragraph without a title.\n\n### Deep first\n\nText.\n\n## Shallow\n\nMore.\n",
        "# 1 Numbered title\n\n| a | b |\n\nText.\n",
    ],
)
def test_canonical_text_is_a_fixed_point(text):
    once = normalize(text.encode(), content_type="text/plain").text
    assert normalize(once.encode(), content_type="text/plain").text == once
