"""Rendering pages in a browser: how Chromium is found and started, and when a page needs it.

Many policy pages hold their text only after their scripts have run. A target with
`render = true` is fetched through scrapy-playwright with the system's Chromium (the Debian
package `chromium`); browsers are never downloaded. For every other page, `rendering_hint`
says when its HTML holds almost no text but scripts, so that the user knows to turn
rendering on instead of wondering why the policy is empty.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from typing import Any

from lxml import etree

from monitor.document import Document
from monitor.extract import visible_texts
from monitor.normalize import decode, sniff_content_kind

DEFAULT_RENDER_TIMEOUT = 30.0
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Without these, Chromium opens connections of its own (update checks, sync, safe-browsing
# lists, QUIC probes) that a closed network refuses and that no policy page needs.
CHROMIUM_ARGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",  # containers often give /dev/shm only 64 MB
)
MISSING_BROWSER = (
    "rendering needs Chromium, which is not installed (Debian: apt-get install chromium)"
)

# A page whose body, scripts left out, holds fewer words than this is a shell, not a policy.
SHELL_MAX_WORDS = 80
NEEDLESS_RESOURCES = frozenset({"image", "media", "font"})
_SCRIPT_TYPES = frozenset({"", "text/javascript", "application/javascript", "module"})
# Elements whose text a browser does not show as the page's words.
_UNSHOWN_TAGS = frozenset({"head", "script", "style", "noscript", "template", "svg"})
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")


def find_chromium() -> str | None:
    """The path of the system's Chromium (or Chrome), or None when there is none."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def launch_options(executable: str | None) -> dict[str, object]:
    """PLAYWRIGHT_LAUNCH_OPTIONS for `executable`. Chromium's sandbox refuses to start as
    root (containers, CI), so only there it runs without it."""
    args = list(CHROMIUM_ARGS)
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    return {"executable_path": executable, "headless": True, "args": args}


def needless_resource(request: Any) -> bool:
    """Whether a rendering page's request (a Playwright Request) can be refused: images,
    media and fonts never hold policy text, and skipping them saves time and memory."""
    return request.resource_type in NEEDLESS_RESOURCES


@dataclass(frozen=True)
class ScriptShell:
    """A page whose HTML holds almost no text but scripts."""

    words: int
    scripts: int

    def __str__(self) -> str:
        return (
            f"the page's HTML holds almost no text ({_count(self.words, 'word')}) but"
            f" {_count(self.scripts, 'script')}: its policy is probably built by JavaScript;"
            " render it (render = true for the target; inspect --render)"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def script_shell(body: bytes, content_type: str | None) -> ScriptShell | None:
    """The page's words and scripts when it is a script shell (fewer than SHELL_MAX_WORDS
    words outside scripts, styles and templates, and at least one script); else None."""
    if not body or sniff_content_kind(body, content_type) != "html":
        return None
    try:
        text = _XML_DECLARATION.sub("", decode(body, content_type), count=1)
        root = etree.fromstring(text or "<html/>", etree.HTMLParser())
    except (etree.ParserError, ValueError):
        return None
    if root is None:
        return None
    scripts = sum(
        1
        for script in root.iter("script")
        if (script.get("type") or "").split(";")[0].strip().lower() in _SCRIPT_TYPES
    )
    if not scripts:
        return None
    # One walk that skips the unshown subtrees (an XPath asking every text node for its
    # ancestors took ten times as long on a long page).
    words = sum(len(text.split()) for text in visible_texts(root, _UNSHOWN_TAGS))
    return ScriptShell(words, scripts) if words < SHELL_MAX_WORDS else None


def rendering_hint(body: bytes, content_type: str | None) -> str | None:
    """A one-line warning that the page probably needs rendering, or None."""
    shell = script_shell(body, content_type)
    return str(shell) if shell else None


def with_rendering_hint(reason: str, body: bytes, content_type: str | None) -> str:
    """`reason` (why a page gave no policy text), followed by the rendering hint when the page
    is a script shell."""
    hint = rendering_hint(body, content_type)
    return f"{reason}; {hint}" if hint else reason


def short_page_hint(document: Document, body: bytes, content_type: str | None) -> str | None:
    """The rendering hint for a page that did give a document, when that document is short
    (a script shell may still say "Loading…"); long documents are not parsed again."""
    # The text holds every word of the blocks (and headings, links): a document with enough
    # words in its blocks, which a check counts anyway, need not have its text split.
    if (
        document.word_count >= 2 * SHELL_MAX_WORDS
        or len(document.text.split()) >= 2 * SHELL_MAX_WORDS
    ):
        return None
    return rendering_hint(body, content_type)
