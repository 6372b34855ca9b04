"""Returns to known texts, confirm-before-record and mass-edit grouping, without a crawl:
real pages through `observe`, a real SQLite store, literal expected values."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from monitor.config import ConfigError, Target, load_config
from monitor.document import Block, Document, Section
from monitor.normalize import Selection
from monitor.store import Store
from monitor.variants import (
    ADDED,
    NAME_MARK,
    REMOVED,
    REWORDED,
    Edit,
    block_edits,
    fold,
    group_shared_edits,
    name_words,
)
from monitor.watch import (
    FetchedPage,
    needs_confirmation,
    observe,
    observe_with_store,
    record,
    record_confirmed,
)

RETENTION = [
    "We keep your account data for one year after you close your account.",
    "We keep your account data for five years after you close your account.",
    "We keep your account data for ten years after you close your account.",
    "We sell your account data to advertisers after you close your account.",
]


def page(sentence: str) -> bytes:
    return (
        "<!doctype html><html lang='en'><head><title>Privacy Policy</title></head><body><main>"
        "<h1>Privacy Policy</h1><h2>Retention</h2>"
        f"<p>{html.escape(sentence)}</p><p>You can ask us for a copy of your data at any time.</p>"
        "</main></body></html>"
    ).encode()


def target(**settings) -> Target:
    return Target(
        name="policy",
        url="https://example.com/privacy",
        selection=Selection(),
        alert_on="any",
        schedule="1d",
        **settings,
    )


def fetch(store: Store, tgt: Target, sentence: str, at: int):
    fetched = FetchedPage(
        tgt.name, tgt.url, f"2025-01-01T00:00:{at:02d}+00:00", status=200,
        headers={"content-type": "text/html"}, body=page(sentence),
    )  # fmt: skip
    return record(store, tgt, observe(fetched, tgt), [])


def run(tmp_path: Path, tgt: Target, texts: list[int]) -> tuple[list[str], list[str]]:
    """Fetch RETENTION[i] for each i in turn: each fetch's result, and the alert titles."""
    with Store(tmp_path / "store.db") as store:
        results = [fetch(store, tgt, RETENTION[i], at).result for at, i in enumerate(texts)]
        return results, [a["title"] for a in store.alerts()]


@pytest.mark.parametrize(
    ("settings", "texts", "results", "alerts"),
    [
        (  # quiet: a return is recorded, the second one marks the target flapping, once
            {},
            [0, 1, 0, 1, 0, 1],
            ["baseline", "changed", "returned", "flapping", "flapping", "flapping"],
            ["policy: material change", "policy: flapping between 2 versions"],
        ),
        (  # alert: the first return alerts as such; flapping still alerts once, then quiet
            {"on_revert": "alert"},
            [0, 1, 0, 1, 0],
            ["baseline", "changed", "returned", "flapping", "flapping"],
            [
                "policy: material change",
                "policy: returned to the version of 2025-01-01T00:00:00+00:00",
                "policy: flapping between 2 versions",
            ],
        ),
        (  # a text never seen before ends the flapping: it alerts as a change
            {},
            [0, 1, 0, 1, 2, 1],
            ["baseline", "changed", "returned", "flapping", "changed", "returned"],
            ["policy: material change", "policy: flapping", "policy: material change"],
        ),
        (  # only the last `recent_versions` texts count as known
            {"recent_versions": 2},
            [0, 1, 2, 0],
            ["baseline", "changed", "changed", "changed"],
            ["policy: material change"] * 3,
        ),
    ],
)
def test_returns_to_recent_texts(tmp_path, settings, texts, results, alerts):
    got_results, got_alerts = run(tmp_path, target(**settings), texts)
    assert got_results == results
    assert len(got_alerts) == len(alerts)
    for title, prefix in zip(got_alerts, alerts, strict=True):
        assert title.startswith(prefix)


def test_a_return_names_the_version_it_repeats(tmp_path):
    tgt = target()
    run(tmp_path, tgt, [0, 1, 0])
    with Store(tmp_path / "store.db") as store:
        log = store.version_log("policy")
        assert [(row["id"], row["same_as"]) for row in log] == [(1, None), (2, None), (3, 1)]
        assert log[2]["same_as_at"] == "2025-01-01T00:00:00+00:00"
        assert store.latest_version("policy").document.text == store.version(1).document.text


