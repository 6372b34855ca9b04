"""From a parsed HTML page to a flat sequence of normalized blocks.

Three steps, each a general rule about web pages: strip what is not text a reader sees
(`strip_furniture`), find the policy body when no selector is configured (`find_policy_body`),
and walk the selected region in document order, turning it into headings, paragraphs, list
items, table rows and preformatted blocks (`walk_blocks`). Inline markup never splits a block;
block markup always does, so the same visible text gives the same blocks whatever the HTML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree

if TYPE_CHECKING:
    from monitor.normalize import Marks

HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure",
        "footer", "form", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu",
        "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th",
        "thead", "tr", "ul",
    }
    | HEADING_TAGS
)  # fmt: skip
_ALWAYS_DROPPED_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "iframe", "svg", "canvas", "object",
        "embed", "audio", "video", "img", "picture", "input", "select", "textarea", "link",
        "meta", "head", "dialog", "map",
    }
)  # fmt: skip
_FURNITURE_TAGS = frozenset({"nav", "aside", "form", "menu"})
_FURNITURE_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar",
     "toolbar", "dialog", "alertdialog", "tablist", "timer", "marquee", "progressbar",
     "tooltip"}
)  # fmt: skip


class _AnyCasePattern:
    """A case-insensitive search for a lower-case pattern in ids, classes and styles.

    These are ASCII nearly always, and an ASCII text lower-cased matches the pattern without
    re.IGNORECASE exactly where the text matches it with: that search is several times faster.
    Other texts are searched with re.IGNORECASE, which also folds non-ASCII letters (K, ſ).
    """

    def __init__(self, source: str):
        self.lower_case = re.compile(source)
        self.any_case = re.compile(source, re.IGNORECASE)

    def search(self, text: str) -> bool:
        if text.isascii():
            return self.lower_case.search(text.lower()) is not None
        return self.any_case.search(text) is not None


_CONSENT_MARKER = _AnyCasePattern(
    r"cookie|consent|gdpr|ccpa|onetrust|optanon|ot-sdk|didomi|cookiebot|cybot|usercentrics"
    r"|truste|tarteaucitron|\bcmp\b|cc-window|cc-banner"
)
_FURNITURE_MARKER = _AnyCasePattern(
    r"breadcrumb|lang(?:uage)?[-_]?(?:switch|select|picker|chooser|menu|dropdown|wrapper)"
    r"|skip[-_]?(?:link|to|nav)|share[-_]?(?:bar|buttons|links)|social[-_]?(?:links|share|icons)"
    r"|newsletter|app[-_]?(?:store|download|banner)|back[-_]?to[-_]?top|carousel|swiper"
)
_HIDDEN_STYLE = _AnyCasePattern(r"display\s*:\s*none|visibility\s*:\s*hidden")
_BOLD_STYLE = _AnyCasePattern(r"font-weight\s*:\s*(?:bold|[6-9]00)")


def tag_name(element: etree._Element) -> str:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else ""


def _markers(element: etree._Element) -> str:
    return " ".join(
        filter(None, (element.get("id"), element.get("class"), element.get("aria-label")))
    )


def _drop(element: etree._Element) -> None:
    """Remove an element and its subtree, keeping the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    previous = element.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


_HIDING_ATTRIBUTES = frozenset({"style", "hidden", "aria-hidden"})  # what `_is_hidden` reads


def _is_hidden(element: etree._Element) -> bool:
    """Not shown to readers — unless it is a collapsed section a reader can open.

    `hidden` and inline `display: none` take an element out of the page (pages keep spare
    copies of text that way). Accordions mark a closed panel `aria-hidden` or
    `hidden="until-found"`; such a panel holding paragraphs is policy text, so it is kept.
    """
    if _HIDDEN_STYLE.search(element.get("style", "")):
        return True
    hidden = element.get("hidden")
    if hidden is not None and hidden.strip().lower() != "until-found":
        return True
    collapsed = hidden is not None or element.get("aria-hidden", "").strip().lower() == "true"
    return collapsed and not _holds_prose(element)


def _holds_prose(element: etree._Element) -> bool:
    paragraphs = element.xpath(".//p | .//li")
    return sum(len("".join(p.itertext()).strip()) for p in paragraphs) >= 400


