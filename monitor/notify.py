"""Alerts: what they say on each channel, where they go, and their delivery from the outbox.

An alert is written to the store (the outbox) in the same transaction as the change or the
incident it reports, with one pending delivery per routed URL. `deliver_pending` sends what is
due and records each URL's result; a failed delivery is retried by later runs with a growing
delay.

Delivery is at-least-once. Each delivery is marked "sending" (committed) before its send and
"sent" after it. A process that dies between the two leaves it "sending"; once that mark is
older than `SENDING_LEASE` the next run sends it again. A crash in that window of a few
seconds can therefore send one message twice; it never loses one. (At-most-once would mean
silently dropping a legal alert whenever a crash hit that window.) Claiming with a conditional
update also keeps two processes (a crawl and `notify --retry`) from sending the same delivery.

The message is rendered for each channel at send time from the alert's JSON payload:
Markdown for services that take Markdown (Slack, Discord, …), HTML for e-mail (the full
redline, with the HTML report attached), plain text for the rest; `?format=` on the URL
overrides. URLs hold tokens and passwords: whatever is shown or logged goes through
`redact_url` / `redact_text`, and Apprise's own log lines pass a filter that does the same.

Apprise is imported by the functions that instantiate a service, not with the module: a
crawl's pool workers render alert bodies here and never send one, and a crawl with nothing to
deliver sends nothing; its import (it loads every plugin) is about 0.15 s of CPU per process.
"""

from __future__ import annotations

import html
import json
import logging
import re
import shlex
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from monitor import report, variants
from monitor.config import Config, Destination, Target
from monitor.diff import Change, redline_text
from monitor.store import PendingDelivery, Store, destination_key

log = logging.getLogger(__name__)

MARKDOWN, HTML, TEXT = "markdown", "html", "text"
SECTIONS_IN_CHAT = 10
REDLINE_CHARS_IN_ALERT = 300
BODY_LIMIT_SHARE = 0.9  # of a service's body limit: room for the service's own escaping
FIRST_RETRY_BACKOFF = timedelta(minutes=1)
MAX_RETRY_BACKOFF = timedelta(hours=1)
SENDING_LEASE = timedelta(minutes=10)  # far longer than any Apprise send takes
OPERATIONAL_PREFIX = "[policywatch] "
ALWAYS_TAG = "always"  # Apprise's tag for a URL that gets every alert
ALL_TAG = "all"  # Apprise's tag for an alert that goes to every URL

PAGE_SHAPE_PROBLEMS = {
    "selector-miss": "the configured selector stopped matching",
    "challenge": "the site serves a bot-challenge page instead of the policy",
    "empty": "no policy text found on the page (blocked or redesigned?)",
    "robots": "robots.txt forbids fetching the page (obey_robots = false fetches it anyway)",
}


@dataclass(frozen=True)
class AlertMessage:
    """An alert as the outbox keeps it: a title, a Markdown body (what `demo` and `status`
    show), and the payload every channel's rendering is built from."""

    title: str
    body: str
    body_format: str = MARKDOWN
    kind: str = "change"
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    """One alert rendered for one channel."""

    title: str
    body: str
    body_format: str
    attachment: tuple[str, str] | None = None  # (file name, HTML report)


@dataclass(frozen=True)
class DeliveryResult:
    alert_id: int
    destination: str  # redacted URL
    error: str | None


# -- redaction ---------------------------------------------------------------------------------

_known_secrets: set[str] = set()
_USERINFO_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^/\s@]+@")


def _secrets_of(url: str) -> set[str]:
    """The parts of `url` that Apprise masks when it prints the URL with privacy on."""
    import apprise

    service = apprise.Apprise.instantiate(url)
    public = unquote(service.url(privacy=True)) if service else ""
    scheme, _, rest = url.partition("://")
    pieces = re.split(r"[/:@?&=#,;+]+", unquote(rest))
    return {p for p in pieces if len(p) >= 4 and p not in public and p != scheme}


def remember_secrets(urls: Sequence[str]) -> None:
    """Register the secrets of these URLs so `redact_text` (and the log filter) mask them."""
    for url in urls:
        for secret in _secrets_of(url):
            _known_secrets.update({secret, quote(secret, safe="")})


