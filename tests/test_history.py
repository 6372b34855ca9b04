"""History, diffs, search, export, reprocess and the compact store, on a store made by real
crawls (`policywatch crawl` child processes against a loopback server)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import sqlite_utils
from conftest import PageServer
from test_crawl import NAME, policywatch, seed_page, write_config

from monitor import history
from monitor.config import load_config
from monitor.packing import ZLIB, ZSTD, pack, unpack
from monitor.store import Store

# The third version: a retention promise replaced by an open-ended one.
THIRD_EDIT = (
    "You can control cookie settings through your browser preferences.",
    "You cannot refuse marketing cookies; we keep the data they collect indefinitely.",
)


def third_page() -> str:
    page = seed_page(edited=True)
    assert THIRD_EDIT[0] in page
    return page.replace(*THIRD_EDIT)


def crawl(config: Path) -> subprocess.CompletedProcess:
    result = policywatch("crawl", "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def run(config: Path, *args: str) -> subprocess.CompletedProcess:
    return policywatch(*args, "--config", str(config))


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A store with three versions of the seed policy and one unchanged fetch after them."""
    tmp_path = tmp_path_factory.mktemp("archive")
    server = PageServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = server.set("/privacy", seed_page())
    config = write_config(tmp_path, [(NAME, url)], [])
    outputs = [crawl(config).stdout]
    server.set("/privacy", seed_page(edited=True))
    outputs.append(crawl(config).stdout)
    server.set("/privacy", third_page())
    outputs.append(crawl(config).stdout)
    outputs.append(crawl(config).stdout)
    yield config, outputs
    server.shutdown()
    server.server_close()


# -- packing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("codec", "most"), [(ZSTD, 60), (ZLIB, 400)])  # deflate: 258-byte runs
def test_a_small_edit_packed_against_its_base_costs_little_and_unpacks_exactly(corpus, codec, most):
    base = (corpus / "dating-badoo-privacy-policy" / "5485fa6b096c.md").read_bytes()
    edited = base.replace(b"the", b"teh", 1)
    base_tail = base[-30_000:]  # zlib's dictionary window: 32 kB
    edited_tail = edited[-30_000:].replace(b"and", b"nad", 1)

    full = pack(base_tail, codec=codec)
    delta = pack(edited_tail, base_tail, codec=codec)

    assert unpack(delta, base_tail, codec=codec) == edited_tail
    assert unpack(full, codec=codec) == base_tail
    assert len(delta) < most and len(full) > 5000
    if codec == ZSTD:  # zstd's dictionary covers the whole base
        assert len(pack(edited, base, codec=codec)) < most


# -- the store a crawl leaves ------------------------------------------------------------------


def test_crawls_store_versions_packed_with_plain_text_on_the_newest_only(archive):
    config, outputs = archive
    assert [o.split(": ")[1].strip() for o in outputs] == [
        "baseline",
        "changed",
        "changed",
        "unchanged",
    ]
    db = sqlite_utils.Database(config.parent / "store.db")
    versions = list(db.query("select id, text, document, packed, base_version from versions"))
    assert [v["text"] is not None for v in versions] == [False, False, True]
    assert all(v["document"] is None and v["packed"] for v in versions)
    assert [v["base_version"] for v in versions] == [None, 1, 1]  # deltas against the first
    assert all(len(v["packed"]) < 400 for v in versions[1:])
    # three distinct bodies, the unchanged fetch's body kept once
    assert db["raw_bodies"].count == 3
    assert db.execute("select count(distinct body_hash) from fetches").fetchone()[0] == 3


def test_views_give_the_latest_version_per_target_and_the_changes(archive):
    config, _ = archive
    db = sqlite_utils.Database(config.parent / "store.db")
    [latest] = list(db.query("select * from latest_versions"))
    assert (latest["target"], latest["version_id"], latest["last_updated"]) == (
        NAME,
        3,
        "2025-03-15",
    )
    assert "You cannot refuse marketing cookies" in latest["text"]
    log = list(db.query("select * from change_log order by change_id"))
    assert [(c["from_version"], c["to_version"], c["materiality"]) for c in log] == [
        (1, 2, "material"),
        (2, 3, "material"),
    ]
    assert [(c["stated_date_before"], c["stated_date_after"]) for c in log] == [
        ("2025-01-01", "2025-03-15"),
        (None, None),
    ]
    assert [c["silent_change"] for c in log] == [0, 1]


