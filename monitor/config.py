"""config.toml, read once into typed objects.

No other module reads TOML or the environment for settings: everything a crawl needs is in a
`Config`. Every mistake is a `ConfigError` whose message is one line naming the file and the key.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.normalize import ExtractionError, Selection, validate_selector
from monitor.schedule import ScheduleError, parse_schedule

CONFIG_ENV = "POLICYWATCH_CONFIG"
DEFAULT_CONFIG = "config.toml"
DEFAULT_STORE = "snapshots/policywatch.db"
ALERT_ON = ("material", "any")
DEFAULT_SCHEDULE = "1d"

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

DEFAULT_DIGEST_THRESHOLD = 5
DEFAULT_FAILURE_THRESHOLD = 3

_TOP_KEYS = {
    "storage",
    "notify",
    "alert_on",
    "schedule",
    "day_first",
    "targets",
    "digest_threshold",
    "failure_threshold",
}
_STORAGE_KEYS = {"path"}
_NOTIFY_KEYS = {"urls", "config"}
_NOTIFY_URL_KEYS = {"url", "tags"}
_TARGET_KEYS = {"name", "url", "select", "remove", "alert_on", "schedule", "day_first", "tags"}


class ConfigError(ValueError):
    """A configuration mistake; `str()` is the one-line message users see."""


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    selection: Selection
    alert_on: str
    schedule: str
    day_first: bool | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Destination:
    """One Apprise URL and its tags. A target without tags is sent to the untagged URLs; a
    target with tags to the URLs sharing one of them (Apprise's own rule)."""

    url: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    path: Path
    store_path: Path
    destinations: tuple[Destination, ...]
    alert_on: str
    schedule: str
    targets: tuple[Target, ...]
    digest_threshold: int = DEFAULT_DIGEST_THRESHOLD
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD

    @property
    def notify_urls(self) -> tuple[str, ...]:
        return tuple(d.url for d in self.destinations)

    def pick(self, names: list[str] | tuple[str, ...]) -> tuple[Target, ...]:
        """The named targets, in the order given; all targets when no name is given."""
        if not names:
            return self.targets
        by_name = {t.name: t for t in self.targets}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(
                f"{self.path}: no target named {unknown[0]!r}{_did_you_mean(unknown[0], by_name)}"
            )
        return tuple(by_name[n] for n in names)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: the explicit path, then $POLICYWATCH_CONFIG, then ./config.toml."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    file = config_path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: file not found") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{file}: invalid TOML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file}: cannot read: {err}") from None
    return parse_config(raw, file)


def parse_config(raw: Mapping[str, Any], file: Path) -> Config:
    _check_keys(raw, _TOP_KEYS, file, "")
    storage = _table(raw, "storage", file)
    notify = _table(raw, "notify", file)
    _check_keys(storage, _STORAGE_KEYS, file, "storage.")
    _check_keys(notify, _NOTIFY_KEYS, file, "notify.")

    store_value = _string(storage, "path", file, "storage.path", default=DEFAULT_STORE)
    store_path = Path(store_value)
    if not store_path.is_absolute():
        store_path = file.parent / store_path

    destinations = _destinations(notify, file)
    digest_threshold = _positive_int(raw, "digest_threshold", file, DEFAULT_DIGEST_THRESHOLD)
    failure_threshold = _positive_int(raw, "failure_threshold", file, DEFAULT_FAILURE_THRESHOLD)

    alert_on = _alert_on(raw, file, "alert_on", "material")
    schedule = _schedule(raw, file, "schedule", DEFAULT_SCHEDULE)
    day_first = _optional_bool(raw, "day_first", file, "day_first")

    raw_targets = raw.get("targets", [])
    if not isinstance(raw_targets, list):
        raise ConfigError(f"{file}: targets: expected [[targets]] tables")
    targets: list[Target] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw_targets):
        key = f"targets[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{file}: {key}: expected a table")
        target = _target(entry, file, key, alert_on, schedule, day_first)
        if target.name in seen:
            raise ConfigError(f"{file}: {key}.name: duplicate target name {target.name!r}")
        seen.add(target.name)
        targets.append(target)
    return Config(
        path=file,
        store_path=store_path,
        destinations=destinations,
        alert_on=alert_on,
        schedule=schedule,
        targets=tuple(targets),
        digest_threshold=digest_threshold,
        failure_threshold=failure_threshold,
    )


def _destinations(notify: Mapping[str, Any], file: Path) -> tuple[Destination, ...]:
    """`notify.urls` (strings, or `{url = "...", tags = [...]}` tables) then the URLs of the
    Apprise configuration file `notify.config` (YAML or text, with its own tags)."""
    urls = notify.get("urls", [])
    if not isinstance(urls, list):
        raise ConfigError(f"{file}: notify.urls: expected a list of Apprise URLs")
    destinations = []
    for index, entry in enumerate(urls):
        key = f"notify.urls[{index}]"
        if isinstance(entry, dict):
            _check_keys(entry, _NOTIFY_URL_KEYS, file, f"{key}.")
            url = _string(entry, "url", file, f"{key}.url")
            tags = _tags(entry, file, f"{key}.tags")
        elif isinstance(entry, str):
            url, tags = entry, ()
        else:
            raise ConfigError(f"{file}: {key}: expected a URL or {{url = ..., tags = [...]}}")
        destinations.append(Destination(_expand_env(url, file, key), tags))
    if "config" in notify:
        destinations += _apprise_config_file(notify, file)
    return tuple(destinations)