def redact_text(text: str) -> str:
    """`text` with every known URL secret and any `user:password@` masked."""
    for secret in sorted(_known_secrets, key=len, reverse=True):
        text = text.replace(secret, "****")
    return _USERINFO_PASSWORD.sub(r"\1****@", text)


def redact_url(url: str) -> str:
    """The URL as Apprise prints it with privacy on, without its query: safe for logs."""
    import apprise

    remember_secrets([url])
    service = apprise.Apprise.instantiate(url)
    if service is None:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        return f"{scheme}://…"
    return service.url(privacy=True).split("?", 1)[0]


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


APPRISE_LOGGER = "apprise"  # apprise.logger.LOGGER_NAME, set before Apprise is imported
logging.getLogger(APPRISE_LOGGER).addFilter(_RedactSecrets())


# -- routing -----------------------------------------------------------------------------------


def is_routed(target_tags: Sequence[str], url_tags: Sequence[str]) -> bool:
    """Apprise's rule: an untagged alert goes to untagged URLs; a tagged one to the URLs that
    share a tag; a URL tagged "always" gets everything, an alert tagged "all" goes everywhere."""
    if ALWAYS_TAG in url_tags or ALL_TAG in target_tags:
        return True
    if not target_tags:
        return not url_tags
    return bool(set(target_tags) & set(url_tags))


def routed_urls(target: Target, destinations: Sequence[Destination | str]) -> list[str]:
    """The URLs that get this target's alerts (a bare URL string counts as untagged)."""
    routed = []
    for destination in destinations:
        if isinstance(destination, str):
            destination = Destination(destination)
        if is_routed(target.tags, destination.tags):
            routed.append(destination.url)
    return routed


# -- what a change alert says ------------------------------------------------------------------


def change_headline(change: Change) -> str:
    kind = "material change" if change.material else "minor change"
    if change.date_only:
        kind = "date changed only"
    if change.date_changed:
        label = "Last Updated" if change.date_changed.field == "last_updated" else "Effective"
        old = change.date_changed.old or "none"
        new = change.date_changed.new or "none"
        return f"{kind} — {label} {old} → {new}"
    if change.silent_change:
        return f"{kind} — date not updated (silent change)"
    return kind


def diff_command(target_name: str) -> str:
    return f"policywatch diff {shlex.quote(target_name)}"


def change_alert(
    target_name: str,
    url: str,
    change: Change,
    detected_at: str | None = None,
    body: str | None = None,
) -> AlertMessage:
    """The alert of a change; `body`: its Markdown body, when rendered ahead
    (`change_alert_body`, in a crawl's pool worker)."""
    title = f"{target_name}: {change_headline(change)}"
    payload = {
        "target": target_name,
        "url": url,
        "detected_at": detected_at,
        "change": change.to_dict(),
    }
    if body is None:
        body = render(title, "change", payload, MARKDOWN).body
    return AlertMessage(title=title, body=body, kind="change", payload=payload)


def change_alert_body(target_name: str, url: str, change: Change) -> str:
    """The Markdown body of a change's alert: rendering it is most of what `change_alert`
    costs, and it does not depend on when the change was detected (a change is recorded
    at its confirming fetch)."""
    return change_alert(target_name, url, change).body


def _markdown_escape(text: str) -> str:
    """Page text inside Markdown: emphasis, code and HTML characters lose their meaning."""
    return re.sub(r"([\\`*_~<>|])", r"\\\1", text)


def _change_parts(change: Change, url: str, name: str, fmt: str) -> tuple[str, list[str], str]:
    """Head, one item per changed section, foot — in Markdown, or plain text."""
    md = fmt == MARKDOWN

    def bold(text: str) -> str:
        return f"**{text}**" if md else text

    def page(text: str) -> str:
        return _markdown_escape(text) if md else text

    head: list[str] = []
    dates = report.date_line(change)
    if dates:
        head.append(bold("Stated date:") + " " + dates if change.date_changed else bold(dates))
    if change.categories:
        head.append(bold("Touches:") + " " + ", ".join(change.categories))
    head.append(bold("Words:") + f" +{change.words_added} / −{change.words_removed}")
    items = []
    for section in change.sections:
        weight = "material" if section.material else "minor"
        categories = ": " + ", ".join(section.categories) if section.categories else ""
        line = f"- {bold(page(report.section_heading(section)))} — {section.status} ({weight})"
        excerpt = redline_text(section.redline, limit=REDLINE_CHARS_IN_ALERT)
        if excerpt:
            line += f"{categories}\n  > {page(excerpt)}"
        else:
            line += categories
        items.append(line)
    command = f"`{diff_command(name)}`" if md else diff_command(name)
    foot = f"\nPage: {url}\nFull diff: {command}"
    return "\n".join(head) + "\n", items, foot