def test_confirmation_is_asked_only_for_a_changed_text(tmp_path):
    tgt = target()
    with Store(tmp_path / "store.db") as store:

        def observed(i: int, at: int):
            fetched = FetchedPage(tgt.name, tgt.url, f"2025-01-01T00:00:{at:02d}+00:00",
                                  status=200, body=page(RETENTION[i]))  # fmt: skip
            return observe(fetched, tgt)

        assert not needs_confirmation(store, tgt, observed(0, 0))  # a baseline
        record(store, tgt, observed(0, 0), [])
        assert not needs_confirmation(store, tgt, observed(0, 1))  # unchanged
        assert needs_confirmation(store, tgt, observed(1, 2))
        no_confirm = target(confirm_changes=False)
        assert not needs_confirmation(store, no_confirm, observed(1, 2))

        glitch = record_confirmed(store, tgt, observed(1, 3), observed(0, 4), [])
        assert glitch.result == "transient"
        assert "showed the current version again" in glitch.error
        other = record_confirmed(store, tgt, observed(1, 5), observed(2, 6), [])
        assert "showed yet another text" in other.error
        agreed = record_confirmed(store, tgt, observed(1, 7), observed(1, 8), [])
        assert agreed.result == "changed"
        assert [v.id for v in store.versions("policy")] == [1, 2]
        results = [r["result"] for r in store.db["fetches"].rows_where(order_by="id")]
        assert results == ["baseline", "transient", "transient", "changed"]


def fetched_at(tgt: Target, i: int, at: int, confirming: bool = False) -> FetchedPage:
    started_at = f"2025-01-01T00:00:{at:02d}+00:00"
    body = page(RETENTION[i])
    return FetchedPage(tgt.name, tgt.url, started_at, status=200, body=body, confirming=confirming)


def alert_of_confirmed_change(path: Path, tgt: Target, ahead: bool) -> list[tuple]:
    """The alert and change rows of a change confirmed by a second fetch, its observations
    made as a pool worker makes them (`observe_with_store`, `ahead`) or as `observe` alone
    does."""
    with Store(path) as store:
        record(store, tgt, observe(fetched_at(tgt, 0, 0), tgt), [])
        store.db.conn.commit()
        with Store(path, read_only=True) as reader:
            first, second = fetched_at(tgt, 1, 1), fetched_at(tgt, 1, 2, confirming=True)
            if ahead:
                first, second = (observe_with_store(p, tgt, reader) for p in (first, second))
                assert first.comparison is not None and first.comparison.alert_body is not None
            else:
                first, second = observe(first, tgt), observe(second, tgt)
            result = record_confirmed(store, tgt, first, second, ["json://localhost"])
        assert result.result == "changed" and result.alerted
        alerts = store.db.execute("select title, body, payload from alerts").fetchall()
        changes = store.db.execute("select summary, categories, detail from changes").fetchall()
        return alerts + changes


def test_an_alert_rendered_in_the_worker_is_the_one_the_writer_would_render(tmp_path):
    """The pool worker renders a change's alert body and detail ahead (`Comparison`); the
    change is recorded at its confirming fetch, exactly as it would be without them."""
    tgt = target()
    alone = alert_of_confirmed_change(tmp_path / "alone.db", tgt, ahead=False)
    ahead = alert_of_confirmed_change(tmp_path / "ahead.db", tgt, ahead=True)
    assert ahead == alone
    assert json.loads(ahead[0][2])["detected_at"] == "2025-01-01T00:00:02+00:00"


# -- mass edits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "urls", "expected"),
    [
        (
            ["Acme Privacy Policy"],
            ["https://www.acme-corp.co.uk/legal"],
            {"acme", "privacy", "policy", "acme-corp", "co"},
        ),  # fmt: skip
        (["Terms of Service 2024"], ["http://127.0.0.1:8080/x"], {"terms", "of", "service"}),
    ],
)
def test_name_words(names, urls, expected):
    assert name_words(names, urls) == expected


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("This Acme Privacy Policy explains", f"this {NAME_MARK} explains"),
        ("Under the Acme Terms, Acme may", f"under the {NAME_MARK} may"),
        ("No names here.", "no names here"),
    ],
)
def test_fold(text, folded):
    names = name_words(["Acme Privacy Policy", "Acme Terms"])
    assert fold(text, names) == folded


