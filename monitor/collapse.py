"""Is a newly extracted text a new version of the policy, or a page that went wrong?

A site under load, a broken deploy, a consent wall or a login redirect can serve a page that
extracts cleanly yet is not the policy: a tenth of its text, a "Page not found" notice, a page
cut off mid-transfer. Stored as a version, it would raise a false change alert, and another
when the page comes back. `suspicion` names what looks wrong; `check_page` then holds the
fetch as suspect and makes it a version only when the same text comes back
`confirm_collapse` fetches in a row (a real rewrite persists; an outage does not). Pure.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from monitor.document import Document

# The text shrank to less than this share of the last version's words.
SHRINK_RATIO = 0.4
# Pages this small are too short for a share to mean much (a one-paragraph notice may halve).
MIN_WORDS_TO_SHRINK = 40
# Fewer than this share of the last version's headed sections remain.
SECTION_KEEP_RATIO = 0.5
MIN_SECTIONS_TO_LOSE = 4
# Error, challenge and login pages are short: past this many words a page is not one.
NOTICE_MAX_WORDS = 120

_ERROR_NOTICE = re.compile(
    r"^(?:error\s*)?(?:40[0134]|410|429|50[0234])\b|\b(?:error|erreur|fehler)\s+[45]\d\d\b"
    r"|page (?:was )?not found|not found|no longer (?:available|exists)|does(?:n't| not) exist"
    r"|something went wrong|an error (?:has )?occurred|internal server error|bad gateway"
    r"|service (?:is )?(?:temporarily )?unavailable|temporarily unavailable|under maintenance"
    r"|access denied|forbidden|too many requests|rate limit"
    r"|just a moment|checking your browser|verify (?:that )?you are (?:a )?human|captcha"
    r"|enable (?:javascript|cookies)"
    r"|page introuvable|erreur|service indisponible|accès refusé"
    r"|seite nicht gefunden|nicht gefunden|fehler|zugriff verweigert|wartungsarbeiten",
    re.IGNORECASE,
)
_LOGIN_NOTICE = re.compile(
    r"^(?:log ?in|sign ?in|sign in to continue|please (?:log|sign) in|connexion|se connecter"
    r"|anmelden|einloggen)\b",
    re.IGNORECASE,
)
_LOGIN_PATH = re.compile(
    r"(?:^|[/_.-])(?:log-?in|sign-?in|signin|sso|auth|authenticate|session/new|connexion"
    r"|anmelden)(?:$|[/_.?-])",
    re.IGNORECASE,
)


def suspicion(previous: Document | None, document: Document) -> str | None:
    """Why `document` looks like a broken page rather than a new version of `previous`
    (None when it looks like a policy)."""
    notice = _notice(document)
    if notice:
        return notice
    if previous is None:
        return None
    old_words, new_words = previous.word_count, document.word_count
    if old_words >= MIN_WORDS_TO_SHRINK and new_words < SHRINK_RATIO * old_words:
        share = round(100 * new_words / old_words)
        return f"the text shrank to {share}% of the last version ({new_words} of {old_words} words)"
    old_sections = _headed_sections(previous)
    new_sections = _headed_sections(document)
    if old_sections >= MIN_SECTIONS_TO_LOSE and new_sections < SECTION_KEEP_RATIO * old_sections:
        return f"most sections are gone ({new_sections} of {old_sections} headed sections remain)"
    return None


def _headed_sections(document: Document) -> int:
    return sum(1 for section in document.sections if section.heading or section.number)


def _notice(document: Document) -> str | None:
    """A short page whose title or opening says it is an error, a challenge or a login."""
    if document.word_count > NOTICE_MAX_WORDS:
        return None
    headings = [document.title, *(s.label for s in document.sections)]
    opening = " ".join(
        block.text for section in document.sections for block in section.blocks
    ).split()[:25]
    for text in (*headings, " ".join(opening)):
        if text and _LOGIN_NOTICE.search(text):
            return f"the page looks like a login page ({_quote(text)})"
        match = _ERROR_NOTICE.search(text or "")
        if match:
            return f"the page looks like an error or challenge page ({_quote(text)})"
    return None


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def redirect_problem(requested: str, final: str | None) -> str | None:
    """A redirect away from the policy: to the site's home page, or to a login page (a page
    the target's own URL was not already)."""
    if not final or final == requested:
        return None
    old, new = urlsplit(requested), urlsplit(final)
    if new.path.strip("/") == "" and not new.query and old.path.strip("/") != "":
        return f"redirected to the home page ({final})"
    if _LOGIN_PATH.search(new.path + "?" + new.query) and not _LOGIN_PATH.search(old.path):
        return f"redirected to a login page ({final})"
    return None


def truncated(body: bytes, kind: str) -> str | None:
    """An HTML page that stops mid-document (its last character is not the end of a tag):
    the server or a proxy cut it off, though the transfer itself completed."""
    if kind != "html":
        return None
    tail = body.rstrip()[-1:]
    if tail and tail != b">":
        return "the page ends mid-document (truncated?)"
    return None