def _is_disclosure_toggle(element: etree._Element) -> bool:
    """A button that opens a section (accordion): its words are the section's heading."""
    return element.get("aria-expanded") is not None or element.get("aria-controls") is not None


def _is_consent_banner(element: etree._Element, markers: str) -> bool:
    """A cookie/consent overlay: consent markers (`markers` has some) on a short, interactive
    or dialog element.

    A cookie *policy* carries the same markers on its content, so length and interactivity
    decide, not the class name alone.
    """
    role = element.get("role", "").lower()
    if role in ("dialog", "alertdialog") or element.get("aria-modal") == "true":
        return True
    if tag_name(element) == "button":
        return True
    if element.find(".//input") is not None:
        return True  # consent choices: a preference centre, however long its descriptions
    if not (_OVERLAY_MARKER.search(markers) or _is_interactive(element)):
        return False
    return _text_length(element) < 3000


_OVERLAY_MARKER = _AnyCasePattern(r"banner|popup|modal|overlay|notice|\bbar\b|-bar\b")


def _is_interactive(element: etree._Element) -> bool:
    """Has buttons or script-driven links: a widget, not a text."""
    return bool(
        element.xpath(
            ".//button | .//input | .//*[@onclick] | .//*[@role='button']"
            " | .//a[starts-with(normalize-space(@href), 'javascript:')]"
        )
    )


def _text_length(element: etree._Element) -> int:
    return sum(map(len, map(str.strip, element.itertext())))


def strip_furniture(
    root: etree._Element, *, auto: bool, keep: frozenset[etree._Element] = frozenset()
) -> None:
    """Drop, in place, what is not policy text: code, hidden parts, widgets, consent banners.

    With `auto` (no selector configured) the page's own furniture goes too: navigation, site
    header and footer, sidebars, forms, breadcrumbs, language pickers — unless the element
    holds most of the page's text, which no furniture does. Elements in `keep` (what the
    configured selectors point at, and their ancestors) are never dropped.
    """
    doomed: list[etree._Element] = []
    page_length = _RunningTextLength(root)
    # A page repeats its ids and classes: each markers text is searched once.
    has_consent_marker = _Memo(_CONSENT_MARKER.search)
    has_furniture_marker = _Memo(_FURNITURE_MARKER.search)

    def holds_most_text(element: etree._Element) -> bool:
        return not page_length.at_least(2 * _text_length(element))

    # Every node below the root in document order, but those under one already doomed.
    events = etree.iterwalk(root, events=("start", "comment", "pi"))
    for _, element in events:
        if element is root:
            continue
        tag = element.tag
        if not isinstance(tag, str):  # a comment or processing instruction
            doomed.append(element)
            continue
        tag = tag.lower()
        attributes = element.keys()
        if tag not in _FURNITURE_CANDIDATE_TAGS and _FURNITURE_ATTRIBUTES.isdisjoint(attributes):
            continue  # only its tag could make it furniture (a link, a cell, ...)
        if element in keep:
            continue
        markers = _markers(element)
        if (
            tag in _ALWAYS_DROPPED_TAGS
            or (not _HIDING_ATTRIBUTES.isdisjoint(attributes) and _is_hidden(element))
            or (tag == "button" and not _is_disclosure_toggle(element))
            or (markers and has_consent_marker[markers] and _is_consent_banner(element, markers))
            or (
                auto
                and _is_page_furniture(
                    element, tag, bool(markers) and has_furniture_marker[markers]
                )
                and not holds_most_text(element)
            )
        ):
            doomed.append(element)
            events.skip_subtree()
    for element in doomed:
        _drop(element)


class _Memo(dict[str, bool]):
    """The results of a one-argument function, each worked out once."""

    def __init__(self, function: Callable[[str], bool]):
        super().__init__()
        self.function = function

    def __missing__(self, argument: str) -> bool:
        result = self[argument] = self.function(argument)
        return result


class _RunningTextLength:
    """The `_text_length` of a tree, read only as far as a comparison needs: whether an
    element holds most of a page's text is known long before the page's end."""

    def __init__(self, root: etree._Element):
        self.texts = root.itertext()
        self.length = 0  # of the texts read so far

    def at_least(self, limit: int) -> bool:
        while self.length < limit:
            text = next(self.texts, None)
            if text is None:
                return False
            self.length += len(text.strip())
        return True


