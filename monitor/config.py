"""config.toml, read once into typed objects.

No other module reads TOML or the environment for settings: everything a crawl needs is in a
`Config`. Every mistake is a `ConfigError` whose message is one line naming the file and the key.
"""

from __future__ import annotations

import ast
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
REDIS_ENV = "POLICYWATCH_REDIS"
DEFAULT_CONFIG = "config.toml"
DEFAULT_STORE = "snapshots/policywatch.db"
ALERT_ON = ("material", "any")
DEFAULT_SCHEDULE = "1d"

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

DEFAULT_DIGEST_THRESHOLD = 5
DEFAULT_FAILURE_THRESHOLD = 3
DEFAULT_TIMEOUT = 30.0  # seconds for one download (headers and body), per attempt
DEFAULT_CONFIRM_COLLAPSE = 2  # fetches in a row a collapsed text needs to become a version
ON_REVERT = ("quiet", "alert")
DEFAULT_RECENT_VERSIONS = 5  # distinct texts a fetch is compared with before it counts as new
DEFAULT_CONFIRM_DELAY = 2.0  # seconds before the fetch that confirms a changed text
MAX_CONFIRM_DELAY = 60.0
DEFAULT_RESULT_TIMEOUT = 300.0  # seconds a cluster worker may hold a target without answering
DEFAULT_CLUSTER_PREFIX = "policywatch"

_TOP_KEYS = {
    "storage",
    "notify",
    "alert_on",
    "schedule",
    "day_first",
    "targets",
    "digest_threshold",
    "failure_threshold",
    "timeout",
    "confirm_collapse",
    "allow_file_urls",
    "render",
    "cluster",
    "on_revert",
    "recent_versions",
    "confirm_changes",
    "confirm_delay",
    "crawl",
}
_STORAGE_KEYS = {"path"}
_CLUSTER_KEYS = {"redis", "result_timeout", "prefix"}
_NOTIFY_KEYS = {"urls", "config"}
_NOTIFY_URL_KEYS = {"url", "tags"}
_TARGET_KEYS = {
    "name",
    "url",
    "select",
    "remove",
    "alert_on",
    "schedule",
    "day_first",
    "tags",
    "timeout",
    "confirm_collapse",
    "render",
    "wait_for",
    "region",
    "on_revert",
    "recent_versions",
    "confirm_changes",
    "confirm_delay",
    "headers",
    "user_agent",
    "download_delay",
    "obey_robots",
}
_CRAWL_KEYS = {
    "user_agent",
    "obey_robots",
    "concurrent_requests",
    "concurrent_requests_per_domain",
    "download_delay",
    "autothrottle",
    "autothrottle_target_concurrency",
    "autothrottle_max_delay",
}


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
    timeout: float = DEFAULT_TIMEOUT
    confirm_collapse: int = DEFAULT_CONFIRM_COLLAPSE
    render: bool = False  # fetched in Chromium, after its scripts ran (monitor/render.py)
    wait_for: str | None = None  # rendering: wait for this selector, not for network idle
    region: str | None = None  # cluster: only workers started with this region fetch it
    # Flip-flops and glitches (monitor/variants.py, watch.record): a return to one of the last
    # `recent_versions` texts alerts only with on_revert = "alert"; a changed text becomes a
    # version only when a second fetch `confirm_delay` seconds later agrees.
    on_revert: str = "quiet"
    recent_versions: int = DEFAULT_RECENT_VERSIONS
    confirm_changes: bool = True
    confirm_delay: float = DEFAULT_CONFIRM_DELAY
    # Request settings: extra headers (Accept-Language, a consent cookie), the User-Agent
    # (None: the crawl's), a delay between requests to its host, robots.txt.
    headers: tuple[tuple[str, str], ...] = ()
    user_agent: str | None = None
    download_delay: float | None = None
    obey_robots: bool = True


@dataclass(frozen=True)
class Destination:
    """One Apprise URL and its tags. A target without tags is sent to the untagged URLs; a
    target with tags to the URLs sharing one of them (Apprise's own rule)."""

    url: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterSettings:
    """`[cluster]`: fetching runs on `policywatch worker` processes that share a Redis server
    (monitor/cluster.py); storing stays in the crawl that hands out the work."""

    redis: str  # redis:// or rediss:// URL; may hold a password (shown only redacted)
    result_timeout: float = DEFAULT_RESULT_TIMEOUT
    prefix: str = DEFAULT_CLUSTER_PREFIX  # of every Redis key, so deployments can share a server


