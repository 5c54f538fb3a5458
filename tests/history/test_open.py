"""Choosing a store from a location, the default path, and the incomplete-answer convention."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ragstream.errors import ConfigError, InputError
from ragstream.history import (
    PostgresChatHistory,
    SQLiteChatHistory,
    default_history_path,
    is_incomplete,
    mark_incomplete,
    open_history,
)
from ragstream.history._store import shorten_title
from ragstream.messages import AIMessage, AIMessageChunk, HumanMessage


def test_a_postgres_url_opens_postgres_and_is_shown_without_password() -> None:
    store = open_history("postgresql://app:pw@db.internal/chat")
    assert isinstance(store, PostgresChatHistory)
    assert repr(store) == "PostgresChatHistory('postgresql://app@db.internal:5432/chat')"
    assert isinstance(open_history("POSTGRES://db.internal:6000/chat"), PostgresChatHistory)


def test_anything_else_is_a_sqlite_path(tmp_path: Path) -> None:
    store = open_history(str(tmp_path / "h.db"))
    assert isinstance(store, SQLiteChatHistory) and store.path == tmp_path / "h.db"
    assert open_history("~/h.db").path == Path.home() / "h.db"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("location", "error"),
    [
        ("", "the chat history location is empty"),
        ("   ", "the chat history location is empty"),
        ("mysql://db/chat", "unsupported chat history URL scheme 'mysql'"),
        (42, "must be a str or Path, not int"),
    ],
)
def test_bad_locations_are_refused(location: object, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        open_history(location)  # type: ignore[arg-type]


def test_no_location_means_the_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGSTREAM_HOME", str(tmp_path / "data"))
    assert default_history_path() == tmp_path / "data" / "history.db"
    store = open_history()
    assert isinstance(store, SQLiteChatHistory) and store.path == tmp_path / "data/history.db"
    monkeypatch.delenv("RAGSTREAM_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_history_path() == tmp_path / "xdg" / "ragstream" / "history.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_history_path() == tmp_path / "home/.local/share/ragstream/history.db"


def test_importing_the_history_does_not_import_psycopg() -> None:
    script = (
        "import sys, ragstream.history\n"
        "print('psycopg' in sys.modules, 'sqlite3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "True"], out.stderr


def test_mark_incomplete_keeps_content_usage_and_metadata() -> None:
    chunk = AIMessageChunk("Task de", id="run-1", response_metadata={"model_name": "m"},
                           usage_metadata={"input_tokens": 5, "output_tokens": 2,
                                           "total_tokens": 7})
    marked = mark_incomplete(chunk)
    assert type(marked) is AIMessage
    assert marked == AIMessage(
        "Task de", id="run-1",
        response_metadata={"model_name": "m", "incomplete": True, "incomplete_reason": "stopped"},
        usage_metadata={"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
    )
    assert chunk.response_metadata == {"model_name": "m"}  # the original is left alone
    assert is_incomplete(marked) and not is_incomplete(chunk)
    assert mark_incomplete("", reason="disconnected").response_metadata == {
        "incomplete": True, "incomplete_reason": "disconnected",
    }
    with pytest.raises(InputError, match="only an AI message can be incomplete, not HumanMessage"):
        mark_incomplete(HumanMessage("q"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "title"),
    [
        (None, ""),
        ("  hello\n\tworld  ", "hello world"),
        ("x" * 60, "x" * 60),
        ("x" * 61, "x" * 59 + "…"),
        ("word " * 20, "word word word word word word word word word word word…"),
    ],
)
def test_titles_are_one_short_line(text: str | None, title: str) -> None:
    assert shorten_title(text) == title