def _apprise_config_file(notify: Mapping[str, Any], file: Path) -> list[Destination]:
    import apprise

    path = Path(_string(notify, "config", file, "notify.config"))
    path = path if path.is_absolute() else file.parent / path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{file}: notify.config: cannot read {path}: {err.strerror}") from None
    loaded = apprise.AppriseConfig(recursion=0)
    if not loaded.add_config(_expand_env(text, file, f"notify.config ({path.name})")):
        raise ConfigError(f"{file}: notify.config: {path} is not an Apprise configuration")
    services = apprise.Apprise()
    services.add(loaded)
    if not len(services):
        raise ConfigError(f"{file}: notify.config: {path} holds no valid Apprise URL")
    return [
        Destination(service.url(privacy=False), tuple(sorted(str(t) for t in service.tags)))
        for service in services
    ]


def _tags(raw: Mapping[str, Any], file: Path, key: str) -> tuple[str, ...]:
    value = raw.get("tags", [])
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise ConfigError(f"{file}: {key}: expected a list of tag names")
    return tuple(t.strip() for t in value)


def _positive_int(raw: Mapping[str, Any], name: str, file: Path, default: int) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{file}: {name}: expected a whole number of at least 1, got {value!r}")
    return value


def _target(
    entry: dict[str, Any],
    file: Path,
    key: str,
    alert_on: str,
    schedule: str,
    day_first: bool | None,
) -> Target:
    _check_keys(entry, _TARGET_KEYS, file, f"{key}.")
    name = _string(entry, "name", file, f"{key}.name")
    key = f"targets[{name!r}]" if name else key
    url = _string(entry, "url", file, f"{key}.url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{file}: {key}.url: expected an http:// or https:// URL, got {url!r}")
    selectors = {}
    for field in ("select", "remove"):
        value = entry.get(field)
        if value is None:
            continue
        items = [value] if isinstance(value, str | dict) else value
        if not isinstance(items, list) or not all(isinstance(i, str | dict) for i in items):
            raise ConfigError(f"{file}: {key}.{field}: expected a selector or a list of them")
        for item in items:
            for selector in item.values() if isinstance(item, dict) else [item]:
                try:
                    validate_selector(selector)
                except ExtractionError as err:
                    raise ConfigError(f"{file}: {key}.{field}: {err}") from None
        selectors[field] = value
    try:
        selection = Selection.from_config(selectors.get("select"), selectors.get("remove"))
    except (ExtractionError, KeyError, TypeError, ValueError) as err:
        raise ConfigError(f"{file}: {key}: invalid selection: {err}") from None
    return Target(
        name=name,
        url=url,
        selection=selection,
        alert_on=_alert_on(entry, file, f"{key}.alert_on", alert_on),
        schedule=_schedule(entry, file, f"{key}.schedule", schedule),
        day_first=_optional_bool(entry, "day_first", file, f"{key}.day_first", day_first),
        tags=_tags(entry, file, f"{key}.tags"),
    )


def _table(raw: Mapping[str, Any], name: str, file: Path) -> Mapping[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{file}: {name}: expected a table [{name}]")
    return value


def _check_keys(raw: Mapping[str, Any], allowed: set[str], file: Path, prefix: str) -> None:
    for key in raw:
        if key not in allowed:
            raise ConfigError(f"{file}: {prefix}{key}: unknown key{_did_you_mean(key, allowed)}")


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _string(
    raw: Mapping[str, Any], name: str, file: Path, key: str, default: str | None = None
) -> str:
    value = raw.get(name, default)
    if value is None:
        raise ConfigError(f"{file}: {key}: missing")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{file}: {key}: expected a non-empty string")
    return value.strip()


def _optional_bool(
    raw: Mapping[str, Any], name: str, file: Path, key: str, default: bool | None = None
) -> bool | None:
    value = raw.get(name, default)
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{file}: {key}: expected true or false")
    return value


def _alert_on(raw: Mapping[str, Any], file: Path, key: str, default: str) -> str:
    value = raw.get(key.rsplit(".", 1)[-1], default)
    if value not in ALERT_ON:
        raise ConfigError(f"{file}: {key}: expected one of {', '.join(ALERT_ON)}, got {value!r}")
    return value


def _schedule(raw: Mapping[str, Any], file: Path, key: str, default: str) -> str:
    value = raw.get(key.rsplit(".", 1)[-1], default)
    if not isinstance(value, str) or not is_valid_schedule(value):
        raise ConfigError(
            f"{file}: {key}: expected an interval like '6h' or a cron expression"
            f" like '0 9 * * MON', got {value!r}"
        )
    return value


def is_valid_schedule(value: str) -> bool:
    try:
        parse_schedule(value)
    except ScheduleError:
        return False
    return True


def _expand_env(value: str, file: Path, key: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"{file}: {key}: environment variable {name} is not set")
        return os.environ[name]

    return _ENV_REFERENCE.sub(substitute, value)
