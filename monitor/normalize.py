"""Page bytes in, canonical `Document` out.

`normalize` decodes the page (HTML in any encoding, plain text, PDF), resolves the configured
selection (CSS, XPath, ranges between marks) or finds the policy body itself, and turns the
selected region into titled, levelled sections of normalized blocks. It never returns an empty
document: a selector that matches nothing, a bot-challenge page, binary content or a page with
no text raise `ExtractionError` instead, so that no empty version is ever stored.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from cssselect import GenericTranslator, SelectorError
from lxml import etree

from monitor.dates import PageHints, document_dates, guess_language
from monitor.document import Block, Document, Section
from monitor.extract import (
    BLOCK_TAGS,
    RawBlock,
    clean_text,
    find_policy_body,
    is_challenge_page,
    strip_furniture,
    tag_name,
    walk_blocks,
    with_ancestors,
)
from monitor.plaintext import MARKDOWN_TITLE_KEY, pdf_text, plain_text_blocks

EXTRACTION_ERROR_KINDS = (
    "selector-miss",
    "invalid-selector",
    "empty",
    "challenge",
    "binary",
    "unsupported",
    "too-deep",
)


class ExtractionError(ValueError):
    """The page gave no policy text; `kind` says why, `str(err)` says it to a human."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Range:
    """The part of a page between two marks, each given by a CSS selector."""

    start_before: str | None = None
    start_after: str | None = None
    end_before: str | None = None
    end_after: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, str]) -> Range:
        def pick(snake: str, camel: str) -> str | None:
            return data.get(snake, data.get(camel))

        return cls(
            start_before=pick("start_before", "startBefore"),
            start_after=pick("start_after", "startAfter"),
            end_before=pick("end_before", "endBefore"),
            end_after=pick("end_after", "endAfter"),
        )

    @property
    def start(self) -> str | None:
        return self.start_before or self.start_after

    @property
    def end(self) -> str | None:
        return self.end_before or self.end_after

    def __str__(self) -> str:
        start = (
            f"before {self.start_before!r}" if self.start_before else f"after {self.start_after!r}"
        )
        end = f"before {self.end_before!r}" if self.end_before else f"after {self.end_after!r}"
        return f"range from {start} to {end}"


Selector = str | Range


@dataclass(frozen=True)
class Selection:
    """What to keep of a page (`select`, a union in document order) and what to drop."""

    select: tuple[Selector, ...] = ()
    remove: tuple[Selector, ...] = ()

    @classmethod
    def from_config(cls, select: object, remove: object) -> Selection:
        return cls(select=_selectors_from_config(select), remove=_selectors_from_config(remove))


def _selectors_from_config(value: object) -> tuple[Selector, ...]:
    if value is None:
        return ()
    if isinstance(value, str | Range):
        return (value,)
    if isinstance(value, Mapping):
        return (Range.from_mapping(value),)
    if isinstance(value, Iterable):
        return tuple(item for part in value for item in _selectors_from_config(part))
    raise ExtractionError("invalid-selector", f"selector {value!r} is neither text nor a range")


def is_xpath(selector: str) -> bool:
    return selector.lstrip().startswith(("/", "("))


_CSS_TRANSLATOR = GenericTranslator()


@lru_cache(maxsize=1024)
def _css_to_xpath(selector: str) -> str:
    """A CSS selector as XPath, translated once per process: translating takes three times
    as long as compiling the XPath, and a watch list repeats a few selectors over thousands
    of targets, each read at every page."""
    return _CSS_TRANSLATOR.css_to_xpath(selector)


def _compile(selector: str) -> etree.XPath:
    try:
        if is_xpath(selector):
            return etree.XPath(selector)
        return etree.XPath(_css_to_xpath(selector))
    except (SelectorError, etree.XPathError) as err:
        language = "XPath" if is_xpath(selector) else "CSS"
        raise ExtractionError(
            "invalid-selector", f"selector {selector!r} is not valid {language}: {err}"
        ) from err


def validate_selector(selector: str | Range) -> None:
    """Raise ExtractionError("invalid-selector") for a malformed CSS/XPath selector or range."""
    if isinstance(selector, Range):
        if not selector.start or not selector.end:
            raise ExtractionError("invalid-selector", f"{selector} needs a start and an end mark")
        _compile(selector.start)
        _compile(selector.end)
        return
    if not selector.strip():
        raise ExtractionError("invalid-selector", "empty selector")
    _compile(selector)


