"""HTML bytes to text: decoding, parsing and metadata, with no I/O.

Decoding follows what browsers do, in this order: an encoding the caller
forces; the charset of the HTTP ``Content-Type``; a byte order mark; a
``<meta charset>`` (or ``http-equiv`` Content-Type) in the first 4 KiB; then
detection: UTF-8 if the bytes are valid UTF-8, else windows-1252, the web's
default for undeclared pages. A declared encoding decodes with replacement
characters for stray bytes, as a browser would, rather than failing the page.

Parsing and text extraction mirror the reference ``WebBaseLoader``:
``BeautifulSoup(text, parser, **bs_kwargs)`` then ``soup.get_text(**kwargs)``
(no separator by default: the page's own newlines separate its blocks), and
``title``/``description``/``language`` are read from the parsed soup, so a
``parse_only`` strainer that drops ``<head>`` drops them too.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from ragstream.errors import ConfigError, SourceError

__all__ = ["decode_html", "looks_binary", "normalize_encoding", "page_metadata", "parse_html"]

_PRESCAN_BYTES = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:+-]+)""", re.IGNORECASE
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels that browsers decode with a wider code page than the one named
# (the WHATWG Encoding Standard); Python's narrower codecs would mangle real pages.
_WIDER = {
    "ascii": "cp1252",
    "iso8859_1": "cp1252",
    "iso8859_9": "cp1254",
    "tis_620": "cp874",
    "iso8859_11": "cp874",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}
_UNKNOWN_TO_PYTHON = {"x-sjis": "cp932", "windows-31j": "cp932"}


def normalize_encoding(label: str | None) -> str | None:
    """The Python codec a browser would use for a charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(_UNKNOWN_TO_PYTHON.get(label, label)).name
    except LookupError:
        return None
    name = name.replace("-", "_")
    try:
        b"a".decode(name, errors="replace")  # codecs also holds non-text ones (base64, rot13)
    except LookupError:
        return None
    return _WIDER.get(name, name)


def _declared_in_meta(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:_PRESCAN_BYTES])
    if match is None:
        return None
    encoding = normalize_encoding(match.group(1).decode("ascii"))
    # a <meta> readable as ASCII cannot be in UTF-16; browsers read such pages as UTF-8
    if encoding is not None and encoding.startswith("utf_16"):
        return "utf_8"
    return encoding


def decode_html(
    data: bytes, *, http_charset: str | None = None, forced: str | None = None
) -> tuple[str, str]:
    """Decode an HTML page; return the text and the name of the encoding used."""
    for label in (forced, http_charset):
        encoding = normalize_encoding(label)
        if encoding is not None:
            return data.decode(encoding, errors="replace"), encoding
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace"), encoding
    encoding_or_none = _declared_in_meta(data)
    if encoding_or_none is not None:
        return data.decode(encoding_or_none, errors="replace"), encoding_or_none
    try:
        return data.decode("utf-8"), "utf_8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text in any encoding we read (a NUL in the first 8 KiB).

    UTF-16 text has NULs too, so a UTF-16 byte order mark exempts it.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\x00" in data[:8192]


def parse_html(
    text: str,
    *,
    source: str,
    parser: str = "html.parser",
    bs_kwargs: dict[str, Any] | None = None,
) -> Any:
    """Parse with BeautifulSoup, honouring ``bs_kwargs`` (``parse_only`` and the like)."""
    from bs4 import BeautifulSoup, FeatureNotFound

    kwargs = dict(bs_kwargs or {})
    features = kwargs.pop("features", parser)
    try:
        return BeautifulSoup(text, features, **kwargs)
    except FeatureNotFound as exc:
        raise ConfigError(f"BeautifulSoup has no parser {features!r}: {exc}") from exc
    except TypeError as exc:  # an argument BeautifulSoup does not take
        raise ConfigError(f"bad bs_kwargs for BeautifulSoup: {exc}") from exc
    except (ValueError, RecursionError, AssertionError) as exc:
        # the parser gave up on this page; the other pages of a batch still load
        raise SourceError(source, f"could not parse the HTML: {exc}") from exc


def page_metadata(soup: Any, source: str) -> dict[str, Any]:
    """``source``, then ``title``, ``description`` and ``language`` where the soup has them."""
    metadata: dict[str, Any] = {"source": source}
    title = soup.find("title")
    if title is not None:
        metadata["title"] = title.get_text().strip()
    description = soup.find("meta", attrs={"name": "description"})
    if description is not None and description.get("content"):
        metadata["description"] = str(description["content"]).strip()
    html = soup.find("html")
    if html is not None and html.get("lang"):
        metadata["language"] = str(html["lang"]).strip()
    return metadata
