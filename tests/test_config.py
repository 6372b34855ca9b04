"""Configuration: the contract keys, and one-line errors naming the file and key (exit 2)."""

from __future__ import annotations

import re
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
    ("text", "where", "expected"),
    [
        ("alert_on = \n", ":1:12: ", "invalid TOML: Invalid value"),
        ('[[targets]]\nname = "a"\n', ":1: ", "targets['a'].url: missing"),
        (TARGET + TARGET, ":5: ", "targets[1].name: duplicate target name 'a'"),
        (TARGET + 'select = ["div[[["]\n', ":4: ", "targets['a'].select:"),
        (TARGET + 'select = ["//div[@"]\n', ":4: ", "targets['a'].select:"),
        ('alert_on = "sometimes"\n', ":1: ", "alert_on: expected one of material, any"),
        ('\nschedul = "1d"\n', ":2: ", "schedul: unknown key (did you mean 'schedule'?)"),
        (TARGET + 'schedule = "every day"\n', ":4: ", "targets['a'].schedule: expected an"),
        (TARGET + 'schedule = "0 25 * * *"\n', ":4: ", "targets['a'].schedule: expected an"),
        ('[[targets]]\nname = "a"\nurl = "ftp://x/y"\n', ":3: ", "expected an http"),
        ('[[targets]]\nname = "a"\nurl = "https:///p"\n', ":3: ", "targets['a'].url: expected"),
        ('[[targets]]\nname = "a"\nurl = "http://h:99999/"\n', ":3: ", "a valid port"),
        ('[[targets]]\nname = "a"\nurl = "http://h/a b"\n', ":3: ", "cannot contain spaces"),
        ('[[targets]]\nname = "a"\nurl = "file:///etc/passwd"\n', ":3: ", "allow_file_urls = true"),
        (TARGET + "timeout = 0\n", ":4: ", "targets['a'].timeout: expected seconds between 0"),
        (TARGET + "timeuot = 5\n", ":4: ", "a'].timeuot: unknown key (did you mean 'timeout'?)"),
        ("confirm_collapse = 0\n", ":1: ", "confirm_collapse: expected a whole number"),
        ("allow_file_urls = 1\n", ":1: ", "allow_file_urls: expected true or false"),
        ('[notify]\nurls = ["json://h/${NOT_SET_ANYWHERE}"]\n', ":2: ", "NOT_SET_ANYWHERE is"),
        ('[notify]\n\nurls = ["jsno://127.0.0.1/hook"]\n', ":3: ",
         "urls[0]: unknown Apprise scheme: jsno:// (did you mean 'json'?)"),
        ('[notify]\nurls = ["hook.example.com/x"]\n', ":2: ", "a URL without a scheme"),
        ('[notify]\nurls = ["tgram://"]\n', ":2: ", "not a valid tgram:// Apprise URL"),
        ('[storage]\npath = 3\n', ":2: ", "storage.path: expected a non-empty string"),
    ],
)  # fmt: skip
def test_invalid_configuration_is_one_line_naming_file_line_and_key(
    tmp_path, text, where, expected
):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}{where}") and expected in message, message
    assert "\n" not in message

    result = subprocess.run(
        [sys.executable, "-m", "monitor", "crawl", "--config", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"Error: {message}"]
    assert not (tmp_path / "snapshots").exists()


MANY_TARGETS = """\
# policies we watch
[storage]
path = "store.db"

[[targets]]
name = "first"
url = "https://example.com/first"

[[targets]]
name = "second"   # the one with a typo below
url = "https://example.com/second"
select = "main"
alert_on = "allways"

[[targets]]
name = "third"
url = "htps://example.com/third"
"""


@pytest.mark.parametrize(
    ("fix", "line", "key"),
    [
        (None, 13, "targets['second'].alert_on"),
        (('"allways"', '"any"'), 17, "targets['third'].url"),
    ],
)
def test_error_line_points_into_the_right_target_table(tmp_path, fix, line, key):
    path = tmp_path / "config.toml"
    path.write_text(MANY_TARGETS.replace(*fix) if fix else MANY_TARGETS)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:{line}: {re.escape(key)}: "):
        load_config(path)


def test_timeout_confirm_collapse_and_file_urls_are_read(tmp_path):
    page = tmp_path / "policy.html"
    page.write_text("<p>policy</p>")
    path = tmp_path / "c.toml"
    path.write_text(
        f"timeout = 2.5\nconfirm_collapse = 3\nallow_file_urls = true\n"
        f'[[targets]]\nname = "a"\nurl = "{page.as_uri()}"\n'
        f'[[targets]]\nname = "b"\nurl = "https://example.com/b"\ntimeout = 60\n'
        "confirm_collapse = 1\n"
    )
    config = load_config(path)
    a, b = config.targets
    assert config.allow_file_urls
    assert (a.url, a.timeout, a.confirm_collapse) == (page.as_uri(), 2.5, 3)
    assert (b.timeout, b.confirm_collapse) == (60.0, 1)
    default = load_config(write_minimal(tmp_path)).targets[0]
    assert (default.timeout, default.confirm_collapse) == (30.0, 2)


def write_minimal(tmp_path: Path) -> Path:
    path = tmp_path / "minimal.toml"
    path.write_text(TARGET)
    return path


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")
