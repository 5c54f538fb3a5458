"""``ChatHistoryStore``: the interface both history backends share.

The public methods validate their input and turn messages into rows (see
``_codec``); a backend writes five small async methods on rows: ``_aread``,
``_aappend``, ``_alist``, ``_adelete`` and ``_aclear``. The sync twins are
derived here, once.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from ragstream.core._bridge import run_sync
from ragstream.errors import InputError
from ragstream.history._codec import Record, decode, encode_all
from ragstream.messages import BaseMessage

__all__ = ["ChatHistoryStore", "SessionInfo", "check_session_id"]

MAX_SESSION_ID = 200
TITLE_STORED = 200  # characters of the first question kept in the table
TITLE_SHOWN = 60

MessageRow = tuple[str, str, "str | dict[str, Any]"]
SessionRow = tuple[str, "str | None", datetime, datetime, int]


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A chat session as listed: its first question, shortened, serves as its title."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with ISO 8601 times."""
        return {
            "id": self.id,
            "title": self.title,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "message_count": self.message_count,
        }


def check_session_id(session_id: object) -> str:
    """``session_id`` if it is a usable id, else an ``InputError`` saying why."""
    if not isinstance(session_id, str):
        raise InputError(f"a session id must be a str, not {type(session_id).__name__}")
    if not session_id:
        raise InputError("a session id must not be empty")
    if len(session_id) > MAX_SESSION_ID:
        raise InputError(
            f"a session id must be at most {MAX_SESSION_ID} characters, "
            f"not {len(session_id)} ({session_id[:20]!r}...)"
        )
    if not session_id.isprintable():
        raise InputError(f"a session id must be printable text, not {session_id!r}")
    return session_id


def _check_limit(limit: object) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InputError(f"limit must be None or an int >= 0, not {limit!r}")
    return limit


def shorten_title(text: str | None) -> str:
    """One line of at most ``TITLE_SHOWN`` characters, cut at a word when it can be."""
    line = re.sub(r"\s+", " ", text or "").strip()
    if len(line) <= TITLE_SHOWN:
        return line
    cut = line[: TITLE_SHOWN - 1]
    space = cut.rfind(" ")
    if space >= TITLE_SHOWN // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:") + "…"


def now() -> datetime:
    return datetime.now(UTC)


class ChatHistoryStore(ABC):
    """Chat sessions: the messages of each, in order, and a list of sessions.

    Messages come back with their type, content and metadata. An answer that
    was cut off is stored with ``response_metadata["incomplete"] = True`` (see
    ``mark_incomplete``) and comes back marked the same way.

    >>> from ragstream.history import open_history
    >>> history = open_history("/tmp/chat.db")
    >>> history.add_messages("s1", [("human", "What is task decomposition?"),
    ...                             ("ai", "Breaking a task into steps.")])
    >>> [m.type for m in history.get_messages("s1")]
    ['human', 'ai']
    """

    # -- what a backend writes ---------------------------------------------

    @abstractmethod
    async def _aread(self, session_id: str, limit: int | None) -> list[MessageRow]:
        """Rows ``(type, content, data)`` of the session, oldest first; the last ``limit``."""

    @abstractmethod
    async def _aappend(
        self, session_id: str, records: list[Record], *, title: str | None, at: datetime
    ) -> None:
        """Append ``records`` after the session's last message, in one transaction."""

    @abstractmethod
    async def _alist(self) -> list[SessionRow]:
        """Rows ``(id, title, created_at, updated_at, message_count)``, latest first."""

    @abstractmethod
    async def _adelete(self, session_id: str) -> bool:
        """Delete the session; False if it did not exist."""

    @abstractmethod
    async def _aclear(self) -> None:
        """Delete every session."""

    async def aclose(self) -> None:
        """Close the connections this store holds; it reopens them if used again."""
        return None

    # -- the public surface --------------------------------------------------

    async def aget_messages(
        self, session_id: str, *, limit: int | None = None
    ) -> list[BaseMessage]:
        """The session's messages, oldest first (only the last ``limit`` if given).

        An unknown session has no messages.
        """
        session_id = check_session_id(session_id)
        limit = _check_limit(limit)
        if limit == 0:
            return []
        return [decode(*row) for row in await self._aread(session_id, limit)]

    async def aadd_messages(
        self, session_id: str, messages: Sequence[BaseMessage | tuple[str, str]]
    ) -> None:
        """Append messages to the session (created if new), all or none of them."""
        session_id = check_session_id(session_id)
        records = encode_all(messages)
        if not records:
            return
        title = next((r.content[:TITLE_STORED] for r in records if r.type == "human"), None)
        await self._aappend(session_id, records, title=title, at=now())

    async def alist_sessions(self) -> list[SessionInfo]:
        """Every session, the most recently updated first."""
        return [
            SessionInfo(
                sid, shorten_title(title), created.astimezone(UTC), updated.astimezone(UTC),
                int(count),
            )
            for sid, title, created, updated, count in await self._alist()
        ]

    async def adelete_session(self, session_id: str) -> bool:
        """Delete the session and its messages; False if there was no such session."""
        return await self._adelete(check_session_id(session_id))

    async def aclear(self) -> None:
        """Delete every session."""
        await self._aclear()

    # -- sync twins ----------------------------------------------------------

    def get_messages(self, session_id: str, *, limit: int | None = None) -> list[BaseMessage]:
        """Sync twin of ``aget_messages``."""
        return run_sync(lambda: self.aget_messages(session_id, limit=limit))

    def add_messages(
        self, session_id: str, messages: Sequence[BaseMessage | tuple[str, str]]
    ) -> None:
        """Sync twin of ``aadd_messages``."""
        run_sync(lambda: self.aadd_messages(session_id, messages))

    def list_sessions(self) -> list[SessionInfo]:
        """Sync twin of ``alist_sessions``."""
        return run_sync(self.alist_sessions)

    def delete_session(self, session_id: str) -> bool:
        """Sync twin of ``adelete_session``."""
        return run_sync(lambda: self.adelete_session(session_id))

    def clear(self) -> None:
        """Sync twin of ``aclear``."""
        run_sync(self.aclear)

    def close(self) -> None:
        """Sync twin of ``aclose``."""
        run_sync(self.aclose)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
