"""Decoding and metadata on plain bytes and strings, no I/O."""

from __future__ import annotations

import codecs

import pytest

from ragstream.errors import ConfigError, SourceError
from ragstream.loaders._html import (
    decode_html,
    looks_binary,
    normalize_encoding,
    page_metadata,
    parse_html,
)


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("utf-8", "utf_8"),
        ("UTF8", "utf_8"),
        ('"iso-8859-1"', "cp1252"),  # browsers read Latin-1 as windows-1252
        ("us-ascii", "cp1252"),
        ("Shift_JIS", "cp932"),
        ("x-sjis", "cp932"),
        ("euc-kr", "cp949"),
        ("gb2312", "gb18030"),
        ("koi8-r", "koi8_r"),
        ("base64", None),  # a codec, but not a text encoding
        ("rot13", None),
        ("no-such-charset", None),
        ("", None),
        (None, None),
    ],
)
def test_normalize_encoding(label: str | None, codec: str | None) -> None:
    assert normalize_encoding(label) == codec


def test_order_forced_then_header_then_bom_then_meta_then_detection() -> None:
    meta_utf8 = '<meta charset="utf-8"><p>Grüße</p>'
    latin = meta_utf8.encode("latin-1")
    assert decode_html(latin, http_charset="latin1") == (meta_utf8, "cp1252")
    assert decode_html(latin, http_charset="latin1", forced="utf-8")[1] == "utf_8"
    # an unknown header charset falls through to the next clue
    assert decode_html(latin, http_charset="bogus")[1] == "utf_8"
    assert decode_html(codecs.BOM_UTF8 + "<p>é</p>".encode()) == ("<p>é</p>", "utf-8")
    utf16 = codecs.BOM_UTF16_LE + "<p>é</p>".encode("utf-16-le")
    assert decode_html(utf16) == ("<p>é</p>", "utf-16-le")


def test_meta_charset_forms() -> None:
    http_equiv = b'<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=euc-kr">'
    assert decode_html(http_equiv + "한국어".encode("euc-kr"))[1] == "cp949"
    assert decode_html(b"<meta charset=windows-1251>\xcf\xf0\xe8")[0].endswith("При")
    # a page can not really be UTF-16 if its <meta> reads as ASCII
    assert decode_html(b'<meta charset="utf-16"><p>ok</p>')[1] == "utf_8"
    # only the first 4 KiB are searched, as browsers do
    late = b" " * 5000 + b'<meta charset="koi8-r">'
    assert decode_html(late)[1] == "utf_8"


def test_detection_utf8_else_windows_1252() -> None:
    assert decode_html("naïve — 결과".encode()) == ("naïve — 결과", "utf_8")
    assert decode_html("naïve — façade".encode("cp1252")) == ("naïve — façade", "cp1252")


def test_declared_encoding_replaces_stray_bytes() -> None:
    text, _ = decode_html(b"ok \xff\xfe end", http_charset="utf-8")
    assert text == "ok \ufffd\ufffd end"


def test_looks_binary() -> None:
    assert looks_binary(b"GIF89a\x00\x01")
    assert not looks_binary(b"<html>plain</html>")
    assert not looks_binary(codecs.BOM_UTF16_LE + "text".encode("utf-16-le"))
    assert not looks_binary(b"x" * 9000 + b"\x00")  # only the start is sniffed


def test_page_metadata_reads_only_what_is_there() -> None:
    soup = parse_html(
        '<html lang="ko"><head><title>\n제목\n</title><meta name="description" content="">'
        "</head><body>본문</body></html>",
        source="s",
    )
    assert page_metadata(soup, "s") == {"source": "s", "title": "제목", "language": "ko"}
    assert page_metadata(parse_html("<p>x</p>", source="s"), "s") == {"source": "s"}


def test_parse_errors_name_what_to_fix() -> None:
    with pytest.raises(ConfigError, match="no parser 'nope'"):
        parse_html("<p>x</p>", source="s", parser="nope")
    with pytest.raises(ConfigError, match="bad bs_kwargs"):
        parse_html("<p>x</p>", source="s", bs_kwargs={"no_such_option": 1})
    assert issubclass(ConfigError, Exception) and not issubclass(ConfigError, SourceError)
