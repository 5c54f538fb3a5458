"""The public surface of ragstream.loaders, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ragstream.loaders
from ragstream.errors import SourceError
from ragstream.loaders import LoadError


def test_public_names() -> None:
    assert sorted(ragstream.loaders.__all__) == [
        "AddressGuard",
        "BaseLoader",
        "DirectoryLoader",
        "FileLoader",
        "LoadError",
        "PublicOnlyGuard",
        "URLGuard",
        "WebBaseLoader",
        "public_only_guard",
    ]
    for name in ragstream.loaders.__all__:
        assert getattr(ragstream.loaders, name) is not None


def test_import_leaves_httpx_pypdf_and_bs4_for_later() -> None:
    code = (
        "import sys, ragstream.loaders; "
        "print(sorted(m for m in ('httpx', 'pypdf', 'bs4') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_load_error_carries_failures_and_documents() -> None:
    failures = [SourceError("a.txt", "binary file, not text"), SourceError("b.md", "empty")]
    error = LoadError(failures, documents=[])
    assert isinstance(error, SourceError)
    assert error.failures == failures and error.loaded == 0
    assert error.source == "a.txt, b.md"
    assert str(error) == (
        "loaded 0 documents, failed 2 sources: a.txt: binary file, not text; b.md: empty"
    )
    assert str(LoadError(failures[:1], loaded=1)).startswith("loaded 1 document, failed 1 source:")
    with pytest.raises(ValueError, match="at least one failure"):
        LoadError([])