def _matches(root: etree._Element, selector: str) -> list[etree._Element]:
    found = _compile(selector)(root)
    if not isinstance(found, list):
        return []
    return [item for item in found if isinstance(item, etree._Element)]


@dataclass(frozen=True)
class Marks:
    """Elements where selection starts or stops, handed to the block walker."""

    inside: frozenset[etree._Element] = frozenset()
    starts_before: frozenset[etree._Element] = frozenset()
    starts_after: frozenset[etree._Element] = frozenset()
    ends_before: frozenset[etree._Element] = frozenset()
    ends_after: frozenset[etree._Element] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.inside or self.starts_before or self.starts_after)

    @property
    def elements(self) -> frozenset[etree._Element]:
        """Every marked element: where a selection starts, ends or bounds."""
        return (
            self.inside
            | self.starts_before
            | self.starts_after
            | self.ends_before
            | self.ends_after
        )

    def with_ancestors(self) -> frozenset[etree._Element]:
        return frozenset(with_ancestors(self.elements))


def _resolve(root: etree._Element, selectors: Sequence[Selector]) -> tuple[Marks, list[str]]:
    """The marks of every selector, and the selectors that matched nothing."""
    inside: set[etree._Element] = set()
    marks: dict[str, set[etree._Element]] = {
        "starts_before": set(),
        "starts_after": set(),
        "ends_before": set(),
        "ends_after": set(),
    }
    missing: list[str] = []
    for selector in selectors:
        if isinstance(selector, str):
            found = _matches(root, selector)
            if not found:
                missing.append(repr(selector))
            inside.update(found)
            continue
        validate_selector(selector)
        start = _matches(root, selector.start or "")
        end = _matches(root, selector.end or "")
        if not start or not end:
            missing.append(str(selector))
            continue
        marks["starts_before" if selector.start_before else "starts_after"].add(start[0])
        marks["ends_before" if selector.end_before else "ends_after"].add(end[0])
    return Marks(inside=frozenset(inside), **{k: frozenset(v) for k, v in marks.items()}), missing


def normalize(
    body: bytes,
    *,
    content_type: str | None = None,
    url: str = "",
    selection: Selection = Selection(),
    default_language: str | None = None,
    default_day_first: bool | None = None,
) -> Document:
    """The canonical Document of a page; raises ExtractionError when it gives no policy text."""
    reading = PageReading(body, content_type=content_type, url=url, selection=selection)
    return reading.document(default_language=default_language, default_day_first=default_day_first)


def region_key(
    body: bytes,
    *,
    content_type: str | None = None,
    url: str = "",
    selection: Selection = Selection(),
) -> str | None:
    """The page's `PageReading.region_key`."""
    reading = PageReading(body, content_type=content_type, url=url, selection=selection)
    return reading.region_key()


class PageReading:
    """One page, read with one target's URL and selection, for its region key and its
    document. A crawl's worker needs the key first and the document only when the key is new;
    both read the same HTML tree, so it is parsed once for the two.

    `region_key` only reads the tree; `document` strips it in place, so it takes the tree and
    a later call parses the page again."""

    def __init__(
        self,
        body: bytes,
        *,
        content_type: str | None = None,
        url: str = "",
        selection: Selection = Selection(),
    ):
        self.body = body
        self.content_type = content_type
        self.url = url
        self.selection = selection
        self._html: _ParsedHtml | None = None

    @cached_property
    def kind(self) -> str:
        return sniff_content_kind(self.body, self.content_type)

    def _parsed_html(self) -> _ParsedHtml:
        if self._html is None:
            self._html = _ParsedHtml(_parse_page(self.body, self.content_type))
        return self._html

    def _take_parsed_html(self) -> _ParsedHtml:
        html, self._html = self._parsed_html(), None
        return html

    def document(
        self, *, default_language: str | None = None, default_day_first: bool | None = None
    ) -> Document:
        """The canonical Document of the page; raises ExtractionError when it gives no policy
        text."""
        kind, body, content_type = self.kind, self.body, self.content_type
        if kind in ("binary", "unsupported"):
            raise ExtractionError(
                kind, f"content of type {content_type or 'unknown'} is not a text"
            )
        if kind == "pdf":
            text = pdf_text(body)
            if text is None:
                raise ExtractionError("unsupported", "PDF pages need the pypdf package")
            kind, body, content_type = "text", text.encode("utf-8"), "text/plain; charset=utf-8"
        if kind == "text":
            raw_blocks = plain_text_blocks(page_text(body, content_type))
            title = ""
            if raw_blocks and _is_text_title(raw_blocks[0]):
                title, raw_blocks = raw_blocks[0].text, raw_blocks[1:]
            return _assemble(
                raw_blocks,
                title=title,
                hints=PageHints(),
                default_language=default_language,
                default_day_first=default_day_first,
            )
        return _normalize_html(
            self._take_parsed_html(),
            url=self.url,
            selection=self.selection,
            default_language=default_language,
            default_day_first=default_day_first,
        )

    def region_key(self) -> str | None:
        """A hash of everything `document` reads from an HTML page when CSS or XPath selectors
        choose its text: the selected elements' markup, the elements around them (their tags
        and attributes), what `remove` takes out of them, the page's title, language and date
        hints. Two pages with the same key give the same document for the same target
        settings, so a page whose key is its last text's need not be normalized again: the
        markup outside the policy (scripts, menus, tokens) changes at every fetch, the policy
        does not.

        None when that does not hold or cannot be told cheaply: no selector, a range, a page
        that is not HTML or is a bot challenge, a selected element that is not a block of its
        own (its text could join text outside it) or that sits in a table."""
        selection = self.selection
        if not selection.select or any(
            isinstance(s, Range) for s in (*selection.select, *selection.remove)
        ):
            return None
        if self.kind != "html":
            return None
        try:
            html = self._parsed_html()
            if html.is_challenge:
                return None
            marks, missing = html.resolve(selection.select)
            removed, _ = html.resolve(selection.remove)
        except ExtractionError:
            return None
        return _region_digest(html, marks, missing, removed, self.url)


