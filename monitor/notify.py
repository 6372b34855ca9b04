"""Alerts: what a change alert says, and its delivery through Apprise from the outbox.

An alert is written to the store (the outbox) in the same transaction as its change, with one
pending delivery per configured URL; `deliver_pending` sends what is pending and records each
URL's result, so a crash between the two neither loses nor doubles an alert. URLs hold tokens:
anything shown to people goes through `redact_url`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import apprise

from monitor.diff import Change, redline_text
from monitor.store import Store, destination_key

log = logging.getLogger(__name__)

SECTION_LINES_IN_ALERT = 8
REDLINE_CHARS_IN_ALERT = 300


@dataclass(frozen=True)
class AlertMessage:
    title: str
    body: str
    body_format: str = apprise.NotifyFormat.MARKDOWN.value


@dataclass(frozen=True)
class DeliveryResult:
    alert_id: int
    destination: str  # redacted URL
    error: str | None


def redact_url(url: str) -> str:
    """The URL as Apprise prints it with privacy on, without its query: safe for logs."""
    service = apprise.Apprise.instantiate(url)
    if service is None:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        return f"{scheme}://…"
    return service.url(privacy=True).split("?", 1)[0]


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


def change_alert(target_name: str, url: str, change: Change) -> AlertMessage:
    """A short Markdown alert: headline, date signal, changed sections with a redline excerpt."""
    lines: list[str] = []
    if change.date_changed:
        lines.append(
            f"**Stated date:** {change.date_changed.old or 'none'} → "
            f"{change.date_changed.new or 'none'}"
        )
    elif change.silent_change:
        lines.append("**Warning:** the policy text changed but its stated date did not.")
    if change.categories:
        lines.append("**Touches:** " + ", ".join(change.categories))
    lines.append(f"**Words:** +{change.words_added} / −{change.words_removed}")
    lines.append("")
    for section in change.sections[:SECTION_LINES_IN_ALERT]:
        heading = section.heading or "(untitled opening)"
        if section.old_heading and section.old_heading != section.heading:
            heading = f"{section.old_heading} → {heading}"
        marker = "material" if section.material else "minor"
        lines.append(f"- **{heading}** — {section.status} ({marker})")
        if section.status == "modified":
            excerpt = redline_text(section.redline, limit=REDLINE_CHARS_IN_ALERT)
            lines.append(f"  > {excerpt}")
    hidden = len(change.sections) - SECTION_LINES_IN_ALERT
    if hidden > 0:
        lines.append(f"- … and {hidden} more sections")
    lines.append("")
    lines.append(f"Page: {url}")
    lines.append(f"Full diff: `policywatch diff {target_name!r}`")
    return AlertMessage(title=f"{target_name}: {change_headline(change)}", body="\n".join(lines))


def deliver_pending(store: Store, urls: tuple[str, ...]) -> list[DeliveryResult]:
    """Send every pending delivery whose URL is still configured; record each result."""
    by_key = {destination_key(url): url for url in urls}
    results: list[DeliveryResult] = []
    for delivery in store.pending_deliveries():
        url = by_key.get(delivery.destination)
        if url is None:
            continue  # the URL left the configuration; the delivery stays pending
        error = _send(url, delivery.title, delivery.body, delivery.body_format)
        store.record_delivery(delivery.alert_id, delivery.destination, error)
        results.append(DeliveryResult(delivery.alert_id, redact_url(url), error))
        if error:
            log.warning("alert %d to %s failed: %s", delivery.alert_id, redact_url(url), error)
    return results


def _send(url: str, title: str, body: str, body_format: str) -> str | None:
    """Deliver one message to one URL; the error text, or None when it was delivered."""
    sender = apprise.Apprise()
    if not sender.add(url):
        return f"not a valid Apprise URL: {redact_url(url)}"
    if sender.notify(title=title, body=body, body_format=body_format):
        return None
    return "delivery failed (see log)"