def _change_html(title: str, change: Change, url: str, name: str) -> tuple[str, list[str], str]:
    head = (
        f'<div style="{report.PAGE_STYLE}">'
        f'<h2 style="font-size:18px">{html.escape(title)}</h2>'
        f"<p>{html.escape(change.summary)}</p>{report.summary_html(change, url)}"
    )
    items = [report.section_html(section) for section in change.sections]
    foot = (
        f"<p>Full diff: <code>{html.escape(diff_command(name))}</code>; "
        "the attached report has every changed section.</p></div>"
    )
    return head, items, foot


def _fit(
    head: str,
    items: list[str],
    foot: str,
    limit: int | None,
    *,
    joiner: str,
    max_items: int | None,
    note: str,
) -> str:
    """Head, as many items as fit in `limit` characters (and `max_items`), a note of what was
    left out, foot."""
    shown: list[str] = []
    reserve = len(head) + len(foot) + len(note) + 80
    for index, item in enumerate(items):
        over_count = max_items is not None and index >= max_items
        over_size = limit is not None and reserve + sum(map(len, shown)) + len(item) > limit
        if over_count or over_size:
            left = len(items) - index
            shown.append(note.format(n=left, s="" if left == 1 else "s"))
            break
        shown.append(item)
    return joiner.join([head, *shown, foot])


def render(
    title: str, kind: str, payload: dict[str, Any], fmt: str, limit: int | None = None
) -> Rendered:
    """The alert in `fmt` (markdown, html or text), its body within `limit` characters."""
    if kind == "change":
        return _render_change(title, payload, fmt, limit)
    if kind == "digest":
        return _render_digest(title, payload, fmt, limit)
    if kind == MASS_EDIT:
        return _render_mass_edit(title, payload, fmt, limit)
    return Rendered(title, _operational_body(payload, fmt), fmt)


def _render_change(title: str, payload: dict[str, Any], fmt: str, limit: int | None) -> Rendered:
    change = report.change_from_dict(payload["change"])
    name, url = payload["target"], payload["url"]
    if fmt == HTML:
        head, items, foot = _change_html(title, change, url, name)
        note = "<p><i>… {n} more changed section{s} not shown here: see the attached report.</i>"
        note += "</p>"
        body = _fit(head, items, foot, limit, joiner="", max_items=None, note=note)
        detected_at = payload["detected_at"]
        page = report.html_report(name, url, change, title=title, detected_at=detected_at)
        return Rendered(title, body, HTML, (_report_file_name(name, payload), page))
    head, items, foot = _change_parts(change, url, name, fmt)
    note = "- … {n} more changed section{s} not shown here; see the full diff."
    body = _fit(head, items, foot, limit, joiner="\n", max_items=SECTIONS_IN_CHAT, note=note)
    return Rendered(title, body, fmt)


def _report_file_name(name: str, payload: dict[str, Any]) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "policy"
    day = (payload.get("detected_at") or "")[:10]
    return f"policywatch-{slug}{'-' + day if day else ''}.html"


# -- digests -----------------------------------------------------------------------------------


def digest_alert(alerts: Sequence[dict[str, Any]]) -> AlertMessage:
    """One message listing several change alerts of one crawl."""
    items = []
    for alert in alerts:
        payload = json.loads(alert["payload"] or "{}")
        change = payload.get("change") or {}
        items.append(
            {
                "alert_id": alert["id"],
                "target": alert["target"],
                "title": alert["title"],
                "summary": change.get("summary") or payload.get("summary", ""),
                "url": payload.get("url", ""),
            }
        )
    title = f"policywatch digest: {len(items)} policy changes"
    payload = {"items": items}
    body = render(title, "digest", payload, MARKDOWN).body
    return AlertMessage(title=title, body=body, kind="digest", payload=payload)