class _ParsedHtml:
    """A page's HTML tree, and what both `region_key` and `normalize` read of it before
    `normalize` strips it, worked out once."""

    def __init__(self, root: etree._Element):
        self.root = root
        self._resolved: dict[tuple[Selector, ...], tuple[Marks, list[str]]] = {}

    @cached_property
    def is_challenge(self) -> bool:
        return is_challenge_page(self.root)

    @cached_property
    def hints(self) -> PageHints:
        return _page_hints(self.root)

    def resolve(self, selectors: tuple[Selector, ...]) -> tuple[Marks, list[str]]:
        """`_resolve` of the selectors on the tree as parsed."""
        resolved = self._resolved.get(selectors)
        if resolved is None:
            resolved = self._resolved[selectors] = _resolve(self.root, selectors)
        return resolved


# C0 controls other than white space: invisible in a browser, and not allowed in an lxml tree.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x20), 0x7F])


def page_text(body: bytes, content_type: str | None) -> str:
    """The page decoded, as the parser reads it: form feeds as line breaks, control
    characters gone."""
    return _parser_text(decode(body, content_type))


def _parser_text(text: str) -> str:
    """A page's text as the parser reads it: form feeds as line breaks, control characters
    gone (`_parse_page` makes the same change on a UTF-8 page's bytes)."""
    return _without_control_characters(text.replace("\f", "\n"))


def _parse_page(body: bytes, content_type: str | None) -> etree._Element:
    """The tree of `page_text`. A page that `decode` reads as UTF-8 as it is (most are) goes
    to the parser as its bytes, with the same form feeds and control characters changed
    there (all are ASCII, so the bytes of no other character hold them): a str would be
    encoded back to UTF-8 twice, which cost a third of the parse on policy pages."""
    text, as_utf8 = _decoded(body, content_type)
    if not as_utf8:
        return _parse_html(_parser_text(text))
    body = body.removeprefix(codecs.BOM_UTF8)
    return _parse_html(body.translate(None, _CONTROL_BYTES).replace(b"\f", b"\n"))


def _without_control_characters(text: str) -> str:
    """`text` without `_CONTROL_BYTES`. They are ASCII, so deleting them from its UTF-8 bytes
    removes exactly them: bytes.translate does that in half the time a regex over the text
    takes, which counts on a page of a few hundred kilobytes."""
    encoded = text.encode("utf-8", "surrogatepass")
    kept = encoded.translate(None, _CONTROL_BYTES)
    return text if len(kept) == len(encoded) else kept.decode("utf-8", "surrogatepass")


def _is_text_title(first: RawBlock) -> bool:
    """The first block of a plain text is its title when it is a "# Title" line, or a heading
    without numbering that is not a lower Markdown heading ("## ...")."""
    if first.kind != "h":
        return False
    if first.key == MARKDOWN_TITLE_KEY:
        return True
    return first.key[0] != 0 and not split_numbering(first.text)[0]


