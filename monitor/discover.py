"""`policywatch add`: find a site's privacy policy, terms and cookie policy from its home page.

Sites link their legal pages from the footer of every page, in the site's language. The home
page's links are read, links that name a legal page (in the usual languages) are kept, footer
links preferred, and the best link of each kind is suggested with a target name. Links to
settings (cookie preferences, privacy settings) and to fragments or scripts are not pages and
are left out. Chosen pages are appended to config.toml with tomlkit, which keeps the file's
comments and layout.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import lxml.html
import tomlkit

from monitor.config import ConfigError, parse_config
from monitor.pages import read_page

KINDS = ("privacy", "terms", "cookies")
KIND_LABELS = {"privacy": "privacy policy", "terms": "terms", "cookies": "cookie policy"}

# Words naming each kind of page, accents folded, in link text or URL.
_KIND_WORDS = {
    "privacy": (
        "privacy", "privacidad", "privacidade", "privatsphare", "confidentialite",
        "datenschutz", "donnees personnelles", "protection des donnees", "dati personali",
        "personal data", "personal information",
    ),
    "cookies": ("cookie",),
    "terms": (
        "terms", "conditions", "cgu", "cgv", "agb", "terminos", "termini", "termos",
        "voorwaarden", "gebruiksvoorwaarden", "nutzungsbedingungen", "condiciones",
        "condizioni", "user agreement", "terms of use", "tos",
    ),
}  # fmt: skip
# Short words (acronyms: CGU, AGB, ToS) must be whole words; longer ones may start a compound.
_KIND_PATTERNS = {
    kind: re.compile(
        "|".join(
            rf"\b{re.escape(word)}\b" if len(word) <= 3 else rf"\b{re.escape(word)}"
            for word in words
        )
    )
    for kind, words in _KIND_WORDS.items()
}
# A link that mentions one of these is a control, not a policy page.
_SETTINGS_WORDS = (
    "settings", "einstellungen", "parametres", "preferences", "configuracion", "impostazioni",
    "instellingen", "configuracoes", "manage", "gerer", "verwalten", "do not sell", "opt out",
    "opt-out",
)  # fmt: skip
_FOOTER = (
    "ancestor::footer or ancestor::*[@role='contentinfo'] or "
    "ancestor::*[contains(translate(@id, 'FOTER', 'foter'), 'footer') or "
    "contains(translate(@class, 'FOTER', 'foter'), 'footer')]"
)


class DiscoveryError(ValueError):
    """The site could not be read, or the config not updated; one line."""


@dataclass(frozen=True)
class FoundPage:
    kind: str  # "privacy" | "terms" | "cookies"
    url: str
    link_text: str
    name: str  # the suggested target name
    in_footer: bool


def fold(text: str) -> str:
    """Lower case, accents removed, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.split())


def link_kind(text: str, href: str) -> tuple[str | None, bool]:
    """The kind of legal page a link names, and whether its text (not only its URL) says so.

    Privacy wins over cookies and terms ("Privacy & cookies"), cookies over terms."""
    words = fold(text)
    if any(word in words for word in _SETTINGS_WORDS):
        return None, False
    path = fold(re.sub(r"[-_/.?=&]+", " ", urlsplit(href).path))
    for kind in KINDS:
        pattern = _KIND_PATTERNS[kind]
        if pattern.search(words):
            return kind, True
        if pattern.search(path):
            return kind, False
    return None, False


def site_name(url: str) -> str:
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.")


def decode_page(body: bytes, content_type: str | None = None) -> str:
    """The page as text: the declared charset (header, then meta), else UTF-8, else cp1252."""
    declared = re.search(r"charset=[\"']?([\w-]+)", content_type or "")
    declared = declared or re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", body[:4096], re.I)
    if declared:
        charset = declared.group(1)
        try:
            return body.decode(charset if isinstance(charset, str) else charset.decode())
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def find_policy_links(
    body: bytes, base_url: str, content_type: str | None = None
) -> list[FoundPage]:
    """The best link of each kind on a page: named by its text rather than only its URL,
    in the footer rather than elsewhere, on the same site rather than another, first in
    page order otherwise."""
    text = re.sub(r"^\s*<\?xml[^>]*>", "", decode_page(body, content_type))
    try:
        root = lxml.html.fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return []
    base = root.xpath("string(//base/@href)") or base_url
    site = site_name(base_url)
    best: dict[str, tuple[tuple[int, int, int], FoundPage]] = {}
    for position, anchor in enumerate(root.iter("a")):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        text = " ".join(anchor.text_content().split()) or anchor.get("title") or ""
        kind, by_text = link_kind(text, href)
        if kind is None:
            continue
        url = urldefrag(urljoin(base, href)).url
        if urlsplit(url).scheme not in ("http", "https"):
            continue
        in_footer = bool(anchor.xpath(_FOOTER))
        same_site = site_name(url).endswith(site) or site.endswith(site_name(url))
        score = (int(by_text) * 4 + int(in_footer) * 2 + int(same_site), -position, 0)
        found = FoundPage(kind, url, text, f"{site} {KIND_LABELS[kind]}", in_footer)
        if kind not in best or score > best[kind][0]:
            best[kind] = (score, found)
    return [best[kind][1] for kind in KINDS if kind in best]


def discover(url: str) -> list[FoundPage]:
    """Fetch a site's home page and find its legal pages."""
    if not urlsplit(url).scheme:
        url = "https://" + url
    try:
        page = read_page(url)
    except OSError as err:
        raise DiscoveryError(f"{url}: {err}") from None
    return find_policy_links(page.body, page.url, page.content_type)


def add_targets(config_file: Path, pages: Sequence[FoundPage]) -> list[FoundPage]:
    """Append `pages` to config.toml as [[targets]], keeping its comments and layout; pages
    whose URL is already watched are skipped, and a name already taken gets a number. Returns
    the pages added. The file is only written when the result is a valid configuration."""
    try:
        text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
        document = tomlkit.parse(text)
    except (OSError, tomlkit.exceptions.ParseError) as err:
        raise DiscoveryError(f"{config_file}: {err}") from None
    targets = document.get("targets")
    if targets is None:
        targets = tomlkit.aot()
        document.append("targets", targets)
    urls = {str(t.get("url")) for t in targets}
    names = {str(t.get("name")) for t in targets}
    added = []
    for page in pages:
        if page.url in urls:
            continue
        name, number = page.name, 2
        while name in names:
            name, number = f"{page.name} {number}", number + 1
        table = tomlkit.table()
        table.add("name", name)
        table.add("url", page.url)
        targets.append(table)
        urls.add(page.url)
        names.add(name)
        added.append(FoundPage(page.kind, page.url, page.link_text, name, page.in_footer))
    if not added:
        return []
    new_text = tomlkit.dumps(document)
    try:
        parse_config(tomllib.loads(new_text), config_file)
    except (ConfigError, tomllib.TOMLDecodeError) as err:
        raise DiscoveryError(f"{config_file}: not changed: {err}") from None
    config_file.write_text(new_text, encoding="utf-8")
    return added