def _render_digest(title: str, payload: dict[str, Any], fmt: str, limit: int | None) -> Rendered:
    entries = payload["items"]
    if fmt == HTML:
        head = f'<div style="{report.PAGE_STYLE}"><h2 style="font-size:18px">'
        head += f"{html.escape(title)}</h2><ul>"
        items = [
            f"<li><b>{html.escape(e['title'])}</b><br>{html.escape(e['summary'])}<br>"
            f'<a href="{html.escape(e["url"], quote=True)}">{html.escape(e["url"])}</a></li>'
            for e in entries
        ]
        foot = "</ul><p>Each change in full: <code>policywatch diff NAME</code></p></div>"
        note = "<li>… {n} more change{s} not shown here</li>"
        body = _fit(head, items, foot, limit, joiner="", max_items=None, note=note)
        return Rendered(title, body, HTML)
    md = fmt == MARKDOWN
    items = [
        (f"- **{_markdown_escape(e['title'])}**" if md else f"- {e['title']}")
        + f"\n  {_markdown_escape(e['summary']) if md else e['summary']}\n  {e['url']}"
        for e in entries
    ]
    head = f"{len(entries)} policies changed in this crawl:\n"
    command = "`policywatch diff NAME`" if md else "policywatch diff NAME"
    foot = f"\nEach change in full: {command}"
    note = "- … {n} more change{s} not shown (message cut to fit)"
    body = _fit(head, items, foot, limit, joiner="\n", max_items=None, note=note)
    return Rendered(title, body, fmt)


def digest_crawl(
    store: Store, alert_ids: Sequence[int], urls: Sequence[str], threshold: int
) -> list[int]:
    """Replace the not-yet-sent change alerts of one crawl by one digest per URL that would
    get more than `threshold` of them; the ids of the digest alerts.

    Grouping by URL respects routing: a channel gets a digest of the alerts meant for it. The
    change alerts stay in the store (history); only their deliveries are marked superseded.
    """
    if len(alert_ids) <= threshold:
        return []
    by_key = {destination_key(url): url for url in urls}
    digests = []
    with store.transaction():
        per_destination: dict[str, list[int]] = defaultdict(list)
        for alert_id, destination in store.unsent_deliveries(list(alert_ids)):
            if destination in by_key:
                per_destination[destination].append(alert_id)
        groups: dict[tuple[int, ...], list[str]] = defaultdict(list)
        for destination, ids in per_destination.items():
            if len(ids) > threshold:
                groups[tuple(ids)].append(destination)
        for ids, destinations in groups.items():
            message = digest_alert(store.alert_rows(list(ids)))
            digest_id = queue_alert(store, message, [by_key[d] for d in destinations])
            store.supersede_deliveries(list(ids), destinations, digest_id)
            digests.append(digest_id)
    return digests


# -- mass edits --------------------------------------------------------------------------------

MASS_EDIT = "mass-edit"


def group_mass_edits(
    store: Store, alert_ids: Sequence[int], targets: Sequence[Target], urls: Sequence[str]
) -> list[int]:
    """Replace the not-yet-sent change alerts of one crawl that make the same edit on several
    documents (monitor/variants.py) by one alert per group, naming every document, showing
    the shared edit once and each document's other edits below it. Per URL, like the digest
    (which applies after this, to what is left); returns the crawl's alert ids with each
    group's alerts replaced by the group's alert."""
    by_key = {destination_key(url): url for url in urls}
    # Only alerts still to be sent to a configured URL are read: a crawl where thousands of
    # pages changed holds thousands of alerts, and each row carries its whole message.
    unsent = {i for i, destination in store.unsent_deliveries(list(alert_ids))
              if destination in by_key} if alert_ids else set()  # fmt: skip
    rows = store.alert_rows(sorted(unsent)) if len(unsent) >= 2 else []
    rows = [r for r in rows if r["kind"] == "change" and r["change_id"]]
    if len(rows) < 2:
        return list(alert_ids)
    by_name = {t.name: t for t in targets}
    candidates = {}  # alert id → (row, old document, new document)
    for row in rows:
        change = store.change(row["change_id"])
        old = store.version(change["from_version"]) if change else None
        new = store.version(change["to_version"]) if change else None
        if old is not None and new is not None:
            candidates[row["id"]] = (row, old.document, new.document)
    if len(candidates) < 2:
        return list(alert_ids)
    names = variants.name_words(
        [*(r["target"] for r, _, _ in candidates.values()),
         *(d.title for _, o, n in candidates.values() for d in (o, n))],
        [by_name[r["target"]].url for r, _, _ in candidates.values() if r["target"] in by_name],
    )  # fmt: skip
    edits = {i: variants.block_edits(old, new) for i, (_, old, new) in candidates.items()}
    mass_ids = []
    with store.transaction():
        per_destination: dict[str, list[int]] = defaultdict(list)
        for alert_id, destination in store.unsent_deliveries(list(candidates)):
            if destination in by_key:
                per_destination[destination].append(alert_id)
        groups: dict[tuple[int, ...], tuple[variants.MassEdit, list[str]]] = {}
        for destination, ids in per_destination.items():
            for group in variants.group_shared_edits([edits[i] for i in ids], names):
                members = tuple(ids[m] for m in group.members)
                groups.setdefault(members, (group, []))[1].append(destination)
        for members, (group, destinations) in groups.items():
            message = mass_edit_alert([candidates[i] for i in members], group)
            mass_id = queue_alert(store, message, [by_key[d] for d in destinations])
            store.supersede_deliveries(list(members), destinations, mass_id)
            mass_ids.append(mass_id)
        still_pending = {i for i, _ in store.unsent_deliveries(list(alert_ids))}
    return [i for i in alert_ids if i in still_pending or i not in candidates] + mass_ids