def _normalize_html(
    html: _ParsedHtml,
    *,
    url: str,
    selection: Selection,
    default_language: str | None,
    default_day_first: bool | None,
) -> Document:
    root = html.root
    if html.is_challenge:
        raise ExtractionError(
            "challenge", "the site served a bot-challenge page instead of the policy"
        )
    hints = html.hints
    page_title = _clean_page_title(root.findtext(".//title") or "")
    remove, _ = html.resolve(selection.remove)
    if selection.select:
        marks, missing = html.resolve(selection.select)
        if marks.empty:
            raise ExtractionError(
                "selector-miss",
                f"selector {', '.join(missing)} matched nothing"
                " (the page may have been redesigned)",
            )
        warnings = tuple(f"selector {name} matched nothing" for name in missing)
        strip_furniture(root, auto=False, keep=marks.with_ancestors())
    else:
        strip_furniture(root, auto=True)
        body = find_policy_body(root)
        if body is None:
            raise ExtractionError("empty", "the page has no text")
        marks, warnings = Marks(inside=frozenset([body])), ()
    walked = walk_blocks(root, marks=marks, removed=remove, base_url=url)
    hints = PageHints(
        html_lang=hints.html_lang, modified=hints.modified, times=walked.times, url=url
    )
    raw_blocks = walked.blocks
    title = page_title
    for index, raw in enumerate(raw_blocks):
        if raw.kind == "h" and raw.tag == "h1":
            title = raw.text
            raw_blocks = raw_blocks[:index] + raw_blocks[index + 1 :]
            break
    if not any(raw.text for raw in raw_blocks if raw.kind != "h"):
        raise ExtractionError("empty", "no policy text was found on the page")
    return _assemble(
        raw_blocks,
        title=title,
        hints=hints,
        default_language=default_language,
        default_day_first=default_day_first,
        warnings=warnings,
    )


def _region_digest(
    html: _ParsedHtml, marks: Marks, missing: list[str], removed: Marks, url: str
) -> str | None:
    """`PageReading.region_key` of a page whose selectors were resolved."""
    root = html.root
    if not marks.inside:
        return None
    ancestry = {}
    for region in marks.inside:
        ancestors = list(region.iterancestors())
        if tag_name(region) not in BLOCK_TAGS or any(tag_name(a) in _TABLE_TAGS for a in ancestors):
            return None
        ancestry[region] = ancestors
    regions = _in_document_order(list(ancestry)) if len(ancestry) > 1 else list(ancestry)
    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        digest.update(repr(parts).encode("utf-8") + b"\0")

    hints = html.hints
    add(url, root.findtext(".//title"), hints.html_lang, hints.modified, missing)
    for region in regions:
        add(*((a.tag, sorted(a.attrib.items())) for a in ancestry[region]))
        digest.update(etree.tostring(region, with_tail=False))
    inside = set(regions)
    tree = root.getroottree()
    paths = [
        tree.getpath(element)
        for element in removed.inside
        if element in inside or inside.intersection(element.iterancestors())
    ]
    add(sorted(paths))
    return digest.hexdigest()


_TABLE_TAGS = frozenset({"table", "thead", "tbody", "tfoot", "tr", "td", "th"})


def _in_document_order(elements: list[etree._Element]) -> list[etree._Element]:
    """The elements sorted as they appear in their document. Each is placed by its path of
    child indexes from the root, which sort in document order; the paths of shared ancestors
    are worked out once. Numbering every element of the page instead costs far more when a
    few regions are selected, and not less when hundreds are."""
    paths: dict[etree._Element, tuple[int, ...]] = {}

    def path(element: etree._Element) -> tuple[int, ...]:
        unplaced = []  # the element and its ancestors below the first one placed
        ancestor = element
        while ancestor not in paths:
            parent = ancestor.getparent()
            if parent is None:
                paths[ancestor] = ()
                break
            unplaced.append((ancestor, parent))
            ancestor = parent
        for child, parent in reversed(unplaced):
            paths[child] = (*paths[parent], parent.index(child))
        return paths[element]

    return sorted(elements, key=path)


