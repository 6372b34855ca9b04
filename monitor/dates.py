"""The document's own dates: when its text was last updated and when it takes effect.

A policy states its own date in a short labelled line ("Last updated: May 15, 2018",
"Stand: 7. Mai 2014", "Entrée en vigueur : 12.05.2026") or in a sentence about itself
("This Policy was last revised on ...", "Diese Datenschutzbestimmungen gelten ab ...").
Everything else that looks like a date (laws, earlier versions, registration cut-offs,
copyright years) belongs to something else and is ignored. When in doubt this module gives
no date rather than a wrong one, and it never reads a date into a text that states none.

Which date is which (the rule the hand-made labels follow):

- `last_updated` is the date of the version the text is: the date it says it was last
  updated, revised or issued ("Version:", "Stand:"). When the text states only when it takes
  effect, that effective date stands for its last update too: a new version is published with
  the date it applies from.
- `effective` is the date the text says it takes effect. A last-updated sentence placed under
  an effective-date heading or run-in label ("Effective date" / "The Terms were last updated
  on ...") states the effective date as well.

Numeric dates (3/11/2025) are read day-first or month-first by evidence only, never guessed;
see `_numeric_order`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.document import DateMention


@dataclass(frozen=True)
class PageHints:
    """Date evidence from the page outside its text.

    `modified`: (source, raw value) pairs such as ("meta", article:modified_time content) or
    ("json-ld", dateModified). `times`: the `<time>` elements of the selected region as
    (visible text, datetime attribute). `url`: where the page lives; its host's country tells
    how the site writes numeric dates.
    """

    html_lang: str | None = None
    modified: tuple[tuple[str, str], ...] = ()
    times: tuple[tuple[str, str], ...] = ()
    url: str | None = None


# --- folding -------------------------------------------------------------------------------


def _fold_char(char: str) -> str:
    if char in "\u2018\u2019\u02bc\u00b4`":
        return "'"
    if char.isspace():
        return " "
    decomposed = unicodedata.normalize("NFKD", char)
    if not all(unicodedata.combining(mark) for mark in decomposed[1:]):
        return char.lower()  # not a letter with accents (a Hangul syllable, a ligature)
    base = decomposed[:1].lower()
    return base if len(base) == 1 else char


class _FoldTable(dict[int, str]):
    """The `str.translate` table of `_fold_char`, filled in as characters are first met.

    Translating with it runs in C for every character already seen (a text has few distinct
    characters); a Python call per character made folding a page's lines costly.
    """

    def __missing__(self, codepoint: int) -> str:
        folded = self[codepoint] = _fold_char(chr(codepoint))
        return folded


_FOLD_TABLE = _FoldTable()


class _WordTable(dict[int, str]):
    """The `str.translate` table of `_fold_char` followed by a space for every character but
    a-z: the words `guess_language` counts are then a `str.split()` away, not a regex's."""

    def __missing__(self, codepoint: int) -> str:
        folded = _FOLD_TABLE[codepoint]
        letters = self[codepoint] = "".join(c if "a" <= c <= "z" else " " for c in folded)
        return letters


_WORD_TABLE = _WordTable()


def _fold(text: str) -> str:
    """Lower-case, accents off, one character per character (positions stay valid)."""
    return _translate(text, _FOLD_TABLE)


def _translate(text: str, table: dict[int, str]) -> str:
    """`text.translate(table)`, for a table that maps ASCII characters to ASCII characters.

    str.translate reads an ASCII text through a cache of its own, many times faster than it
    reads any other: a text with a few accents or curly quotes is translated by runs, its
    ASCII runs that fast."""
    if text.isascii():
        return text.translate(table)
    return "".join([run.translate(table) for run in _ASCII_OR_NOT.findall(text)])


_ASCII_OR_NOT = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]+")


# --- month names -------------------------------------------------------------------------

