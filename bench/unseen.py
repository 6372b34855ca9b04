"""Our figures measured again on real policy pages that are not in the shared corpus.

Reads a folder of real pages (default /work/unseen, or `--pages DIR`) with a `manifest.json`:
a list of `{"file", "source", "language", "builder", "last_updated", "effective", "date_text"}`
where `file` is relative to the folder (`.html` pages, or `.txt` plain-text ones),
`last_updated`/`effective` are hand labels (`YYYY-MM-DD`, `YYYY-MM`, or null) and `date_text`
the exact words of the stated date as the page writes them (null when none).

From every page it builds pairs the way real sites produce them, and runs each side through
`normalize` in auto mode (no selectors), exactly as `policywatch compare` decides:

- noise pairs: only the HTML changes (script nonces and `?v=` cache busting, regenerated
  CSS-module class names, wrapper divs, attribute order, a rotating promo banner, an injected
  cookie-consent banner, a "N minutes ago" / copyright year footer, tracking parameters on
  links, whitespace reflow, `<b>`→`<strong>`, a newsletter form; for plain text: re-wrapped
  lines, CRLF line ends). Any fingerprint difference is a noise alert.
- change pairs: the policy text changes (a sentence reworded, a paragraph added, a list item
  removed, a number changed, a negation added or removed — expected material; the date line,
  a link target, a section moved, a punctuation edit — expected minor). A change must be found
  (fingerprints differ) and `compare` should classify it as expected.

The pages themselves are third-party files and stay out of the repository;
`bench/unseen-pages.json` is the manifest used for the README's figures (each page's source
repository, path and commit, or its address, with the hand labels), so the set can be
gathered again.

It also reports the stated dates `normalize` reads from each original page against the hand
labels (agreement, invented dates). Nothing here needs the shared corpus.

    .venv/bin/python bench/unseen.py [--pages DIR] [--verbose]
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from lxml import html as lxml_html

from monitor.diff import compare
from monitor.document import Document
from monitor.normalize import ExtractionError, normalize

DEFAULT_PAGES = Path("/work/unseen")
MATERIAL_KINDS = ("reword", "paragraph-added", "item-removed", "number-changed", "negation")
MINOR_KINDS = ("date-line", "link-target", "section-moved", "punctuation")
FURNITURE = {"header", "footer", "nav", "aside", "script", "style", "noscript", "form"}

# Sentences in the page's language for the reworded and added text: real policy statements.
NEW_SENTENCE = {
    "en": "We may also share this information with our advertising partners.",
    "fr": "Nous pouvons également partager ces informations avec nos partenaires publicitaires.",
    "de": "Wir können diese Informationen auch an unsere Werbepartner weitergeben.",
    "es": "También podemos compartir esta información con nuestros socios publicitarios.",
    "it": "Possiamo inoltre condividere queste informazioni con i nostri partner pubblicitari.",
    "ja": "また、この情報を広告パートナーと共有する場合があります。",
}
NEW_PARAGRAPH = {
    "en": "We keep your account data for 24 months after you close your account.",
    "fr": "Nous conservons les données de votre compte pendant 24 mois après sa clôture.",
    "de": "Wir speichern Ihre Kontodaten 24 Monate lang nach der Schließung Ihres Kontos.",
    "es": "Conservamos los datos de su cuenta durante 24 meses después de cerrarla.",
    "it": "Conserviamo i dati del tuo account per 24 mesi dopo la sua chiusura.",
    "ja": "アカウントを削除した後も、アカウントデータを24か月間保存します。",
}
# (pattern, replacement) that add or remove a negation, tried in order.
NEGATIONS = {
    "en": [(r"\b(may|will|can|do|does|must) (?!not\b)", r"\1 not "), (r"\b(not|never) ", "")],
    "fr": [
        (r"\bne (\w+) pas\b", r"\1"),
        (r"\bn'(\w+) pas\b", r"\1"),
        (r"\bpouvons\b", "ne pouvons pas"),
    ],
    "de": [(r"\b(nicht|keine|kein) ", ""), (r"\b(werden|wird|können|dürfen) ", r"\1 nicht ")],
    "es": [(r"\b[Nn]o (\w+)", r"\1"), (r"\b(podemos|puede|utilizamos|compartimos)\b", r"no \1")],
    "it": [(r"\bnon (\w+)", r"\1"), (r"\b(possiamo|utilizziamo|condividiamo)\b", r"non \1")],
    "ja": [(r"しません", "します"), (r"しない", "する"), (r"ません", "ます")],
}
NUMBER = re.compile(r"(?<![\d./:(-])(\d{1,3})(?![\d./:)-])")
# A number is a policy term when a quantity word follows it (a duration, an age, a percentage).
UNIT = re.compile(
    r"\s?(%|days?|months?|years?|hours?|weeks?|jours|mois|ans|semaines|heures|tage|monate|jahre"
    r"|wochen|stunden|días|meses|años|semanas|horas|giorni|mesi|anni|日|か月|ヶ月|年|時間|歳)",
    re.IGNORECASE,
)


@dataclass
class Page:
    name: str
    path: Path
    language: str
    last_updated: str | None
    effective: str | None
    date_text: str | None
    source: str

    @property
    def is_html(self) -> bool:
        return self.path.suffix in (".html", ".htm")

    @property
    def content_type(self) -> str:
        return "text/html; charset=utf-8" if self.is_html else "text/plain; charset=utf-8"


@dataclass
class Tally:
    changes: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    noise: Counter = field(default_factory=Counter)
    alerts: Counter = field(default_factory=Counter)
    expected_class: Counter = field(default_factory=Counter)
    agreed_class: Counter = field(default_factory=Counter)
    dates: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- HTML helpers


def parse(html: str) -> etree._Element:
    return lxml_html.document_fromstring(html)


def serialize(root: etree._Element) -> str:
    return lxml_html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>")


def body_of(root: etree._Element) -> etree._Element:
    body = root.find(".//body")
    return body if body is not None else root


def in_furniture(element: etree._Element) -> bool:
    return any(isinstance(a.tag, str) and a.tag in FURNITURE for a in element.iterancestors()) or (
        isinstance(element.tag, str) and element.tag in FURNITURE
    )


def content_elements(root: etree._Element, tags: tuple[str, ...], min_words: int = 6) -> list:
    found = []
    for element in body_of(root).iter(*tags):
        if in_furniture(element):
            continue
        if len(element.text_content().split()) >= min_words or (
            re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", element.text_content() or "")
            and len(element.text_content()) >= 15
        ):
            found.append(element)
    return found


def text_nodes(element: etree._Element) -> list:
    return [t for t in element.xpath(".//text()") if t.strip()]


def set_text(node, value: str) -> None:
    parent = node.getparent()
    if node.is_text:
        parent.text = value
    else:
        parent.tail = value


def random_token(rng: random.Random, length: int = 8) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(length))


# ---------------------------------------------------------------- noise variants (HTML)


def noise_scripts(root, rng) -> None:
    head = root.find(".//head")
    head = head if head is not None else body_of(root)
    for element in root.iter("script", "link"):
        attr = "src" if element.tag == "script" else "href"
        if element.get(attr):
            base = element.get(attr).split("?")[0]
            element.set(attr, f"{base}?v={random_token(rng, 10)}")
    nonce = random_token(rng, 16)
    script = etree.SubElement(head, "script", nonce=nonce)
    script.text = f"window.__BUILD__='{random_token(rng)}';window.__nonce='{nonce}';"
    etree.SubElement(body_of(root), "script", src=f"/static/js/main.{random_token(rng)}.js")


def noise_css_modules(root, rng) -> None:
    suffix = random_token(rng, 5)
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("class"):
            names = element.get("class").split()
            element.set("class", " ".join(f"{n}__{suffix}" for n in names))
    for element in body_of(root).iter("div", "section", "main", "article", "p"):
        if not element.get("class"):
            element.set("class", f"css-{random_token(rng, 6)}")


def noise_wrappers(root, rng) -> None:
    body = body_of(root)
    outer = etree.Element("div", id="__next")
    inner = etree.SubElement(outer, "div", {"class": f"layout_root__{random_token(rng, 5)}"})
    inner.text = body.text
    body.text = None
    for child in list(body):
        inner.append(child)
    body.append(outer)


def noise_attribute_order(root, rng) -> None:
    for element in root.iter():
        if isinstance(element.tag, str) and element.attrib:
            items = list(element.attrib.items())
            rng.shuffle(items)
            element.attrib.clear()
            for key, value in items:
                element.set(key, value)
            element.set("data-v-" + random_token(rng, 6), "")


PROMOS = [
    "Spring sale: 20% off all annual plans this week only!",
    "New: try our mobile app, free for 30 days.",
    "Free shipping on orders over $50.",
]


def noise_banner(root, rng, variant: int) -> None:
    banner = etree.Element("div", {"class": "promo-banner", "role": "banner"})
    link = etree.SubElement(banner, "a", href=f"/offers?promo={random_token(rng, 4)}")
    link.text = PROMOS[variant % len(PROMOS)]
    body_of(root).insert(0, banner)


def noise_cookie_banner(root, rng) -> None:
    sdk = etree.SubElement(body_of(root), "div", id="onetrust-consent-sdk")
    box = etree.SubElement(sdk, "div", id="onetrust-banner-sdk", role="region")
    box.set("aria-label", "Cookie banner")
    policy = etree.SubElement(box, "div", id="onetrust-policy")
    text = etree.SubElement(policy, "p", id="onetrust-policy-text")
    text.text = (
        "We use cookies and similar technologies to personalise content and ads, to provide "
        "social media features and to analyse our traffic. By clicking Accept All Cookies you "
        "agree to the storing of cookies on your device."
    )
    buttons = etree.SubElement(box, "div", id="onetrust-button-group")
    for label, ident in (("Accept All Cookies", "accept"), ("Cookie Settings", "pc-btn")):
        button = etree.SubElement(buttons, "button", id=f"onetrust-{ident}-handler")
        button.text = label
    didomi = etree.SubElement(body_of(root), "div", id="didomi-host")
    notice = etree.SubElement(didomi, "div", {"class": "didomi-popup-notice-text"})
    notice.text = (
        "With your agreement, we and our 812 partners use cookies or similar technologies."
    )


def noise_footer(root, rng, variant: int) -> None:
    footer = root.find(".//footer")
    if footer is None:
        footer = etree.SubElement(body_of(root), "footer")
    line = etree.SubElement(footer, "p", {"class": "build-info"})
    minutes = (3, 17, 42)[variant % 3]
    year = (2025, 2026, 2027)[variant % 3]
    line.text = f"© {year} All rights reserved. Page generated {minutes} minutes ago."


def noise_tracking(root, rng) -> None:
    for link in body_of(root).iter("a"):
        href = link.get("href")
        if href and href.startswith(("http", "/")) and "#" not in href:
            joiner = "&" if "?" in href else "?"
            link.set(
                "href", f"{href}{joiner}utm_source=site&utm_medium=web&gclid={random_token(rng)}"
            )


def noise_reflow(root, rng) -> None:
    for element in body_of(root).iter():
        if not isinstance(element.tag, str) or element.tag in (
            "pre",
            "script",
            "style",
            "textarea",
        ):
            continue
        for attr in ("text", "tail"):
            value = getattr(element, attr)
            if value and " " in value.strip():
                words = value.split(" ")
                out, width = [], 0
                for word in words:
                    width += len(word) + 1
                    if width > 40 and word:
                        out.append("\n        " + word)
                        width = 0
                    else:
                        out.append(word)
                setattr(element, attr, " ".join(out))


def noise_strong(root, rng) -> None:
    swap = {"b": "strong", "strong": "b", "i": "em", "em": "i"}
    for element in body_of(root).iter(*swap):
        element.tag = swap[element.tag]


def noise_newsletter(root, rng) -> None:
    form = etree.Element("form", {"class": "newsletter", "action": "/subscribe"})
    heading = etree.SubElement(form, "h3")
    heading.text = "Subscribe to our newsletter"
    para = etree.SubElement(form, "p")
    para.text = "Get product news and exclusive offers straight to your inbox."
    etree.SubElement(form, "input", type="email", name="email", placeholder="Your email")
    button = etree.SubElement(form, "button", type="submit")
    button.text = "Subscribe"
    footer = root.find(".//footer")
    if footer is not None:
        footer.addprevious(form)
    else:
        body_of(root).append(form)


def noise_reserialize(root, rng) -> None:
    """Nothing but the page's own markup written out again (entity and quoting style)."""