def mass_edit_alert(
    members: Sequence[tuple[dict[str, Any], Any, Any]], group: variants.MassEdit
) -> AlertMessage:
    """One message for a group of change alerts (row, old, new document) that share an edit."""
    documents = []
    for (row, _, new), rest in zip(members, group.rest, strict=True):
        payload = json.loads(row["payload"] or "{}")
        documents.append(
            {
                "target": row["target"],
                "url": payload.get("url", ""),
                "title": new.title,
                "alert_title": row["title"],
                "others": [_edit_dict(e) for e in rest],
            }
        )
    names = [d["target"] for d in documents]
    title = f"Same edit on {len(names)} policies: {', '.join(names)}"
    payload = {
        "documents": documents,
        "shared": [_edit_dict(e) for e in group.shared],
        "summary": f"the same edit on {len(names)} documents",
    }
    body = render(title, MASS_EDIT, payload, MARKDOWN).body
    return AlertMessage(title=title, body=body, kind=MASS_EDIT, payload=payload)


def _edit_dict(edit: variants.Edit) -> dict[str, str]:
    return {"kind": edit.kind, "text": edit.text, "old": edit.old}


def _edit_pieces(edit: dict[str, str]) -> list[tuple[str, str]]:
    """(sign, text) lines of one edit: a rewording is its old text, then its new one."""
    if edit["kind"] == variants.REWORDED:
        return [("−", edit["old"]), ("+", edit["text"])]
    return [("+" if edit["kind"] == variants.ADDED else "−", edit["text"])]


def _edit_lines(edits: Sequence[dict[str, str]], fmt: str) -> list[str]:
    escape = _markdown_escape if fmt == MARKDOWN else str
    return [f"  {sign} {escape(text)}" for e in edits for sign, text in _edit_pieces(e)]