_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("january", "jan", "janvier", "janv", "januar", "janner", "enero", "ene", "gennaio",
        "gen", "januari", "janeiro"),
    2: ("february", "feb", "fevrier", "fev", "fevr", "februar", "febrero", "febbraio",
        "februari", "fevereiro", "fev"),
    3: ("march", "mar", "mars", "marz", "maerz", "marzo", "maart", "mrt", "marco"),
    4: ("april", "apr", "avril", "avr", "abril", "abr", "aprile"),
    5: ("may", "mai", "mayo", "maggio", "mag", "mei", "maio"),
    6: ("june", "jun", "juin", "juni", "junio", "giugno", "giu", "junho"),
    7: ("july", "jul", "juillet", "juil", "juli", "julio", "luglio", "lug", "julho"),
    8: ("august", "aug", "aout", "agosto", "ago", "augustus"),
    9: ("september", "sep", "sept", "septembre", "septiembre", "settembre", "set", "setembro"),
    10: ("october", "oct", "octobre", "oktober", "okt", "octubre", "ottobre", "ott",
         "outubro", "out"),
    11: ("november", "nov", "novembre", "noviembre", "novembro"),
    12: ("december", "dec", "decembre", "dezember", "dez", "diciembre", "dic", "dicembre",
          "dezembro"),
}  # fmt: skip
_MONTHS = {name: number for number, names in _MONTH_NAMES.items() for name in names}
_MONTH = "(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)(?!\d)"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|er|eme|o|º|°|\.)?"

_DATE_PATTERNS = (
    re.compile(r"(?<!\d)(?P<year>(?:19|20)\d\d)-(?P<m>[01]?\d)-(?P<d>[0-3]?\d)(?!\d)"),
    re.compile(r"(?<![\d.])(?P<a>[0-3]?\d)(?P<sep>[./-])(?P<b>[0-3]?\d)(?P=sep)" + _YEAR),
    re.compile(r"(?<![\w.])" + _DAY + r"\s*(?:of\s+|de\s+)?" + _MONTH + r",?\s*(?:de\s+|del\s+)?"
               + _YEAR),
    re.compile(r"(?<!\w)" + _MONTH + r"\s+" + _DAY.replace(r"|\.)?", ")?") + r",?\s+" + _YEAR),
    re.compile(r"(?<!\w)" + _MONTH + r",?\s+(?:de\s+|del\s+)?" + _YEAR),
    # Chinese, Japanese, Korean: 2026年7月27日, 2026년 7월 27일, 2026年7月
    re.compile(r"(?<!\d)(?P<year>(?:19|20)\d\d)\s*[年년]\s*(?P<m>[01]?\d)\s*[月월]\s*"
               r"(?:(?P<d>[0-3]?\d)\s*[日일])?"),
)  # fmt: skip


@dataclass(frozen=True)
class _DateExpression:
    start: int
    end: int
    readings: tuple[str, ...]  # one value, or (day first, month first) of a numeric date
    separator: str = ""  # of a numeric date
    proves_day_first: bool | None = None  # a numeric date only one order can read


def _iso(year: int, month: int, day: int | None) -> str | None:
    try:
        value = dt.date(year, month, day or 1)
    except ValueError:
        return None
    return value.isoformat() if day else value.isoformat()[:7]


def _expression(match: re.Match[str]) -> _DateExpression | None:
    groups = match.groupdict()
    year = int(groups["year"])
    if groups.get("m"):
        day = int(groups["d"]) if groups.get("d") else None
        readings = [_iso(year, int(groups["m"]), day)]
    elif groups.get("a"):
        first, second = int(groups["a"]), int(groups["b"])
        day_first, month_first = _iso(year, second, first), _iso(year, first, second)
        if day_first and month_first:
            readings = [day_first] if day_first == month_first else [day_first, month_first]
            return _DateExpression(match.start(), match.end(), tuple(readings), groups["sep"])
        proof = None if not (day_first or month_first) else bool(day_first)
        readings = [day_first or month_first]
        return (
            _DateExpression(match.start(), match.end(), (readings[0],), groups["sep"], proof)
            if readings[0]
            else None
        )
    else:
        day = int(groups["day"]) if groups.get("day") else None
        readings = [_iso(year, _MONTHS[groups["month"]], day)]
    if not readings[0]:
        return None
    return _DateExpression(match.start(), match.end(), (readings[0],))