HTML_NOISE: dict[str, Callable] = {
    "reserialize": noise_reserialize,
    "scripts-cache-busting": noise_scripts,
    "css-modules": noise_css_modules,
    "wrapper-divs": noise_wrappers,
    "attribute-order": noise_attribute_order,
    "tracking-params": noise_tracking,
    "whitespace-reflow": noise_reflow,
    "b-to-strong": noise_strong,
    "newsletter-form": noise_newsletter,
    "cookie-banner": noise_cookie_banner,
}
# Rotating furniture: both snapshots carry it, with different content.
HTML_ROTATING: dict[str, Callable] = {"promo-banner": noise_banner, "footer-time": noise_footer}


# ---------------------------------------------------------------- change variants (HTML)


def change_reword(root, rng, page) -> bool:
    candidates = [e for e in content_elements(root, ("p",), 10) if not e.xpath(".//a")]
    candidates = candidates or content_elements(root, ("p", "li"), 10)
    if not candidates:
        return False
    element = candidates[len(candidates) // 2]
    node = max(text_nodes(element), key=len)
    sentences = re.split(r"(?<=[.!?。])\s*", node.strip())
    sentences = [s for s in sentences if s]
    sentences[-1] = NEW_SENTENCE[page.language]
    set_text(node, " " + " ".join(sentences) + " ")
    return True


def change_paragraph_added(root, rng, page) -> bool:
    candidates = content_elements(root, ("p",), 6)
    if not candidates:
        return False
    anchor = candidates[len(candidates) // 3]
    para = etree.Element("p")
    para.text = NEW_PARAGRAPH[page.language]
    para.tail = anchor.tail
    anchor.addnext(para)
    return True


def change_item_removed(root, rng, page) -> bool:
    lists = [
        ul
        for ul in body_of(root).iter("ul", "ol")
        if not in_furniture(ul) and len(ul.findall("li")) >= 2 and not ul.xpath("ancestor::nav")
    ]
    lists = [ul for ul in lists if len(ul.findall("li")[1].text_content().split()) >= 2]
    if not lists:
        return False
    ul = lists[len(lists) // 2]
    item = ul.findall("li")[1]
    previous = item.getprevious()
    if item.tail and previous is not None:
        previous.tail = (previous.tail or "") + item.tail
    ul.remove(item)
    return True


def change_number(root, rng, page) -> bool:
    for element in content_elements(root, ("p", "li", "td"), 3):
        for node in text_nodes(element):
            if page.date_text and page.date_text in node:
                continue
            match = next((m for m in NUMBER.finditer(node) if UNIT.match(node, m.end())), None)
            if match:
                value = int(match.group(1))
                new = str(value * 3 if value else 7)
                set_text(node, node[: match.start()] + new + node[match.end() :])
                return True
    return False


def change_negation(root, rng, page) -> bool:
    for pattern, replacement in NEGATIONS[page.language]:
        for element in content_elements(root, ("p", "li"), 5):
            for node in text_nodes(element):
                new, count = re.subn(pattern, replacement, node, count=1)
                if count and new != node:
                    set_text(node, new)
                    return True
    return False


def change_date_line(root, rng, page) -> bool:
    if not page.date_text:
        return False
    for node in body_of(root).xpath(".//text()"):
        if page.date_text in node:
            set_text(node, node.replace(page.date_text, shift_year(page.date_text), 1))
            return True
    return False


def shift_year(date_text: str) -> str:
    return re.sub(r"(19|20)(\d\d)", lambda m: str(int(m.group(0)) + 1), date_text, count=1)


def change_link(root, rng, page) -> bool:
    links = [a for e in content_elements(root, ("p", "li", "td"), 3) for a in e.iter("a")]
    for link in links:
        href = link.get("href") or ""
        if href and not href.startswith("#"):
            if href.startswith("mailto:"):
                link.set("href", href.replace("@", ".privacy@", 1))
            else:
                link.set("href", href.rstrip("/") + "/2")
            return True
    return False


def change_section_moved(root, rng, page) -> bool:
    for level in ("h2", "h3"):
        by_parent: dict = {}
        for heading in body_of(root).iter(level):
            if not in_furniture(heading):
                by_parent.setdefault(heading.getparent(), []).append(heading)
        for headings in by_parent.values():
            if len(headings) < 3:
                continue
            first, second = headings[1], headings[2]
            moved = []
            sibling = first
            while sibling is not None and sibling is not second:
                moved.append(sibling)
                sibling = sibling.getnext()
            end = second
            while end.getnext() is not None and end.getnext().tag != level:
                end = end.getnext()
            for element in reversed(moved):
                end.addnext(element)
            return True
        sections = [s for s in body_of(root).iter("section") if s.find(level) is not None]
        if len(sections) >= 3 and sections[1].getparent() is sections[2].getparent():
            sections[2].addnext(sections[1])
            return True
    return False


def change_punctuation(root, rng, page) -> bool:
    for element in content_elements(root, ("p", "li"), 8):
        for node in text_nodes(element):
            if ", " in node:
                set_text(node, node.replace(", ", "; ", 1))
                return True
            if "、" in node:
                set_text(node, node.replace("、", "，", 1))
                return True
    return False


HTML_CHANGES: dict[str, Callable] = {
    "reword": change_reword,
    "paragraph-added": change_paragraph_added,
    "item-removed": change_item_removed,
    "number-changed": change_number,
    "negation": change_negation,
    "date-line": change_date_line,
    "link-target": change_link,
    "section-moved": change_section_moved,
    "punctuation": change_punctuation,
}


# ---------------------------------------------------------------- plain-text variants


def text_lines(text: str) -> list[str]:
    return text.splitlines()


def text_paragraph_indexes(lines: list[str], min_words: int = 8) -> list[int]:
    return [i for i, line in enumerate(lines) if len(line.split()) >= min_words]


def text_noise(text: str, kind: str) -> str | None:
    if kind == "crlf":
        return text.replace("\n", "\r\n")
    if kind == "trailing-space":
        return (
            "\n".join(line + "  " if line.strip() else line for line in text.splitlines()) + "\n\n"
        )
    if kind == "rewrap":
        out = []
        for line in text.splitlines():
            bullet = re.match(r"\s*(•|-|\*)\s+", line)
            indent = " " * len(bullet.group(0)) if bullet else ""
            current = ""
            for word in line.split(" "):
                if current and len(current) + len(word) > 70:
                    out.append(current.rstrip())
                    current = indent
                current += word + " "
            out.append(current.rstrip())
        return "\n".join(out)
    return None


TEXT_NOISE = ("crlf", "trailing-space", "rewrap")


def text_change(text: str, kind: str, page: Page) -> str | None:
    lines = text_lines(text)
    paragraphs = text_paragraph_indexes(lines)
    language = page.language
    if kind == "reword" and paragraphs:
        i = paragraphs[len(paragraphs) // 2]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", lines[i].strip()) if s]
        sentences[-1] = NEW_SENTENCE[language]
        lines[i] = " ".join(sentences)
    elif kind == "paragraph-added" and paragraphs:
        i = paragraphs[len(paragraphs) // 3]
        blank = i + 1 < len(lines) and not lines[i + 1].strip()
        lines[i + 1 : i + 1] = ["", NEW_PARAGRAPH[language]] if blank else [NEW_PARAGRAPH[language]]
    elif kind == "item-removed":
        items = [i for i, line in enumerate(lines) if re.match(r"\s*(•|-|\*)\s+\S+\s+\S+", line)]
        if len(items) < 2:
            return None
        del lines[items[1]]
    elif kind == "number-changed":
        for i, line in enumerate(lines):
            if page.date_text and page.date_text in line:
                continue
            match = next((m for m in NUMBER.finditer(line) if UNIT.match(line, m.end())), None)
            if match:
                value = int(match.group(1))
                lines[i] = (
                    line[: match.start()] + str(value * 3 if value else 7) + line[match.end() :]
                )
                break
        else:
            return None
    elif kind == "negation":
        for pattern, replacement in NEGATIONS[language]:
            for i in paragraphs:
                new, count = re.subn(pattern, replacement, lines[i], count=1)
                if count and new != lines[i]:
                    lines[i] = new
                    return "\n".join(lines) + "\n"
        return None
    elif kind == "date-line":
        if not page.date_text or page.date_text not in text:
            return None
        return text.replace(page.date_text, shift_year(page.date_text), 1)
    elif kind == "section-moved":
        return None  # plain text has no reliable section markup to move
    elif kind == "link-target":
        return None
    elif kind == "punctuation":
        for i in paragraphs:
            if ", " in lines[i]:
                lines[i] = lines[i].replace(", ", "; ", 1)
                break
        else:
            return None
    else:
        return None
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- running


def load_pages(folder: Path) -> list[Page]:
    manifest = json.loads((folder / "manifest.json").read_text())
    return [
        Page(
            name=entry["file"],
            path=folder / entry["file"],
            language=entry["language"],
            last_updated=entry.get("last_updated"),
            effective=entry.get("effective"),
            date_text=entry.get("date_text"),
            source=entry.get("source", ""),
        )
        for entry in manifest
    ]


def read(page: Page, body: str) -> Document | ExtractionError:
    try:
        return normalize(body.encode("utf-8"), content_type=page.content_type, url="")
    except ExtractionError as error:
        return error


def short_diff(before: str, after: str, limit: int = 10) -> str:
    lines = [
        line[:150]
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if not line.startswith(("@@", "---", "+++"))
    ]
    return "\n".join(f"        {line}" for line in lines[:limit])


def variants(page: Page, original: str) -> tuple[list, list]:
    """(noise pairs, change pairs): each (kind, before text, after text)."""
    rng = random.Random(page.name)
    noise, changes = [], []
    if page.is_html:
        for kind, apply in HTML_NOISE.items():
            root = parse(original)
            apply(root, rng)
            noise.append((kind, original, serialize(root)))
        for kind, apply in HTML_ROTATING.items():
            before, after = parse(original), parse(original)
            apply(before, rng, 0)
            apply(after, rng, 1)
            noise.append((kind, serialize(before), serialize(after)))
        for kind, apply in HTML_CHANGES.items():
            root = parse(original)
            if apply(root, rng, page):
                changes.append((kind, original, serialize(root)))
    else:
        for kind in TEXT_NOISE:
            changed = text_noise(original, kind)
            if changed is not None:
                noise.append((kind, original, changed))
        for kind in (*MATERIAL_KINDS, *MINOR_KINDS):
            changed = text_change(original, kind, page)
            if changed is not None:
                changes.append((kind, original, changed))
    return noise, changes


def check_dates(page: Page, document: Document | ExtractionError, tally: Tally) -> None:
    for label_name, label in (("date", page.last_updated), ("effective", page.effective)):
        if isinstance(document, ExtractionError):
            ours = None
        else:
            mention = document.last_updated if label_name == "date" else document.effective
            ours = mention.value if mention else None
        tally.dates[f"{label_name} total"] += 1
        if ours == label:
            tally.dates[f"{label_name} agree"] += 1
        elif label is None:
            tally.dates[f"{label_name} invented"] += 1
            tally.failures.append(f"  invented {label_name}: {page.name}: ours {ours}")
        elif ours is None:
            tally.dates[f"{label_name} missed"] += 1
            tally.failures.append(f"  missed {label_name}: {page.name}: label {label}")
        else:
            tally.dates[f"{label_name} wrong"] += 1
            tally.failures.append(f"  wrong {label_name}: {page.name}: ours {ours}, label {label}")


def run(pages: list[Page], *, verbose: bool) -> Tally:
    tally = Tally()
    for page in pages:
        original = page.path.read_text(encoding="utf-8")
        base = read(page, original)
        check_dates(page, base, tally)
        noise, changes = variants(page, original)
        for kind, before_text, after_text in noise:
            before, after = read(page, before_text), read(page, after_text)
            tally.noise[kind] += 1
            if isinstance(before, ExtractionError) or isinstance(after, ExtractionError):
                tally.failures.append(f"  noise {kind}: {page.name}: extraction error")
                tally.alerts[kind] += 1
                continue
            if before.fingerprint != after.fingerprint:
                tally.alerts[kind] += 1
                detail = f"  noise alert {kind}: {page.name}"
                if verbose:
                    detail += "\n" + short_diff(before.text, after.text)
                tally.failures.append(detail)
        for kind, before_text, after_text in changes:
            before, after = read(page, before_text), read(page, after_text)
            tally.changes[kind] += 1
            if isinstance(before, ExtractionError) or isinstance(after, ExtractionError):
                tally.failures.append(f"  change {kind}: {page.name}: extraction error")
                continue
            if before.fingerprint == after.fingerprint:
                tally.failures.append(f"  missed change {kind}: {page.name}")
                continue
            tally.found[kind] += 1
            expected = "material" if kind in MATERIAL_KINDS else "minor"
            change = compare(before, after)
            ours = "material" if change.material else "minor"
            tally.expected_class[kind] += 1
            if ours == expected:
                tally.agreed_class[kind] += 1
            else:
                detail = f"  materiality {kind}: {page.name}: ours {ours}, expected {expected}"
                if verbose:
                    detail += f"\n        {change.summary[:300]}"
                tally.failures.append(detail)
    return tally


def report(tally: Tally, pages: list[Page]) -> None:
    html = sum(p.is_html for p in pages)
    languages = Counter(p.language for p in pages)
    print(
        f"pages: {len(pages)} ({html} HTML, {len(pages) - html} plain text); "
        + ", ".join(f"{k} {v}" for k, v in languages.most_common())
    )
    found, changes = sum(tally.found.values()), sum(tally.changes.values())
    alerts, noise = sum(tally.alerts.values()), sum(tally.noise.values())
    print("== auto mode (no selectors)")
    print(f"  changes found:  {found}/{changes} = {100 * found / max(changes, 1):.1f}%")
    for kind in (*MATERIAL_KINDS, *MINOR_KINDS):
        if tally.changes[kind]:
            print(f"    {kind:18} {tally.found[kind]}/{tally.changes[kind]}")
    print(f"  noise alerts:   {alerts}/{noise}")
    for kind in sorted(tally.noise):
        if tally.alerts[kind]:
            print(f"    {kind:22} {tally.alerts[kind]}/{tally.noise[kind]}")
    agreed, classified = sum(tally.agreed_class.values()), sum(tally.expected_class.values())
    print(
        f"== materiality of found changes: {agreed}/{classified} = "
        f"{100 * agreed / max(classified, 1):.1f}%"
    )
    for kind in (*MATERIAL_KINDS, *MINOR_KINDS):
        if tally.expected_class[kind]:
            expected = "material" if kind in MATERIAL_KINDS else "minor"
            print(
                f"    {kind:18} {tally.agreed_class[kind]}/{tally.expected_class[kind]} {expected}"
            )
    print("== stated dates vs hand labels")
    for name in ("date", "effective"):
        total = tally.dates[f"{name} total"]
        agree = tally.dates[f"{name} agree"]
        print(
            f"  {name:9} agreement {agree}/{total} = {100 * agree / max(total, 1):.1f}%  "
            f"invented {tally.dates[f'{name} invented']}  missed {tally.dates[f'{name} missed']}"
            f"  wrong {tally.dates[f'{name} wrong']}"
        )
    for line in tally.failures:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES)
    parser.add_argument("--verbose", action="store_true", help="show a diff for each failure")
    parser.add_argument("--only", default="", help="only pages whose file name contains this")
    args = parser.parse_args()
    pages = [p for p in load_pages(args.pages) if args.only in p.name]
    report(run(pages, verbose=args.verbose), pages)


if __name__ == "__main__":
    main()