def _parse_html(markup: str | bytes) -> etree._Element:
    """The page's tree, from its text or its UTF-8 bytes (read as UTF-8 whatever its
    declarations say). libxml2 stops reading a page nested deeper than its limit (256
    elements, 2048 with `huge_tree`) and keeps only what came before: such a page is refused
    rather than read in part, since the lost tail would look like deleted policy text."""
    utf8 = isinstance(markup, bytes)
    parser = etree.HTMLParser(
        remove_comments=True, remove_pis=True, huge_tree=True, encoding="utf-8" if utf8 else None
    )
    if utf8:
        markup = _XML_DECLARATION_BYTES.sub(b"", markup, count=1) or b"<html/>"
    else:
        markup = _XML_DECLARATION.sub("", markup, count=1) or "<html/>"
    root = etree.fromstring(markup, parser)
    if any(error.type == _EXCESSIVE_DEPTH for error in parser.error_log):
        raise ExtractionError(
            "too-deep", "the page nests its elements too deeply to be read completely"
        )
    if root is None:
        raise ExtractionError("empty", "the page has no content")
    return root


_EXCESSIVE_DEPTH = etree.ErrorTypes.ERR_RESOURCE_LIMIT


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_XML_DECLARATION_BYTES = re.compile(rb"^\s*<\?xml[^>]*>")
_MODIFIED_META = (
    "article:modified_time",
    "og:updated_time",
    "last-modified",
    "dcterms.modified",
    "dc.date.modified",
    "datemodified",
    "revised",
)