# The longest a date expression can be where no two spaces are adjacent: 30 characters
# ("31eme of septiembre., del 2020"; every pattern's width with each whitespace run one long).
_LONGEST_DATE = 30
# Where a year starts: every one, overlapping ones too ("201920").
_YEAR_START = re.compile(r"(?=(?:19|20)\d\d)")


def _date_window(folded: str) -> tuple[int, int]:
    """The part of `folded` that holds all its date expressions (and what their lookarounds
    read), for `_DATE_PATTERNS` to scan instead of the whole line: a long line's dates are
    a small part of it.

    Each expression holds a year, so it lies within `_LONGEST_DATE` characters of one, if no
    two spaces are adjacent; `_fold` has made every whitespace character a space, so a line
    without two adjacent spaces has no longer whitespace run, and one with them is scanned
    whole. The patterns read no further than the lookaround just outside an expression, and
    a lookbehind reads before the window's start too, so scanning the window finds the same
    matches as scanning the line."""
    if "  " in folded:
        return 0, len(folded)
    years = [match.start() for match in _YEAR_START.finditer(folded)]
    if not years:
        return 0, 0
    return max(0, years[0] - _LONGEST_DATE), min(len(folded), years[-1] + 4 + _LONGEST_DATE)


def _find_dates(folded: str) -> list[_DateExpression]:
    """Date expressions in folded text, left to right, the longest where they overlap."""
    start, end = _date_window(folded)
    found = [
        expression
        for pattern in _DATE_PATTERNS
        for match in pattern.finditer(folded, start, end)
        if (expression := _expression(match))
    ]
    found.sort(key=lambda e: (e.start, -(e.end - e.start)))
    kept: list[_DateExpression] = []
    for expression in found:
        if not kept or expression.start >= kept[-1].end:
            kept.append(expression)
    return kept


def _choose(expression: _DateExpression, day_first: bool | None) -> str | None:
    if len(expression.readings) == 1:
        return expression.readings[0]
    if day_first is None:
        return None
    return expression.readings[0 if day_first else 1]


def parse_date(text: str, *, language: str | None, day_first: bool | None) -> str | None:
    """The first date expression in `text` as `YYYY-MM-DD`, or `YYYY-MM` for a month alone.

    An all-numeric date whose day and month could be swapped is read by `day_first`; when
    that is None, by the language's convention (every supported language but English writes
    the day first; dotted dates are day-first everywhere); otherwise it is None.
    """
    expressions = _find_dates(_fold(text))
    if not expressions:
        return None
    expression = expressions[0]
    if day_first is None:
        day_first = _language_day_first(language, expression.separator)
    return _choose(expression, day_first)


# --- languages ---------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the and of to is are we you your our this that with for be by or it "
        "will may which from have has not any"
    ),
    "fr": _words(
        "le la les des et est vous nous votre vos une du dans pour sur par "
        "qui que pas aux ces cette sont avec"
    ),
    "de": _words(
        "der die das und ist sie wir ihre ihr nicht mit von zu den dem auf "
        "eine ein des werden sind oder wenn auch"
    ),
    "es": _words(
        "el la los las y es usted nosotros su sus una del en para por que "
        "con se al como nuestro esta"
    ),
    "it": _words(
        "il lo la gli le e di che per una sono con del della delle dei "
        "nostro nostri questo questa non"
    ),
    "nl": _words(
        "de het een en van is je jij wij we uw ons onze niet met voor op die dat deze worden zijn"
    ),
    "pt": _words(
        "o os a as e de do da dos das um uma voce nos seu sua para com nao que por em esta"
    ),
}


