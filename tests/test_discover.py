"""`policywatch add`: legal pages found from a home page, and config.toml edited in place."""

from __future__ import annotations

import json

import pytest
from test_crawl import policywatch

from monitor.config import load_config
from monitor.discover import add_targets, find_policy_links, link_kind


@pytest.mark.parametrize(
    ("text", "href", "expected"),
    [
        ("Privacy Policy", "/legal/privacy", ("privacy", True)),
        ("Politique de confidentialité", "/p", ("privacy", True)),
        ("Datenschutzerklärung", "/ds", ("privacy", True)),
        ("Política de privacidad", "/x", ("privacy", True)),
        ("Privacybeleid", "/x", ("privacy", True)),
        ("Política de Privacidade", "/x", ("privacy", True)),
        ("Privacy & Cookies", "/x", ("privacy", True)),
        ("Terms of Service", "/tos", ("terms", True)),
        ("Conditions générales d'utilisation", "/x", ("terms", True)),
        ("CGU", "/x", ("terms", True)),
        ("AGB", "/x", ("terms", True)),
        ("Términos y condiciones", "/x", ("terms", True)),
        ("Termini di servizio", "/x", ("terms", True)),
        ("Algemene voorwaarden", "/x", ("terms", True)),
        ("Termos de uso", "/x", ("terms", True)),
        ("Cookie Policy", "/x", ("cookies", True)),
        ("Cookie-Richtlinie", "/x", ("cookies", True)),
        ("Legal", "/legal/privacy-notice", ("privacy", False)),
        ("Cookie settings", "/cookies", (None, False)),
        ("Datenschutz-Einstellungen", "/x", (None, False)),
        ("Do Not Sell My Personal Information", "/ccpa", (None, False)),
        ("Careers", "/jobs", (None, False)),
        ("Agbara", "/x", (None, False)),  # "agb" only as a word of its own or a word's start
    ],
)
def test_link_kind(text, href, expected):
    assert link_kind(text, href) == expected


HOME = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Exemple</title></head>
<body><header><nav><a href="/">Accueil</a> <a href="/compte/confidentialite">Paramètres de
confidentialité</a> <a href="/blog/privacy-tips">Privacy tips for you</a></nav></header>
<main><p>Bienvenue.</p><a href="/aide/cgu-faq">CGU : questions fréquentes</a></main>
<footer><ul>
<li><a href="/legal/confidentialite">Politique de confidentialité</a></li>
<li><a href="/legal/cgu#haut">CGU</a></li>
<li><a href="#" onclick="openConsent()">Gérer les cookies</a></li>
<li><a href="/legal/cookies">Politique cookies</a></li>
<li><a href="mailto:dpo@exemple.fr">Contact DPO</a></li>
</ul></footer></body></html>"""


def test_footer_links_win_and_settings_are_left_out():
    found = find_policy_links(HOME.encode(), "https://www.exemple.fr/")
    assert [(f.kind, f.url, f.link_text, f.name, f.in_footer) for f in found] == [
        (
            "privacy",
            "https://www.exemple.fr/legal/confidentialite",
            "Politique de confidentialité",
            "exemple.fr privacy policy",
            True,
        ),
        ("terms", "https://www.exemple.fr/legal/cgu", "CGU", "exemple.fr terms", True),
        (
            "cookies",
            "https://www.exemple.fr/legal/cookies",
            "Politique cookies",
            "exemple.fr cookie policy",
            True,
        ),
    ]


CONFIG = """# policywatch configuration — watched pages below
alert_on = "material"   # alert on material changes only

[storage]
path = "store.db"  # beside this file

# the pages
[[targets]]
name = "Old page"
url = "https://old.example/privacy"
"""


def test_add_finds_the_pages_of_a_local_site_and_keeps_the_config_layout(tmp_path, page_server):
    page_server.set("/", HOME)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)

    result = policywatch("add", page_server.base + "/", "--yes", "--config", str(config))

    assert result.returncode == 0, result.stderr
    assert "1. 127.0.0.1 privacy policy: " in result.stdout
    text = config.read_text()
    assert text.startswith(CONFIG)  # comments and layout of what was there are kept
    targets = load_config(config).targets
    assert [(t.name, t.url.removeprefix(page_server.base)) for t in targets] == [
        ("Old page", "https://old.example/privacy"),
        ("127.0.0.1 privacy policy", "/legal/confidentialite"),
        ("127.0.0.1 terms", "/legal/cgu"),
        ("127.0.0.1 cookie policy", "/legal/cookies"),
    ]

    again = policywatch("add", page_server.base + "/", "--yes", "--json", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["added"] == []
    assert config.read_text() == text


def test_add_asks_which_pages_to_add(tmp_path, page_server):
    page_server.set("/", HOME)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    import subprocess
    import sys

    from test_crawl import REPO

    result = subprocess.run(
        [sys.executable, "-m", "monitor", "add", page_server.base, "--config", str(config)],
        input="1, 3\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    names = [t.name for t in load_config(config).targets]
    assert names == ["Old page", "127.0.0.1 privacy policy", "127.0.0.1 cookie policy"]


def test_a_taken_name_gets_a_number(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.replace("Old page", "example.org privacy policy"))
    [found] = find_policy_links(
        b'<footer><a href="/p">Privacy</a></footer>', "https://example.org/"
    )
    [added] = add_targets(config, [found])
    assert added.name == "example.org privacy policy 2"
