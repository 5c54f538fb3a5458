"""The SQLite store: the contract, and what only a file can get wrong."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ragstream.errors import StoreError
from ragstream.history import SQLiteChatHistory, open_history
from ragstream.history._schema import Migration
from ragstream.history._sqlite import migrate
from ragstream.messages import HumanMessage

from .contract import HistoryContract


class TestSQLiteContract(HistoryContract):
    store_type = SQLiteChatHistory

    @pytest.fixture
    def location(self, tmp_path: Path) -> str:
        return str(tmp_path / "history.db")

    def migrate(self, location: str, migrations: list[Migration]) -> list[str]:
        conn = sqlite3.connect(location, isolation_level=None)
        try:
            return migrate(conn, migrations)
        finally:
            conn.close()

    def query(self, location: str, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        values = [
            p.isoformat(timespec="microseconds") if isinstance(p, datetime) else p
            for p in params
        ]
        with sqlite3.connect(location) as conn:
            return conn.execute(statement, values).fetchall()


def test_the_file_and_its_folders_are_made_on_first_use_not_before(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "history.db"
    store = SQLiteChatHistory(path)
    assert not path.parent.exists()
    store.add_messages("s1", [("human", "q")])
    store.close()
    assert path.is_file()


def test_the_file_is_in_wal_mode(tmp_path: Path) -> None:
    with SQLiteChatHistory(tmp_path / "h.db") as store:
        store.list_sessions()
    with sqlite3.connect(tmp_path / "h.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_file_that_is_not_a_database_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    store = SQLiteChatHistory(path)
    with pytest.raises(StoreError, match=f"cannot open the chat history {path}: .*not a database"):
        store.get_messages("s1")
    with pytest.raises(StoreError, match=str(path)):
        store.add_messages("s1", [("human", "q")])
    assert path.read_bytes().startswith(b"these are my notes")


def test_a_folder_in_place_of_the_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"cannot open the chat history {tmp_path}"):
        SQLiteChatHistory(tmp_path).list_sessions()


def test_a_file_in_place_of_the_folder_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    path = tmp_path / "plain" / "history.db"
    with pytest.raises(StoreError, match=f"cannot open the chat history {path}"):
        SQLiteChatHistory(path).list_sessions()


def test_a_database_damaged_after_opening_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with SQLiteChatHistory(path) as store:
        store.add_messages("s1", [("human", "q")])
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE chat_messages")
    with SQLiteChatHistory(path) as store, pytest.raises(
        StoreError, match=f"chat history {path}: no such table: chat_messages"
    ):
        store.get_messages("s1")


def test_memory_history_lives_as_long_as_the_store() -> None:
    with SQLiteChatHistory(":memory:") as store:
        store.add_messages("s1", [("human", "q")])
        assert store.get_messages("s1") == [HumanMessage("q")]


def test_open_history_takes_paths_and_file_urls(tmp_path: Path) -> None:
    assert isinstance(open_history(tmp_path / "a.db"), SQLiteChatHistory)
    store = open_history(f"file://{tmp_path}/b.db")
    assert isinstance(store, SQLiteChatHistory)
    assert store.path == tmp_path / "b.db"
    assert repr(store) == f"SQLiteChatHistory('{tmp_path}/b.db')"