def guess_language(text: str) -> str | None:
    """ISO 639-1 code of the text from stopword frequencies; None when unsure.

    Sure means: at least 3 stopword hits for the best language, and clearly more (1.5x)
    than for the runner-up, since neighbouring languages share many short words.
    """
    counts = Counter(_translate(text, _WORD_TABLE).split())  # the [a-z]+ runs of `_fold(text)`
    scores = {language: sum(counts[word] for word in stops) for language, stops in
              _STOPWORDS.items()}  # fmt: skip
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, best_score), (_, second_score) = ranked[0], ranked[1]
    if best_score >= 3 and best_score >= 1.5 * second_score:
        return best
    return None


# Countries whose convention is month/day/year; every other country writes the day first,
# except Canada, which uses both.
_MONTH_FIRST_COUNTRIES = frozenset({"us", "ph", "pw", "fm", "mh"})
_MIXED_COUNTRIES = frozenset({"ca"})
# Two-letter domains used worldwide as generic names (.io, .co, .tv ...): they name no country.
_GENERIC_COUNTRY_DOMAINS = _words("io co me tv ai ly fm am gg to cc ws gl sh is la")
# Country codes recognised as the first label of a host ("uk.example.com").
_COUNTRY_SUBDOMAINS = _words(
    "uk gb us ie au nz in za ca fr de at ch be nl lu es pt it br mx ar se dk no fi pl"
)


def _country_day_first(country: str) -> bool | None:
    if country in _MIXED_COUNTRIES:
        return None
    return country not in _MONTH_FIRST_COUNTRIES


def _site_day_first(url: str | None) -> bool | None:
    """Date order of the site's country: its country-code domain or country subdomain."""
    if not url:
        return None
    labels = (urlsplit(url).hostname or "").split(".")
    top = "uk" if labels[-2:] == ["co", "uk"] else labels[-1]
    if len(top) == 2 and top not in _GENERIC_COUNTRY_DOMAINS:
        return _country_day_first(top)
    if len(labels) > 2 and labels[0] in _COUNTRY_SUBDOMAINS:
        return _country_day_first(labels[0])
    return None


def _tag_day_first(html_lang: str | None) -> bool | None:
    """Date order of a language tag: its region when it has one ("en-GB"), else its language."""
    if not html_lang:
        return None
    parts = html_lang.replace("_", "-").lower().split("-")
    if len(parts) > 1 and len(parts[1]) == 2:
        return _country_day_first(parts[1])
    return _language_day_first(parts[0], "/")


def _language_day_first(language: str | None, separator: str) -> bool | None:
    """Every supported language but English writes the day first; so do all dotted dates."""
    if separator == ".":
        return True
    if language and language.lower()[:2] in _STOPWORDS and language.lower()[:2] != "en":
        return True
    return None


# --- labels ------------------------------------------------------------------------------

_UPDATED, _EFFECTIVE = "updated", "effective"

