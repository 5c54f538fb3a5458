"""Chat sessions: the messages of each conversation, kept in SQLite or PostgreSQL.

    ChatHistoryStore          the interface (async methods and their sync twins)
    ├── SQLiteChatHistory     one file; the default, in the data folder
    └── PostgresChatHistory   one database shared by any number of server replicas

``open_history(location)`` picks the store from where the history lives: a
``postgresql://`` (or ``postgres://``) URL, or a SQLite file path.

Answers that were cut off (the user pressed Stop or Ctrl-C, the client went
away) are stored as they were when cut, with ``response_metadata`` holding
``"incomplete": True`` and ``"incomplete_reason"``; ``mark_incomplete`` makes
such a message and ``is_incomplete`` recognises one.

>>> from ragstream.history import open_history
>>> with open_history("chat.db") as history:
...     history.add_messages("s1", [("human", "hi"), ("ai", "Hello!")])
...     history.get_messages("s1")
[HumanMessage(content='hi'), AIMessage(content='Hello!')]
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ragstream.errors import ConfigError
from ragstream.history._codec import is_incomplete, mark_incomplete
from ragstream.history._postgres import PostgresChatHistory
from ragstream.history._sqlite import SQLiteChatHistory
from ragstream.history._store import ChatHistoryStore, SessionInfo

__all__ = [
    "ChatHistoryStore",
    "PostgresChatHistory",
    "SQLiteChatHistory",
    "SessionInfo",
    "default_history_path",
    "is_incomplete",
    "mark_incomplete",
    "open_history",
]

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def default_history_path() -> Path:
    """Where the history lives when no location is given.

    ``history.db`` in the data directory: ``$RAGSTREAM_HOME`` if that variable
    is set, else ``$XDG_DATA_HOME/ragstream`` (``~/.local/share/ragstream``).
    """
    from ragstream.config import default_home

    folder = os.environ.get("RAGSTREAM_HOME")
    return (Path(folder) if folder else default_home()).expanduser() / "history.db"


def open_history(location: str | Path | None = None) -> ChatHistoryStore:
    """The history store at ``location``: a PostgreSQL URL or a SQLite file path.

    No location means the SQLite file at ``default_history_path()``.

    >>> open_history("postgresql://app@db.internal/chat")
    PostgresChatHistory('postgresql://app@db.internal:5432/chat')
    """
    if location is None:
        return SQLiteChatHistory(default_history_path())
    if isinstance(location, str):
        if not location.strip():
            raise ConfigError("the chat history location is empty")
        match = _URL.match(location)
        if match:
            scheme = match.group(1).lower()
            if scheme in ("postgresql", "postgres"):
                # libpq reads the scheme in lower case only
                return PostgresChatHistory(scheme + location[match.end(1):])
            if scheme != "file":
                raise ConfigError(
                    f"unsupported chat history URL scheme {scheme!r}; use postgresql:// "
                    "or a SQLite file path"
                )
            location = location[len("file://"):]
    elif not isinstance(location, Path):
        raise ConfigError(
            f"a chat history location must be a str or Path, not {type(location).__name__}"
        )
    return SQLiteChatHistory(location)