def _page_hints(root: etree._Element) -> PageHints:
    lang = root.get("lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    modified: list[tuple[str, str]] = []
    for meta in root.iter("meta"):
        name = (meta.get("property") or meta.get("name") or meta.get("http-equiv") or "").lower()
        name = name or (meta.get("itemprop") or "").lower()
        content = meta.get("content")
        if content and name in _MODIFIED_META:
            modified.append(("meta", content.strip()))
    for script in root.iter("script"):
        if (script.get("type") or "").lower() == "application/ld+json" and script.text:
            modified.extend(("json-ld", value) for value in _json_ld_modified(script.text))
    return PageHints(html_lang=lang.strip() if lang else None, modified=tuple(modified))


def _json_ld_modified(source: str) -> list[str]:
    try:
        data = json.loads(source)
    except ValueError:
        return []
    found: list[str] = []
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            value = item.get("dateModified")
            if isinstance(value, str):
                found.append(value.strip())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


_TITLE_SEPARATORS = re.compile(r"\s+[|\-\u2013\u2014\u00b7:]{1,2}\s+")


def _clean_page_title(raw: str) -> str:
    """The `<title>` without the site name around it: its longest separated part."""
    parts = [part for part in _TITLE_SEPARATORS.split(clean_text(raw)) if part]
    return max(parts, key=len, default="")


_NUMBERING = re.compile(
    r"""^(?P<number>
        (?:(?:article|art\.|section|sec\.|chapter|clause|part|annex|appendix|schedule
            |artikel|abschnitt|kapitel|teil|anhang|ziffer|chapitre|partie|annexe|titre)
           \s+(?:\d{1,3}[a-z]?(?:\.\d{1,3})*|[IVXLC]{1,6})\.?)
      | \u00a7{1,2}\s*\d{1,3}[a-z]?(?:\.\d{1,3})*\.?
      | \d{1,3}(?:\.\d{1,3})*(?:\.|\))?
      | [IVXLC]{1,6}[.)]
      | [A-Z][.)]
      | \((?:\d{1,3}|[a-z]|[ivx]{1,4})\)
    )
    (?:\s*[-\u2013\u2014:.)]\s+|\s+|$)
    (?P<rest>.*)$""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)


def split_numbering(heading: str) -> tuple[str, str]:
    """("2.1", "Personal Information") from "2.1 Personal Information"; ("", text) if none."""
    match = _NUMBERING.match(heading)
    if not match:
        return "", heading
    number, rest = match["number"], match["rest"].strip()
    if number[0].isalpha() and number[-1] not in ".)" and not rest and len(number) < 3:
        return "", heading
    if re.fullmatch(r"[A-Z][.)]?", number) and rest[:1].islower():
        return "", heading
    return number.rstrip(".").rstrip() if number.endswith(".") else number, rest


def numbering_depth(number: str) -> int:
    digits = re.findall(r"\d+", number)
    return max(1, len(digits))


def _assemble(
    raw_blocks: Sequence[RawBlock],
    *,
    title: str,
    hints: PageHints,
    default_language: str | None,
    default_day_first: bool | None,
    warnings: tuple[str, ...] = (),
) -> Document:
    """Sections from the flat block sequence; levels are the ranks of the heading keys used."""
    ranks = {
        key: rank
        for rank, key in enumerate(sorted({r.key for r in raw_blocks if r.kind == "h"}), 1)
    }
    sections: list[Section] = []
    heading, number, level = "", "", 0
    blocks: list[Block] = []
    lines: list[str] = [title] if title else []

    def close() -> None:
        if blocks or heading or number:
            sections.append(
                Section(heading=heading, level=level, blocks=tuple(blocks), number=number)
            )

    for raw in raw_blocks:
        lines.append(raw.text)
        if raw.kind == "h":
            close()
            number, heading = split_numbering(raw.text)
            level, blocks = ranks[raw.key], []
        else:
            blocks.append(Block(text=raw.text, kind=raw.kind, links=raw.links))
    close()
    if not any(section.blocks for section in sections):
        raise ExtractionError("empty", "no policy text was found on the page")
    language = (
        _primary_subtag(hints.html_lang)
        or guess_language("\n".join(lines))  # joined only for a page that does not say
        or default_language
    )
    last_updated, effective = document_dates(
        lines, language=language, hints=hints, default_day_first=default_day_first
    )
    return Document(
        title=title,
        sections=tuple(sections),
        language=language,
        last_updated=last_updated,
        effective=effective,
        warnings=warnings,
    )


def _primary_subtag(lang: str | None) -> str | None:
    if not lang:
        return None
    primary = re.split(r"[-_]", lang.strip())[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def sniff_content_kind(body: bytes, content_type: str | None) -> str:
    """ "html", "text", "pdf" or "binary", from the declared type and the bytes themselves."""
    head = body[:2048]
    if head.lstrip().startswith(b"%PDF-"):
        return "pdf"
    declared = (content_type or "").split(";")[0].strip().lower()
    if _looks_binary(head):
        return "binary"
    if declared == "text/plain":
        return "text"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = decode(head, None).encode("utf-8", errors="replace")
    if declared in ("text/html", "application/xhtml+xml") or re.search(
        rb"<(?:!doctype\s+html|html|head|body|meta|title|div|p)[\s>]", head, re.IGNORECASE
    ):
        return "html"
    if declared and not declared.startswith("text/") and not declared.endswith("xml"):
        return "unsupported"
    return "text"


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\x00" in head


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


def decode(body: bytes, content_type: str | None) -> str:
    """Text of the page: HTTP charset, BOM, <meta charset>, then UTF-8, falling back to cp1252."""
    return _decoded(body, content_type)[0]


def _decoded(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """`decode`'s text, and whether it is the body (after a UTF-8 byte order mark) read as
    UTF-8 as it is: valid, and no other charset chosen (a pure-ASCII page read as cp1252 is
    the same text)."""
    if body.startswith(codecs.BOM_UTF8):
        rest = body[len(codecs.BOM_UTF8) :]
        try:
            return rest.decode("utf-8"), True
        except UnicodeDecodeError:
            return rest.decode("utf-8", errors="replace"), False
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if body.startswith(bom):
            return body[len(bom) :].decode(encoding, errors="replace"), False
    declared = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type or "", re.IGNORECASE)
    meta = _META_CHARSET.search(body[:4096])
    for candidate in (
        declared.group(1) if declared else None,
        meta.group(1).decode("ascii") if meta else None,
    ):
        encoding = _known_encoding(candidate)
        if encoding == "cp1252" and _is_utf8_beyond_ascii(body):
            # Text in a single-byte charset is almost never valid UTF-8 once it has accented
            # letters: a page labelled Latin-1 that is, was saved as UTF-8 and mislabelled.
            return body.decode("utf-8"), True
        if encoding:
            try:
                text = body.decode(encoding)
            except UnicodeDecodeError:
                break
            # A page of ASCII only reads the same in cp1252 as in UTF-8.
            return text, encoding == "utf-8" or (encoding == "cp1252" and body.isascii())
    try:
        return body.decode("utf-8"), True
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace"), False


def _is_utf8_beyond_ascii(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _known_encoding(name: str | None) -> str | None:
    if not name:
        return None
    try:
        encoding = codecs.lookup(name).name
    except LookupError:
        return None
    # Browsers read latin-1 and ascii labels as windows-1252; so do we.
    return "cp1252" if encoding in ("latin-1", "iso8859-1", "ascii") else encoding


__all__ = [
    "ExtractionError",
    "PageReading",
    "Range",
    "Selection",
    "normalize",
    "split_numbering",
    "validate_selector",
]
