"""Configuration: the contract keys, and one-line errors naming the file and key (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[1]


def test_shipped_config_has_the_two_seed_targets():
    config = load_config(REPO / "config.toml")
    assert [t.name for t in config.targets] == [
        "Ecomsters privacy policy",
        "Ecomgigs privacy policy",
    ]
    assert config.store_path == REPO / "snapshots" / "policywatch.db"
    assert config.alert_on == "material"


def test_defaults_overrides_and_env_expansion(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    path = tmp_path / "c.toml"
    path.write_text(
        'alert_on = "any"\nschedule = "6h"\n'
        '[notify]\nurls = ["json://127.0.0.1:9/${HOOK_TOKEN}"]\n'
        '[[targets]]\nname = "a"\nurl = "https://example.com/a"\nselect = ["main", "//article"]\n'
        '[[targets]]\nname = "b"\nurl = "https://example.com/b"\nalert_on = "material"\n'
        'schedule = "0 9 * * MON"\n'
    )
    config = load_config(path)
    a, b = config.targets
    assert config.notify_urls == ("json://127.0.0.1:9/s3cret",)
    assert (a.alert_on, a.schedule) == ("any", "6h")
    assert (b.alert_on, b.schedule) == ("material", "0 9 * * MON")
    assert config.store_path == tmp_path / "snapshots" / "policywatch.db"


TARGET = '[[targets]]\nname = "a"\nurl = "https://example.com/a"\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alert_on = \n", "invalid TOML"),
        ('[[targets]]\nname = "a"\n', "targets['a'].url: missing"),
        (TARGET + TARGET, "targets[1].name: duplicate target name 'a'"),
        (TARGET + 'select = ["div[[["]\n', "targets['a'].select:"),
        (TARGET + 'select = ["//div[@"]\n', "targets['a'].select:"),
        ('alert_on = "sometimes"\n', "alert_on: expected one of material, any"),
        ('schedul = "1d"\n', "schedul: unknown key (did you mean 'schedule'?)"),
        (TARGET + 'schedule = "every day"\n', "targets['a'].schedule: expected an interval"),
        ('[[targets]]\nname = "a"\nurl = "ftp://x/y"\n', "targets['a'].url: expected an http"),
        ('[notify]\nurls = ["json://h/${NOT_SET_ANYWHERE}"]\n', "NOT_SET_ANYWHERE is not set"),
    ],
)
def test_invalid_configuration_is_one_line_naming_file_and_key(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and expected in message
    assert "\n" not in message

    result = subprocess.run(
        [sys.executable, "-m", "monitor", "crawl", "--config", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"Error: {message}"]
    assert not (tmp_path / "snapshots").exists()


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")