# The tags that can make an element furniture by themselves, without an attribute.
_FURNITURE_CANDIDATE_TAGS = _ALWAYS_DROPPED_TAGS | _FURNITURE_TAGS | {"button", "header", "footer"}
# The attributes that can: those `_markers`, `_is_hidden` and `_is_page_furniture` read.
_FURNITURE_ATTRIBUTES = frozenset({"id", "class", "aria-label", "role"}) | _HIDING_ATTRIBUTES


def _is_page_furniture(element: etree._Element, tag: str, furniture_marked: bool) -> bool:
    """Site furniture by its tag or role, or by its markers (`furniture_marked`)."""
    role = element.get("role")
    if tag in _FURNITURE_TAGS or (role and role.lower() in _FURNITURE_ROLES):
        return True
    if tag in ("header", "footer"):
        if any(tag_name(a) in ("main", "article") for a in element.iterancestors()):
            return False
        return not (tag == "header" and _is_document_header(element))
    return furniture_marked and tag not in ("main", "article")


def _is_document_header(header: etree._Element) -> bool:
    """A <header> that titles the document (its <h1>, often a date line) rather than the site.

    A site header carries navigation: a menu, or several links to other pages. A document
    header carries the page's <h1> and no more than one link (a "back" link at most).
    """
    if not any("".join(h.itertext()).strip() for h in header.iter("h1")):
        return False
    if any(
        tag_name(e) in _FURNITURE_TAGS or (e.get("role") or "") == "navigation"
        for e in header.iter()
    ):
        return False
    return sum(_is_navigation_link(a) for a in header.iter("a")) <= 1


def _is_navigation_link(element: etree._Element) -> bool:
    """A link to another page; not an e-mail/phone contact, not an in-page anchor."""
    href = (element.get("href") or "").strip().lower()
    return bool(href) and not href.startswith(("#", "mailto:", "tel:", "javascript:"))


def _text_stats(root: etree._Element) -> dict[etree._Element, tuple[int, int, int]]:
    """Characters of text, characters of navigation-link text and navigation links under
    every element, in one pass.

    Running totals over the walk give an element's counts as their growth from its start to
    its end. A text counts once, however many links it is in: at the end of a link, the link
    total is set to what it was at the link's start plus the link's text."""
    stats: dict[etree._Element, tuple[int, int, int]] = {}
    text = link = links = 0  # the running totals
    started: list[tuple[int, int, int]] = []  # the totals at the start of each open element
    for event, node in etree.iterwalk(root, events=("start", "end", "comment", "pi")):
        if event == "start":
            started.append((text, link, links))
            own_text = node.text
            if own_text and isinstance(node.tag, str):
                text += len(own_text.strip())
            continue
        if event == "end":
            text_before, link_before, links_before = started.pop()
            if node.tag in ("a", "A") and _is_navigation_link(node):
                link = link_before + text - text_before
                links += 1
            stats[node] = (text - text_before, link - link_before, links - links_before)
        tail = node.tail
        if tail and started:  # a comment's or a closed element's, read by its parent
            text += len(tail.strip())
    return stats


def find_policy_body(root: etree._Element, dominance: float = 0.85) -> etree._Element | None:
    """The element that holds the policy: the deepest one holding most of the page's prose.

    Prose is text outside links. Descending from <body>, we keep the deepest element holding
    `dominance` of the prose, then widen it to include the page's first <h1> so the title,
    intro and date line above the body are not lost. Its children made of links to other
    pages (menus, link footers) are dropped.
    """
    body = root.find("body")
    if body is None:
        body = root
    stats = _text_stats(body)

    def prose(element: etree._Element) -> int:
        text, link, _ = stats.get(element, (0, 0, 0))
        return text - link

    total = prose(body)
    if total == 0:
        return None
    node = body
    while True:
        children = [child for child in node if tag_name(child)]
        best = max(children, key=prose, default=None)
        if best is None or prose(best) < dominance * total:
            break
        node = best
    heading = next((h for h in body.iter("h1") if "".join(h.itertext()).strip()), None)
    if heading is not None and node is not body:
        ancestors = set(heading.iterancestors())
        while node not in ancestors and node is not body:
            node = node.getparent()
    for child in list(node):
        text, link, links = stats.get(child, (0, 0, 0))
        if links >= 3 and link > 0.7 * text:
            _drop(child)
    return node