def document(title: str, *paragraphs: str) -> Document:
    blocks = tuple(Block(p) for p in paragraphs)
    return Document(title, (Section("", 0, (Block(title),)), Section("Overview", 2, blocks)))


@pytest.mark.parametrize(
    ("old", "new", "edits"),
    [
        (["a", "b", "c"], ["a", "b2", "c"], [Edit(REWORDED, "b2", "b")]),
        (["a", "c"], ["a", "x", "c"], [Edit(ADDED, "x")]),
        (["a", "b", "c"], ["a", "c"], [Edit(REMOVED, "b")]),
        (["a", "b", "c"], ["b", "a", "c"], []),  # moved, not edited
        (
            ["a", "b", "c"],
            ["a", "x", "y", "c"],
            [Edit(REMOVED, "b"), Edit(ADDED, "x"), Edit(ADDED, "y")],
        ),  # fmt: skip
        (["a", "b", "c"], ["c", "a", "x"], [Edit(REWORDED, "x", "b")]),  # c moved
    ],
)
def test_block_edits(old, new, edits):
    assert block_edits(document("T", *old), document("T", *new)) == tuple(edits)


SHARED = "may use content covered by this {} to train machine learning models"


def test_group_shared_edits_groups_the_documents_that_made_one_edit():
    titles = ["Acme Privacy Policy", "Acme Terms", "Acme Cookie Notice", "Beta Privacy Policy"]
    names = name_words(titles)
    edits = [
        [Edit(ADDED, SHARED.format("Privacy Policy"))],
        [Edit(ADDED, SHARED.format("Terms")), Edit(ADDED, "Disputes go to arbitration.")],
        [Edit(ADDED, SHARED.format("Cookie Notice")), Edit(REMOVED, "Last updated: 2024")],
        [Edit(ADDED, "We now sell all of your personal data to anyone who asks.")],
    ]
    [group] = group_shared_edits(edits, names)
    assert group.members == (0, 1, 2)
    assert group.shared == (Edit(ADDED, SHARED.format("Privacy Policy")),)
    assert group.rest == (
        (),
        (Edit(ADDED, "Disputes go to arbitration."),),
        (Edit(REMOVED, "Last updated: 2024"),),
    )


def test_short_shared_edits_such_as_a_date_line_do_not_group():
    edits = [[Edit(ADDED, "Last updated: March 1, 2025")]] * 3
    assert group_shared_edits(edits, frozenset()) == []


# -- configuration ---------------------------------------------------------------------------


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text + '\n[[targets]]\nname = "a"\nurl = "https://example.com/"\n')
    return path


def test_settings_reach_the_target_and_scrapy(tmp_path):
    path = config_file(
        tmp_path,
        'on_revert = "alert"\nrecent_versions = 3\nconfirm_delay = 0.5\n'
        '[crawl]\nuser_agent = "bot/1"\nobey_robots = false\nconcurrent_requests_per_domain = 1'
        "\nautothrottle = false\ndownload_delay = 2",
    )
    path.write_text(path.read_text() + 'headers = {"Accept-Language" = "de"}\ndownload_delay = 5\n')
    config = load_config(path)
    [tgt] = config.targets
    assert (tgt.on_revert, tgt.recent_versions, tgt.confirm_delay) == ("alert", 3, 0.5)
    assert (tgt.user_agent, tgt.obey_robots, tgt.download_delay) == ("bot/1", False, 5.0)
    assert tgt.headers == (("Accept-Language", "de"),)
    assert config.crawl.scrapy_settings() == {
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 2.0,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('on_revert = "loud"', "on_revert: expected one of quiet, alert, got 'loud'"),
        ("confirm_delay = 600", "confirm_delay: expected a number between 0 and 60"),
        ("recent_versions = 0", "recent_versions: expected a whole number of at least 1"),
        ("[crawl]\nconcurent_requests = 2", "crawl.concurent_requests: unknown key"),
        ("[crawl]\nobey_robots = 1", "crawl.obey_robots: expected true or false"),
    ],
)
def test_invalid_settings(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(config_file(tmp_path, text))


def test_invalid_headers(tmp_path):
    path = config_file(tmp_path, "")
    path.write_text(path.read_text() + 'headers = {"Bad Name" = "x"}\n')
    with pytest.raises(ConfigError, match=r"targets\['a'\].headers: expected a table"):
        load_config(path)
