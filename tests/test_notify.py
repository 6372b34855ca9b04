"""Alerts through Apprise to real loopback receivers: SMTP (aiosmtpd) and json:// endpoints.

Crawls run as `python -m monitor crawl` child processes, as a user runs them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path

import apprise
import pytest
import sqlite_utils
from apprise.logger import LOGGER_NAME
from conftest import JsonReceiver, free_port
from test_crawl import policywatch, seed_page, wait_for

from monitor.config import Destination, load_config
from monitor.diff import compare
from monitor.normalize import Selection, normalize
from monitor.notify import (
    APPRISE_LOGGER,
    MARKDOWN,
    body_limit,
    change_alert,
    channel_format,
    deliver_pending,
    is_routed,
    redact_text,
    redact_url,
    remember_secrets,
    render,
    retry_backoff,
)
from monitor.store import Store

SECRET = "TOPSECRET9f3k2"


def write_config(tmp_path: Path, targets: list[dict], urls: list, extra: str = "") -> Path:
    """`targets`: dicts of target keys; `urls`: strings or {"url", "tags"} dicts."""
    if "confirm_delay" not in extra:  # confirming a change need not take the default 2 s here
        extra = f"confirm_delay = 0.2\n{extra}"
    lines = [extra, '[storage]\npath = "store.db"', "[notify]\nurls = " + _toml_list(urls)]
    for target in targets:
        lines.append("[[targets]]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in target.items()))
    path = tmp_path / "config.toml"
    path.write_text("\n\n".join(lines) + "\n")
    return path


def _toml(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return _toml_list(value)
    return json.dumps(value)


def _toml_list(values: list) -> str:
    return "[" + ", ".join(_toml(v) for v in values) + "]"


def policy_page(paragraph: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><title>Privacy</title></head><body>"
        "<nav><a href='/'>Home</a></nav><main><h1>Privacy Policy</h1>"
        "<p>Last Updated: January 1, 2025</p>"
        "<h2>1. Information We Collect</h2><p>We collect your name and e-mail address.</p>"
        f"<h2>2. Sharing</h2><p>{paragraph}</p>"
        "<h2>3. Your Rights</h2><p>You may ask us to delete your data at any time.</p>"
        "</main></body></html>"
    )


def started(receiver: JsonReceiver) -> JsonReceiver:
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    return receiver


def stopped(receiver: JsonReceiver) -> None:
    receiver.shutdown()
    receiver.server_close()


def crawl(config: Path, code: int = 0):
    result = policywatch("crawl", "--config", str(config))
    assert result.returncode == code, result.stdout + result.stderr
    return result


# -- end to end --------------------------------------------------------------------------------


def test_email_is_html_with_escaped_page_text_and_the_report_attached(
    tmp_path, page_server, smtp_server, json_receiver
):
    before = "We do not share your data. Our page shows &lt;script&gt;alert(1)&lt;/script&gt;."
    after = (
        "We sell your data to partners &lt;img src=x onerror=alert(2)&gt;. "
        "Our page shows &lt;script&gt;alert(1)&lt;/script&gt;."
    )
    url = page_server.set("/privacy", policy_page(before))
    mailto = (
        f"mailto://127.0.0.1:{smtp_server.port}?from=policywatch@example.com"
        "&to=legal@example.com&smtp=127.0.0.1"
    )
    config = write_config(
        tmp_path, [{"name": "Shop <policy>", "url": url}], [mailto, json_receiver.url]
    )
    crawl(config)
    page_server.set("/privacy", policy_page(after))
    crawl(config)
    wait_for(lambda: smtp_server.messages and json_receiver.messages)

    [mail] = smtp_server.messages
    subject = str(make_header(decode_header(mail["Subject"])))
    assert subject == "Shop <policy>: material change — date not updated (silent change)"
    parts = {
        (part.get_content_type(), part.get_filename()): part.get_payload(decode=True).decode()
        for part in mail.walk()
        if not part.is_multipart()
    }
    body = parts[("text/html", None)]
    report = parts[("text/html", "policywatch-shop-policy-" + _today() + ".html")]
    for html_text in (body, report):
        assert "&lt;img src=x onerror=alert(2)&gt;" in html_text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_text
        assert "<script" not in html_text and "<img" not in html_text
        assert "Shop &lt;policy&gt;" in html_text
        assert re.search(
            r'<del style="[^"]+">do not share </del><ins style="[^"]+">sell </ins>', html_text
        )
        assert "data to partners &lt;img src=x onerror=alert(2)&gt;. </ins>" in html_text
        assert "silent change" in html_text
    assert report.startswith("<!doctype html>") and "Changed sections" in report

    [posted] = json_receiver.messages  # json takes Markdown: page text escaped for it
    assert posted["title"] == subject
    assert "**2 Sharing** — modified (material)" in posted["message"]
    assert "\\<script\\>alert(1)\\</script\\>" in posted["message"]
    assert "Full diff: `policywatch diff 'Shop <policy>'`" in posted["message"]

    crawl(config)  # unchanged: nothing more is sent
    time.sleep(0.3)
    assert len(smtp_server.messages) == 1 and len(json_receiver.messages) == 1


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def test_receiver_down_keeps_the_alert_pending_until_retry_delivers_it_once(tmp_path, page_server):
    port = free_port()
    hook = f"json://policywatch:{SECRET}@127.0.0.1:{port}/hook"
    url = page_server.set("/privacy", seed_page())
    config = write_config(tmp_path, [{"name": "P", "url": url}], [hook])
    crawl(config)
    page_server.set("/privacy", seed_page(edited=True))

    down = crawl(config)
    retried_down = policywatch("notify", "--retry", "--config", str(config))
    assert retried_down.returncode == 1
    assert "failed: delivery failed" in retried_down.stdout
    db = sqlite_utils.Database(tmp_path / "store.db")
    [delivery] = list(db["deliveries"].rows)
    assert (delivery["status"], delivery["attempts"]) == ("failed", 2)
    assert delivery["next_attempt_at"] > datetime.now(UTC).isoformat(timespec="seconds")
    outputs = [down.stdout, down.stderr, retried_down.stdout, retried_down.stderr]
    assert all(SECRET not in text for text in outputs)
    assert "policywatch:****@127.0.0.1" in down.stdout
    assert SECRET not in json.dumps(list(db["deliveries"].rows))

    receiver = started(JsonReceiver(port))
    try:
        waiting = policywatch("notify", "--retry", "--config", str(config))
        assert waiting.returncode == 0 and "failed (2 attempts, next attempt" in waiting.stdout
        assert receiver.messages == []
        sent = policywatch("notify", "--retry", "--now", "--config", str(config))
        assert sent.returncode == 0 and ": sent" in sent.stdout
        assert policywatch("notify", "--retry", "--now", "--config", str(config)).stdout == ""
        crawl(config)
        time.sleep(0.3)
        assert [m["title"].split(":")[0] for m in receiver.messages] == ["P"]
        [delivery] = list(db["deliveries"].rows)
        assert (delivery["status"], delivery["attempts"]) == ("sent", 3)
    finally:
        stopped(receiver)


def test_more_changes_than_the_threshold_make_one_digest(tmp_path, page_server, json_receiver):
    names = [f"Policy {n}" for n in range(1, 7)]
    targets = [
        {"name": n, "url": page_server.set(f"/{i}", seed_page())} for i, n in enumerate(names)
    ]
    config = write_config(tmp_path, targets, [json_receiver.url])
    crawl(config)
    for index in range(len(names)):
        # six different edits (the same edit on several pages is one mass-edit alert)
        edited = seed_page(edited=True).replace("data brokers", f"{index + 2} data brokers")
        page_server.set(f"/{index}", edited)
    crawl(config)
    wait_for(lambda: json_receiver.messages)
    time.sleep(0.3)

    [digest] = json_receiver.messages
    assert digest["title"] == "policywatch digest: 6 policy changes"
    for name in names:
        assert (
            f"**{name}: material change — Last Updated 2025-01-01 → 2025-03-15**"
            in (digest["message"])
        )
    db = sqlite_utils.Database(tmp_path / "store.db")
    statuses = sorted(d["status"] for d in db["deliveries"].rows)
    assert statuses == ["sent"] + ["superseded"] * 6


def test_operational_alerts_once_per_incident_and_once_on_recovery(
    tmp_path, page_server, json_receiver
):
    good = seed_page()
    page_server.set("/gone", "not here", status=404)
    page_server.set("/styled", good.replace("<article>", "<article class='policy'>"))
    targets = [
        {"name": "Gone", "url": page_server.base + "/gone"},
        {"name": "Styled", "url": page_server.base + "/styled", "select": ".policy"},
    ]
    config = write_config(tmp_path, targets, [json_receiver.url])

    def titles() -> list[str]:
        time.sleep(0.3)
        return [m["title"] for m in json_receiver.messages]

    crawl(config, code=1)  # Gone fails once; Styled gets its baseline
    page_server.set("/styled", good)  # a redesign: the selector matches nothing any more
    crawl(config, code=1)
    assert titles() == ["[policywatch] Styled: the configured selector stopped matching"]
    crawl(config, code=1)
    assert titles()[1:] == ["[policywatch] Gone: failing 3 runs in a row"]
    assert "HTTP 404" in json_receiver.messages[1]["message"]
    crawl(config, code=1)  # still failing: no new message
    assert len(titles()) == 2

    page_server.set("/gone", good)
    page_server.set("/styled", good.replace("<article>", "<article class='policy'>"))
    crawl(config)
    assert sorted(titles()[2:]) == [
        "[policywatch] Gone: recovered",
        "[policywatch] Styled: recovered",
    ]
    crawl(config)
    assert len(titles()) == 4


def test_tagged_targets_go_only_to_the_channels_with_their_tag(tmp_path, page_server):
    general, legal = started(JsonReceiver()), started(JsonReceiver())
    try:
        targets = [
            {"name": "Untagged", "url": page_server.set("/a", seed_page())},
            {"name": "Legal", "url": page_server.set("/b", seed_page()), "tags": ["legal"]},
        ]
        urls = [general.url, {"url": legal.url, "tags": ["legal", "security"]}]
        config = write_config(tmp_path, targets, urls)
        crawl(config)
        page_server.set("/a", seed_page(edited=True))
        page_server.set("/b", seed_page(edited=True))
        crawl(config)
        wait_for(lambda: general.messages and legal.messages)
        time.sleep(0.3)
        assert [m["title"].split(":")[0] for m in general.messages] == ["Untagged"]
        assert [m["title"].split(":")[0] for m in legal.messages] == ["Legal"]
    finally:
        stopped(general)
        stopped(legal)


def test_test_notify_reports_each_url_and_exits_1_when_one_fails(tmp_path, json_receiver):
    down = f"json://policywatch:{SECRET}@127.0.0.1:{free_port()}/hook"
    config = write_config(tmp_path, [], [json_receiver.url, down])

    result = policywatch("test-notify", "--config", str(config))

    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{redact_url(json_receiver.url)}: ok"
    assert lines[1].startswith(f"json://policywatch:****@127.0.0.1:{down.rsplit(':', 1)[1]}")
    assert "failed: delivery failed" in lines[1]
    assert SECRET not in result.stdout + result.stderr
    [message] = json_receiver.messages
    assert message["title"] == "policywatch test message"


# -- delivery: crash safety and backoff --------------------------------------------------------


def test_a_delivery_left_sending_by_a_crash_is_sent_again_after_the_lease(tmp_path, json_receiver):
    with Store(tmp_path / "store.db") as store:
        alert_id = store.enqueue_alert(
            kind="change",
            target="P",
            change_id=None,
            title="t",
            body="b",
            body_format=MARKDOWN,
            destinations=[json_receiver.url],
        )
        [due] = store.due_deliveries("9999", "0000")
        now = datetime.now(UTC)
        claimed_at = now.isoformat(timespec="seconds")
        assert store.claim_delivery(alert_id, due.destination, claimed_at, "0000")
        # … the process dies here, between the send and recording it.

        assert deliver_pending(store, [json_receiver.url], now=now) == []
        assert not store.claim_delivery(alert_id, due.destination, claimed_at, "0000")
        later = now + timedelta(minutes=11)
        [result] = deliver_pending(store, [json_receiver.url], now=later)
        assert result.error is None
        assert deliver_pending(store, [json_receiver.url], now=later) == []
        [row] = store.delivery_rows()
        assert (row["status"], row["attempts"]) == ("sent", 1)
    wait_for(lambda: json_receiver.messages)
    assert [m["title"] for m in json_receiver.messages] == ["t"]


@pytest.mark.parametrize(
    ("failures", "minutes"),
    [(1, 0), (2, 1), (3, 2), (4, 4), (7, 32), (8, 60), (30, 60)],
)
def test_retry_backoff_doubles_after_the_first_retry_and_is_capped(failures, minutes):
    assert retry_backoff(failures) == timedelta(minutes=minutes)


# -- formats, limits, routing, redaction -------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#legal", "markdown"),
        ("mailtos://bob:pw@smtp.example.com?to=legal@example.com", "html"),
        ("mailto://bob@smtp.example.com?to=legal@example.com&format=text", "text"),
        ("json://127.0.0.1/hook", "markdown"),
        ("json://127.0.0.1/hook?format=text", "text"),
        ("discord://1234/abcd", "markdown"),
    ],
)
def test_each_service_gets_its_format(url, expected):
    assert channel_format(apprise.Apprise.instantiate(url), url) == expected


def _big_change():
    """A rewrite of 40 long sections: far more than a chat message holds."""
    sentences = " ".join(f"Clause {i} covers data use number {i}." for i in range(40))
    old = "\n\n".join(f"{n}. Section {n}\n\nWe keep records. {sentences}" for n in range(1, 41))
    resale = "We sell records to brokers, " + "and to the partners of those brokers, " * 8
    new = old.replace("We keep records.", resale + "who may resell them.")
    selection = Selection.from_config(None, None)
    docs = [
        normalize(
            text.encode(), content_type="text/plain", url="https://x.test/p", selection=selection
        )
        for text in (old, new)
    ]
    return compare(*docs)


@pytest.mark.parametrize(
    ("url", "fmt", "max_chars", "shown"),
    [
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#legal", "markdown", 31_500, 10),
        ("discord://1234/abcd", "markdown", 1_800, 3),
        ("mailto://bob@smtp.example.com?to=legal@example.com", "html", 29_491, None),
    ],
)
def test_long_changes_are_cut_to_the_channel_limit_with_a_note(url, fmt, max_chars, shown):
    change = _big_change()
    message = change_alert("Big", "https://x.test/p", change, "2025-03-15T00:00:00+00:00")
    service = apprise.Apprise.instantiate(url)
    limit = body_limit(service, message.title)
    assert limit == max_chars
    rendered = render(message.title, "change", message.payload, fmt, limit)
    assert len(rendered.body) <= limit
    assert "more changed sections not shown" in rendered.body
    if shown is not None:
        assert rendered.body.count("— modified (material)") == shown
    else:  # e-mail: as many full redlines as fit, everything in the attached report
        assert rendered.attachment and rendered.attachment[1].count("<del ") == 40


@pytest.mark.parametrize(
    ("target_tags", "url_tags", "routed"),
    [
        ((), (), True),
        ((), ("legal",), False),
        (("legal",), (), False),
        (("legal",), ("legal", "security"), True),
        (("client-a",), ("legal",), False),
        (("client-a",), ("always",), True),
        (("all",), ("legal",), True),
    ],
)
def test_routing_follows_apprise_tag_rules(target_tags, url_tags, routed):
    assert is_routed(target_tags, url_tags) is routed


def test_apprise_log_lines_and_errors_never_carry_a_url_secret(caplog):
    assert APPRISE_LOGGER == LOGGER_NAME  # the filtered logger is Apprise's
    url = f"json://policywatch:{SECRET}@127.0.0.1:9/hook?token=Q7zzkq99tok"
    remember_secrets([url])
    with caplog.at_level(logging.DEBUG, logger="apprise"):
        logging.getLogger("apprise").warning("could not reach %s", url)
    assert SECRET not in caplog.text and "Q7zzkq99tok" not in caplog.text
    assert "policywatch:****@127.0.0.1:9/hook" in caplog.text
    assert redact_text(f"error at http://policywatch:{SECRET}@host/") == (
        "error at http://policywatch:****@host/"
    )
    assert SECRET not in redact_url(url)


def test_config_tags_apprise_file_and_thresholds(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_PASSWORD", SECRET)
    (tmp_path / "apprise.yml").write_text(
        "urls:\n  - json://bot:${HOOK_PASSWORD}@127.0.0.1:9/file-hook:\n      tag: legal, dpo\n"
    )
    path = write_config(
        tmp_path,
        [{"name": "a", "url": "https://example.com/a", "tags": ["legal"]}],
        ["json://127.0.0.1:9/plain", {"url": "json://127.0.0.1:9/tagged", "tags": ["security"]}],
        extra="digest_threshold = 10\nfailure_threshold = 2",
    )
    path.write_text(path.read_text().replace("[notify]\n", '[notify]\nconfig = "apprise.yml"\n'))

    config = load_config(path)

    plain, tagged, from_file = config.destinations
    assert plain == Destination("json://127.0.0.1:9/plain")
    assert tagged == Destination("json://127.0.0.1:9/tagged", ("security",))
    assert from_file.tags == ("dpo", "legal") and f"bot:{SECRET}@127.0.0.1:9" in from_file.url
    assert config.targets[0].tags == ("legal",)
    assert (config.digest_threshold, config.failure_threshold) == (10, 2)