_CHALLENGE_PHRASE = re.compile(
    r"just a moment|checking (?:if the site connection is secure|your browser)"
    r"|enable javascript and cookies|verify(?:ing)? (?:that )?you are (?:a )?human"
    r"|are you a robot|not a robot|attention required|ddos protection|pardon our interruption"
    r"|request unsuccessful|access denied|un instant\W*$|einen moment\W*$",
    re.IGNORECASE,
)
_CHALLENGE_MARKUP = re.compile(
    r"captcha|challenge-platform|cf-chl|cf_chl|/cdn-cgi/challenge|cf-browser-verification",
    re.IGNORECASE,
)


_CHALLENGE_MAX_WORDS = 300
_CODE_TAGS = ("script", "style")


def visible_texts(root: etree._Element, hidden: Collection[str] = _CODE_TAGS) -> Iterator[str]:
    """The text nodes under `root` (a page's <body>) outside the `hidden` elements (scripts
    and styles), in document order: those of the XPath
    `.//text()[not(ancestor::script or ancestor::style)]`, read lazily. A caller that needs
    only the first few hundred words of a page stops early, and the page's code (often the
    most of its bytes) is skipped, not read."""
    nodes = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
    for event, node in nodes:
        if event == "start":
            if node.tag in hidden:
                nodes.skip_subtree()  # its "end" still comes: the text after it is read
            elif isinstance(node.tag, str) and node.text is not None:
                yield node.text  # not an entity's, which is no text node
        elif node is not root and node.tail is not None:
            yield node.tail  # at the end of an element, or a comment or processing instruction


def _has_more_words(element: etree._Element, limit: int) -> bool:
    """Whether the text of `element` outside scripts and styles has more than `limit` words."""
    words = 0
    for text in visible_texts(element):
        words += len(text.split())
        if words > limit:
            return True
    return False


def is_challenge_page(root: etree._Element) -> bool:
    """A bot-challenge or block interstitial: almost no text, and challenge words or markup.

    Challenge markup is looked for in addresses and names (script sources, form actions,
    ids, classes, redirects), never in the text: a policy may well mention its CAPTCHA.
    """
    body = root.find("body")
    if body is not None and _has_more_words(body, _CHALLENGE_MAX_WORDS):
        return False
    visible = " ".join(visible_texts(body)) if body is not None else ""
    words = len(visible.split())
    title = root.findtext(".//title") or ""
    if _CHALLENGE_PHRASE.search(title) or _CHALLENGE_PHRASE.search(visible):
        return True
    addresses = " ".join(
        root.xpath("//@src | //@action | //@id | //@class | //meta[@http-equiv]/@content")
    )
    return words < 100 and bool(_CHALLENGE_MARKUP.search(addresses))


# --- text -------------------------------------------------------------------------------