# -- commands ----------------------------------------------------------------------------------


def test_history_lists_versions_with_dates_materiality_and_categories(archive):
    config, _ = archive
    result = run(config, "history", NAME, "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert [(e["version"], e["last_updated"], e["change"]) for e in entries] == [
        (1, "2025-01-01", None),
        (2, "2025-03-15", "material"),
        (3, "2025-03-15", "material"),
    ]
    assert "sharing" in entries[1]["categories"]
    text = run(config, "history", NAME).stdout.splitlines()
    assert len(text) == 3 and "first version" in text[0] and "material:" in text[2]


def test_history_of_an_unknown_target_fails_with_one_line(archive):
    config, _ = archive
    result = run(config, "history", "nobody")
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: no stored version of 'nobody'"


@pytest.mark.parametrize(
    ("args", "present", "absent"),
    [
        ((), ["You [-can control cookie settings", "{+cannot refuse marketing"], ["may sell"]),
        (("1", "2"), ["{+may sell+}", "Stated date: Last Updated 2025-01-01 → 2025-03-15"], []),
        (("1",), ["{+may sell+}", "{+cannot refuse marketing"], ["version 2"]),
    ],
)
def test_diff_between_versions_as_text(archive, args, present, absent):
    config, _ = archive
    result = run(config, "diff", NAME, *args)
    assert result.returncode == 0, result.stderr
    for piece in present:
        assert piece in result.stdout
    for piece in absent:
        assert piece not in result.stdout


def test_diff_by_date_markdown_and_html_files(archive, tmp_path):
    config, _ = archive
    first = json.loads(run(config, "history", NAME, "--json").stdout)[0]["fetched_at"]
    markdown = run(config, "diff", NAME, first, "--format", "markdown").stdout
    assert markdown.startswith(f"# {NAME}: material change")
    assert "We ~~respect your privacy and do not sell, trade,~~ **may sell** or" in markdown
    assert "Last Updated: ~~January 1,~~ **March 15,** 2025" in markdown

    report = tmp_path / "diff.html"
    result = run(config, "diff", NAME, first, "3", "--format", "html", "-o", str(report))
    assert result.returncode == 0, result.stderr
    page = report.read_text()
    assert page.startswith("<!doctype html>") and "<ins " in page and "<del " in page
    assert "version 1 (" in page and "version 3 (" in page


def test_show_gives_the_text_as_it_stood_at_a_date(archive):
    config, _ = archive
    entries = json.loads(run(config, "history", NAME, "--json").stdout)
    between = entries[1]["fetched_at"]  # the moment version 2 was fetched
    at_second = run(config, "show", NAME, "--at", between).stdout
    assert "Last Updated: March 15, 2025" in at_second and "may sell" in at_second
    assert "You cannot refuse" not in at_second
    newest = run(config, "show", NAME).stdout
    assert "You cannot refuse" in newest
    that_day = run(config, "show", NAME, "--at", entries[2]["fetched_at"][:10]).stdout
    assert that_day == newest  # a day means the end of that day
    too_early = run(config, "show", NAME, "--at", "2001-01-01")
    assert too_early.returncode == 1 and "had no version yet at 2001-01-01" in too_early.stderr


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("brokers", [(2, 3, True)]),
        ('"do not sell, trade, or rent"', [(1, 1, False)]),
        ("indefinitely", [(3, 3, True)]),
        ("refus*", [(3, 3, True)]),
        ("cookie AND browser", [(1, 2, False)]),
        ("Ecomsters", [(1, 3, True)] * 5),  # title, e-mail line, 3 paragraphs: never changed
        ("zyzzyva", []),
        ('unbalanced "quote', []),
    ],
)
def test_search_over_current_and_past_versions(archive, query, expected):
    config, _ = archive
    result = run(config, "search", query, "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert sorted((h["first_version"], h["version"], h["current"]) for h in hits) == expected
    for hit in hits:
        assert hit["target"] == NAME and "[" in hit["snippet"]


def test_export_writes_one_markdown_file_per_version(archive, tmp_path):
    config, _ = archive
    result = run(config, "export", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "out").rglob("*.md"))
    assert [f.name.rsplit("-", 1)[1] for f in files] == ["v1.md", "v2.md", "v3.md"]
    assert files[0].parent.name == "ecomsters-privacy-policy"
    first = files[0].read_text()
    assert first.startswith("---\ntarget: ") and '\nlast_updated: "2025-01-01"\n' in first
    assert "do not sell, trade, or rent" in first