def _render_mass_edit(title: str, payload: dict[str, Any], fmt: str, limit: int | None) -> Rendered:
    documents, shared = payload["documents"], payload["shared"]
    if fmt == HTML:
        colors = {"+": "#1a7f37", "−": "#cf222e"}

        def edits_html(edits: Sequence[dict[str, str]]) -> str:
            return "".join(
                f'<li style="color:{colors[sign]}">{sign} {html.escape(text)}</li>'
                for e in edits
                for sign, text in _edit_pieces(e)
            )

        head = (
            f'<div style="{report.PAGE_STYLE}"><h2 style="font-size:18px">{html.escape(title)}'
            f"</h2><p>The same edit was made to {len(documents)} documents in this crawl:</p>"
            f"<ul>{edits_html(shared)}</ul><p>Documents, and what else each one changed:</p><ul>"
        )
        items = [
            f"<li><b>{html.escape(d['target'])}</b> "
            f'(<a href="{html.escape(d["url"], quote=True)}">{html.escape(d["url"])}</a>)'
            + (f"<ul>{edits_html(d['others'])}</ul>" if d["others"] else ": nothing else")
            + "</li>"
            for d in documents
        ]
        foot = "</ul><p>Each change in full: <code>policywatch diff NAME</code></p></div>"
        note = "<li>… {n} more document{s} not shown here</li>"
        body = _fit(head, items, foot, limit, joiner="", max_items=None, note=note)
        return Rendered(title, body, HTML)
    md = fmt == MARKDOWN
    head = "\n".join(
        [
            f"The same edit was made to {len(documents)} documents in this crawl:",
            *_edit_lines(shared, fmt),
            "",
            "Documents, and what else each one changed:",
        ]
    )
    items = []
    for d in documents:
        name = f"**{_markdown_escape(d['target'])}**" if md else d["target"]
        line = f"- {name} ({d['url']})" + ("" if d["others"] else ": nothing else")
        items.append("\n".join([line, *_edit_lines(d["others"], fmt)]))
    command = "`policywatch diff NAME`" if md else "policywatch diff NAME"
    foot = f"\nEach change in full: {command}"
    note = "- … {n} more document{s} not shown (message cut to fit)"
    body = _fit(head, items, foot, limit, joiner="\n", max_items=None, note=note)
    return Rendered(title, body, fmt)


# -- operational alerts ------------------------------------------------------------------------


def _operational_body(payload: dict[str, Any], fmt: str) -> str:
    url = payload["url"]
    escape = _markdown_escape if fmt == MARKDOWN else str
    name, problem, error = (
        escape(str(payload[key] or "")) for key in ("target", "problem", "error")
    )
    if payload.get("service"):
        text = (
            f"policywatch reaches {name} again at {payload['at']}; the outage had started at"
            f" {payload['started_at']}."
            if payload["recovered"]
            else f"policywatch cannot reach {name}: {error}.\n"
            "No target is checked until it is back; a message follows then."
        )
    elif payload["recovered"]:
        text = (
            f"policywatch checks {name} again ({url}): the fetch at {payload['at']} succeeded."
            f" The problem had started at {payload['started_at']}: {problem}."
        )
    else:
        text = (
            f"policywatch cannot check {name} ({url}): {problem}.\n"
            f"Last error: {error}\n"
            f"Failed runs in a row: {payload['failures']}.\n"
            "Changes to this policy go unnoticed until it recovers; a message follows then.\n"
            f"Look at the page with: policywatch inspect {shlex.quote(url)}"
        )
    if fmt == HTML:
        return f'<div style="{report.PAGE_STYLE}">{report.escape_text(text)}</div>'
    return text


def _operational_alert(target: Target, payload: dict[str, Any]) -> AlertMessage:
    state = "recovered" if payload["recovered"] else payload["problem"]
    title = f"{OPERATIONAL_PREFIX}{target.name}: {state}"
    body = _operational_body(payload, TEXT)
    return AlertMessage(
        title=title, body=body, body_format=TEXT, kind="operational", payload=payload
    )


def note_service_problem(
    store: Store, urls: Sequence[str], *, service: str, error: str | None, at: str
) -> None:
    """An outage of something every target needs (a cluster's Redis): one operational alert
    to every URL when it starts, and one when it ends. `error` None means it works again."""
    incident = store.open_incident(service)
    if (error is None) == (incident is None):
        return
    if error is not None:
        store.start_incident(service, "service", error, at)
        started_at = at
    else:
        assert incident is not None
        store.end_incident(incident["id"], at)
        started_at, error = incident["started_at"], incident["error"]
    recovered = incident is not None
    payload = {
        "service": True,
        "target": service,
        "url": "",
        "problem": "unreachable",
        "error": error,
        "failures": 0,
        "recovered": recovered,
        "at": at,
        "started_at": started_at,
    }
    message = AlertMessage(
        title=f"{OPERATIONAL_PREFIX}{service}: {'recovered' if recovered else 'unreachable'}",
        body=_operational_body(payload, TEXT),
        body_format=TEXT,
        kind="operational",
        payload=payload,
    )
    queue_alert(store, message, urls)