# Words, optional parts and classes of letters: no label holds a digit (`_find_labels`).
_LABELS: dict[str, tuple[str, ...]] = {
    _UPDATED: (
        # en
        r"last (?:updated|modified|revised|amended|changed|reviewed)(?: on| at)?",
        r"(?:was|were|has been|have been) (?:last )?(?:updated|revised|modified|amended)(?: on)?",
        r"(?:date of (?:the )?last (?:update|revision|modification)|last update|last revision)",
        r"(?:updated|revised|modified|amended)(?: on| as of)?",
        r"(?:version|revision) date", r"version(?: of| dated)?",
        # fr
        r"(?:date de (?:la )?)?derniere (?:mise a jour|modification|revision)(?: le)?",
        r"(?:mise|mis|mises) a jour(?: pour la derniere fois)?(?: le)?",
        r"(?:modifiee?s?|revisee?s?|actualisee?s?) le", r"version (?:du|en date du)",
        # de
        r"stand(?: vom)?", r"zuletzt (?:aktualisiert|geandert|uberarbeitet)(?: am)?",
        r"letzte (?:aktualisierung|anderung|uberarbeitung)(?: am)?",
        r"(?:aktualisiert|geandert) am", r"fassung vom",
        # es
        r"ultima (?:actualizacion|modificacion|revision)", r"actualizad[oa]s?(?: el)?",
        r"fecha de (?:la )?(?:ultima )?actualizacion",
        # it
        r"ultim[oa] (?:aggiornamento|modifica|revisione)", r"aggiornat[oa](?: il| al)?",
        r"data (?:dell'ultimo )?aggiornamento", r"versione(?: del)?",
        # nl
        r"laatst (?:bijgewerkt|gewijzigd|herzien)(?: op)?", r"laatste (?:update|wijziging)",
        r"bijgewerkt(?: op)?", r"versie(?: van)?",
        # pt
        r"ultima (?:atualizacao|alteracao|revisao)", r"atualizad[oa]s?(?: em)?",
        # de, verb last: "wurde zuletzt am 01.08.2019 aktualisiert"
        r"zuletzt am",
        # ja, zh, ko
        r"最終(?:更新|改定|改訂)日?", r"(?:更新|改定|改訂)日", r"最后(?:更新|修订)(?:日期|时间)?",
        r"更新日期", r"최종 ?(?:수정|업데이트|개정)일?",
    ),
    _EFFECTIVE: (
        # en
        r"effective(?: date| as of| on| from| since)?", r"in effect (?:as of|from|since|on)",
        r"(?:applies|apply|applicable|valid|in force) (?:from|as of|since)",
        r"(?:date of )?entry into force", r"comes? into (?:force|effect)(?: on)?",
        # fr
        r"(?:date d'|date de l')?entree en vigueur(?: le)?",
        r"en vigueur(?: depuis| a compter du| a partir du| le| au)?",
        r"s'appliquen?t? (?:a partir|a compter) d[ue']?",
        r"applicables? (?:a partir|a compter|des) d[ue']?",
        r"prend effet (?:le|a compter du)", r"date d'effet",
        # de
        r"(?:gultig|wirksam|gilt|gelten) ab", r"in kraft (?:seit|ab)", r"inkrafttreten(?: am)?",
        # es
        r"(?:fecha de )?entrada en vigor",
        r"(?:en vigor|vigente|efectiv[oa]) (?:desde|a partir de)",
        r"fecha de vigencia", r"se aplica (?:desde|a partir de)",
        # it
        r"(?:data di )?entrata in vigore",
        r"(?:in vigore|valid[oa]|efficace) (?:dal|a partire dal)",
        r"si applica (?:dal|a partire dal)",
        # nl
        r"ingangsdatum", r"(?:van kracht|geldig|geldt|in werking) (?:vanaf|per|sinds|op)",
        r"datum van inwerkingtreding",
        # pt
        r"(?:data de )?entrada em vigor", r"(?:em vigor|vigente|valid[oa]) (?:desde|a partir de)",
        r"data de vigencia",
        # ja, zh, ko
        r"施行日", r"生效日期", r"시행일",
    ),
}  # fmt: skip

_LABEL_PATTERN = re.compile(
    "|".join(
        f"(?P<{kind}>(?<![\\w'])(?:{'|'.join(labels)})(?!\\w))" for kind, labels in _LABELS.items()
    )
)
# Every date expression holds a year (each of `_DATE_PATTERNS` reads one), so a line without
# a year states no date; a run-in label is a line shorter than a heading.
_YEAR_HINT = re.compile(r"(?:19|20)\d\d")
_HEADING_LENGTH = 80


def _year_lines(lines: Sequence[str]) -> list[int]:
    """The indexes of the lines in which `_YEAR_HINT` finds a year.

    Each of its matches ("19..", "20..") holds a "9" or a "0", which `in` looks for many times
    faster than the regex scans a line (one character is a memchr): most lines hold neither
    and are never scanned."""
    return [
        index
        for index, line in enumerate(lines)
        if ("9" in line or "0" in line) and _YEAR_HINT.search(line)
    ]


