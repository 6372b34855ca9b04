"""The `policywatch` command: parses arguments and calls library functions, nothing more.

Exit codes: 0 when every target was fetched, 1 when some target failed (the others are still
processed and stored), 2 for usage and configuration errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from monitor.config import ConfigError, load_config
from monitor.diff import compare, format_report
from monitor.document import Document
from monitor.normalize import ExtractionError, Selection, normalize
from monitor.pages import PageError, read_page


class UsageProblem(click.ClickException):
    """A configuration or usage error: one line, exit status 2."""

    exit_code = 2


config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="POLICYWATCH_CONFIG",
    help="config.toml to use (default: ./config.toml, or $POLICYWATCH_CONFIG).",
)
select_option = click.option(
    "--select",
    "select",
    multiple=True,
    help="CSS or XPath selector of the policy text (repeatable).",
)
remove_option = click.option(
    "--remove", "remove", multiple=True, help="CSS or XPath selector of parts to drop (repeatable)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
@click.version_option(package_name="policywatch")
def cli() -> None:
    """Watch privacy policies and terms pages; be told when they materially change."""


@cli.command()
@click.argument("names", nargs=-1)
@config_option
def crawl(names: tuple[str, ...], config_file: Path | None) -> None:
    """Crawl all configured targets, or the NAMES given, into the store, and send alerts.

    Example: policywatch crawl "Ecomsters privacy policy"
    """
    from monitor.crawl import run_crawl

    try:
        config = load_config(config_file)
        summary = run_crawl(config, names)
    except ConfigError as err:
        raise UsageProblem(str(err)) from None
    for result in summary.results:
        detail = result.error or (result.change.summary if result.change else "")
        if result.alerted:
            detail += " [alert]"
        click.echo(f"{result.target}: {result.result}{': ' + detail if detail else ''}")
    for delivery in summary.deliveries:
        state = "sent" if delivery.error is None else f"failed: {delivery.error}"
        click.echo(f"alert {delivery.alert_id} → {delivery.destination}: {state}")
    if summary.failed:
        sys.exit(1)


@cli.command()
@click.argument("source")
@select_option
@remove_option
@json_option
def inspect(source: str, select: tuple[str, ...], remove: tuple[str, ...], as_json: bool) -> None:
    """Show the normalized document of SOURCE: a saved page (HTML or text) or a URL.

    Example: policywatch inspect privacy.html --select main --json
    """
    document = _load_document(source, select, remove)
    if as_json:
        click.echo(json.dumps(inspect_json(document), ensure_ascii=False, indent=2))
        return
    for label, mention in (("Last updated", document.last_updated),
                           ("Effective", document.effective)):  # fmt: skip
        if mention:
            click.echo(f"{label}: {mention.value}  ({mention.phrase})")
    click.echo(document.text, nl=False)


def inspect_json(document: Document) -> dict[str, Any]:
    return {
        "title": document.title,
        "language": document.language,
        "last_updated": document.last_updated.value if document.last_updated else None,
        "effective": document.effective.value if document.effective else None,
        "sections": [
            {
                "heading": section.heading,
                "number": section.number,
                "level": section.level,
                "text": section.text,
            }
            for section in document.sections
        ],
        "text": document.text,
        "hash": document.fingerprint,
    }


@cli.command(name="compare")
@click.argument("old")
@click.argument("new")
@select_option
@remove_option
@json_option
def compare_command(old: str, new: str, select: tuple[str, ...], remove: tuple[str, ...],
                    as_json: bool) -> None:  # fmt: skip
    """Compare two saved pages (or URLs) without a store.

    Example: policywatch compare before.html after.html --json
    """
    change = compare(_load_document(old, select, remove), _load_document(new, select, remove))
    if as_json:
        click.echo(json.dumps(change.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(change))


@cli.command()
@click.option(
    "--notify", "notify_urls", multiple=True, help="Also send the alert to this Apprise URL."
)
def demo(notify_urls: tuple[str, ...]) -> None:
    """Offline demo: serve the two seed policies on 127.0.0.1, crawl, change one, crawl again.

    Example: policywatch demo --notify json://127.0.0.1:8000/hook
    """
    from monitor.demo import run_demo

    sys.exit(run_demo(notify_urls, echo=click.echo))


def _load_document(source: str, select: tuple[str, ...], remove: tuple[str, ...]) -> Document:
    try:
        selection = Selection.from_config(list(select), list(remove))
        page = read_page(source)
        return normalize(page.body, content_type=page.content_type, url=page.url,
                         selection=selection)  # fmt: skip
    except (PageError, ExtractionError) as err:
        raise click.ClickException(f"{source}: {err}") from None


def main() -> None:
    cli(prog_name="policywatch")