def note_failure(
    store: Store,
    target: Target,
    destinations: Sequence[Destination | str],
    *,
    error: str,
    kind: str | None,
    failure_threshold: int,
    at: str,
) -> None:
    """After a failed fetch is recorded: open an incident, and alert once, when the page
    answered but no longer yields the policy (selector miss, bot challenge, empty), or when
    fetching failed `failure_threshold` runs in a row. Call inside the fetch's transaction."""
    if store.open_incident(target.name) is not None:
        return
    failures = store.consecutive_failures(target.name)
    problem = PAGE_SHAPE_PROBLEMS.get(kind or "")
    if problem is None:
        if failures < failure_threshold:
            return
        problem = f"failing {failures} runs in a row"
    store.start_incident(target.name, kind or "failing", error, at)
    payload = {
        "target": target.name,
        "url": target.url,
        "problem": problem,
        "error": error,
        "failures": failures,
        "recovered": False,
        "at": at,
        "started_at": at,
    }
    queue_alert(
        store,
        _operational_alert(target, payload),
        routed_urls(target, destinations),
        target=target.name,
    )


def note_success(
    store: Store, target: Target, destinations: Sequence[Destination | str], at: str
) -> None:
    """After a successful fetch is recorded: close an open incident with a "recovered" alert."""
    incident = store.open_incident(target.name)
    if incident is None:
        return
    store.end_incident(incident["id"], at)
    problem = PAGE_SHAPE_PROBLEMS.get(incident["kind"], f"fetch failures ({incident['error']})")
    payload = {
        "target": target.name,
        "url": target.url,
        "problem": problem,
        "error": incident["error"],
        "failures": 0,
        "recovered": True,
        "at": at,
        "started_at": incident["started_at"],
    }
    queue_alert(
        store,
        _operational_alert(target, payload),
        routed_urls(target, destinations),
        target=target.name,
    )


# -- the outbox --------------------------------------------------------------------------------


def queue_alert(
    store: Store,
    message: AlertMessage,
    urls: Sequence[str],
    *,
    target: str | None = None,
    change_id: int | None = None,
) -> int:
    """Write the alert and one pending delivery per URL; its id."""
    return store.enqueue_alert(
        kind=message.kind,
        target=target,
        change_id=change_id,
        title=message.title,
        body=message.body,
        body_format=message.body_format,
        destinations=list(urls),
        payload=message.payload,
    )


def retry_backoff(failures: int) -> timedelta:
    """The wait before the next attempt after `failures` failed ones in a row. The first retry
    is due at once (the next run: most failures are a moment's outage); then 1 min, 2, 4, … up
    to an hour, so a service that stays down is not hammered by frequent runs."""
    if failures <= 1:
        return timedelta(0)
    return min(FIRST_RETRY_BACKOFF * 2 ** (failures - 2), MAX_RETRY_BACKOFF)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def deliver_pending(
    store: Store, urls: Sequence[str], *, now: datetime | None = None, ignore_backoff: bool = False
) -> list[DeliveryResult]:
    """Send every due delivery whose URL is still configured; record each result."""
    remember_secrets(urls)
    now = now or datetime.now(UTC)
    stale = _iso(now - SENDING_LEASE)
    by_key = {destination_key(url): url for url in urls}
    results: list[DeliveryResult] = []
    for delivery in store.due_deliveries(_iso(now), stale, ignore_backoff=ignore_backoff):
        url = by_key.get(delivery.destination)
        if url is None:
            continue  # the URL left the configuration; the delivery stays pending
        if not store.claim_delivery(delivery.alert_id, delivery.destination, _iso(now), stale):
            continue  # another process is sending it
        error = send_alert(url, delivery)
        retry_at = None
        if error is not None:
            retry_at = _iso(datetime.now(UTC) + retry_backoff(delivery.attempts + 1))
        store.record_delivery(delivery.alert_id, delivery.destination, error, retry_at)
        results.append(DeliveryResult(delivery.alert_id, redact_url(url), error))
        if error:
            log.warning("alert %d to %s failed: %s", delivery.alert_id, redact_url(url), error)
    return results


def channel_format(service: Any, url: str) -> str:
    """The format this service gets: `?format=` on the URL, else Markdown where the service
    takes it, else HTML (e-mail), else plain text."""
    declared = service.notify_format
    declared = declared if isinstance(declared, tuple | list | set) else (declared,)
    formats = {str(getattr(f, "value", f)) for f in declared}
    requested = [f.lower() for f in parse_qs(urlsplit(url).query).get("format", [])]
    if requested and requested[0] in formats:
        return requested[0]
    return next((f for f in (MARKDOWN, HTML) if f in formats), TEXT)


