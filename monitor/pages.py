"""Read one page for `inspect` and `compare`: a saved file, or a URL fetched once."""

from __future__ import annotations

import mimetypes
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    VERSION = version("policywatch")
except PackageNotFoundError:  # a checkout that was not installed
    VERSION = "0"

USER_AGENT = f"policywatch/{VERSION} (+https://github.com/policywatch/policywatch)"
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 20 * 1024 * 1024


class PageError(OSError):
    """The page could not be read; `str()` is a one-line reason."""


@dataclass(frozen=True)
class Page:
    body: bytes
    content_type: str | None
    url: str


def read_page(source: str) -> Page:
    if source.startswith(("http://", "https://")):
        return _fetch(source)
    path = Path(source)
    try:
        body = path.read_bytes()
    except OSError as err:
        raise PageError(err.strerror or str(err)) from None
    content_type, _ = mimetypes.guess_type(path.name)
    return Page(body=body, content_type=content_type, url=path.resolve().as_uri())


def _fetch(url: str) -> Page:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
            body = response.read(DOWNLOAD_MAXSIZE + 1)
            if len(body) > DOWNLOAD_MAXSIZE:
                raise PageError(f"larger than {DOWNLOAD_MAXSIZE} bytes")
            return Page(body, response.headers.get("content-type"), response.geturl())
    except urllib.error.HTTPError as err:
        raise PageError(f"HTTP {err.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise PageError(f"cannot fetch: {reason}") from None