@dataclass(frozen=True)
class CrawlSettings:
    """`[crawl]`: politeness for the whole crawl, mapped onto Scrapy's own settings, and the
    defaults of the targets' `user_agent` and `obey_robots`."""

    user_agent: str | None = None
    obey_robots: bool = True
    concurrent_requests: int | None = None
    concurrent_requests_per_domain: int | None = None
    download_delay: float | None = None
    autothrottle: bool | None = None
    autothrottle_target_concurrency: float | None = None
    autothrottle_max_delay: float | None = None

    def scrapy_settings(self) -> dict[str, Any]:
        """The Scrapy settings this table sets (the others keep crawler/settings.py's)."""
        names = {
            "concurrent_requests": "CONCURRENT_REQUESTS",
            "concurrent_requests_per_domain": "CONCURRENT_REQUESTS_PER_DOMAIN",
            "download_delay": "DOWNLOAD_DELAY",
            "autothrottle": "AUTOTHROTTLE_ENABLED",
            "autothrottle_target_concurrency": "AUTOTHROTTLE_TARGET_CONCURRENCY",
            "autothrottle_max_delay": "AUTOTHROTTLE_MAX_DELAY",
        }
        settings = {name: getattr(self, key) for key, name in names.items()}
        return {name: value for name, value in settings.items() if value is not None}


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
    allow_file_urls: bool = False
    cluster: ClusterSettings | None = None
    crawl: CrawlSettings = CrawlSettings()

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
    """The configuration in `path`; a ConfigError names the file, and the line where the
    mistake is (`config.toml:12: targets['x'].url: ...`) whenever the line can be found."""
    file = config_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{file}: cannot read: {err}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(_syntax_error(file, err)) from None
    try:
        return parse_config(raw, file)
    except ConfigError as err:
        raise ConfigError(with_line(str(err), file, text)) from None


_TOML_POSITION = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$")


def _syntax_error(file: Path, err: tomllib.TOMLDecodeError) -> str:
    position = _TOML_POSITION.match(str(err))
    if position is None:
        return f"{file}: invalid TOML: {err}"
    return f"{file}:{position['line']}:{position['column']}: invalid TOML: {position['message']}"


# -- where a key is in the file: for messages `config.toml:12: targets['x'].url: ...` -------

_TABLE_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")
_KEY_PART = re.compile(
    r"\.?(?P<bare>[A-Za-z_][\w-]*)|\[(?P<index>\d+)\]"
    r"""|\[(?P<name>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]"""
)

KeyPath = tuple[str | int, ...]


class _Named(str):
    """A key part that picks an array table by its `name` (`targets['x']`)."""


def with_line(message: str, file: Path, text: str) -> str:
    """`message` ("FILE: KEY: problem") as "FILE:LINE: KEY: problem" when KEY is found in
    `text`; unchanged otherwise."""
    prefix = f"{file}: "
    if not message.startswith(prefix):
        return message
    rest = message[len(prefix) :]
    line = key_line(text, rest.split(": ", 1)[0])
    return f"{file}:{line}: {rest}" if line else message


def key_line(text: str, key: str) -> int | None:
    """The line of `key` (as messages spell it: `schedule`, `notify.urls[0]`,
    `targets[2].name`, `targets['x'].url`) in the TOML `text`: the line of the key itself, else
    of the nearest enclosing table or key."""
    path: list[str | int] = []
    position = 0
    while position < len(key):
        part = _KEY_PART.match(key, position)
        if part is None or part.end() == position:
            break
        if part["bare"]:
            path.append(part["bare"])
        elif part["index"]:
            path.append(int(part["index"]))
        else:
            path.append(_Named(ast.literal_eval(part["name"])))
        position = part.end()
    lines, named = _key_lines(text)
    resolved: list[str | int] = []
    for part in path:
        if isinstance(part, _Named):  # targets['x']: the array table whose name is 'x'
            table = named.get((*resolved, str(part)))
            if table is None:
                break
            resolved = list(table)
        else:
            resolved.append(part)
    for end in range(len(resolved), 0, -1):
        line = lines.get(tuple(resolved[:end]))
        if line is not None:
            return line
    return None