# Words of a sentence that is about something other than the current text: earlier versions,
# who it applies to, until when, laws. A date in such a sentence is not the document's date.
_OTHER_THING = re.compile(
    r"(?<!\w)(?:prior to|before|until|till|previous|earlier version|older version|former"
    r"|registered|who (?:signed|joined)|act of|law of|directive|regulation|copyright"
    r"|avant|jusqu'|precedente?|ancienne version|inscrits?|loi|directive|reglement"
    r"|vor dem|vor|bis|vorherige|fruhere|altere|registriert|gesetz|richtlinie|verordnung"
    r"|hasta|anterior|registrad[oa]s?|ley|fino al|precedente|registrat[ie]|legge"
    r"|tot|vorige|eerdere|geregistreerd|registad[oa]s?)(?!\w)|©"
)

_QUALIFIED_SUBJECT = re.compile(r"(?<!\w)(?:for|pour|fur|para|per|voor)(?!\w)")

# The longest text allowed between a label and its date ("Dernière mise à jour des
# Conditions générales d'utilisation : 14 mars 2025").
_MAX_GAP = 60


@dataclass(frozen=True)
class _Label:
    kind: str
    start: int
    end: int


def _find_labels(folded: str, digit: int | None = None) -> list[_Label]:
    """The labels in `folded`, left to right; if `digit` (the position of a digit) is given,
    only those before it. No label holds a digit (`_LABELS`), so none spans it, and a scan that
    stops just after it (the lookahead of a label's end reads it) finds before it the labels a
    scan of the whole line finds: the rest of the line is not scanned."""
    end = len(folded) if digit is None else digit + 1
    labels = []
    for match in _LABEL_PATTERN.finditer(folded, 0, end):
        labels.append(_Label(match.lastgroup or "", match.start(), match.end()))
    return labels


_WORD_CHARACTER = re.compile(r"\w")
_DIGIT = re.compile(r"\d")  # every date expression holds one (its year)


def _opening_label(folded: str) -> _Label | None:
    """The label that opens the line (`_opens_line`), if one does: the only one of
    `_find_labels` that can, since every label starts with a word character. Looking for it
    alone spares scanning the whole line, which a line without a date needs no other label of.
    """
    first_word = _WORD_CHARACTER.search(folded)
    match = first_word and _LABEL_PATTERN.match(folded, first_word.start())
    return _Label(match.lastgroup or "", match.start(), match.end()) if match else None


def _sentence_bounds(folded: str, position: int) -> tuple[int, int]:
    """The sentence around `position`: between sentence ends (., !, ? or ; and a space)."""
    ends = [m.end() for m in re.finditer(r"[.!?;]\s+", folded)]
    start = max((end for end in ends if end <= position), default=0)
    stop = min((end for end in ends if end > position), default=len(folded))
    return start, stop


def _opens_line(folded: str, label: _Label) -> bool:
    return not re.search(r"\w", folded[: label.start])


def _is_label_only(folded: str, label: _Label) -> bool:
    """A heading or run-in label: the label opens the line and nothing but marks follows,
    or it ends in '.'/':' before a sentence (the line's other statements fall under it)."""
    if not _opens_line(folded, label):
        return False
    rest = folded[label.end :]
    return not re.search(r"\w", rest) or bool(re.match(r"[\s*_]*[.:][\s*_]*\s", rest))


@dataclass(frozen=True)
class _Statement:
    kinds: frozenset[str]
    expression: _DateExpression
    line: int
    strong: bool  # a label line ("Last updated: ...") rather than a sentence in running text
    phrase: str


def _statements(
    lines: Sequence[str], year_lines: Sequence[int]
) -> tuple[list[_Statement], list[_DateExpression]]:
    """The labelled date statements of the text, and every date expression in it.

    Only the `year_lines` can hold a date, so only they are read, with the line before each
    that has a date: a run-in label alone on that line governs it (`_run_in_kind`)."""
    statements: list[_Statement] = []
    every_date: list[_DateExpression] = []
    for index in year_lines:
        line = lines[index]
        folded = _fold(line)
        dates = _find_dates(folded)
        every_date.extend(dates)
        if not dates:
            continue
        heading_kind = _run_in_kind(lines[index - 1]) if index else None
        governing = {heading_kind} if heading_kind else set()
        # A label after the last date's first digit introduces none of the dates.
        labels = _find_labels(folded, _DIGIT.search(folded, dates[-1].start).start())
        run_in = [label for label in labels if _is_label_only(folded, label)]
        governing |= {label.kind for label in run_in}
        used_governing = False
        for date in dates:
            label = _label_before(folded, labels, date)
            if label is not None:
                kinds = frozenset({label.kind} | governing)
            elif governing and not used_governing and date.start < 2 * _MAX_GAP:
                # "Effective date" / "May 25, 2018": the date under a heading or run-in label.
                if _OTHER_THING.search(folded, _sentence_bounds(folded, date.start)[0], date.end):
                    continue
                kinds = frozenset(governing)
            else:
                continue
            used_governing = True
            strong = bool(governing) or (label is not None and _opens_line(folded, label))
            statements.append(_Statement(kinds, date, index, strong, _phrase(line, folded, date)))
    return statements, every_date


