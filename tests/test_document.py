"""Documents cross process boundaries (a crawl's pool workers, a cluster's workers) intact."""

from __future__ import annotations

import pickle
import unicodedata
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from monitor.document import (
    _QUOTE_AND_DASH_FOLDS,
    Block,
    DateMention,
    Document,
    Section,
    fold_for_comparison,
)
from monitor.normalize import Selection, normalize


def test_a_pickled_document_comes_back_equal_with_its_text_and_fingerprint(corpus, manifest):
    entry = manifest[0]
    page = sorted((corpus / entry["id"]).glob("*.html"))[0]
    selection = Selection.from_config(entry["select"], entry["remove"])
    document = normalize(page.read_bytes(), content_type="text/html", selection=selection)
    assert len(document.sections) > 1

    copy = pickle.loads(pickle.dumps(document))

    assert copy == document
    assert copy.text == document.text and copy.fingerprint == document.fingerprint
    assert [s.blocks for s in copy.sections] == [s.blocks for s in document.sections]


def test_an_unpickled_document_rebuilds_its_sections_only_when_they_are_read(corpus, manifest):
    entry = manifest[0]
    page = sorted((corpus / entry["id"]).glob("*.html"))[0]
    selection = Selection.from_config(entry["select"], entry["remove"])
    document = normalize(page.read_bytes(), content_type="text/html", selection=selection)

    copy = pickle.loads(pickle.dumps(document))

    # What the crawl's writer stores of a new text comes without rebuilding its blocks.
    stored = ("title", "language", "last_updated", "effective", "text", "fingerprint",
              "word_count", "json_bytes")  # fmt: skip
    assert [getattr(copy, name) for name in stored] == [getattr(document, name) for name in stored]
    assert "sections" not in vars(copy)
    again = pickle.loads(pickle.dumps(copy))  # sent on before its sections were read
    assert again.sections == document.sections and "sections" in vars(again)
    assert replace(copy, title="Other").sections == document.sections
    assert copy == document


def test_every_field_of_blocks_and_sections_survives_pickling():
    document = Document(
        title="Terms",
        sections=(
            Section("", 0, (Block("Intro", "p"),)),
            Section("Data", 2, (Block("We keep [it](x)", "li", ("https://a.example/",)),), "2.1"),
        ),
        language="en",
        last_updated=DateMention("2026-01-02", "Last updated 2 January 2026"),
    )

    copy = pickle.loads(pickle.dumps(document))

    assert copy == document
    assert copy.sections[1].number == "2.1" and copy.sections[1].level == 2
    assert copy.sections[1].blocks[0].links == ("https://a.example/",)
    assert copy.sections[1].blocks[0].kind == "li"


@given(
    st.text(
        alphabet=st.sampled_from([*_QUOTE_AND_DASH_FOLDS, "a", "é", " ", '"', "'", "-", "."]),
        max_size=40,
    )
)
def test_folding_maps_each_character_as_the_table_says(text):
    """Folding replaces each folded character by its table entry, every other character kept
    (then spaces at quote marks go, and a text without spaces or quotes shows that alone)."""
    expected = "".join(_QUOTE_AND_DASH_FOLDS.get(c, c) for c in unicodedata.normalize("NFC", text))
    if " " not in expected:
        assert fold_for_comparison(text) == expected
    assert not set(fold_for_comparison(text)) & set(_QUOTE_AND_DASH_FOLDS)


def test_folding_typographic_quotes_dashes_and_ellipses():
    """Each folded to its ASCII form; the space before a quote mark goes too."""
    assert (
        fold_for_comparison("We don\u2019t \u2014 \u201cever\u201d\u2026") == 'We don\'t -"ever"...'
    )