def _key_lines(text: str) -> tuple[dict[KeyPath, int], dict[KeyPath, KeyPath]]:
    """The first line of every table and key of the file, by path (an array table's path
    ends with its index); and each array table's path by its path prefix and `name`."""
    lines: dict[KeyPath, int] = {}
    named: dict[KeyPath, KeyPath] = {}
    counts: dict[KeyPath, int] = {}
    table: KeyPath = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _TABLE_HEADER.match(line)
        if header:
            name = tuple(part.strip().strip("\"'") for part in header[2].split("."))
            if header[1] == "[[":
                counts[name] = counts.get(name, 0) + 1
                table = (*name, counts[name] - 1)
            else:
                table = name
            lines.setdefault(table, number)
            continue
        key = _KEY_LINE.match(line)
        if key is None:
            continue
        name = key[1].strip("\"'")
        lines.setdefault((*table, name), number)
        if name == "name" and table and isinstance(table[-1], int):
            try:
                value = tomllib.loads(line.strip()).get("name")
            except tomllib.TOMLDecodeError:
                continue
            if isinstance(value, str):
                named.setdefault((*table[:-1], value.strip()), table)
    return lines, named


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
    timeout = _timeout(raw, file, "timeout", DEFAULT_TIMEOUT)
    confirm_collapse = _positive_int(raw, "confirm_collapse", file, DEFAULT_CONFIRM_COLLAPSE)
    allow_file_urls = bool(_optional_bool(raw, "allow_file_urls", file, "allow_file_urls"))
    render = bool(_optional_bool(raw, "render", file, "render"))

    alert_on = _alert_on(raw, file, "alert_on", "material")
    schedule = _schedule(raw, file, "schedule", DEFAULT_SCHEDULE)
    day_first = _optional_bool(raw, "day_first", file, "day_first")
    crawl = _crawl_settings(_table(raw, "crawl", file), file)
    fetch_defaults = _fetch_settings(raw, file, "", crawl_defaults(crawl))

    raw_targets = raw.get("targets", [])
    if not isinstance(raw_targets, list):
        raise ConfigError(f"{file}: targets: expected [[targets]] tables")
    targets: list[Target] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw_targets):
        key = f"targets[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{file}: {key}: expected a table")
        target = _target(
            entry,
            file,
            key,
            alert_on,
            schedule,
            day_first,
            timeout=timeout,
            confirm_collapse=confirm_collapse,
            allow_file_urls=allow_file_urls,
            render=render,
            fetch_defaults=fetch_defaults,
        )
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
        allow_file_urls=allow_file_urls,
        cluster=_cluster(_table(raw, "cluster", file), file),
        crawl=crawl,
    )


def load_worker_config(path: str | os.PathLike[str] | None = None) -> Config:
    """The configuration of a cluster worker: the file, which must have `[cluster]`, or —
    when no file is given and none is at the default place — $POLICYWATCH_REDIS alone (a
    worker needs no targets: they come with the work)."""
    file = config_path(path)
    if not file.exists() and os.environ.get(REDIS_ENV, "").strip() and path is None:
        return parse_config({}, file)
    config = load_config(path)
    if config.cluster is None:
        raise ConfigError(f"{file}: cluster.redis: missing (or set ${REDIS_ENV})")
    return config


def _cluster(raw: Mapping[str, Any], file: Path) -> ClusterSettings | None:
    """`[cluster] redis` (or $POLICYWATCH_REDIS when the file names none) turns cluster
    mode on; without either a crawl runs on this machine alone."""
    _check_keys(raw, _CLUSTER_KEYS, file, "cluster.")
    if "redis" in raw:
        url = _expand_env(_string(raw, "redis", file, "cluster.redis"), file, "cluster.redis")
    elif os.environ.get(REDIS_ENV, "").strip():
        url = os.environ[REDIS_ENV].strip()
    elif raw:
        raise ConfigError(f"{file}: cluster.redis: missing (or set ${REDIS_ENV})")
    else:
        return None
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        scheme = url.split("://", 1)[0] if "://" in url else url[:10]
        raise ConfigError(
            f"{file}: cluster.redis: expected a redis://, rediss:// or unix:// URL, got {scheme!r}"
        )
    prefix = _string(raw, "prefix", file, "cluster.prefix", default=DEFAULT_CLUSTER_PREFIX)
    if not re.fullmatch(r"[\w.-]+", prefix):
        raise ConfigError(f"{file}: cluster.prefix: letters, digits, '.', '_' or '-' only")
    result_timeout = raw.get("result_timeout", DEFAULT_RESULT_TIMEOUT)
    if isinstance(result_timeout, bool) or not isinstance(result_timeout, int | float):
        result_timeout = -1
    if not 0 < result_timeout <= 24 * 3600:
        raise ConfigError(
            f"{file}: cluster.result_timeout: expected seconds between 0 and 86400,"
            f" got {raw['result_timeout']!r}"
        )
    return ClusterSettings(redis=url, result_timeout=float(result_timeout), prefix=prefix)


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
        url = _expand_env(url, file, key)
        _check_apprise_url(url, file, key)
        destinations.append(Destination(url, tags))
    if "config" in notify:
        destinations += _apprise_config_file(notify, file)
    return tuple(destinations)


