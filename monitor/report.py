"""The HTML report of a change: a self-contained page with the redline of every changed section.

It is attached to e-mail alerts and is what `policywatch diff --format html` writes. Every piece
of page text goes through `html.escape`: a policy page is untrusted input, and its text may
contain markup (`<script>`, `<img onerror=…>`) that must reach the reader as text. Styles are
inline because mail clients drop `<style>` blocks and external sheets.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from monitor.diff import Change, DateChange, RedlineSegment, SectionChange

INSERTED_STYLE = "background:#d7f5dd;color:#0b5d1e;text-decoration:none"
DELETED_STYLE = "background:#fbe0e0;color:#8a1010;text-decoration:line-through"
MATERIAL_STYLE = "color:#8a1010;font-weight:bold"
MINOR_STYLE = "color:#555"
PAGE_STYLE = (
    "font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:15px;"
    "line-height:1.5;color:#1a1a1a;max-width:860px;margin:0 auto;padding:16px"
)
SECTION_STYLE = "border-left:3px solid #ccc;padding:4px 12px;margin:12px 0"


def change_from_dict(data: Mapping[str, Any]) -> Change:
    """The inverse of `Change.to_dict` (alerts keep their change as JSON in the store)."""
    date = data.get("date_changed")
    return Change(
        changed=data["changed"],
        material=data["material"],
        date_changed=None
        if date is None
        else DateChange(field=date["field"], old=date["from"], new=date["to"]),
        silent_change=data["silent_change"],
        date_only=data["date_only"],
        sections=tuple(
            SectionChange(
                status=section["status"],
                heading=section["heading"],
                old_heading=section["old_heading"],
                material=section["material"],
                categories=tuple(section["categories"]),
                redline=tuple(RedlineSegment(op, text) for op, text in section["redline"]),
                words_added=section["words_added"],
                words_removed=section["words_removed"],
            )
            for section in data["sections"]
        ),
        categories=tuple(data["categories"]),
        words_added=data["words_added"],
        words_removed=data["words_removed"],
        summary=data["summary"],
    )


def escape_text(text: str) -> str:
    """Page text as HTML: escaped, line breaks kept."""
    return "<br>".join(html.escape(line) for line in text.split("\n"))


def redline_html(segments: Sequence[RedlineSegment]) -> str:
    """The full redline: kept text plain, removed text in <del>, added text in <ins>."""
    parts = []
    for segment in segments:
        text = escape_text(segment.text)
        if segment.op == "+":
            parts.append(f'<ins style="{INSERTED_STYLE}">{text}</ins>')
        elif segment.op == "-":
            parts.append(f'<del style="{DELETED_STYLE}">{text}</del>')
        else:
            parts.append(text)
    return "".join(parts)


def section_heading(section: SectionChange) -> str:
    heading = section.heading or "(untitled opening)"
    if section.old_heading and section.old_heading != section.heading:
        return f"{section.old_heading} → {heading}"
    return heading


def section_html(section: SectionChange) -> str:
    """One changed section: heading, status, materiality and categories, then its redline."""
    weight = "material" if section.material else "minor"
    style = MATERIAL_STYLE if section.material else MINOR_STYLE
    categories = f" — {html.escape(', '.join(section.categories))}" if section.categories else ""
    return (
        f'<div style="{SECTION_STYLE}">'
        f'<p style="margin:4px 0"><b>{html.escape(section_heading(section))}</b> — '
        f'{html.escape(section.status)} (<span style="{style}">{weight}</span>){categories}'
        f" · +{section.words_added} / −{section.words_removed} words</p>"
        f'<p style="margin:4px 0">{redline_html(section.redline)}</p>'
        "</div>"
    )


def date_line(change: Change) -> str | None:
    """The stated-date signal in words, or None when there is nothing to say."""
    if change.date_changed:
        date = change.date_changed
        label = "Last Updated" if date.field == "last_updated" else "Effective date"
        return f"{label}: {date.old or 'none'} → {date.new or 'none'}"
    if change.silent_change:
        return "Warning: the policy text changed but its stated date did not (silent change)."
    return None


def summary_html(change: Change, url: str) -> str:
    """The facts above the redline: date signal, categories, words, the page."""
    rows = []
    dates = date_line(change)
    if dates:
        style = MATERIAL_STYLE if change.silent_change and not change.date_changed else ""
        rows.append(f'<p style="margin:4px 0;{style}">{html.escape(dates)}</p>')
    if change.categories:
        categories = html.escape(", ".join(change.categories))
        rows.append(f'<p style="margin:4px 0"><b>Touches:</b> {categories}</p>')
    rows.append(
        f'<p style="margin:4px 0"><b>Words:</b> +{change.words_added} / −{change.words_removed}</p>'
    )
    link = html.escape(url, quote=True)
    rows.append(f'<p style="margin:4px 0"><b>Page:</b> <a href="{link}">{link}</a></p>')
    return "".join(rows)


def html_report(
    target: str,
    url: str,
    change: Change,
    *,
    title: str,
    detected_at: str | None = None,
    versions: str | None = None,
) -> str:
    """A self-contained HTML page: the summary, the list of changed sections, every redline.

    `versions` says which two versions are compared (`policywatch diff`)."""
    contents = "".join(
        f"<li>{html.escape(section_heading(s))} — {html.escape(s.status)}"
        f" ({'material' if s.material else 'minor'})"
        f"{': ' + html.escape(', '.join(s.categories)) if s.categories else ''}</li>"
        for s in change.sections
    )
    detected = f"<p>Detected {html.escape(detected_at)}</p>" if detected_at else ""
    if versions:
        detected += f"<p>{html.escape(versions)}</p>"
    return (
        "<!doctype html>\n"
        f'<html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
        f'<body style="{PAGE_STYLE}">'
        f'<h1 style="font-size:20px">{html.escape(title)}</h1>'
        f"<p><b>{html.escape(target)}</b>: {html.escape(change.summary)}</p>{detected}"
        f"{summary_html(change, url)}"
        f'<h2 style="font-size:17px">Changed sections</h2><ul>{contents}</ul>'
        f'<h2 style="font-size:17px">Redline</h2>'
        f"{''.join(section_html(s) for s in change.sections)}"
        "</body></html>\n"
    )
