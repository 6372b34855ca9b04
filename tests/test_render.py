"""Rendering in a browser: pages that build their policy with JavaScript, through
scrapy-playwright and the system's Chromium; and the hint that a page needs it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils
from scrapy.crawler import Crawler
from test_crawl import policywatch, seed_page

from crawler.spiders.policies import RENDER_DOWNLOAD_HANDLER, PoliciesSpider
from monitor.config import ConfigError, parse_config
from monitor.crawl import crawler_settings
from monitor.render import MISSING_BROWSER, ScriptShell, find_chromium, script_shell
from monitor.store import Store
from monitor.watch import FetchedPage

REPO = Path(__file__).resolve().parents[1]

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="Chromium is not installed (Debian: apt-get install chromium): browser tests skipped",
)

# A page whose HTML holds no policy: a script fetches it as JSON, after a pause, and builds it.
SHELL = """<!doctype html><html lang="en"><head><title>Acme</title>
<script src="/app.js"></script></head><body><div id="root">Loading…</div></body></html>"""
APP = """window.addEventListener("load", () => setTimeout(() => fetch("/policy.json")
  .then(r => r.json()).then(policy => {
    const root = document.getElementById("root");
    root.textContent = "";
    const add = (tag, text) => {
      const e = document.createElement(tag); e.textContent = text; root.appendChild(e); };
    add("h1", policy.title);
    add("p", "Last updated: " + policy.updated);
    for (const s of policy.sections) { add("h2", s.heading); add("p", s.text); }
  }), DELAY));"""
POLICY = {
    "title": "Acme Privacy Policy",
    "updated": "March 3, 2025",
    "sections": [
        {
            "heading": "1. Information we collect",
            "text": "We collect your name, e-mail address and the messages you send to other"
            " members.",
        },
        {"heading": "2. Sharing", "text": "We do not sell your personal data to anyone."},
    ],
}
EDITED = {
    **POLICY,
    "updated": "June 1, 2025",
    "sections": [
        *POLICY["sections"],
        {
            "heading": "3. Location",
            "text": "We collect your precise location to show you members nearby.",
        },
    ],
}


def serve_app(page_server, policy: dict, delay_ms: int = 300) -> str:
    page_server.set("/app.js", APP.replace("DELAY", str(delay_ms)), content_type="text/javascript")
    page_server.set("/policy.json", json.dumps(policy), content_type="application/json")
    return page_server.set("/privacy", SHELL)


def config_text(tmp_path: Path, targets: str, extra: str = "") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'{extra}\n[storage]\npath = "store.db"\n\n{targets}')
    return config


# -- the hint: almost no text, but scripts ----------------------------------------------------

SCRIPT_SHELLS = [
    ('<html><body><div id="root"></div><script src="/app.js"></script></body></html>', (0, 1)),
    (SHELL, (1, 1)),
    (
        "<html><body><noscript>You need to enable JavaScript to run this app.</noscript>"
        '<div id="app"></div><script type="module" src="/a.js"></script>'
        "<script>window.x = 1</script></body></html>",
        (0, 2),
    ),
    (
        '<?xml version="1.0" encoding="utf-8"?><html><head><script src="/a.js"></script>'
        "</head><body><p>Privacy Policy</p><p>Please wait</p></body></html>",
        (4, 1),
    ),
    (  # shown: the words after a comment, an svg, a template, a script; not those inside them
        "<html><head><title>Loading the app</title><style>p {}</style></head><body>"
        "<!-- build 42 -->Loading your<svg><text>spinner text</text></svg> privacy"
        "<template><p>hidden words</p></template> settings<script src='/a.js'></script> now"
        "</body></html>",
        (5, 1),
    ),
]
NOT_SHELLS = [
    "<html><body><p>Privacy Policy</p><p>We keep nothing.</p></body></html>",  # no script
    '<html><body><div id="root"></div>'  # a data island is not a script that runs
    '<script type="application/ld+json">{"@type": "WebPage"}</script></body></html>',
    "<html><body><h1>Privacy</h1><p>" + "We collect data to run the service. " * 20 + "</p>"
    '<script src="/analytics.js"></script></body></html>',  # 140 words and a script
]


@pytest.mark.parametrize(("html", "expected"), SCRIPT_SHELLS)
def test_a_page_of_scripts_and_almost_no_text_is_a_script_shell(html, expected):
    assert script_shell(html.encode(), "text/html") == ScriptShell(*expected)


@pytest.mark.parametrize("html", NOT_SHELLS)
def test_a_page_with_text_or_without_scripts_is_not_a_script_shell(html):
    assert script_shell(html.encode(), "text/html") is None


def test_plain_text_is_never_a_script_shell():
    assert script_shell(b"<script>x</script> hello", "text/plain") is None


def test_no_real_policy_page_is_taken_for_a_script_shell(corpus, manifest):
    """Every snapshot of the corpus (rendered or not when saved) holds its text in its HTML."""
    flagged = [
        f"{doc['id']}/{pair['before']}"
        for doc in manifest
        for pair in doc["pairs"][:1]
        if script_shell((corpus / doc["id"] / f"{pair['before']}.html").read_bytes(), None)
    ]
    assert flagged == []


# -- configuration ----------------------------------------------------------------------------


def parse(text: str):
    import tomllib

    return parse_config(tomllib.loads(text), Path("config.toml"))


def test_render_is_a_default_that_each_target_may_override():
    config = parse(
        'render = true\n[[targets]]\nname = "a"\nurl = "https://a.example/p"\n'
        '[[targets]]\nname = "b"\nurl = "https://b.example/p"\nrender = false\n'
        '[[targets]]\nname = "c"\nurl = "https://c.example/p"\nwait_for = "main h1"\n'
    )
    assert [(t.render, t.wait_for) for t in config.targets] == [
        (True, None),
        (False, None),
        (True, "main h1"),
    ]
    assert [t.render for t in parse('[[targets]]\nname = "a"\nurl = "https://a/p"').targets] == [
        False
    ]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ('render = "yes"', "config.toml: targets['a'].render: expected true or false"),
        (
            'wait_for = "main"',
            "config.toml: targets['a'].wait_for: only rendered targets wait; set render = true",
        ),
        ('render = true\nwait_for = "main["', "targets['a'].wait_for: selector 'main[' is not"),
        ('render = true\nwait_for = ""', "targets['a'].wait_for: expected a non-empty string"),
        ('render = true\nwait_fro = "x"', "unknown key (did you mean 'wait_for'?)"),
    ],
)
def test_render_settings_are_checked(target, message):
    with pytest.raises(ConfigError) as raised:
        parse(f'[[targets]]\nname = "a"\nurl = "https://a.example/p"\n{target}\n')
    assert message in str(raised.value)


# -- the spider: rendering only where a target asks for it ------------------------------------


def spider_for(text: str, monkeypatch, chromium: str | None = "/usr/bin/chromium"):
    monkeypatch.setattr("crawler.spiders.policies.find_chromium", lambda: chromium)
    crawler = Crawler(PoliciesSpider, crawler_settings())
    spider = PoliciesSpider.from_crawler(crawler, config=parse(text))
    return crawler, spider


def first_requests(spider) -> list:
    async def collect():
        return [request async for request in spider.start()]

    return asyncio.run(collect())


PLAIN = '[[targets]]\nname = "plain"\nurl = "https://a.example/privacy"\n'
RENDERED = '[[targets]]\nname = "app"\nurl = "http://b.example/privacy"\nrender = true\n'


def test_a_crawl_without_rendering_targets_installs_no_browser(monkeypatch):
    crawler, spider = spider_for(PLAIN, monkeypatch)
    handlers = crawler.settings.getdict("DOWNLOAD_HANDLERS")
    assert RENDER_DOWNLOAD_HANDLER not in handlers.values()
    assert spider.chromium is None
    [request] = first_requests(spider)
    assert "playwright" not in request.meta


def test_only_rendering_targets_go_through_the_browser(monkeypatch):
    crawler, spider = spider_for(PLAIN + RENDERED, monkeypatch)
    assert crawler.settings.getdict("DOWNLOAD_HANDLERS") == {"http": RENDER_DOWNLOAD_HANDLER}
    launch = crawler.settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")
    assert launch["executable_path"] == "/usr/bin/chromium"
    assert {"--disable-background-networking", "--disable-quic"} <= set(launch["args"])
    plain, rendered = first_requests(spider)
    assert "playwright" not in plain.meta
    assert rendered.meta["playwright"] is True
    assert rendered.meta["playwright_page_goto_kwargs"] == {
        "wait_until": "networkidle",
        "timeout": 30000.0,
    }
    assert rendered.meta["playwright_context"] == "render-1"
    assert "If-None-Match" not in rendered.headers


def test_wait_for_waits_for_the_selector_after_load(monkeypatch):
    _, spider = spider_for(RENDERED + 'wait_for = "//main/h2"\ntimeout = 5\n', monkeypatch)
    [request] = first_requests(spider)
    assert request.meta["playwright_page_goto_kwargs"] == {"wait_until": "load", "timeout": 5000}
    [wait] = request.meta["playwright_page_methods"]
    assert (wait.method, wait.args, wait.kwargs) == (
        "wait_for_selector",
        ("xpath=//main/h2",),
        {"state": "attached", "timeout": 5000},
    )


def test_without_chromium_a_rendering_target_fails_with_the_reason(monkeypatch):
    crawler, spider = spider_for(PLAIN + RENDERED, monkeypatch, chromium=None)
    assert RENDER_DOWNLOAD_HANDLER not in crawler.settings.getdict("DOWNLOAD_HANDLERS").values()
    plain, failed = first_requests(spider)
    assert "playwright" not in plain.meta
    assert isinstance(failed, FetchedPage)
    assert (failed.target, failed.error) == ("app", MISSING_BROWSER)


# -- the hint in crawl and inspect (no browser needed) ----------------------------------------


def test_crawl_and_inspect_say_that_a_script_shell_needs_rendering(tmp_path, page_server):
    url = serve_app(page_server, POLICY)
    config = config_text(tmp_path, f'[[targets]]\nname = "app"\nurl = "{url}"\n')
    crawl = policywatch("crawl", "--config", str(config))
    assert crawl.returncode == 0, crawl.stderr
    assert crawl.stdout.startswith(
        "app: baseline: warning: the page's HTML holds almost no text (1 word) but 1 script:"
    )
    assert "render = true" in crawl.stdout

    config.write_text(config.read_text() + 'select = "main"\n')
    failed = policywatch("crawl", "--config", str(config))
    assert failed.returncode == 1
    assert failed.stdout.startswith("app: failed: selector ") and "matched nothing" in failed.stdout
    assert "its policy is probably built by JavaScript" in failed.stdout

    inspect = policywatch("inspect", url)
    assert inspect.returncode == 0
    assert "warning: " in inspect.stderr and "inspect --render" in inspect.stderr


def test_a_page_with_its_text_in_the_html_gets_no_warning(tmp_path, page_server):
    url = page_server.set("/privacy", seed_page())
    config = config_text(tmp_path, f'[[targets]]\nname = "seed"\nurl = "{url}"\n')
    crawl = policywatch("crawl", "--config", str(config))
    assert crawl.stdout == "seed: baseline\n"
    assert policywatch("inspect", url).stderr == ""


# -- real renders in Chromium -----------------------------------------------------------------


@needs_chromium
def test_inspect_render_shows_the_policy_the_scripts_built(page_server):
    url = serve_app(page_server, POLICY)
    result = policywatch("inspect", url, "--render", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["title"], document["last_updated"]) == ("Acme Privacy Policy", "2025-03-03")
    assert [s["heading"] for s in document["sections"]] == [
        "",
        "Information we collect",
        "Sharing",
    ]
    assert "We do not sell your personal data to anyone." in document["text"]
    assert "Loading" not in document["text"]
    assert result.stderr == ""


@needs_chromium
def test_a_change_to_a_rendered_policy_is_detected(tmp_path, page_server):
    url = serve_app(page_server, POLICY)
    plain = page_server.set("/seed", seed_page())
    config = config_text(
        tmp_path,
        f'[[targets]]\nname = "app"\nurl = "{url}"\nrender = true\n\n'
        f'[[targets]]\nname = "seed"\nurl = "{plain}"\n',
    )
    first = policywatch("crawl", "--config", str(config))
    assert first.returncode == 0, first.stdout + first.stderr
    assert sorted(first.stdout.splitlines()) == ["app: baseline", "seed: baseline"]

    serve_app(page_server, EDITED)
    second = policywatch("crawl", "--config", str(config))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "app: changed: " in second.stdout and "seed: unchanged" in second.stdout

    db = sqlite_utils.Database(tmp_path / "store.db")
    versions = list(db["versions"].rows_where("target = 'app'", order_by="id"))
    assert [v["last_updated"] for v in versions] == ["2025-03-03", "2025-06-01"]
    with Store(tmp_path / "store.db") as store:
        texts = [v.document.text for v in store.versions("app")]
    assert "precise location" not in texts[0] and "precise location" in texts[1]
    assert not any("Loading" in text for text in texts)
    [change] = list(db["changes"].rows)
    assert change["material"] and change["date_from"] == "2025-03-03"
    fetch = next(db["fetches"].rows_where("target = 'app'"))
    assert fetch["content_type"] == "text/html; charset=utf-8"


@needs_chromium
def test_wait_for_catches_text_that_comes_after_the_network_is_idle(tmp_path, page_server):
    url = serve_app(page_server, POLICY, delay_ms=1500)
    targets = f'[[targets]]\nname = "app"\nurl = "{url}"\nrender = true\n'
    config = config_text(tmp_path, targets + 'wait_for = "h2"\ntimeout = 10\n')
    result = policywatch("crawl", "--config", str(config))
    assert result.stdout == "app: baseline\n", result.stderr

    page_server.set("/app.js", "/* builds nothing */", content_type="text/javascript")
    config.write_text(config.read_text().replace("timeout = 10", "timeout = 1.5"))
    timed_out = policywatch("crawl", "--config", str(config))
    assert timed_out.returncode == 1
    assert timed_out.stdout.startswith("app: failed: timed out (TimeoutError: ")
    assert "Timeout 1500ms exceeded" in timed_out.stdout


@needs_chromium
def test_browser_contexts_and_pages_are_closed_after_each_render(corpus):
    """The cheap form of bench/render_memory.py: 20 renders, then nothing is left open."""
    result = subprocess.run(
        [sys.executable, "bench/render_memory.py", "--renders", "20", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert (summary["renders"], summary["failed"]) == (20, 0)
    assert (summary["open_contexts"], summary["open_pages"]) == (0, 0)