def body_limit(service: Any, title: str) -> int | None:
    """Characters the body may take on this service (None: no stated limit)."""
    if not service.body_maxlen or service.body_maxlen <= 0:
        return None
    title_in_body = len(title) + 2 if not service.title_maxlen else 0
    return int(service.body_maxlen * BODY_LIMIT_SHARE) - title_in_body


def send_alert(url: str, delivery: PendingDelivery) -> str | None:
    """Render the alert for this URL's service and send it; the error text, or None."""
    import apprise

    service = apprise.Apprise.instantiate(url)
    if service is None:
        return f"not a valid Apprise URL: {redact_url(url)}"
    fmt = channel_format(service, url)
    if delivery.payload is None:  # written before payloads existed: send it as stored
        message = Rendered(delivery.title, delivery.body, delivery.body_format)
    else:
        payload = json.loads(delivery.payload)
        limit = body_limit(service, delivery.title)
        message = render(delivery.title, delivery.kind, payload, fmt, limit)
    if not getattr(service, "attachment_support", False):
        message = Rendered(message.title, message.body, message.body_format)
    return _send(service, message)


def _send(service: Any, message: Rendered) -> str | None:
    import apprise

    sender = apprise.Apprise()
    sender.add(service)
    with tempfile.TemporaryDirectory(prefix="policywatch-") as tmp:
        attach = None
        if message.attachment:
            name, content = message.attachment
            path = Path(tmp) / name
            path.write_text(content, encoding="utf-8")
            attach = apprise.AppriseAttachment(str(path))
        with apprise.LogCapture(level=logging.WARNING) as captured:
            try:
                delivered = sender.notify(
                    title=message.title,
                    body=message.body,
                    body_format=message.body_format,
                    attach=attach,
                )
            except Exception as err:  # a plugin's bug must not stop the other deliveries
                return redact_text(f"delivery failed: {type(err).__name__}: {err}")
            warnings = [line.strip() for line in captured.getvalue().splitlines() if line.strip()]
    if delivered:
        return None
    reason = warnings[-1] if warnings else "the service did not accept the message"
    return redact_text(f"delivery failed: {reason}")


# -- test messages -----------------------------------------------------------------------------


def send_test_messages(urls: Sequence[str]) -> list[DeliveryResult]:
    """Send a test message to every URL (whatever its tags); each URL's result."""
    import apprise

    remember_secrets(urls)
    results = []
    for url in urls:
        service = apprise.Apprise.instantiate(url)
        if service is None:
            error: str | None = f"not a valid Apprise URL: {redact_url(url)}"
        else:
            fmt = channel_format(service, url)
            text = "policywatch can reach this channel; policy alerts will arrive here."
            body = f"<p>{html.escape(text)}</p>" if fmt == HTML else text
            error = _send(service, Rendered("policywatch test message", body, fmt))
        results.append(DeliveryResult(0, redact_url(url), error))
    return results


# -- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    alert_id: int
    title: str
    destination: str  # redacted URL, or "(no longer configured)"
    status: str
    attempts: int
    next_attempt_at: str | None
    error: str | None


def retry_deliveries(config: Config, *, ignore_backoff: bool = False) -> list[DeliveryResult]:
    """`policywatch notify --retry`: send what is due in the outbox (everything with
    `ignore_backoff`)."""
    with Store(config.store_path) as store:
        return deliver_pending(store, config.notify_urls, ignore_backoff=ignore_backoff)


def undelivered(config: Config) -> list[OutboxEntry]:
    """`policywatch notify`: deliveries not sent yet, with the configured URLs redacted."""
    labels = {destination_key(url): redact_url(url) for url in config.notify_urls}
    with Store(config.store_path) as store:
        rows = [r for r in store.delivery_rows() if r["status"] not in ("sent", "superseded")]
        titles = {a["id"]: a["title"] for a in store.alert_rows([r["alert_id"] for r in rows])}
    return [
        OutboxEntry(
            alert_id=row["alert_id"],
            title=titles[row["alert_id"]],
            destination=labels.get(row["destination"], "(no longer configured)"),
            status=row["status"],
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"],
            error=row["error"],
        )
        for row in rows
    ]