def _check_apprise_url(url: str, file: Path, key: str) -> None:
    """An Apprise URL of a known service whose parts that service accepts. The message names
    the scheme only: the rest of the URL may hold a token."""
    import apprise
    from apprise.manager_plugins import NotificationManager

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    schemes = NotificationManager().schemas()
    if scheme not in schemes:
        shown = f"{scheme}://" if scheme else "a URL without a scheme"
        hint = _did_you_mean(scheme, schemes) if scheme else ""
        raise ConfigError(f"{file}: {key}: unknown Apprise scheme: {shown}{hint}")
    if apprise.Apprise.instantiate(url) is None:
        raise ConfigError(
            f"{file}: {key}: not a valid {scheme}:// Apprise URL (see the Apprise wiki for it)"
        )


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


def _positive_int(
    raw: Mapping[str, Any], name: str, file: Path, default: int, key: str | None = None
) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"{file}: {key or name}: expected a whole number of at least 1, got {value!r}"
        )
    return value


MAX_TIMEOUT = 600.0


def _timeout(raw: Mapping[str, Any], file: Path, key: str, default: float) -> float:
    value = raw.get("timeout", default)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (0 < value <= MAX_TIMEOUT)
    ):
        raise ConfigError(
            f"{file}: {key}: expected seconds between 0 and {MAX_TIMEOUT:g}, got {value!r}"
        )
    return float(value)