def _run_in_kind(line: str) -> str | None:
    """The kind of the label of `line` when the line is a heading or run-in label that states
    no date ("Effective date", "Last updated:"): it governs the line after it. Else None."""
    if len(line) >= _HEADING_LENGTH:  # `_fold` keeps the length
        return None
    folded = _fold(line)
    if _YEAR_HINT.search(line) and _find_dates(folded):
        return None
    # Such a label opens the line (`_is_label_only`).
    opening = _opening_label(folded)
    return opening.kind if opening is not None and _is_label_only(folded, opening) else None


def _is_other_thing(folded: str, label: _Label, date: _DateExpression) -> bool:
    """Whether the sentence, up to the date, speaks of something else (what follows the date
    is often "until then, the previous version applies"), or its subject is narrowed to a
    part of the service ("The terms for gift cards are effective as of ...")."""
    start, _ = _sentence_bounds(folded, label.start)
    return bool(
        _OTHER_THING.search(folded, start, date.end)
        or _QUALIFIED_SUBJECT.search(folded, start, label.start)
    )


def _label_before(folded: str, labels: list[_Label], date: _DateExpression) -> _Label | None:
    """The label that introduces `date`: the nearest one before it, close enough, with no
    sentence end or other date between, in a sentence about the document itself."""
    before = [label for label in labels if label.end <= date.start]
    if not before:
        return None
    label = before[-1]
    gap = folded[label.end : date.start]
    if len(gap) > _MAX_GAP or re.search(r"[.!?;]\s|\d{4}", gap):
        return None
    if _is_other_thing(folded, label, date):
        return None
    return label


def _phrase(line: str, folded: str, date: _DateExpression) -> str:
    text = line.strip()
    if len(text) <= 200:
        return text
    start, stop = _sentence_bounds(folded, date.start)
    return line[start:stop].strip()[:200]


# --- the document's dates -----------------------------------------------------------------


def _metadata_dates(hints: PageHints) -> list[tuple[str, str]]:
    """(source, YYYY-MM-DD) of the page's modified-time metadata."""
    found = []
    for source, raw in hints.modified:
        match = re.match(r"\s*((?:19|20)\d\d-\d\d-\d\d)", raw)
        if match:
            found.append((source, match.group(1)))
    return found


def _time_value(hints: PageHints, text: str) -> str | None:
    """The datetime of a `<time>` element whose visible text appears in `text`."""
    for visible, attribute in hints.times:
        match = re.match(r"\s*((?:19|20)\d\d-\d\d(?:-\d\d)?)", attribute)
        if match and visible.strip() and _fold(visible.strip()) in _fold(text):
            return match.group(1)
    return None


def _numeric_order(
    expressions: Iterable[_DateExpression],
    *,
    language: str | None,
    hints: PageHints,
    default_day_first: bool | None,
) -> bool | None:
    """Whether the document writes numeric dates day first, from evidence, in this order:

    1. the site's country (country-code domain, or country subdomain such as "uk."): it is
       the publisher's convention, while a page's language tag is often a platform default;
    2. the region of the page's language tag ("en-GB" day first, "en-US" month first);
    3. the language: every supported language but English writes the day first;
    4. another numeric date in the same text that only one order can read (31/05/2025);
    5. `default_day_first` from the configuration.
    None when nothing decides: an ambiguous date is then not read at all.
    """
    for decided in (
        _site_day_first(hints.url),
        _tag_day_first(hints.html_lang),
        _language_day_first(language, "/"),
    ):
        if decided is not None:
            return decided
    proofs = {expression.proves_day_first for expression in expressions} - {None}
    if len(proofs) == 1:
        return proofs.pop()
    return default_day_first


