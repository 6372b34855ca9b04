"""Compressed blobs, optionally as a delta against a base blob (the store's history format).

Consecutive versions of a policy, and consecutive fetches of its page, are nearly identical.
Compressing each one with an earlier one as a raw-content dictionary stores what is new and
little else: a one-sentence edit of a 60 kB policy costs a few dozen bytes. zstd (the
`zstandard` package) is used when installed; zlib otherwise, whose dictionary is limited to
the base's last 32 kB. The codec name is stored beside each blob, so a store written with one
is read with the same.
"""

from __future__ import annotations

import zlib

try:
    import zstandard
except ImportError:  # pragma: no cover - zstandard is a dependency; zlib keeps old installs going
    zstandard = None

ZSTD, ZLIB = "zstd", "zlib"
DEFAULT_CODEC = ZSTD if zstandard is not None else ZLIB
ZSTD_LEVEL = 3  # zstd's default: half the time of level 6 for blobs 1.5% larger on policy pages
ZLIB_LEVEL = 9
ZLIB_WINDOW = 32 * 1024


class PackingError(ValueError):
    """A blob that cannot be read with the codecs installed here."""


def pack(data: bytes, base: bytes | None = None, codec: str = DEFAULT_CODEC) -> bytes:
    """`data` compressed; with `base`, compressed against it (unpack needs the same base)."""
    if codec == ZSTD:
        if zstandard is None:
            raise PackingError("zstd blobs need the zstandard package")
        dictionary = _zstd_dictionary(base)
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=dictionary).compress(data)
    if codec == ZLIB:
        packer = (
            zlib.compressobj(ZLIB_LEVEL, zdict=base[-ZLIB_WINDOW:])
            if base
            else zlib.compressobj(ZLIB_LEVEL)
        )
        return packer.compress(data) + packer.flush()
    raise PackingError(f"unknown codec {codec!r}")


def unpack(blob: bytes, base: bytes | None = None, codec: str = DEFAULT_CODEC) -> bytes:
    if codec == ZSTD:
        if zstandard is None:
            raise PackingError("zstd blobs need the zstandard package")
        dictionary = _zstd_dictionary(base)
        return zstandard.ZstdDecompressor(dict_data=dictionary).decompressobj().decompress(blob)
    if codec == ZLIB:
        unpacker = zlib.decompressobj(zdict=base[-ZLIB_WINDOW:]) if base else zlib.decompressobj()
        return unpacker.decompress(blob) + unpacker.flush()
    raise PackingError(f"unknown codec {codec!r}")


def _zstd_dictionary(base: bytes | None):  # -> zstandard.ZstdCompressionDict | None
    if not base:
        return None
    return zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
