"""The `policywatch` command: parses arguments and calls library functions, nothing more.

Exit codes: 0 when every target was fetched, 1 when some target failed (the others are still
processed and stored), 2 for usage and configuration errors.
"""

from __future__ import annotations

import gc
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from monitor.config import Config, ConfigError, load_config
from monitor.diff import compare, format_report
from monitor.document import Document
from monitor.normalize import ExtractionError, Selection, normalize
from monitor.pages import DOWNLOAD_TIMEOUT, PageError, read_page, render_page
from monitor.render import short_page_hint, with_rendering_hint
from monitor.store import Store


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

    On a terminal: a progress bar, then a table of the results. Otherwise one line per target.
    Example: policywatch crawl "Ecomsters privacy policy"
    """
    from monitor.cluster import ClusterError
    from monitor.crawl import result_detail, run_crawl, summary_table

    interactive = sys.stdout.isatty()
    try:
        config = load_config(config_file)
        if interactive:
            count = len(config.pick(names))
            with click.progressbar(
                length=count, label="Crawling", show_pos=True, item_show_func=lambda name: name
            ) as bar:
                summary = run_crawl(config, names, on_result=lambda r: bar.update(1, r.target))
        else:
            summary = run_crawl(config, names)
    except ConfigError as err:
        raise UsageProblem(str(err)) from None
    except ClusterError as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    if interactive:
        click.echo(summary_table(summary.results))
    for result in () if interactive else summary.results:
        detail = result_detail(result)
        click.echo(f"{result.target}: {result.result}{': ' + detail if detail else ''}")
    for delivery in summary.deliveries:
        state = "sent" if delivery.error is None else f"failed: {delivery.error}"
        click.echo(f"alert {delivery.alert_id} → {delivery.destination}: {state}")
    if summary.cluster is not None:
        click.echo(cluster_line(summary.cluster))
    if summary.failed:
        sys.exit(1)


def cluster_line(round: Any) -> str:
    """`cluster: 300 results from 3 workers at redis://… (host:1 98, …)`, and what was
    handed out again, dropped as a duplicate or refused."""
    shares = ", ".join(f"{worker} {count}" for worker, count in round.shares.items())
    line = (
        f"cluster: {sum(round.shares.values())} results from {len(round.shares)} workers"
        f" at {round.redis} ({shares})"
    )
    extras = [
        f"{count} {label}"
        for count, label in (
            (round.handed_out_again, "handed out again"),
            (round.duplicates, "duplicates dropped"),
            (round.rejected, "refused"),
        )
        if count
    ]
    return line + (f"; {', '.join(extras)}" if extras else "")


@cli.command()
@config_option
@click.option("--region", help="Take only the targets of this region (their `region` key).")
def worker(config_file: Path | None, region: str | None) -> None:
    """Fetch and normalize pages for the crawls of a cluster, until SIGTERM or SIGINT.

    Needs only the Redis URL: `[cluster] redis` in the config, or $POLICYWATCH_REDIS.
    Example: POLICYWATCH_REDIS=rediss://:secret@redis.example.com:6380/0 policywatch worker
    """
    from monitor.cluster import check_redis, redact_redis_url
    from monitor.config import load_worker_config

    if region is not None and not re.fullmatch(r"[\w.-]{1,64}", region):
        raise UsageProblem(f"--region: letters, digits, '.', '_' or '-' only, got {region!r}")
    try:
        config = load_worker_config(config_file)
    except ConfigError as err:
        raise UsageProblem(str(err)) from None
    settings = config.cluster
    assert settings is not None
    problem = check_redis(settings.redis)
    if problem:
        click.echo(f"Error: {problem}", err=True)
        sys.exit(1)
    from crawler.worker import WorkerOptions, run_worker

    where = f", region {region}" if region else ""
    click.echo(f"worker: taking work from {redact_redis_url(settings.redis)}{where}", err=True)
    sys.exit(run_worker(WorkerOptions(config=config, region=region)))


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
@click.option(
    "--render", is_flag=True, help="Load the URL in Chromium and read it after its scripts ran."
)
@click.option(
    "--wait-for",
    "wait_for",
    help="With --render: wait for this CSS or XPath selector instead of network idle.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DOWNLOAD_TIMEOUT,
    show_default=True,
    help="With --render: seconds each wait may take.",
)
def inspect(
    source: str,
    select: tuple[str, ...],
    remove: tuple[str, ...],
    as_json: bool,
    render: bool,
    wait_for: str | None,
    timeout: float,
) -> None:
    """Show the normalized document of SOURCE: a saved page (HTML or text) or a URL.

    A page whose HTML holds almost no text but scripts gets a warning on stderr: inspect it
    again with --render. Example: policywatch inspect https://example.com/privacy --render
    """
    if wait_for and not render:
        raise UsageProblem("--wait-for needs --render")
    rendering = Rendering(wait_for, timeout) if render else None
    document = _load_document(source, select, remove, rendering)
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


def _store_for(config_file: Path | None) -> tuple[Config, Store]:
    """The configuration and its store, for the commands that read history."""
    try:
        config = load_config(config_file)
    except ConfigError as err:
        raise UsageProblem(str(err)) from None
    if not config.store_path.exists():
        raise click.ClickException(f"no store at {config.store_path}: run policywatch crawl first")
    return config, Store(config.store_path)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@cli.command(name="history")
@click.argument("names", nargs=-1, required=True)
@config_option
@json_option
def history_command(names: tuple[str, ...], config_file: Path | None, as_json: bool) -> None:
    """List the stored versions of NAME: fetch time, stated dates, and what changed. With
    several NAMES (regional variants of one policy), their histories side by side.

    Example: policywatch history "Ecomsters privacy policy"
    """
    from monitor.history import HistoryError, history

    if len(names) > 1:
        _history_side_by_side(list(names), config_file, as_json)
        return
    [name] = names
    _, store = _store_for(config_file)
    with store:
        try:
            entries = history(store, name)
        except HistoryError as err:
            raise click.ClickException(str(err)) from None
    if as_json:
        _echo_json([e.to_dict() for e in entries])
        return
    for e in entries:
        stated = f"last updated {e.last_updated or '-'}"
        if e.effective:
            stated += f", effective {e.effective}"
        click.echo(
            f"{e.version:>5}  {e.fetched_at}  {stated}  {e.word_count} words  {e.description}"
        )


def _history_side_by_side(names: list[str], config_file: Path | None, as_json: bool) -> None:
    """One row per version of any of the targets: the version each one stood at then, and
    what the one that moved became."""
    from monitor.history import HistoryError, side_by_side

    _, store = _store_for(config_file)
    with store:
        try:
            rows = side_by_side(store, names)
        except HistoryError as err:
            raise click.ClickException(str(err)) from None
    if as_json:
        _echo_json(
            [
                {
                    "fetched_at": row.fetched_at,
                    "changed": names[row.changed],
                    "versions": {
                        name: entry.to_dict() if entry else None
                        for name, entry in zip(names, row.versions, strict=True)
                    },
                }
                for row in rows
            ]
        )
        return
    width = max(12, *(len(n) for n in names))
    click.echo(f"{'fetched at':25}  " + "  ".join(f"{n:{width}}" for n in names) + "  what")
    for row in rows:
        cells = []
        for column, entry in enumerate(row.versions):
            mark = "*" if column == row.changed else " "
            cells.append(f"{mark}{entry.version if entry else '-'!s:{width - 1}}")
        moved = row.versions[row.changed]
        assert moved is not None
        what = f"{names[row.changed]}: {moved.description}"
        click.echo(f"{row.fetched_at:25}  " + "  ".join(cells) + f"  {what}")


@cli.command(name="diff")
@click.argument("name")
@click.argument("old", required=False)
@click.argument("new", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "html"]),
    default="text",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@config_option
@json_option
def diff_command(
    name: str,
    old: str | None,
    new: str | None,
    fmt: str,
    output: Path | None,
    config_file: Path | None,
    as_json: bool,
) -> None:
    """Show what changed in NAME between two versions: OLD and NEW are version ids (as
    `history` lists them) or dates (YYYY-MM-DD: the version as it stood that day); by default
    the last two versions.

    Example: policywatch diff "Ecomsters privacy policy" 2025-01-01 --format html -o diff.html
    """
    from monitor.history import HistoryError, diff, render_diff

    config, store = _store_for(config_file)
    with store:
        try:
            result = diff(store, name, old, new)
        except HistoryError as err:
            raise click.ClickException(str(err)) from None
    if as_json:
        text = json.dumps(
            {"from": result.old.id, "to": result.new.id, "change": result.change.to_dict()},
            ensure_ascii=False,
            indent=2,
        )
    else:
        urls = {t.name: t.url for t in config.targets}
        text = render_diff(result, urls.get(name, ""), fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cli.command(name="show")
@click.argument("name")
@click.option("--at", "at", help="A date (YYYY-MM-DD) or version id; default: the newest.")
@config_option
@json_option
def show_command(name: str, at: str | None, config_file: Path | None, as_json: bool) -> None:
    """Print the text of NAME as it stood at a date (by fetch time), or its newest version.

    Example: policywatch show "Ecomsters privacy policy" --at 2025-02-01
    """
    from monitor.history import HistoryError, show

    _, store = _store_for(config_file)
    with store:
        try:
            version = show(store, name, at)
        except HistoryError as err:
            raise click.ClickException(str(err)) from None
    if as_json:
        _echo_json(
            {"version": version.id, "fetched_at": version.created_at}
            | inspect_json(version.document)
        )
        return
    click.echo(version.document.text, nl=False)


@cli.command(name="search")
@click.argument("query")
@click.option("--limit", default=20, show_default=True, help="At most this many results.")
@config_option
@json_option
def search_command(query: str, limit: int, config_file: Path | None, as_json: bool) -> None:
    """Search every stored version, current and past, paragraph by paragraph (SQLite FTS5
    syntax: words, "a phrase", prefix*, AND / OR / NOT, within one paragraph or heading).

    Example: policywatch search '"sell your data"'
    """
    from monitor.history import search

    _, store = _store_for(config_file)
    with store:
        hits = search(store, query, limit)
    if as_json:
        _echo_json([hit.to_dict() for hit in hits])
        return
    for hit in hits:
        versions = (
            f"version {hit.version}"
            if hit.first_version == hit.version
            else f"versions {hit.first_version}–{hit.version}"
        )
        state = "current" if hit.current else f"until {hit.fetched_at}"
        click.echo(f"{hit.target} — {versions} ({state})")
        click.echo(f"    {hit.snippet}")
    if not hits:
        click.echo("no match")


@cli.command(name="export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--git", "git", is_flag=True, help="A git history: one commit per version.")
@config_option
def export_command(directory: Path, git: bool, config_file: Path | None) -> None:
    """Write every stored version to DIRECTORY as Markdown, one file per target and version;
    with --git, one file per target in a git repository with one commit per version, dated
    by its fetch time (run again: only new versions are committed).

    Example: policywatch export policy-archive --git
    """
    from monitor.history import HistoryError, export

    config, store = _store_for(config_file)
    with store:
        try:
            written = export(store, directory, {t.name: t.url for t in config.targets}, git=git)
        except HistoryError as err:
            raise click.ClickException(str(err)) from None
    kind = "commits" if git else "files"
    click.echo(f"{len(written)} {kind} written to {directory}")


@cli.command(name="reprocess")
@click.argument("names", nargs=-1)
@config_option
@json_option
def reprocess_command(names: tuple[str, ...], config_file: Path | None, as_json: bool) -> None:
    """Normalize the kept page bodies of all targets (or NAMES) again and rebuild their
    versions and changes, after an update of policywatch or of a target's selectors.
    Sends no alert. Exit 1 when a target could not be reprocessed.

    Example: policywatch reprocess "Ecomsters privacy policy"
    """
    from monitor.history import HistoryError, reprocess

    config, store = _store_for(config_file)
    try:
        targets = config.pick(names)
    except ConfigError as err:
        raise UsageProblem(str(err)) from None
    results, problems = [], []
    with store:
        for target in targets:
            try:
                results.append(reprocess(store, target))
            except HistoryError as err:
                problems.append(str(err))
    if as_json:
        _echo_json({"reprocessed": [r.to_dict() for r in results], "problems": problems})
    else:
        for r in results:
            click.echo(
                f"{r.target}: {r.fetches} fetches normalized again; versions "
                f"{r.versions_before} → {r.versions_after}, {r.changes} changes"
            )
        for problem in problems:
            click.echo(problem)
    if problems:
        sys.exit(1)


@dataclass(frozen=True)
class Rendering:
    wait_for: str | None
    timeout: float


@cli.command(name="add")
@click.argument("site")
@click.option("--yes", "assume_yes", is_flag=True, help="Add every page found, without asking.")
@config_option
@json_option
def add_command(site: str, assume_yes: bool, config_file: Path | None, as_json: bool) -> None:
    """Find the privacy policy, terms and cookie policy linked from SITE's home page and add
    the ones you choose to config.toml (its comments and layout are kept).

    Example: policywatch add https://example.com --yes
    """
    from monitor.config import config_path
    from monitor.discover import DiscoveryError, add_targets, discover

    file = config_path(config_file)
    try:
        found = discover(site)
    except DiscoveryError as err:
        raise click.ClickException(str(err)) from None
    if not found:
        raise click.ClickException(f"{site}: no privacy, terms or cookie page linked")
    if not as_json:
        for index, page in enumerate(found, 1):
            where = "footer" if page.in_footer else "page"
            click.echo(f"{index}. {page.name}: {page.url}  ({where} link {page.link_text!r})")
    chosen = found
    if not assume_yes:
        answer = click.prompt("Add which (numbers, comma-separated; none: 0)", default="all")
        if answer.strip().lower() != "all":
            picked = {int(n) for n in re.findall(r"\d+", answer)}
            chosen = [page for index, page in enumerate(found, 1) if index in picked]
    try:
        added = add_targets(file, chosen)
    except DiscoveryError as err:
        raise click.ClickException(str(err)) from None
    if as_json:
        _echo_json(
            {
                "found": [p.__dict__ for p in found],
                "added": [{"name": p.name, "url": p.url} for p in added],
            }
        )
        return
    for page in added:
        click.echo(f"added {page.name!r} to {file}")
    if len(added) < len(chosen):
        click.echo(f"{len(chosen) - len(added)} already watched")


def _load_document(
    source: str,
    select: tuple[str, ...],
    remove: tuple[str, ...],
    rendering: Rendering | None = None,
) -> Document:
    """The document of `source`; unless it was rendered, a warning on stderr (or in the error)
    when the page looks built by scripts."""
    page = None
    try:
        selection = Selection.from_config(list(select), list(remove))
        if rendering:
            page = render_page(source, wait_for=rendering.wait_for, timeout=rendering.timeout)
        else:
            page = read_page(source)
        document = normalize(
            page.body, content_type=page.content_type, url=page.url, selection=selection
        )
    except ExtractionError as err:
        message = str(err)
        if page is not None and not rendering and err.kind in ("empty", "selector-miss"):
            message = with_rendering_hint(message, page.body, page.content_type)
        raise click.ClickException(f"{source}: {message}") from None
    except PageError as err:
        raise click.ClickException(f"{source}: {err}") from None
    hint = None if rendering else short_page_hint(document, page.body, page.content_type)
    if hint:
        click.echo(f"warning: {source}: {hint}", err=True)
    return document


def main() -> None:
    try:
        cli(prog_name="policywatch")
    finally:
        # The command's work is done. Left alone, the interpreter's shutdown searches the
        # whole heap for garbage cycles, again and again: a few tenths of a second after a
        # crawl, every run. Frozen, the heap is freed by reference counts alone.
        gc.freeze()