def _resolve(
    statement: _Statement, line: str, hints: PageHints, day_first: bool | None
) -> str | None:
    """The value of a statement's date. An ambiguous numeric date is settled by the page
    itself when it can be: its modified-time metadata or a `<time>` element giving one of the
    readings, or, for a last-update date, only one reading not later than the page's last
    modification. Else by `day_first`."""
    expression = statement.expression
    if len(expression.readings) == 1:
        return expression.readings[0]
    modified = [value for _, value in _metadata_dates(hints)]
    for value in [*modified, _time_value(hints, line)]:
        if value in expression.readings:
            return value
    if modified and _UPDATED in statement.kinds:
        possible = [reading for reading in expression.readings if reading <= max(modified)]
        if len(possible) == 1:
            return possible[0]
    return _choose(expression, day_first)


def _dangling_label_fallback(
    lines: Sequence[str], year_lines: Collection[int], hints: PageHints
) -> tuple[str, DateMention] | None:
    """(kind, mention) from the page's markup for a date label whose date the text lacks.

    Pages sometimes render "Last updated:" with the date in a `<time>` element the text lost,
    or only in metadata. The label shows the text states a date; a text without such a label
    gets none from metadata, which changes whenever anyone saves the page.
    """
    metadata = _metadata_dates(hints)
    if not metadata and not hints.times:
        return None  # the markup has no date to give: no need to read the lines
    for index, line in enumerate(lines):
        if len(line) >= _HEADING_LENGTH or index in year_lines:
            continue
        folded = _fold(line)
        next_line = lines[index + 1] if index + 1 < len(lines) else ""
        label = _opening_label(folded)  # dangling: it opens the line, and nothing follows it
        if label is None or re.search(r"\w", folded[label.end :]) or index + 1 in year_lines:
            continue
        phrase = line.strip()[:200]
        timed = _time_value(hints, f"{line} {next_line}")
        if timed:
            return label.kind, DateMention(timed, phrase, "time")
        for source, value in metadata:
            return label.kind, DateMention(value, phrase, source)
    return None


def document_dates(
    lines: Sequence[str],
    *,
    language: str | None,
    hints: PageHints = PageHints(),
    default_day_first: bool | None = None,
) -> tuple[DateMention | None, DateMention | None]:
    """(last_updated, effective) of the document; see the module docstring for the rule.

    `lines` are its title, headings and block texts in order. Among several statements of
    one kind, a label line ("Last updated: ...") wins over a sentence in running text, then
    the first in the text: later dates are usually of earlier versions or other things.
    """
    language = language or (hints.html_lang or "")[:2] or None
    year_lines = _year_lines(lines)
    statements, every_date = _statements(lines, year_lines)
    day_first = _numeric_order(
        every_date,
        language=language,
        hints=hints,
        default_day_first=default_day_first,
    )
    best: dict[str, tuple[tuple[bool, int], DateMention]] = {}
    for statement in statements:
        value = _resolve(statement, lines[statement.line], hints, day_first)
        if value is None:
            continue
        mention = DateMention(value, statement.phrase)
        rank = (not statement.strong, statement.line)
        for kind in statement.kinds:
            if kind not in best or rank < best[kind][0]:
                best[kind] = (rank, mention)
    updated = best.get(_UPDATED, (None, None))[1]
    effective = best.get(_EFFECTIVE, (None, None))[1]
    if not statements:
        fallback = _dangling_label_fallback(lines, frozenset(year_lines), hints)
        if fallback:
            kind, mention = fallback
            return mention, mention if kind == _EFFECTIVE else None
    return updated or effective, effective