def test_export_git_makes_one_commit_per_version_dated_by_fetch_time(archive, tmp_path):
    config, _ = archive
    out = tmp_path / "archive"
    assert run(config, "export", str(out), "--git").returncode == 0
    entries = json.loads(run(config, "history", NAME, "--json").stdout)
    log = subprocess.run(
        ["git", "-C", str(out), "log", "--reverse", "--format=%aI|%s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert [line.split("|")[0] for line in log] == [e["fetched_at"] for e in entries]
    assert log[0].endswith(": first version") and "material change" in log[1]
    again = run(config, "export", str(out), "--git")
    assert again.stdout.startswith("0 commits")
    assert (out / "ecomsters-privacy-policy.md").read_text().count("You cannot refuse") == 1


# -- reprocess -----------------------------------------------------------------------------------


def test_reprocess_rebuilds_history_from_kept_bodies_without_alerts(tmp_path, page_server):
    url = page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [(NAME, url)], ["json://127.0.0.1:9/hook"])
    crawl(config)
    page_server.set("/privacy", seed_page(edited=True))
    crawl(config)
    db = sqlite_utils.Database(tmp_path / "store.db")
    alerts_before = db["alerts"].count
    # a new selection that leaves out the paragraphs about selling: only the date change stays
    config.write_text(config.read_text() + "remove = [\"//p[contains(., 'sell')]\"]\n")

    with Store(tmp_path / "store.db") as store:
        target = load_config(config).targets[0]
        before = [v.document.text for v in store.versions(NAME)]
        result = history.reprocess(store, target)
        after = [v.document.text for v in store.versions(NAME)]

    assert (result.fetches, result.versions_before, result.versions_after) == (2, 2, 2)
    assert any("may sell" in text for text in before)
    assert not any("may sell" in text or "do not sell" in text for text in after)
    [change] = db["changes"].rows
    assert change["date_only"] and change["to_version"] == 4
    assert db["alerts"].count == alerts_before
    cli = run(config, "reprocess", "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["reprocessed"][0]["versions_after"] == result.versions_after
    assert db["alerts"].count == alerts_before


# -- conditional GET -----------------------------------------------------------------------------


class _ConditionalHandler(BaseHTTPRequestHandler):
    """Answers with an ETag and Last-Modified, and 304 when the client's validator matches."""

    server: PageServer

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append(self.path)
        if self.path != "/robots.txt":
            self.server.conditions.append(
                (self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since"))
            )
        status, content_type, body = self.server.pages.get(self.path, (404, "text/plain", b""))
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", "Wed, 01 Jan 2025 00:00:00 GMT")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def conditional_server():
    server = PageServer()
    server.RequestHandlerClass = _ConditionalHandler
    server.conditions = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_304_is_recorded_as_not_modified_and_stores_nothing(tmp_path, conditional_server):
    server = conditional_server
    url = server.set("/privacy", seed_page())
    config = write_config(tmp_path, [(NAME, url)], [])
    crawl(config)
    second = crawl(config)
    assert f"{NAME}: not-modified" in second.stdout
    etag = '"' + hashlib.sha256(seed_page().encode()).hexdigest()[:16] + '"'
    assert server.conditions == [
        (None, None),
        (etag, "Wed, 01 Jan 2025 00:00:00 GMT"),
    ]
    db = sqlite_utils.Database(tmp_path / "store.db")
    assert [f["result"] for f in db["fetches"].rows] == ["baseline", "not-modified"]
    assert db["versions"].count == 1 and db["raw_bodies"].count == 1

    server.set("/privacy", seed_page(edited=True))
    third = crawl(config)
    assert f"{NAME}: changed" in third.stdout and db["versions"].count == 2

    # a new selection: the validators no longer apply, the page is fetched in full
    config.write_text(config.read_text() + 'remove = ["footer"]\n')
    crawl(config)
    assert server.conditions[-1] == (None, None)


# -- crawl output on a terminal -----------------------------------------------------------------


def test_crawl_on_a_terminal_shows_progress_then_a_table(tmp_path, page_server):
    import os
    import pty
    import sys

    from test_crawl import REPO

    config = write_config(
        tmp_path,
        [("first", page_server.set("/a", seed_page())), ("second", page_server.base + "/gone")],
        [],
    )
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "monitor", "crawl", "--config", str(config)],
        stdout=follower,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the child
            break
        if not chunk:
            break
        output += chunk
    assert child.wait(timeout=120) == 1
    os.close(leader)
    text = output.decode()
    assert "Crawling" in text and "2/2" in text
    lines = [line.rstrip() for line in text.replace("\r", "\n").splitlines()]
    assert "target  result        detail" in lines
    assert any(line.startswith("second  failed        HTTP 404") for line in lines)
    assert [line for line in lines if line][-1] == "1 baseline, 1 failed"


# -- an existing store is migrated ---------------------------------------------------------------


def test_a_store_written_before_packing_is_migrated_and_searchable(tmp_path, monkeypatch):
    from monitor import store as store_module
    from monitor.normalize import normalize

    documents = [
        normalize(page.encode(), content_type="text/html", url="https://example.com/p")
        for page in (seed_page(), seed_page(edited=True))
    ]
    path = tmp_path / "old.db"
    names = [name for name, _ in store_module.MIGRATIONS]
    old_migrations = store_module.MIGRATIONS[: names.index("0004_issue7_compact_history")]
    monkeypatch.setattr(store_module, "MIGRATIONS", old_migrations)
    with Store(path) as old:
        for number, document in enumerate(documents, 1):
            old.db["versions"].insert(
                {
                    "target": NAME,
                    "fetch_id": number,
                    "created_at": f"2025-0{number}-01T00:00:00+00:00",
                    "fingerprint": document.fingerprint,
                    "title": document.title,
                    "text": document.text,
                    "document": json.dumps(document.to_dict()),
                }
            )
    monkeypatch.undo()

    with Store(path) as store:
        assert [v.document for v in store.versions(NAME)] == documents
        rows = list(store.db.query("select text, document, base_version from versions"))
        assert [(r["text"] is None, r["document"], r["base_version"]) for r in rows] == [
            (True, None, None),
            (False, None, 1),
        ]
        hits = history.search(store, "brokers")
        assert [(h.first_version, h.version, h.current) for h in hits] == [(2, 2, True)]
        assert history.show(store, NAME, "2025-01-15").id == 1


def test_the_search_index_catches_up_and_stays_exact_when_history_is_rebuilt(tmp_path):
    """Crawls store passages unindexed; a search indexes them first. Rebuilding a target's
    history (reprocess) removes passages whose ids new ones may take again: those must be
    indexed too, and the removed ones no longer found."""
    from monitor.normalize import normalize

    original, edited = (
        normalize(page.encode(), content_type="text/html", url="https://example.com/p")
        for page in (seed_page(), seed_page(edited=True))
    )
    with Store(tmp_path / "store.db") as store:
        store.add_version("other", 1, "2025-01-01T00:00:00+00:00", original)
        store.add_version(NAME, 2, "2025-01-02T00:00:00+00:00", edited)
        assert {h.target for h in history.search(store, "brokers")} == {NAME}
        store.clear_history(NAME)
        assert history.search(store, "brokers") == []
        store.add_version(NAME, 3, "2025-01-03T00:00:00+00:00", edited)
        assert [h.target for h in history.search(store, "brokers")] == [NAME]
        assert store.db.execute("pragma integrity_check").fetchone()[0] == "ok"
        store.db.execute("insert into passage_search (passage_search) values ('integrity-check')")


def test_a_versions_new_passages_are_stored_in_the_documents_order(tmp_path):
    """Passage ids follow the document (title, then each heading and block), so the same
    crawl writes the same rows whatever the interpreter's hash seed."""
    from monitor.normalize import normalize

    original, edited = (
        normalize(page.encode(), content_type="text/html", url="https://example.com/p")
        for page in (seed_page(), seed_page(edited=True))
    )
    with Store(tmp_path / "store.db") as store:
        store.add_version(NAME, 1, "2025-01-01T00:00:00+00:00", original)
        store.add_version(NAME, 2, "2025-01-02T00:00:00+00:00", edited)
        rows = store.db.execute("select text, first_version from passages order by id").fetchall()
    first = [text for text, version in rows if version == 1]
    added = [text for text, version in rows if version == 2]
    assert len(first) > 20 and added
    assert first == list(dict.fromkeys(_texts(original)))
    assert added == [text for text in dict.fromkeys(_texts(edited)) if text not in first]


def _texts(document) -> list[str]:
    texts = [document.title]
    for section in document.sections:
        texts += [section.label, *(block.text for block in section.blocks)]
    return [t for t in texts if t.strip()]