def _target_url(url: str, file: Path, key: str, allow_file_urls: bool) -> str:
    """An absolute http(s) URL with a host (and a valid port), or a file:// URL when the
    configuration says `allow_file_urls = true`."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if not allow_file_urls:
            raise ConfigError(
                f"{file}: {key}: file:// URLs are read only with allow_file_urls = true"
                " at the top of the configuration"
            )
        if not parts.path:
            raise ConfigError(f"{file}: {key}: expected a file path after file://, got {url!r}")
        return url
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{file}: {key}: expected an http:// or https:// URL, got {url!r}")
    if re.search(r"\s", url):
        raise ConfigError(f"{file}: {key}: a URL cannot contain spaces, got {url!r}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1 or port == 0:
        raise ConfigError(f"{file}: {key}: expected a host name and a valid port, got {url!r}")
    return url


def _target(
    entry: dict[str, Any],
    file: Path,
    key: str,
    alert_on: str,
    schedule: str,
    day_first: bool | None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    confirm_collapse: int = DEFAULT_CONFIRM_COLLAPSE,
    allow_file_urls: bool = False,
    render: bool = False,
    fetch_defaults: Mapping[str, Any] | None = None,
) -> Target:
    name = _string(entry, "name", file, f"{key}.name")
    key = f"targets[{name!r}]" if name else key
    _check_keys(entry, _TARGET_KEYS, file, f"{key}.")
    url = _string(entry, "url", file, f"{key}.url")
    url = _target_url(url, file, f"{key}.url", allow_file_urls)
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
        timeout=_timeout(entry, file, f"{key}.timeout", timeout),
        confirm_collapse=_positive_int(
            entry, "confirm_collapse", file, confirm_collapse, key=f"{key}.confirm_collapse"
        ),
        **_rendering(entry, file, key, render),
        region=_region(entry, file, f"{key}.region"),
        **_fetch_settings(entry, file, f"{key}.", fetch_defaults or {}),
    )


def crawl_defaults(crawl: CrawlSettings) -> dict[str, Any]:
    """What a target takes from `[crawl]` unless it says otherwise."""
    return {"user_agent": crawl.user_agent, "obey_robots": crawl.obey_robots}


def _crawl_settings(raw: Mapping[str, Any], file: Path) -> CrawlSettings:
    _check_keys(raw, _CRAWL_KEYS, file, "crawl.")
    values: dict[str, Any] = {}
    if "user_agent" in raw:
        values["user_agent"] = _string(raw, "user_agent", file, "crawl.user_agent")
    for name in ("obey_robots", "autothrottle"):
        if name in raw:
            values[name] = _optional_bool(raw, name, file, f"crawl.{name}")
    for name in ("concurrent_requests", "concurrent_requests_per_domain"):
        if name in raw:
            values[name] = _positive_int(raw, name, file, 1, key=f"crawl.{name}")
    for name in ("download_delay", "autothrottle_target_concurrency", "autothrottle_max_delay"):
        if name in raw:
            values[name] = _seconds(raw, name, file, f"crawl.{name}", MAX_TIMEOUT)
    return CrawlSettings(**values)


def _fetch_settings(
    raw: Mapping[str, Any], file: Path, prefix: str, defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """The flip-flop, confirmation and request settings of a target (`prefix` "targets[..].")
    or of the whole configuration (the targets' defaults; `prefix` "")."""
    values = dict(defaults)
    if "on_revert" in raw:
        value = raw["on_revert"]
        if value not in ON_REVERT:
            raise ConfigError(
                f"{file}: {prefix}on_revert: expected one of {', '.join(ON_REVERT)}, got {value!r}"
            )
        values["on_revert"] = value
    if "recent_versions" in raw:
        values["recent_versions"] = _positive_int(
            raw, "recent_versions", file, DEFAULT_RECENT_VERSIONS, key=f"{prefix}recent_versions"
        )
    for name in ("confirm_changes", "obey_robots"):
        if name in raw:
            values[name] = _optional_bool(raw, name, file, f"{prefix}{name}")
    if "confirm_delay" in raw:
        values["confirm_delay"] = _seconds(
            raw, "confirm_delay", file, f"{prefix}confirm_delay", MAX_CONFIRM_DELAY
        )
    if not prefix:  # request settings are per target ([crawl] holds the crawl's defaults)
        return values
    if "download_delay" in raw:
        values["download_delay"] = _seconds(
            raw, "download_delay", file, f"{prefix}download_delay", MAX_TIMEOUT
        )
    if "user_agent" in raw:
        values["user_agent"] = _string(raw, "user_agent", file, f"{prefix}user_agent")
    if "headers" in raw:
        headers = raw["headers"]
        if not isinstance(headers, dict) or not all(
            isinstance(v, str) and _HEADER_NAME.fullmatch(k) and "\n" not in v and "\r" not in v
            for k, v in headers.items()
        ):
            raise ConfigError(
                f"{file}: {prefix}headers: expected a table of header names and one-line"
                ' strings, like {"Accept-Language" = "de-DE,de;q=0.9"}'
            )
        values["headers"] = tuple((k, v.strip()) for k, v in headers.items())
    return values


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _seconds(raw: Mapping[str, Any], name: str, file: Path, key: str, maximum: float) -> float:
    value = raw[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= maximum:
        raise ConfigError(
            f"{file}: {key}: expected a number between 0 and {maximum:g}, got {value!r}"
        )
    return float(value)


def _region(entry: Mapping[str, Any], file: Path, key: str) -> str | None:
    """A cluster region: a short name a worker is started with (`worker --region NAME`)."""
    if "region" not in entry:
        return None
    region = _string(entry, "region", file, key)
    if not re.fullmatch(r"[\w.-]{1,64}", region):
        raise ConfigError(f"{file}: {key}: letters, digits, '.', '_' or '-' only, got {region!r}")
    return region


def _rendering(entry: Mapping[str, Any], file: Path, key: str, default: bool) -> dict[str, Any]:
    """`render` (the configuration's default unless the target says otherwise) and
    `wait_for`, a CSS or XPath selector that only a rendered target can wait for."""
    render = bool(_optional_bool(entry, "render", file, f"{key}.render", default))
    if "wait_for" not in entry:
        return {"render": render}
    wait_for = _string(entry, "wait_for", file, f"{key}.wait_for")
    if not render:
        raise ConfigError(f"{file}: {key}.wait_for: only rendered targets wait; set render = true")
    try:
        validate_selector(wait_for)
    except ExtractionError as err:
        raise ConfigError(f"{file}: {key}.wait_for: {err}") from None
    return {"render": render, "wait_for": wait_for}


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
