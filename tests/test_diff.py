"""Change intelligence: section alignment, redlines, materiality, categories, date signals."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.diff import Change, RedlineSegment, compare, format_report, redline_text
from monitor.document import Block, DateMention, Document, Section
from monitor.lexicon import CATEGORIES, CATEGORY_IDS, categories_in

INTRO = "We respect your privacy and explain here how we handle personal information."
COLLECT = "We collect your name, email address and photos when you register."
SHARE = "We share your information with service providers who host our service."
RETAIN = "We keep your data for 30 days after you close your account."
CONTACT = "Write to our data protection officer at privacy@example.com for any question."


def section(heading: str, *texts: str, number: str = "", links: tuple[str, ...] = ()) -> Section:
    blocks = tuple(Block(text, links=links if i == 0 else ()) for i, text in enumerate(texts))
    return Section(heading=heading, level=0 if not heading else 1, blocks=blocks, number=number)


def policy(*sections: Section, updated: str | None = "2025-01-01") -> Document:
    mention = DateMention(updated, f"Last updated: {updated}") if updated else None
    date_section = section("", f"Last updated: {updated}") if updated else section("", INTRO)
    return Document(
        title="Privacy Policy", sections=(date_section, *sections), last_updated=mention
    )


BASE = (
    section("Information we collect", COLLECT, number="1."),
    section("How we share information", SHARE, number="2."),
    section("Retention", RETAIN, number="3."),
    section("Contact us", CONTACT, number="4."),
)


def with_section(index: int, replacement: Section) -> tuple[Section, ...]:
    return tuple(replacement if i == index else s for i, s in enumerate(BASE))


def statuses(change: Change) -> list[tuple[str, str, str | None]]:
    return [(s.status, s.heading, s.old_heading) for s in change.sections]


def test_same_document_is_no_change():
    change = compare(policy(*BASE), policy(*BASE))
    assert (change.changed, change.material, change.sections) == (False, False, ())
    assert change.summary == "no change"


@pytest.mark.parametrize(
    ("new_sections", "expected", "material"),
    [
        pytest.param(
            (*BASE, section("Children", "Our service is not meant for anyone under 18.")),
            [("added", "Children", None)],
            True,
            id="added",
        ),
        pytest.param(BASE[:3], [("removed", "4. Contact us", None)], True, id="removed"),
        pytest.param(
            with_section(
                2, section("Retention", RETAIN.replace("30 days", "90 days"), number="3.")
            ),
            [("modified", "3. Retention", None)],
            True,
            id="modified",
        ),
        pytest.param(
            (BASE[0], BASE[2], BASE[1], BASE[3]),
            [("moved", "2. How we share information", None)],
            False,
            id="moved",
        ),
        pytest.param(
            with_section(1, section("Sharing your information", SHARE, number="2.")),
            [("renamed", "2. Sharing your information", "2. How we share information")],
            False,
            id="renamed",
        ),
        pytest.param(
            with_section(3, section("Contact us", CONTACT, number="5.")),
            [("renamed", "5. Contact us", "4. Contact us")],
            False,
            id="renumbered",
        ),
        pytest.param(
            with_section(
                1, section("Who we share it with", SHARE + " We never sell it.", number="2.")
            ),
            [("modified", "2. Who we share it with", "2. How we share information")],
            True,
            id="renamed-and-modified",
        ),
        pytest.param(
            (
                BASE[0],
                section("Cookies", "We use cookies to remember your language.", number="2."),
                *(
                    Section(s.heading, s.level, s.blocks, f"{int(s.number[0]) + 1}.")
                    for s in BASE[1:]
                ),
            ),
            [
                ("added", "2. Cookies", None),
                ("renamed", "3. How we share information", "2. How we share information"),
                ("renamed", "4. Retention", "3. Retention"),
                ("renamed", "5. Contact us", "4. Contact us"),
            ],
            True,
            id="inserted-and-renumbered",
        ),
    ],
)
def test_section_alignment(new_sections, expected, material):
    change = compare(policy(*BASE), policy(*new_sections))
    assert change.changed
    assert statuses(change) == expected
    assert change.material is material


@pytest.mark.parametrize(
    ("old_text", "new_text", "material"),
    [
        pytest.param(RETAIN, RETAIN.replace("keep", "kep"), False, id="typo"),
        pytest.param(SHARE, SHARE.replace("providers who", "providers, who"), False, id="comma"),
        pytest.param(SHARE, SHARE.replace("We share", "we share"), False, id="case"),
        pytest.param(SHARE, SHARE.replace("with service", "with the service"), False, id="article"),
        pytest.param(SHARE, SHARE.replace("share", "shares"), False, id="plural"),
        pytest.param(
            "Under article 15.4 you may object.",
            "Under article 14.4 you may object.",
            False,
            id="cross-reference-renumbered",
        ),
        pytest.param("We may share your data.", "We may not share your data.", True, id="negation"),
        pytest.param(
            "本アプリは個人情報を一切収集しません。",
            "本アプリは個人情報を一切収集します。",
            True,
            id="negation-in-unspaced-script",
        ),
        pytest.param(
            "本アプリは個人情報を一切収集しません。",
            "本アプリは、個人情報を一切収集しません。",
            False,
            id="comma-in-unspaced-script",
        ),
        pytest.param("We may share your data.", "We will share your data.", True, id="modal"),
        pytest.param(RETAIN, RETAIN.replace("30 days", "90 days"), True, id="number"),
        pytest.param(
            "Servers in the US, UK, and the EU.",
            "Servers in the US and the EU.",
            True,
            id="one-word-removed",
        ),
        pytest.param(
            CONTACT,
            CONTACT.replace("privacy@example.com", "dpo@example.com"),
            True,
            id="email-address",
        ),
        pytest.param(
            SHARE,
            SHARE.replace("providers", "providers and advertising partners"),
            True,
            id="words-added",
        ),
    ],
)
def test_materiality_of_a_text_edit(old_text, new_text, material):
    old = policy(section("Terms", INTRO, old_text))
    new = policy(section("Terms", INTRO, new_text))
    change = compare(old, new)
    assert change.changed
    assert change.material is material
    assert [s.material for s in change.sections] == [material]


def test_whitespace_only_change_is_changed_but_lists_no_section():
    old = policy(section("Terms", SHARE))
    new = policy(section("Terms", SHARE.replace("host our", "host  our")))
    change = compare(old, new)
    assert (change.changed, change.material, change.sections) == (True, False, ())
    assert change.summary == "minor change: formatting only"


def test_link_only_change_is_changed_but_minor():
    old = policy(section("Contact us", CONTACT, links=("https://example.com/contact",)))
    new = policy(section("Contact us", CONTACT, links=("https://help.example.com/a/1",)))
    change = compare(old, new)
    assert (change.changed, change.material, change.date_changed) == (True, False, None)
    assert change.sections[0].redline == (
        RedlineSegment("=", CONTACT + " "),
        RedlineSegment("-", "<https://example.com/contact>\n"),
        RedlineSegment("+", "<https://help.example.com/a/1>\n"),
    )
    assert (change.sections[0].words_added, change.sections[0].words_removed) == (0, 0)


def test_date_only_change():
    change = compare(policy(*BASE, updated="2025-01-01"), policy(*BASE, updated="2025-03-15"))
    assert (change.changed, change.material, change.date_only, change.silent_change) == (
        True, False, True, False,
    )  # fmt: skip
    assert change.date_changed is not None
    assert (change.date_changed.field, change.date_changed.old, change.date_changed.new) == (
        "last_updated", "2025-01-01", "2025-03-15",
    )  # fmt: skip
    assert change.summary == "date only: Last Updated 2025-01-01 → 2025-03-15"


def test_silent_change_and_announced_change():
    edited = with_section(
        2, section("Retention", RETAIN.replace("30 days", "2 years"), number="3.")
    )
    silent = compare(policy(*BASE), policy(*edited))
    assert (silent.material, silent.silent_change, silent.date_changed) == (True, True, None)
    assert silent.summary == (
        "material change: 1 section modified (3. Retention) — stated date not updated"
    )
    announced = compare(policy(*BASE), policy(*edited, updated="2025-03-15"))
    assert (announced.material, announced.silent_change, announced.date_only) == (
        True, False, False,
    )  # fmt: skip
    assert announced.summary == (
        "material change: 1 section modified (3. Retention) — Last Updated 2025-01-01 → 2025-03-15"
    )
    assert announced.categories == ("retention",)


def test_no_stated_date_is_not_a_silent_change():
    edited = with_section(
        2, section("Retention", RETAIN.replace("30 days", "2 years"), number="3.")
    )
    change = compare(policy(*BASE, updated=None), policy(*edited, updated=None))
    assert (change.material, change.silent_change) == (True, False)


def test_paragraph_moved_to_another_section_is_minor():
    old = policy(section("Sharing", SHARE, RETAIN), section("Retention", CONTACT))
    new = policy(section("Sharing", SHARE), section("Retention", RETAIN, CONTACT))
    change = compare(old, new)
    assert [(s.status, s.material) for s in change.sections] == [
        ("modified", False),
        ("modified", False),
    ]
    assert not change.material


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We may share your personal data with third parties.", ("data-collected", "sharing")),
        ("We do not sell your personal information.", ("data-collected", "sale")),
        ("Nous conservons vos données pendant trois ans.", ("retention",)),
        ("Vous pouvez exercer votre droit d'opposition auprès de la CNIL.", ("rights",)),
        ("Wir verwenden Cookies und Tracking-Pixel.", ("purposes", "cookies")),
        ("Übermittlung in ein Drittland außerhalb der EU.", ("transfers",)),
        ("Der Verantwortliche ist erreichbar unter datenschutz@example.de.", ("contact",)),
        ("Any dispute is settled by binding arbitration.", ("legal",)),
        ("Our services are not directed to children under 13.", ("children",)),
        ("We protect your data with encryption.", ("security",)),
        ("We may amend this policy and will notify you.", ("changes",)),
    ],
)
def test_categories_in(text, expected):
    assert categories_in(text) == expected


def test_every_term_names_its_category_and_whole_words_stay_whole():
    for category in CATEGORIES:
        for terms in category.terms.values():
            for term in terms:
                assert category.id in categories_in(f"x {term}s"), term
    assert "contact" in categories_in("Write to our DPO.")
    assert "contact" not in categories_in("dpos")


def test_categories_come_from_the_heading_too():
    old = policy(section("Cookies", "We use small files.", number="5."))
    new = policy(section("Cookies", "We use small files for three months.", number="5."))
    change = compare(old, new)
    assert change.categories == ("cookies",)
    assert set(change.categories) <= set(CATEGORY_IDS)


@pytest.mark.parametrize(
    ("segments", "limit", "expected"),
    [
        (
            [RedlineSegment("=", "We keep "), RedlineSegment("-", "30 "),
             RedlineSegment("+", "90 "), RedlineSegment("=", "days.\n")],
            None,
            "We keep [-30-]{+90+} days.",
        ),
        (
            [RedlineSegment("=", "one two three four five six seven eight nine ten "),
             RedlineSegment("+", "new words "),
             RedlineSegment("=", "a b c d e f g h i j k l m n o p q r s t\n")],
            None,
            "… five six seven eight nine ten {+new words+} a b c d e f …",
        ),
        (
            [RedlineSegment("+", "This whole new section is added to the policy.\n")],
            30,
            "{+This whole new section is+} … (23 more characters; see the full diff)",
        ),
        ([RedlineSegment("=", "Nothing changed here.\n")], None, ""),
    ],
)  # fmt: skip
def test_redline_text(segments, limit, expected):
    assert redline_text(segments, limit=limit) == expected


def test_to_dict_shape_is_json():
    edited = with_section(
        2, section("Retention", RETAIN.replace("30 days", "90 days"), number="3.")
    )
    data = compare(policy(*BASE), policy(*edited, updated="2025-02-01")).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert list(data) == [
        "changed", "material", "date_changed", "silent_change", "date_only", "sections",
        "categories", "words_added", "words_removed", "summary",
    ]  # fmt: skip
    assert data["date_changed"] == {
        "field": "last_updated",
        "from": "2025-01-01",
        "to": "2025-02-01",
    }
    modified = [s for s in data["sections"] if s["heading"] == "3. Retention"][0]
    assert modified == {
        "status": "modified",
        "heading": "3. Retention",
        "old_heading": None,
        "material": True,
        "categories": ["retention"],
        "redline": [
            ["=", "We keep your data for "], ["-", "30 "], ["+", "90 "],
            ["=", "days after you close your account.\n"],
        ],
        "words_added": 1,
        "words_removed": 1,
    }  # fmt: skip


def test_format_report_lists_sections():
    edited = with_section(
        2, section("Retention", RETAIN.replace("30 days", "90 days"), number="3.")
    )
    report = format_report(compare(policy(*BASE), policy(*edited)))
    assert report.splitlines() == [
        "material change: 1 section modified (3. Retention) — stated date not updated",
        "Silent change: the text changed materially but the stated date did not.",
        "Touches: retention",
        "Words: +1 / -1",
        "",
        "[modified] 3. Retention — material: retention",
        "    We keep your data for [-30-]{+90+} days after you close your account.",
    ]


@pytest.mark.parametrize(
    ("pair", "expected_class", "expected_categories"),
    [
        ("dating-badoo-terms-of-service/295c7fd127c5..357b180aa653", "minor", ()),  # date line
        ("dating-badoo-terms-of-service/80d260b14112..426c535f56ae", "minor", ()),  # link
        ("dating-meetic-privacy-policy/9b7316b81b32..6c5b1b8f115a", "minor", ()),  # link typo
        ("dating-happn-terms-of-service/5cb5d684e445..7e8c460c229d", "minor", ()),  # cross-refs
        ("dating-match-terms-of-service/424c272c207a..607234a951f0", "minor", ()),  # date line
        ("dating-grindr-terms-of-service/d6f173bfeb9b..64b5dfff7348", "minor", ()),  # re-render
        (
            "dating-bumble-privacy-policy/2c852598591c..2dd58492b49a",
            "material",
            ("data-collected", "retention", "transfers"),
        ),
        ("dating-match-terms-of-service/081d27084396..836b0d482ea9", "material", ("changes",)),
        ("dating-zoosk-privacy-policy/7cc6a9d3a547..85254b3c4644", "material", ("contact",)),
        ("dating-finya-imprint/00a214f88375..c077815874b1", "material", ("contact",)),
        (
            "dating-jdate-privacy-policy/bac0df4da139..a2dd3166250d",
            "material",
            ("data-collected", "purposes", "retention", "security", "rights", "contact"),
        ),
    ],
)
def test_real_corpus_pairs_match_their_label(
    corpus, manifest, pair, expected_class, expected_categories
):
    from monitor.normalize import Selection, normalize

    labels = json.loads((corpus / "labels" / "materiality.json").read_text())
    assert labels[f"dating/{pair}"]["class"] == expected_class
    doc_id, snaps = pair.split("/")
    page = next(doc for doc in manifest if doc["id"] == doc_id)
    selection = Selection.from_config(page["select"], page["remove"])
    old, new = (
        normalize(
            (corpus / doc_id / f"{snap}.html").read_bytes(),
            content_type="text/html",
            url=page["url"],
            selection=selection,
        )
        for snap in snaps.split("..")
    )
    change = compare(old, new)
    assert change.changed
    assert ("material" if change.material else "minor") == expected_class
    assert change.categories == expected_categories


WORDS = ["we", "share", "data", "not", "30", "days", "Cookies", "the", "partners", "(a)"]
texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join)
blocks_strategy = st.lists(
    st.builds(Block, texts, st.sampled_from(["p", "li"]), st.sampled_from([(), ("u",)])),
    max_size=3,
)
sections_strategy = st.lists(
    st.builds(
        lambda heading, number, blocks: Section(heading, 1, tuple(blocks), number),
        st.sampled_from(["", "Sharing", "Cookies", "Contact us"]),
        st.sampled_from(["", "1.", "2."]),
        blocks_strategy,
    ),
    max_size=4,
)


def _words_and_links(blocks) -> list[str]:
    return [w for b in blocks for w in [*b.text.split(), *(f"<{link}>" for link in b.links)]]


@settings(max_examples=150, deadline=None)
@given(sections_strategy, sections_strategy)
def test_changed_is_fingerprint_inequality(old_sections, new_sections):
    old = Document("t", tuple(old_sections))
    new = Document("t", tuple(new_sections))
    change = compare(old, new)
    assert change.changed == (old.fingerprint != new.fingerprint)
    assert change.changed or (change.sections, change.material) == ((), False)


@settings(max_examples=150, deadline=None)
@given(blocks_strategy, blocks_strategy)
def test_redline_rebuilds_both_versions(old_blocks, new_blocks):
    old = Document("t", (Section("Sharing", 1, tuple(old_blocks)),))
    new = Document("t", (Section("Sharing", 1, tuple(new_blocks)),))
    change = compare(old, new)
    if not change.sections:
        return
    (listed,) = change.sections
    new_side = "".join(s.text for s in listed.redline if s.op != "-").split()
    old_side = "".join(s.text for s in listed.redline if s.op != "+").split()
    assert new_side == _words_and_links(new_blocks)
    assert old_side == _words_and_links(old_blocks)
    assert listed.words_added == sum(
        1 for s in listed.redline if s.op == "+" for w in s.text.split() if not w.startswith("<")
    )
