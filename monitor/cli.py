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
@config_option
def daemon(config_file: Path | None) -> None:
    """Run scheduled crawls in the foreground until SIGTERM or SIGINT; SIGHUP reloads the config.

    Logs go to stderr. Example: policywatch daemon --config /etc/policywatch/config.toml
    """
    import logging

    from monitor.daemon import Daemon, DaemonError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        sys.exit(Daemon(config_file).run())
    except (ConfigError, DaemonError) as err:
        raise UsageProblem(str(err)) from None


@cli.command()
@config_option
@json_option
def status(config_file: Path | None, as_json: bool) -> None:
    """Show each target's next run, last check and result, last change, stated date and health.

    Example: policywatch status --json
    """
    from monitor.status import daemon_state, target_statuses

    try:
        config = load_config(config_file)
        statuses = target_statuses(config)
    except ConfigError as err:
        raise UsageProblem(str(err)) from None
    if as_json:
        payload = {"daemon": daemon_state(config), "targets": [s.to_dict() for s in statuses]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    click.echo(f"daemon: {daemon_state(config)}")
    for s in statuses:
        click.echo(f"{s.name}  [{s.health}]")
        click.echo(
            f"  next run {s.next_run} ({s.schedule}); last check {s.last_check or '-'}"
            f" → {s.last_result or '-'}{': ' + s.last_error if s.last_error else ''}"
        )
        click.echo(
            f"  stated date {s.stated_date or '-'}; last change {s.last_change_at or '-'}"
            f"{': ' + s.last_change if s.last_change else ''}"
        )


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
    for label, mention in (
        ("Last updated", document.last_updated),
        ("Effective", document.effective),
    ):
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
def compare_command(
    old: str, new: str, select: tuple[str, ...], remove: tuple[str, ...], as_json: bool
) -> None:
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


@cli.command()
@click.option("--retry", is_flag=True, help="Send the deliveries that are due.")
@click.option("--now", "ignore_backoff", is_flag=True, help="With --retry: ignore the backoff.")
@config_option
def notify(retry: bool, ignore_backoff: bool, config_file: Path | None) -> None:
    """List the alerts not delivered yet; with --retry, send the ones that are due.

    A failed delivery waits before its next attempt (the first retry at once, then 1, 2, 4…
    minutes, up to an hour); --now sends it anyway. Exit 1 when a delivery failed.
    Example: policywatch notify --retry
    """
    from monitor.notify import retry_deliveries, undelivered

    try:
        config = load_config(config_file)
    except ConfigError as err:
        raise UsageProblem(str(err)) from None
    results = retry_deliveries(config, ignore_backoff=ignore_backoff) if retry else []
    for result in results:
        state = "sent" if result.error is None else f"failed: {result.error}"
        click.echo(f"alert {result.alert_id} → {result.destination}: {state}")
    for entry in undelivered(config):
        retry_at = f", next attempt {entry.next_attempt_at}" if entry.next_attempt_at else ""
        error = f": {entry.error}" if entry.error else ""
        click.echo(
            f"alert {entry.alert_id} → {entry.destination}: {entry.status}"
            f" ({entry.attempts} attempts{retry_at}){error} — {entry.title}"
        )
    if any(r.error for r in results):
        sys.exit(1)


@cli.command(name="test-notify")
@config_option
def test_notify(config_file: Path | None) -> None:
    """Send a test message to every configured notification URL; exit 1 if one failed.

    Example: policywatch test-notify --config config.toml
    """
    from monitor.notify import send_test_messages

    try:
        config = load_config(config_file)
    except ConfigError as err:
        raise UsageProblem(str(err)) from None
    if not config.notify_urls:
        click.echo("no notification URL is configured ([notify] urls or config)")
    results = send_test_messages(config.notify_urls)
    for result in results:
        state = "ok" if result.error is None else f"failed: {result.error}"
        click.echo(f"{result.destination}: {state}")
    if any(r.error for r in results):
        sys.exit(1)


def _load_document(source: str, select: tuple[str, ...], remove: tuple[str, ...]) -> Document:
    try:
        selection = Selection.from_config(list(select), list(remove))
        page = read_page(source)
        return normalize(
            page.body, content_type=page.content_type, url=page.url, selection=selection
        )
    except (PageError, ExtractionError) as err:
        raise click.ClickException(f"{source}: {err}") from None


def main() -> None:
    cli(prog_name="policywatch")
