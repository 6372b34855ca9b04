"""monitor.dates: the document's own last-updated and effective dates."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.dates import (
    _DATE_PATTERNS,
    _LABELS,
    _LONGEST_DATE,
    PageHints,
    _date_window,
    _find_labels,
    _fold,
    _fold_char,
    _opening_label,
    _opens_line,
    document_dates,
    guess_language,
    parse_date,
)


def dates(lines: list[str], language: str | None = "en", **kwargs) -> tuple[str | None, ...]:
    last_updated, effective = document_dates(lines, language=language, **kwargs)
    return (
        last_updated.value if last_updated else None,
        effective.value if effective else None,
    )


# --- one date expression -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("November 01, 2019", "en", "2019-11-01"),
        ("November 13th 2025", "en", "2025-11-13"),
        ("December 18th, 2025.", "en", "2025-12-18"),
        ("3rd June, 2025", "en", "2025-06-03"),
        ("1 December 2025", "en", "2025-12-01"),
        ("Sep 11, 2025", "en", "2025-09-11"),
        ("Dec. 10, 2024", "en", "2024-12-10"),
        ("March 2026", "en", "2026-03"),
        ("31/05/2025", "en", "2025-05-31"),
        ("12.05.2026", None, "2026-05-12"),
        ("7. Mai 2014", "de", "2014-05-07"),
        ("18. März 2025", "de", "2025-03-18"),
        ("18. Maerz 2025", "de", "2025-03-18"),
        ("2025-03-01", None, "2025-03-01"),
        ("2025-03-01T10:00:00+01:00", None, "2025-03-01"),
        ("1er décembre 2025", "fr", "2025-12-01"),
        ("27 février 2026", "fr", "2026-02-27"),
        ("27 fevrier 2026", "fr", "2026-02-27"),
        ("le 21/07/2022", "fr", "2022-07-21"),
        ("1 de diciembre de 2025", "es", "2025-12-01"),
        ("5 de março de 2024", "pt", "2024-03-05"),
        ("3 agosto 2023", "it", "2023-08-03"),
        ("12 mei 2024", "nl", "2024-05-12"),
        ("juin 2026", "fr", "2026-06"),
        ("Februar 2024", "de", "2024-02"),
        ("2026年7月27日", "ja", "2026-07-27"),
        ("２０２６年７月２７日", "ja", "2026-07-27"),
        ("2025年3月", "zh", "2025-03"),
        ("2024년 5월 1일", "ko", "2024-05-01"),
        ("no date here", "en", None),
        ("31/02/2025", "fr", None),
        ("Section 12.5 of 2025", "en", None),
    ],
)
def test_parse_date_formats(text: str, language: str | None, expected: str | None) -> None:
    assert parse_date(text, language=language, day_first=None) == expected


@pytest.mark.parametrize(
    ("text", "language", "day_first", "expected"),
    [
        ("3/11/2025", "en", None, None),  # both readings valid, nothing decides
        ("3/11/2025", "en", False, "2025-03-11"),
        ("3/11/2025", "en", True, "2025-11-03"),
        ("3/11/2025", "fr", None, "2025-11-03"),
        ("01/02/2026", "de", None, "2026-02-01"),
        ("01/02/2026", "es", None, "2026-02-01"),
        ("01/02/2026", "it", None, "2026-02-01"),
        ("01/02/2026", "nl", None, "2026-02-01"),
        ("01/02/2026", "pt", None, "2026-02-01"),
        ("01/02/2026", None, None, None),
        ("02/02/2026", "en", None, "2026-02-02"),  # both readings are the same day
        ("05/31/2025", "en", None, "2025-05-31"),  # only month-first is valid
        ("05/31/2025", "fr", None, "2025-05-31"),
        ("01.08.2024", "en", None, "2024-08-01"),  # dotted dates are day-first everywhere
    ],
)
def test_parse_date_day_month_order(
    text: str, language: str | None, day_first: bool | None, expected: str | None
) -> None:
    assert parse_date(text, language=language, day_first=day_first) == expected


# --- labels --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "language", "expected"),
    [
        ("Last updated: January 1, 2025", "en", ("2025-01-01", None)),
        ("Last Updated November 01, 2019", "en", ("2019-11-01", None)),
        ("Last modified on 1 December 2025", "en", ("2025-12-01", None)),
        ("Last revised: November 13th 2025", "en", ("2025-11-13", None)),
        ("This policy was last revised on May 15, 2018.", "en", ("2018-05-15", None)),
        ("The Terms were last updated on: 3rd June, 2025.", "en", ("2025-06-03", None)),
        ("Updated: March 2026", "en", ("2026-03", None)),
        ("Updated on: 31/05/2025", "en", ("2025-05-31", None)),
        ("(Terms of Use revised on 2025-03-01)", "en", ("2025-03-01", None)),
        ("Version date: 12 March 2024", "en", ("2024-03-12", None)),
        ("Version: November 27th 2025", "en", ("2025-11-27", None)),
        ("Effective date: Dec 10, 2024", "en", ("2024-12-10", "2024-12-10")),
        ("Effective as of March 5, 2026", "en", ("2026-03-05", "2026-03-05")),
        ("Effective on June 1, 2024;", "en", ("2024-06-01", "2024-06-01")),
        ("This Privacy Policy applies from April 4, 2026.", "en", ("2026-04-04", "2026-04-04")),
        (
            "Effective Date: The earlier of December 23, 2024, or user acceptance.",
            "en",
            ("2024-12-23", "2024-12-23"),
        ),
        ("Dernière mise à jour : 02.09.2025", "fr", ("2025-09-02", None)),
        ("Mise à jour le 21/07/2022", "fr", ("2022-07-21", None)),
        ("Mise à jour : le 21/07/2022", "fr", ("2022-07-21", None)),
        ("Entrée en vigueur : 26 mars 2026", "fr", ("2026-03-26", "2026-03-26")),
        ("Date d'entrée en vigueur : 1er janvier 2025", "fr", ("2025-01-01", "2025-01-01")),
        ("En vigueur : 24 juin 2026", "fr", ("2026-06-24", "2026-06-24")),
        (
            "La présente Politique de confidentialité s’applique à partir de 01/02/2026.",
            "fr",
            ("2026-02-01", "2026-02-01"),
        ),
        ("Stand: 7. Mai 2014", "de", ("2014-05-07", None)),
        ("Zuletzt aktualisiert am 12.05.2026", "de", ("2026-05-12", None)),
        ("Gültig ab 1. Januar 2025", "de", ("2025-01-01", "2025-01-01")),
        (
            "Die vorliegende Datenschutzerklärung wurde zuletzt am 01.08.2019 aktualisiert.",
            "de",
            ("2019-08-01", None),
        ),
        ("最終更新日: 2026年7月27日", "ja", ("2026-07-27", None)),
        ("施行日：2025年4月1日", "ja", ("2025-04-01", "2025-04-01")),
        ("最后更新日期：2024年12月5日", "zh", ("2024-12-05", None)),
        ("Diese Datenschutzbestimmungen gelten ab 01.02.2026", "de", ("2026-02-01", "2026-02-01")),
        ("Última actualización: 3 de marzo de 2025", "es", ("2025-03-03", None)),
        ("Fecha de entrada en vigor: 1 de enero de 2025", "es", ("2025-01-01", "2025-01-01")),
        ("Ultimo aggiornamento: 15 gennaio 2025", "it", ("2025-01-15", None)),
        ("Data di entrata in vigore: 1° luglio 2024", "it", ("2024-07-01", "2024-07-01")),
        ("Laatst bijgewerkt: 12 mei 2024", "nl", ("2024-05-12", None)),
        ("Ingangsdatum: 1 juni 2024", "nl", ("2024-06-01", "2024-06-01")),
        ("Última atualização: 5 de março de 2024", "pt", ("2024-03-05", None)),
        ("Data de entrada em vigor: 10/04/2024", "pt", ("2024-04-10", "2024-04-10")),
    ],
)
def test_label_phrases(line: str, language: str, expected: tuple[str | None, ...]) -> None:
    assert dates(["Privacy Policy", line, "We collect data."], language) == expected


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            ["Effective date", "May 25, 2018", "These terms govern ..."],
            ("2018-05-25", "2018-05-25"),
        ),
        (["Last updated:", "**31/05/2025**"], ("2025-05-31", None)),
        (
            ["Entrée en vigueur", "Dernière mise à jour des Conditions générales : 14 mars 2025."],
            ("2025-03-14", "2025-03-14"),
        ),
        (
            [
                "Date d'entrée en vigueur. Cette Politique de Confidentialité a été mise à jour"
                " pour la dernière fois le 26 novembre 2025."
            ],
            ("2025-11-26", "2025-11-26"),
        ),
        (
            ["This Policy was last revised on January 3, 2025.", "Effective Date: January 3, 2025"],
            ("2025-01-03", "2025-01-03"),
        ),
        # A label line wins over a sentence in running text, then the first in the text.
        (
            ["Stand: 18. März 2025", "Die Nutzungsbedingungen mit Stand 07.05.2014 sind alt."],
            ("2025-03-18", None),
        ),
        # A label alone governs the line right after it, and only when it states no date.
        (["Terms", "Effective date", "", "May 25, 2018"], (None, None)),
        (["Terms", "Effective date: edition 2019", "May 25, 2018"], ("2018-05-25", "2018-05-25")),
        (["Effective date: May 25, 2018", "June 1, 2019"], ("2018-05-25", "2018-05-25")),
        (
            ["Last updated: June 1, 2019", "Effective date:", "May 25, 2018"],
            ("2019-06-01", "2018-05-25"),
        ),
    ],
)
def test_label_layouts(lines: list[str], expected: tuple[str | None, ...]) -> None:
    assert dates(lines, guess_language(" ".join(lines)) or "en") == expected


@pytest.mark.parametrize(
    ("line", "language"),
    [
        ("This Act of 1998 applies to all processing.", "en"),
        ("Directive 2000/31/CE du 8 juin 2000 sur le commerce électronique", "fr"),
        ("© 2024 Example Inc. All rights reserved.", "en"),
        ("The previous version applies until 1 January 2025.", "en"),
        ("The terms for gift cards are effective as of 1 March 2024.", "en"),
        (
            "For users who registered prior to May 15, 2018, this Policy will be effective on"
            " May 25, 2018.",
            "en",
        ),
        (
            "Für Nutzer, die sich vor dem 18.03.2025 registriert haben, gelten noch die"
            " Nutzungsbedingungen mit Stand 07.05.2014.",
            "de",
        ),
        ("We conducted a survey in July 2021 with 2,000 members.", "en"),
        ("Au 1er février 2026, cette disposition est modifiée comme suit.", "fr"),
        ("We will change the 'Last Updated' date at the top of this page.", "en"),
    ],
)
def test_dates_of_other_things_are_not_the_documents(line: str, language: str) -> None:
    assert dates(["Terms", line, "Some text."], language) == (None, None)


def test_ambiguous_numeric_date_is_not_guessed() -> None:
    assert dates(["Last Updated: 3/11/2025"], "en") == (None, None)
    assert dates(["Last Updated: 3/11/2025"], None) == (None, None)


@pytest.mark.parametrize(
    ("hints", "default_day_first", "expected"),
    [
        (PageHints(url="https://support.example.fr/hc/en-us/p/privacy"), None, "2025-11-03"),
        (PageHints(url="https://uk.example.com/privacy"), None, "2025-11-03"),
        (PageHints(url="https://www.example.co.uk/privacy"), None, "2025-11-03"),
        (PageHints(url="https://www.example.io/privacy"), None, None),
        (PageHints(html_lang="en-US"), None, "2025-03-11"),
        (PageHints(html_lang="en-GB"), None, "2025-11-03"),
        (PageHints(html_lang="en"), None, None),
        (PageHints(html_lang="en"), True, "2025-11-03"),
        (PageHints(html_lang="en"), False, "2025-03-11"),
        # The page's own metadata gives one of the readings ...
        (PageHints(modified=(("meta", "2025-03-11T11:42:16+00:00"),)), None, "2025-03-11"),
        # ... or was saved before one of them: a last update cannot come later.
        (PageHints(modified=(("json-ld", "2025-04-22T16:58:08+00:00"),)), None, "2025-03-11"),
        (PageHints(times=(("3/11/2025", "2025-11-03"),)), None, "2025-11-03"),
    ],
)
def test_numeric_order_from_page_evidence(
    hints: PageHints, default_day_first: bool | None, expected: str | None
) -> None:
    lines = ["Privacy Policy", "Last Updated: 3/11/2025"]
    last_updated, _ = dates(lines, None, hints=hints, default_day_first=default_day_first)
    assert last_updated == expected


def test_numeric_order_from_another_date_in_the_text() -> None:
    lines = ["Updated: 01/08/2024", "Our previous policy was published on 31/05/2020."]
    assert dates(lines, "en") == ("2024-08-01", None)


def test_metadata_alone_gives_no_date() -> None:
    hints = PageHints(modified=(("json-ld", "2023-03-06T11:43:19+01:00"),))
    assert dates(["Conditions générales", "Le service est gratuit."], "fr", hints=hints) == (
        None,
        None,
    )


def test_dangling_label_takes_its_date_from_the_markup() -> None:
    lines = ["Terms", "Last updated:", "These terms govern your use."]
    with_time = PageHints(times=(("Last updated:", "2024-12-03"),))
    with_meta = PageHints(modified=(("meta", "2024-12-19T13:54:26+00:00"),))
    last_updated, _ = document_dates(lines, language="en", hints=with_time)
    assert (last_updated.value, last_updated.source) == ("2024-12-03", "time")
    last_updated, _ = document_dates(lines, language="en", hints=with_meta)
    assert (last_updated.value, last_updated.source) == ("2024-12-19", "meta")


def test_phrase_is_the_sentence_it_came_from() -> None:
    long_line = "Intro sentence. " * 20 + "This Policy was last revised on May 15, 2018. More."
    last_updated, _ = document_dates([long_line], language="en")
    assert last_updated.phrase == "This Policy was last revised on May 15, 2018."


# --- real texts ----------------------------------------------------------------------------


def markdown_lines(markdown: str) -> list[str]:
    lines = []
    for line in markdown.splitlines():
        if re.fullmatch(r"\s*[-=_*\\|: ]*", line):
            continue
        line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)
        line = re.sub(r"^\s*(?:#+|[*+-]|\d+\\?\.)\s+", "", line)
        line = re.sub(r"\\([\\`*_{}\[\]()#+\-.!|])", r"\1", line)
        lines.append(re.sub(r"\*\*|__|(?<!\w)[*_]|[*_](?!\w)|<br>", " ", line).strip())
    return [line for line in lines if line]


@pytest.mark.parametrize(
    ("snapshot", "language", "expected"),
    [
        ("dating-badoo-privacy-policy/5485fa6b096c", "fr", ("2025-11-26", "2025-11-26")),
        ("dating-badoo-terms-of-service/357b180aa653", "fr", ("2025-10-28", "2025-10-28")),
        ("dating-bumble-terms-of-service/a50be0e9d5a9", "en", ("2025-06-03", "2025-06-03")),
        ("dating-bumble-privacy-policy/29fc10d3a507", "en", (None, None)),
        ("dating-eharmony-terms-of-service/0efadbfa3cc9", "en", ("2026-01-06", None)),
        ("dating-finya-terms-of-service/0e8ee91d54f5", "de", ("2025-03-18", None)),
        ("dating-finya-terms-of-service/6a9cc303bc2a", "de", ("2025-03-18", None)),
        ("dating-finya-imprint/00a214f88375", "de", (None, None)),
        ("dating-grindr-terms-of-service/64b5dfff7348", "en", ("2024-09-15", "2024-09-15")),
        ("dating-happn-terms-of-service/2e3dd24ae0d7", "en", ("2025-05-31", None)),
        ("dating-jdate-privacy-policy/243bfe8b7437", "en", ("2025-01-03", "2025-01-03")),
        ("dating-lovescout24-privacy-policy/38705f20cf71", "de", ("2026-02-01", "2026-02-01")),
        ("dating-mektoube-terms-of-service/161cd42f3539", "fr", (None, None)),
        ("dating-parship-trackers-policy/16fc3946aea2", "fr", ("2025-12-09", None)),
        ("dating-tinder-privacy-policy/0016f4124084", "en", ("2026-04-04", "2026-04-04")),
        ("dating-zoosk-privacy-policy/0c2195212c65", "en", ("2018-05-15", None)),
    ],
)
def test_corpus_texts(
    corpus: Path, snapshot: str, language: str, expected: tuple[str | None, ...]
) -> None:
    lines = markdown_lines((corpus / f"{snapshot}.md").read_text())
    assert dates(lines, language) == expected
    label = json.loads((corpus / "labels" / "dates.json").read_text())[f"dating/{snapshot}.md"]
    assert (label["date"], label["effective"]) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("ecomgigs-privacy-policy.txt", "2019-11-01"), ("ecomsters-privacy-policy.txt", "2025-01-01")],
)
def test_seeds(seeds: Path, name: str, expected: str) -> None:
    lines = [line.strip() for line in (seeds / name).read_text().splitlines() if line.strip()]
    assert dates(lines, guess_language("\n".join(lines))) == (expected, None)


# --- languages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "We want to ensure the safety and security of everyone on our App and Sites, and give"
            " people the best possible user experience.",
            "en",
        ),
        (
            "Nous vous recommandons fortement (ainsi qu'à tous nos membres) de bien réfléchir aux"
            " informations vous concernant que vous partagez.",
            "fr",
        ),
        (
            "Die Finya GmbH & Co. KG betreibt im Internet als technischer Dienstleister ein"
            " Angebot, auf dem natürliche Personen nach erfolgreicher Registrierung miteinander"
            " in Kontakt treten können.",
            "de",
        ),
        ("Utilizamos sus datos para prestar el servicio y para cumplir con la ley.", "es"),
        ("Utilizziamo i dati per fornire il servizio e per rispettare la legge.", "it"),
        (
            "Wij gebruiken uw gegevens voor het leveren van de dienst en om de wet na te leven.",
            "nl",
        ),
        ("Utilizamos os seus dados para prestar o serviço e para cumprir a lei.", "pt"),
        ("Last updated: January 1, 2025", None),
        ("", None),
    ],
)
def test_guess_language(text: str, expected: str | None) -> None:
    assert guess_language(text) == expected


def test_unreadable_date_under_a_label_is_not_replaced_by_metadata() -> None:
    hints = PageHints(html_lang="en", modified=(("meta", "2026-01-01T00:00:00+00:00"),))
    assert dates(["Last updated:", "3/11/2025"], None, hints=hints) == (None, None)


# --- the shortcuts of the line reader ------------------------------------------------------


@given(st.text())
def test_folding_a_text_folds_each_of_its_characters(text: str) -> None:
    assert _fold(text) == "".join(map(_fold_char, text))


LABEL_WORDS = ["last updated", "stand", "derniere mise a jour", "effective", "version",
               "mis a jour", "entree en vigueur", "最終更新日", "the policy", "x", "'", "’", ":",
               ".", "*", "(", "1.", " ", "\t"]  # fmt: skip
LABEL_LINES = st.lists(st.sampled_from(LABEL_WORDS)).map(" ".join)


@given(LABEL_LINES | st.text())
def test_the_opening_label_is_the_one_of_all_labels_that_opens_the_line(line: str) -> None:
    folded = _fold(line)
    opening = [label for label in _find_labels(folded) if _opens_line(folded, label)]
    assert _opening_label(folded) == (opening[0] if opening else None)


def test_no_label_holds_a_digit() -> None:
    for label in [label for labels in _LABELS.values() for label in labels]:
        assert not re.search(r"[\d\\.^]", label)  # no digit, escape, wildcard or negated class


@given(st.lists(st.sampled_from([*LABEL_WORDS, "1", "2020"])).map("".join) | st.text())
def test_labels_found_up_to_a_digit_are_the_lines_labels_before_it(line: str) -> None:
    folded = _fold(line)
    for digit in [match.start() for match in re.finditer(r"\d", folded)]:
        before = [label for label in _find_labels(folded) if label.end <= digit]
        assert _find_labels(folded, digit) == before


DATE_PIECES = ["31eme of septiembre., del", "2019", "2020-05-06", "201920", "1 de", "mayo",
               "march", "5", "12", "3rd,", "11.03.2025", "31/05/2025", "2026年7月27日",
               "2026 年 12 月 31 日", "2026 년 7 월", "de", "del", "of", "of the", "policy",
               "x" * 30, "-", ".", ",", "", " ", "\t", "\u00a0"]  # fmt: skip
# The longest expressions of each kind, and whitespace runs that make them longer still, far
# into a line: the window must hold them whole.
EDGE_LINES = [
    f"{'x ' * 30}{text}{'' if end else ' and more'}"
    for expression in [
        "31eme of septiembre., del 2020",
        "31eme  of  septiembre.,  del  2020",
        "31eme   of   septiembre.,   del   2020",
        "2026 年 12 月 31 日",
        "2026  年  12  月  31  日",
        "2020-05-06",
        "11.03.2025",
        "sept. 3rd, 2019",
        "septiembre,  del  2019",
        f"september{' ' * 40}2019",
        f"2026 年{' ' * 40}12 月",
    ]
    for text in [expression, f"2019 {expression}", f"{expression} 2019"]
    for end in (True, False)
]


def assert_the_window_holds_the_dates_of(line: str) -> None:
    folded = _fold(line)
    start, end = _date_window(folded)
    for pattern in _DATE_PATTERNS:
        in_line = [match.span() for match in pattern.finditer(folded)]
        assert [match.span() for match in pattern.finditer(folded, start, end)] == in_line


@pytest.mark.parametrize("line", EDGE_LINES)
def test_the_date_window_holds_the_longest_dates(line: str) -> None:
    assert_the_window_holds_the_dates_of(line)


@given(st.lists(st.sampled_from(DATE_PIECES)).map(" ".join) | st.text())
def test_the_date_patterns_find_in_the_date_window_what_they_find_in_the_line(line: str) -> None:
    assert_the_window_holds_the_dates_of(line)


def test_no_date_expression_is_longer_than_the_longest_date() -> None:
    # Each pattern's widest match when every whitespace run is one character long.
    from re import _parser  # the parser of the re module: it knows a pattern's width

    for pattern in _DATE_PATTERNS:
        single_spaced = pattern.pattern.replace(r"\s*", r"\s?").replace(r"\s+", r"\s")
        assert _parser.parse(single_spaced).getwidth()[1] <= _LONGEST_DATE
    longest = "31eme of septiembre., del 2020"
    assert len(longest) == _LONGEST_DATE
    assert _DATE_PATTERNS[2].fullmatch(longest)


@given(st.characters())
def test_folding_makes_every_whitespace_character_a_space(char: str) -> None:
    assert _fold_char(char) == " " or not re.search(r"\s", _fold_char(char))
