"""normalize() on real pages: noise pairs stay equal, changes show, seeds get their sections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.normalize import ExtractionError, Selection, normalize


def _entry(manifest: list[dict], doc_id: str) -> dict:
    return next(entry for entry in manifest if entry["id"] == doc_id)


def _document(corpus: Path, entry: dict, snap: str, *, with_selectors: bool):
    selection = (
        Selection.from_config(entry["select"], entry["remove"]) if with_selectors else Selection()
    )
    body = (corpus / entry["id"] / f"{snap}.html").read_bytes()
    return normalize(body, url=entry["url"], selection=selection)


PAIRS = [
    # (document, before, after, label)
    ("dating-tinder-terms-of-service", "b2f8873b37d2", "325d5cd4336f", "noise"),
    ("dating-her-privacy-policy", "b45fb49dd44a", "85dda9d1f817", "noise"),
    ("dating-mektoube-terms-of-service", "b6ff9ca45375", "161cd42f3539", "noise"),
    ("dating-happn-terms-of-service", "2e3dd24ae0d7", "61320737ada3", "noise"),
    ("dating-finya-imprint", "83baec2e4826", "074ca4a00892", "noise"),
    ("dating-match-terms-of-service", "081d27084396", "836b0d482ea9", "change"),
    ("dating-badoo-terms-of-service", "80d260b14112", "426c535f56ae", "change"),
    ("dating-lovescout24-privacy-policy", "38705f20cf71", "61570f70b538", "change"),
    ("dating-zoosk-privacy-policy", "e0bd0065d776", "7de3e6f25869", "change"),
]


@pytest.mark.parametrize("with_selectors", [True, False], ids=["selectors", "auto"])
@pytest.mark.parametrize(("doc_id", "before", "after", "label"), PAIRS)
def test_corpus_pair_is_reported_as_labelled(
    corpus: Path, manifest: list[dict], doc_id, before, after, label, with_selectors
) -> None:
    entry = _entry(manifest, doc_id)
    old = _document(corpus, entry, before, with_selectors=with_selectors)
    new = _document(corpus, entry, after, with_selectors=with_selectors)
    assert (old.fingerprint != new.fingerprint) == (label == "change")


@pytest.mark.parametrize(
    ("snapshot", "kind"),
    [
        ("dating-grindr-terms-of-service/789b04f6db7b", "selector-miss"),
        ("dating-parship-commercial-terms/40331f2947c5", "selector-miss"),
        ("dating-hily-privacy-policy/23335169c9a9", "challenge"),
    ],
)
def test_snapshots_where_the_selector_misses_raise(
    corpus: Path, manifest: list[dict], snapshot: str, kind: str
) -> None:
    misses = json.loads((corpus / "labels" / "selector_misses.json").read_text())
    assert snapshot in misses["dating"]
    doc_id, snap = snapshot.split("/")
    with pytest.raises(ExtractionError) as raised:
        _document(corpus, _entry(manifest, doc_id), snap, with_selectors=True)
    assert raised.value.kind == kind


@pytest.mark.parametrize(
    ("doc_id", "snap", "title", "headings", "last_updated"),
    [
        (
            "dating-tinder-privacy-policy",
            "0016f4124084",
            "Privacy Policy",
            ["1 Who We Are", "2 Where This Privacy Policy Applies", "3 Data We Collect"],
            "2026-04-04",
        ),
        (
            "dating-parship-terms-of-service",
            "33a96293a6c6",
            "CGU",
            ["1 Objet du contrat", "2 Accès/Conclusion du contrat"],
            "2025-09-02",
        ),
    ],
)
def test_auto_mode_reads_the_policy_body(
    corpus: Path, manifest: list[dict], doc_id, snap, title, headings, last_updated
) -> None:
    document = _document(corpus, _entry(manifest, doc_id), snap, with_selectors=False)
    assert document.title == title
    labels = [section.label for section in document.sections]
    assert labels[labels.index(headings[0]) :][: len(headings)] == headings
    assert document.word_count > 5000
    assert document.last_updated is not None
    assert document.last_updated.value == last_updated


ECOMSTERS_SECTIONS = [
    ("1", "Introduction"),
    ("2", "Information We Collect"),
    ("2.1", "Personal Information"),
    ("2.2", "Automatically Collected Information"),
    ("2.3", "Cookies and Tracking Technologies"),
    ("3", "How We Use Your Information"),
    ("3.1", "Service Delivery"),
    ("3.2", "Communication"),
    ("3.3", "Business Operations"),
    ("4", "Information Sharing and Disclosure"),
    ("4.1", "Service Providers"),
    ("4.2", "Legal Requirements"),
    ("4.3", "Business Transfers"),
    ("5", "Data Security"),
    ("5.1", "Technical Safeguards"),
    ("5.2", "Administrative Safeguards"),
    ("6", "Your Rights and Choices"),
    ("6.1", "Access and Portability"),
    ("6.2", "Correction and Updates"),
    ("6.3", "Deletion and Restriction"),
    ("6.4", "Marketing Communications"),
    ("7", "Cookies and Tracking"),
    ("7.1", "Types of Cookies"),
    ("7.2", "Cookie Management"),
    ("8", "Data Retention"),
    ("8.1", "Retention Periods"),
    ("8.2", "Secure Disposal"),
    ("9", "International Data Transfers"),
    ("10", "Children's Privacy"),
    ("11", "Updates to This Policy"),
    ("12", "Specific Service Information"),
    ("12.1", "E-commerce Platform Integration"),
    ("12.2", "Third-Party Platform Policies"),
    ("12.3", "Data Processing Agreements"),
    ("13", "Governing Law"),
]


def test_numbered_seed_has_its_numbered_sections(seeds: Path) -> None:
    document = normalize((seeds / "ecomsters-privacy-policy.txt").read_bytes())
    numbered = [(s.number, s.heading, s.level) for s in document.sections if s.number]
    expected = [(n, h, 1 if "." not in n else 2) for n, h in ECOMSTERS_SECTIONS]
    assert numbered == expected
    assert document.title == "Privacy Policy"
    loose = [s.heading for s in document.sections if s.heading and not s.number]
    assert loose == [
        "Our Commitment",
        "Third-Party Commitments",
        "Important Notice",
        "Stay Informed",
        "Contact Us About Privacy",
        "Thank You for Your Trust",
    ]


def test_loose_heading_seed_has_a_section_per_heading(seeds: Path) -> None:
    document = normalize((seeds / "ecomgigs-privacy-policy.txt").read_bytes())
    headings = [s.heading for s in document.sections if s.heading]
    assert headings[:8] == [
        "Social media login information:",
        "How we use your information:",
        "We may use cookies and other tracking technologies:",
        "You have complete control over your account information:",
        "DO-NOT-TRACK CONTROLS",
        "CALIFORNIA RESIDENTS' PRIVACY RIGHTS",
        "California Consumer Privacy Act (CCPA) Notice",
        "Categories of Personal Information Collected:",
    ]
    assert len(headings) == 23
    assert {s.level for s in document.sections if s.heading} == {1}
    assert "[email protected]" not in document.text
    assert document.text.count("[email]") == 8