# A regex, not str.translate: translate looks up every character, the regex skips to matches.
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e]")
_SPACES = re.compile(r"[\s\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_EMAIL_PLACEHOLDER = re.compile(r"\[\s*email\s*protected\s*\]", re.IGNORECASE)
EMAIL_TOKEN = "[email]"


def clean_text(text: str) -> str:
    """NFC, invisible characters removed, every run of white space one space, trimmed."""
    # str.isprintable() is false for every white space character but " ", and for the invisible
    # characters (format characters): most texts need neither the regex nor a split. Else,
    # str.split() splits at exactly the characters `_SPACES` matches (those of str.isspace());
    # splitting and joining is faster than replacing with the regex.
    if not text.isascii():  # ASCII text is in NFC and has no invisible characters
        text = unicodedata.normalize("NFC", text)
        if not text.isprintable():
            text = _INVISIBLE.sub("", text)
    single_spaced = text.isprintable() and "  " not in text
    text = text.strip(" ") if single_spaced else " ".join(text.split())
    return _EMAIL_PLACEHOLDER.sub(EMAIL_TOKEN, text) if "[" in text else text


def decode_cfemail(hex_text: str) -> str | None:
    """The address hidden by Cloudflare's e-mail obfuscation: hex bytes XOR the first byte."""
    try:
        data = bytes.fromhex(hex_text.strip())
    except ValueError:
        return None
    if len(data) < 2:
        return None
    key = data[0]
    try:
        address = bytes(byte ^ key for byte in data[1:]).decode("utf-8")
    except UnicodeDecodeError:
        return None
    return address if "@" in address else None


_CF_PROTECTED = re.compile(r"/cdn-cgi/l/email-protection#([0-9a-f]+)", re.IGNORECASE)
_TRACKING_PARAM = re.compile(
    r"utm_\w*|gclid|gclsrc|dclid|fbclid|msclkid|yclid|igshid|twclid|mc_cid|mc_eid|_ga|_gl"
    r"|_hs\w*|hsctatracking|__hs\w*|ver|v|cb|ts|timestamp|_|cachebuster|cache|rnd|random"
    r"|sessionid|session_id|sid|phpsessid|jsessionid|ref_src|trk|tracking\w*|spm|scid",
    re.IGNORECASE,
)
_PATH_SESSION = re.compile(r";(?:jsessionid|phpsessid|sid)=[^/?#]*", re.IGNORECASE)
IN_PAGE_LINK = "#"
_DROPPED_SCHEMES = ("javascript:", "data:", "blob:", "about:", "vbscript:")


def clean_link(href: str, base_url: str) -> str | None:
    """An absolute link target without tracking, cache-busting or session parameters.

    A link within the page becomes a bare "#": that a text points elsewhere in the page is
    kept, the anchor's name (often generated) is not. None for script links and empty "#".
    """
    href = _SPACES.sub("", href)
    if not href or href == "#" or href.lower().startswith(_DROPPED_SCHEMES):
        return None
    if href.startswith("#"):
        return IN_PAGE_LINK
    protected = _CF_PROTECTED.search(href)
    if protected:
        address = decode_cfemail(protected.group(1))
        return f"mailto:{address}" if address else None
    if "/cdn-cgi/l/email-protection" in href:
        return None
    if href.lower().startswith(("mailto:", "tel:")):
        return href
    try:
        absolute = urljoin(base_url, href) if base_url else href
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if base_url and parts.fragment:
        page = urlsplit(base_url)
        if (parts.netloc, parts.path.rstrip("/")) == (page.netloc, page.path.rstrip("/")):
            return IN_PAGE_LINK
    query = parts.query and urlencode(
        [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING_PARAM.fullmatch(key)
        ]
    )
    path = _PATH_SESSION.sub("", parts.path) if ";" in parts.path else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


# --- blocks -----------------------------------------------------------------------------


class RawBlock(NamedTuple):  # a tuple: a page makes hundreds, a frozen dataclass costs more
    """A block before sections exist; headings carry a `key` that ranks their level."""

    kind: str  # "h", "p", "li", "row", "pre"
    text: str
    links: tuple[str, ...] = ()
    key: tuple[int, int] = (0, 0)
    tag: str = ""


@dataclass
class Walked:
    blocks: list[RawBlock] = field(default_factory=list)
    times: tuple[tuple[str, str], ...] = ()


_PSEUDO_HEADING_LEVEL = 7
_BOLD_TAGS = frozenset({"b", "strong"})
_CELL_TAGS = frozenset({"td", "th"})
_TABLE_PARTS = frozenset({"table", "tr"}) | _CELL_TAGS
# The tags that open a context of their own for the blocks inside: tag: (kind, tag).
_CONTEXTS = {
    tag: (kind, tag)
    for tag, kind in {"li": "li", "pre": "pre", **dict.fromkeys(HEADING_TAGS, "h")}.items()
}
# Tags that open or close a block, a table, a row or a cell: any other element (one with no
# heading role) is inline, and has no effect on the blocks but its text.
_STRUCTURE_TAGS = BLOCK_TAGS | {"br", "hr", "table", "tr", "td", "th"}


class _Walker:
    """One pass over the tree, in document order, emitting blocks for selected text.

    `walk` does what most elements need inline: on a page of a few thousand elements, a
    method call per element and per text costs more than the rest of the walk. Tables,
    selection marks and protected e-mail addresses have methods of their own.
    """

    def __init__(self, marks: Marks, removed: Marks, base_url: str):
        self.marks = marks
        self.removed = removed
        # Every element that starts, ends or bounds a selection or a removal: the only ones
        # whose opening or closing changes what is selected.
        self.marked = marks.elements | removed.elements
        self.base_url = base_url
        self.blocks: list[RawBlock] = []
        self.times: list[tuple[str, str]] = []
        # The block being read: its pieces of text and its link targets, whether no character
        # but a space, tab or newline was added outside bold, and whether some piece is not
        # white space. Between blocks it gets only the white space of the markup, which
        # `clean_text` would turn into "": such a buffer is dropped unread.
        self.pieces: list[str] = []
        self.piece_links: list[str] = []
        self.all_bold = True
        self.has_text = False
        self.inside = 0
        self.in_range = 0
        self.removing_range = 0
        self.selected = False  # kept equal to `_is_selected()` as the counters change
        self.bold = 0
        self.links: list[str] = []  # the targets of the links open around the current node
        self.link_targets: dict[str, str] = {}  # href: its `_link_target`
        self.contexts: list[tuple[str, str]] = []  # (kind, tag) of enclosing block contexts
        self.cell: list[str] | None = None
        self.row: list[str] | None = None
        self.row_links: list[str] = []
        self.data_tables: list[bool] = []

    def walk(self, root: etree._Element) -> None:
        """Read the tree under `root` (included) into `blocks` and `times`."""
        marked, removed = self.marked, self.removed.inside
        # Lists changed in place only, never replaced: read once.
        pieces, piece_links, links, contexts = (
            self.pieces,
            self.piece_links,
            self.links,
            self.contexts,
        )
        # For each element open around the current node, what its end needs: (tag, role,
        # bold, linked, marked); None for one whose end changes nothing (an inline element
        # that is not bold, a link or marked), or whose subtree is skipped.
        opened: list[tuple[str, str, bool, bool, bool] | None] = []
        # The marked elements and their ancestors: a subtree holding none of them is selected
        # throughout or not at all.
        around_marks = with_ancestors(marked)
        # iterwalk reports comments and processing instructions as events of their own, so
        # that their tails are read; the HTML parser makes no other kind of node.
        events = etree.iterwalk(root, events=("start", "end", "comment", "pi"))
        for event, node in events:
            if event == "start":
                tag = node.tag
                is_marked = node in marked
                if not tag or (is_marked and node in removed):
                    events.skip_subtree()
                    opened.append(None)
                    continue
                tag = tag.lower()
                attributes = node.keys()  # most elements have none: no need to ask for each
                if "data-cfemail" in attributes:
                    # Its subtree is a placeholder: the address is read as its text instead.
                    events.skip_subtree()
                    text, linked = self._protected_email(node.get("data-cfemail"), tag)
                    opened.append(("", "", False, linked, False))
                else:
                    if is_marked:
                        self._enter_marks(node)
                    if tag == "time" and self.selected:
                        self.times.append(
                            (clean_text("".join(node.itertext())), node.get("datetime", ""))
                        )
                    bold = tag in _BOLD_TAGS or (
                        "style" in attributes and _BOLD_STYLE.search(node.get("style"))
                    )
                    if bold:
                        self.bold += 1
                    href = node.get("href") if tag == "a" else None
                    if href:
                        links.append(self._link_target(href))
                    role = node.get("role").lower() if "role" in attributes else ""
                    opens_block = tag in _STRUCTURE_TAGS or role == "heading"
                    if opens_block and not (
                        tag in _TABLE_PARTS and self._open_table_part(node, tag)
                    ):
                        # A block opens: the text before it is a block of its own.
                        self.block_break()
                        if self.cell is None:
                            if role == "heading" and tag not in HEADING_TAGS:
                                contexts.append(("h", f"aria{node.get('aria-level', '2')}"))
                            elif tag in _CONTEXTS:
                                contexts.append(_CONTEXTS[tag])
                    if opens_block or bold or href or is_marked:
                        opened.append((tag, role, bold, bool(href), is_marked))
                    else:
                        opened.append(None)
                    if not self.selected and self._reads_nothing_under(node, around_marks):
                        events.skip_subtree()
                    text = node.text
            else:
                if event == "end" and (started := opened.pop()) is not None:
                    tag, role, bold, linked, is_marked = started
                    if (tag in _STRUCTURE_TAGS or role == "heading") and not (
                        tag in _TABLE_PARTS and self._close_table_part(tag)
                    ):
                        if tag in BLOCK_TAGS or role == "heading":
                            self.block_break()
                        closes_context = tag in _CONTEXTS or role == "heading"
                        if closes_context and self.cell is None and contexts:
                            contexts.pop()
                    if bold:
                        self.bold -= 1
                    if linked:
                        links.pop()
                    if is_marked:
                        self._leave_marks(node)
                text = node.tail  # of an element, or of a comment or processing instruction
            if text and self.selected:
                if self.cell is not None:
                    self.cell.append(text)
                    self.row_links.extend(links)
                    continue
                pieces.append(text)
                if not self.has_text and not text.isspace():
                    self.has_text = True
                if self.all_bold and not self.bold and text.strip(" \n\t"):
                    self.all_bold = False
                if links:
                    piece_links.extend(links)
        self.flush()

    def _reads_nothing_under(
        self, element: etree._Element, around_marks: set[etree._Element]
    ) -> bool:
        """Whether walking the subtree below `element`, outside the selection, can change
        nothing, so that it is skipped (the menus and footers around the policy).

        It holds no mark, so none of its text is selected. With no block text pending, it
        flushes no block; a data-table row it opens has only empty cells; each context it
        opens it closes. Only outside a row and a context: in one, an element closing a nested
        cell early could close the row or the context opened before it."""
        return (
            element not in around_marks
            and not self.pieces
            and self.row is None
            and not self.contexts
        )

    def _protected_email(self, hex_text: str, tag: str) -> tuple[str, bool]:
        """The text of an element holding a Cloudflare-protected address, and whether it
        opened a link to the address (a link itself, or in one), for its end to close."""
        address = decode_cfemail(hex_text)
        if address and (tag == "a" or self.links):
            self.links.append(f"mailto:{address}")
            return address, True
        return address or EMAIL_TOKEN, False

    def block_break(self) -> None:
        if self.cell is not None:
            self.cell.append(" ")
        elif self.pieces:
            self.flush()

    def flush(self) -> None:
        """End the block being read: a block of its text, if it has any."""
        pieces = self.pieces
        if not self.has_text:
            # White space only (most calls: the indentation between block tags): no block, and
            # nothing to join or clean.
            if pieces:
                pieces.clear()
                self.piece_links.clear()
                self.all_bold = True
            return
        joined, all_bold = "".join(pieces), self.all_bold
        links = _distinct_links(self.piece_links)
        pieces.clear()
        self.piece_links.clear()
        self.has_text, self.all_bold = False, True
        text = clean_text(joined)
        if not text:
            return
        kind, tag = self.contexts[-1] if self.contexts else ("p", "")
        if kind == "pre":
            text = "\n".join(line.rstrip() for line in joined.strip("\n").splitlines())
            self.blocks.append(RawBlock("pre", text, links))
        elif kind == "h":
            level = int(tag[1]) if tag in HEADING_TAGS else _aria_level(tag)
            self.blocks.append(RawBlock("h", text, links, key=(level, 0), tag=tag))
        elif kind == "p" and _looks_like_heading(text, bold=all_bold):
            depth = _numbering_depth(text)
            self.blocks.append(RawBlock("h", text, links, key=(_PSEUDO_HEADING_LEVEL, depth)))
        else:
            self.blocks.append(RawBlock(kind, text, links))

    def _link_target(self, href: str) -> str:
        """`clean_link` of `href`, "" for none; once per page for a link that recurs."""
        target = self.link_targets.get(href)
        if target is None:
            target = self.link_targets[href] = clean_link(href, self.base_url) or ""
        return target

    def _is_selected(self) -> bool:
        return (self.inside > 0 or self.in_range > 0) and self.removing_range == 0

    def _enter_marks(self, element: etree._Element) -> None:
        if element in self.removed.starts_before:
            self.removing_range += 1
        if element in self.removed.ends_before:
            self.removing_range = max(0, self.removing_range - 1)
        if element in self.marks.starts_before:
            self.in_range += 1
        if element in self.marks.ends_before:
            self.in_range = max(0, self.in_range - 1)
        if element in self.marks.inside:
            self.inside += 1
        self.selected = self._is_selected()

    def _leave_marks(self, element: etree._Element) -> None:
        if element in self.marks.inside:
            self.inside -= 1
        if element in self.marks.starts_after:
            self.in_range += 1
        if element in self.marks.ends_after:
            self.in_range = max(0, self.in_range - 1)
        if element in self.removed.starts_after:
            self.removing_range += 1
        if element in self.removed.ends_after:
            self.removing_range = max(0, self.removing_range - 1)
        self.selected = self._is_selected()

    def _open_table_part(self, element: etree._Element, tag: str) -> bool:
        """Open a table, or a row or cell of a data table; False for a row or cell that is
        only a block (of a layout table, or a cell in a cell)."""
        if tag == "table":
            self.block_break()
            self.data_tables.append(_is_data_table(element))
            return True
        if tag == "tr":
            if self.row is None and self.data_tables and self.data_tables[-1]:
                self.flush()
                self.row, self.row_links = [], []
                return True
            return False
        if self.row is not None and self.cell is None:
            self.cell = []
            return True
        return False

    def _close_table_part(self, tag: str) -> bool:
        """Close what `_open_table_part` opened: False for a row or cell that was a block."""
        if tag == "table":
            self.block_break()
            self.data_tables.pop()
            return True
        if tag == "tr":
            if self.row is None or self.cell is not None:
                return False
            row, self.row = self.row, None
            if any(row):
                links = _distinct_links(self.row_links)
                self.blocks.append(RawBlock("row", " | ".join(row), links))
            return True
        if self.cell is not None and self.row is not None:
            self.row.append(clean_text("".join(self.cell)))
            self.cell = None
            return True
        return False


def _distinct_links(links: list[str]) -> tuple[str, ...]:
    """The links in order, each once, without the empty ones ("" for a link to nowhere)."""
    if not links:  # most blocks: no need to build a dict
        return ()
    return tuple(dict.fromkeys(link for link in links if link))


def _aria_level(tag: str) -> int:
    digits = tag.removeprefix("aria")
    return int(digits) if digits.isdigit() and 1 <= int(digits) <= 6 else 2


def _is_data_table(table: etree._Element) -> bool:
    """A table of data, not of layout: some row has two cells, and no cell holds sections."""
    rows = table.xpath("./tr | ./*/tr")
    if not any(len(row.xpath("./td | ./th")) >= 2 for row in rows):
        return False
    return not table.xpath(".//td//h1|.//td//h2|.//td//h3|.//td//table|.//th//table")


_HEADING_NUMBER = re.compile(
    r"^(?:(?:article|art\.|section|chapter|clause|artikel|abschnitt|kapitel|chapitre)\s+\w+"
    r"|\u00a7+\s*\d+|\d{1,3}(?:\.\d{1,3})+\.?|\d{1,3}[.)]|[IVXLC]{1,6}\.)\s+\S",
    re.IGNORECASE,
)


def _looks_like_heading(text: str, *, bold: bool) -> bool:
    """A paragraph acting as a heading: short, bold-only or numbered, no closing punctuation."""
    if len(text) > 120 or text[-1] in ".,;!?" or len(text.split()) > 14:
        return False
    if bold:
        return any(char.isalpha() for char in text)
    return bool(_HEADING_NUMBER.match(text)) and text[-1] != ":" and len(text.split()) <= 10


def _numbering_depth(text: str) -> int:
    match = re.match(r"\s*(\d{1,3}(?:\.\d{1,3})*)", text)
    return len(re.findall(r"\d+", match.group(1))) if match else 0


def with_ancestors(elements: Iterable[etree._Element]) -> set[etree._Element]:
    """The elements and all their ancestors."""
    found: set[etree._Element] = set()
    for element in elements:
        # Up to the first element already found: its ancestors are there too.
        while element is not None and element not in found:
            found.add(element)
            element = element.getparent()
    return found


def walk_blocks(root: etree._Element, *, marks: Marks, removed: Marks, base_url: str) -> Walked:
    """The blocks of the selected region (`marks`) minus `removed`, in document order."""
    walker = _Walker(marks, removed, base_url)
    walker.walk(root)
    return Walked(blocks=walker.blocks, times=tuple(walker.times))
