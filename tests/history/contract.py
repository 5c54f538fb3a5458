"""The behaviour every chat history store must have.

A backend's test module subclasses ``HistoryContract`` and provides the
``location`` fixture (a fresh, empty history: a file path or a database URL),
``migrate`` (run a list of migrations on that location directly) and
``query`` (raw SQL with ``?`` placeholders).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ragstream.errors import InputError, StoreError
from ragstream.history import (
    ChatHistoryStore,
    SessionInfo,
    is_incomplete,
    mark_incomplete,
    open_history,
)
from ragstream.history._schema import MIGRATIONS, Migration
from ragstream.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

ALL_NAMES = [m.__name__ for m in MIGRATIONS]

WRITER = """
import sys
from ragstream.history import open_history
location, session, tag, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with open_history(location) as history:
    for i in range(count):
        history.add_messages(session, [("human", f"{tag} q{i}"), ("ai", f"{tag} a{i}")])
"""

# appends batches of twenty until interrupted, reporting each one done
INTERRUPTED = """
import sys
from ragstream.history import open_history
history = open_history(sys.argv[1])
i = 0
while True:
    history.add_messages("s", [("human" if j == 0 else "ai", f"{i}.{j}") for j in range(20)])
    print(i, flush=True)
    i += 1
"""


def check_writers(messages: Sequence[BaseMessage], tags: Sequence[str], count: int) -> None:
    """Every writer's question/answer pairs are all there, whole, in its order."""
    assert len(messages) == 2 * count * len(tags)
    seen = {tag: 0 for tag in tags}
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        tag, q = question.content.split(" ")
        assert question.type == "human" and answer.type == "ai"
        assert q == f"q{seen[tag]}", f"writer {tag} out of order"
        assert answer.content == f"{tag} a{seen[tag]}", "a pair was split"
        seen[tag] += 1
    assert seen == {tag: count for tag in tags}


class HistoryContract:
    # -- what a backend provides ---------------------------------------------------

    @pytest.fixture
    def location(self) -> str:
        raise NotImplementedError

    store_type: type[ChatHistoryStore]

    def migrate(self, location: str, migrations: list[Migration]) -> list[str]:
        raise NotImplementedError

    def query(self, location: str, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    # -- fixtures --------------------------------------------------------------------

    @pytest.fixture
    def store(self, location: str) -> Iterator[ChatHistoryStore]:
        with open_history(location) as store:
            yield store

    # -- messages --------------------------------------------------------------------

    def test_open_history_picks_this_store(self, store: ChatHistoryStore) -> None:
        assert type(store) is self.store_type

    def test_every_message_type_round_trips_with_its_metadata(
        self, store: ChatHistoryStore
    ) -> None:
        messages: list[BaseMessage] = [
            SystemMessage("Answer from the context."),
            HumanMessage("What is task decomposition?", id="h1", name="ana"),
            AIMessage(
                "Breaking a task into steps.",
                id="run-1",
                usage_metadata={"input_tokens": 12, "output_tokens": 6, "total_tokens": 18},
                response_metadata={"finish_reason": "stop", "model_name": "m",
                                   "sources": [{"id": 1, "score": 0.5}]},
            ),
            ToolMessage('{"ok": true}', tool_call_id="call-7", name="search"),
        ]
        store.add_messages("s1", messages)
        assert store.get_messages("s1") == messages
        assert [type(m) for m in store.get_messages("s1")] == [
            SystemMessage, HumanMessage, AIMessage, ToolMessage,
        ]

    def test_tuples_and_chunks_are_stored_as_messages(self, store: ChatHistoryStore) -> None:
        chunk = AIMessageChunk("Task") + AIMessageChunk(
            " decomposition", usage_metadata={"input_tokens": 3, "output_tokens": 2,
                                              "total_tokens": 5}
        )
        store.add_messages("s1", [("system", "s"), ("user", "q"), ("assistant", "a"), chunk])
        assert store.get_messages("s1") == [
            SystemMessage("s"), HumanMessage("q"), AIMessage("a"),
            AIMessage("Task decomposition",
                      usage_metadata={"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}),
        ]

    def test_an_answer_cut_off_comes_back_marked_incomplete(
        self, store: ChatHistoryStore
    ) -> None:
        partial = AIMessageChunk("Task decomp", response_metadata={"model_name": "m"},
                                 usage_metadata={"input_tokens": 9, "output_tokens": 2,
                                                 "total_tokens": 11})
        store.add_messages("s1", [("human", "q"), mark_incomplete(partial, reason="disconnected")])
        store.add_messages("s1", [("human", "again"), ("ai", "Task decomposition is ...")])
        question, answer, _, whole = store.get_messages("s1")
        assert isinstance(answer, AIMessage)
        assert is_incomplete(answer) and not is_incomplete(whole) and not is_incomplete(question)
        assert answer.content == "Task decomp"
        assert answer.response_metadata == {
            "model_name": "m", "incomplete": True, "incomplete_reason": "disconnected",
        }
        assert answer.usage_metadata == {"input_tokens": 9, "output_tokens": 2,
                                         "total_tokens": 11}

    def test_awkward_content_round_trips(self, store: ChatHistoryStore) -> None:
        texts = ["", "작업 분해란 무엇인가요? 🧩", "line\nbreak\ttab", "it's \"quoted\" \\ back",
                 "'; DROP TABLE chat_messages; --", "x" * 100_000, "\\u0000 as text"]
        store.add_messages("s1", [("human", t) for t in texts])
        assert [m.content for m in store.get_messages("s1")] == texts

    def test_order_is_kept_and_limit_gives_the_latest(self, store: ChatHistoryStore) -> None:
        for i in range(5):
            store.add_messages("s1", [("human", f"q{i}"), ("ai", f"a{i}")])
        assert [m.content for m in store.get_messages("s1")] == [
            c for i in range(5) for c in (f"q{i}", f"a{i}")
        ]
        assert [m.content for m in store.get_messages("s1", limit=3)] == ["a3", "q4", "a4"]
        assert len(store.get_messages("s1", limit=100)) == 10
        assert store.get_messages("s1", limit=0) == []

    def test_sessions_are_separate(self, store: ChatHistoryStore) -> None:
        ids = ["s1", "a session with spaces", "sessão/日本語", "x" * 200, "'; --"]
        for sid in ids:
            store.add_messages(sid, [("human", f"hello from {sid}")])
        for sid in ids:
            assert store.get_messages(sid) == [HumanMessage(f"hello from {sid}")]
        assert sorted(s.id for s in store.list_sessions()) == sorted(ids)

    def test_an_unknown_session_is_empty(self, store: ChatHistoryStore) -> None:
        assert store.get_messages("nobody") == []
        assert store.delete_session("nobody") is False
        assert store.list_sessions() == []
        store.add_messages("nobody", [])
        assert store.list_sessions() == []

    def test_writes_persist_across_stores(self, location: str) -> None:
        with open_history(location) as first:
            first.add_messages("s1", [("human", "q"), ("ai", "a")])
        with open_history(location) as second:
            assert second.get_messages("s1") == [HumanMessage("q"), AIMessage("a")]
            second.add_messages("s1", [("human", "q2")])
        with open_history(location) as third:
            assert [m.content for m in third.get_messages("s1")] == ["q", "a", "q2"]

    def test_a_closed_store_reopens_when_used(self, store: ChatHistoryStore) -> None:
        store.add_messages("s1", [("human", "q")])
        store.close()
        store.add_messages("s1", [("ai", "a")])
        assert len(store.get_messages("s1")) == 2

    # -- sessions --------------------------------------------------------------------

    def test_sessions_are_listed_latest_first_with_title_and_count(
        self, store: ChatHistoryStore
    ) -> None:
        before = datetime.now(UTC) - timedelta(seconds=5)
        store.add_messages("old", [("system", "be brief")])
        store.add_messages("new", [("human", "  What is\n task   decomposition, and how do "
                                             "agents use it to plan long tasks?"),
                                   ("ai", "Steps.")])
        store.add_messages("old", [("human", "first question"), ("ai", "answer")])
        sessions = store.list_sessions()
        assert [s.id for s in sessions] == ["old", "new"]
        old, new = sessions
        # the first human message, even when it came in a later batch
        assert old.title == "first question"
        assert new.title == "What is task decomposition, and how do agents use it to…"
        assert len(new.title) <= 60
        assert (old.message_count, new.message_count) == (3, 2)
        for info in sessions:
            assert isinstance(info, SessionInfo)
            assert info.created_at.tzinfo is not None
            assert info.created_at.utcoffset() == timedelta(0)
            assert before <= info.created_at <= info.updated_at <= datetime.now(UTC)
        assert old.updated_at > old.created_at
        assert new.to_dict()["created_at"] == new.created_at.isoformat()

    def test_a_session_without_a_question_has_an_empty_title(
        self, store: ChatHistoryStore
    ) -> None:
        store.add_messages("s1", [("system", "be brief"), ("ai", "hello")])
        assert store.list_sessions()[0].title == ""

    def test_delete_session_removes_it_and_only_it(self, store: ChatHistoryStore) -> None:
        store.add_messages("gone", [("human", "q"), ("ai", "a")])
        store.add_messages("kept", [("human", "q")])
        assert store.delete_session("gone") is True
        assert store.delete_session("gone") is False
        assert store.get_messages("gone") == []
        assert [s.id for s in store.list_sessions()] == ["kept"]
        assert store.get_messages("kept") == [HumanMessage("q")]
        # the same id starts afresh
        store.add_messages("gone", [("human", "new")])
        assert store.get_messages("gone") == [HumanMessage("new")]
        assert {s.id: s.message_count for s in store.list_sessions()}["gone"] == 1

    def test_clear_deletes_everything(self, store: ChatHistoryStore) -> None:
        store.add_messages("a", [("human", "q")])
        store.add_messages("b", [("human", "q")])
        store.clear()
        assert store.list_sessions() == []
        assert store.get_messages("a") == []
        store.add_messages("a", [("human", "again")])
        assert store.get_messages("a") == [HumanMessage("again")]

    # -- the async surface -----------------------------------------------------------

    def test_async_methods(self, location: str) -> None:
        async def main() -> tuple[Any, ...]:
            async with open_history(location) as store:
                await store.aadd_messages("s1", [("human", "q"), ("ai", "a")])
                got = await store.aget_messages("s1", limit=1)
                listed = await store.alist_sessions()
                # a sync twin called from async code still works
                synced = store.get_messages("s1")
                deleted = await store.adelete_session("s1")
                await store.aclear()
                return got, [s.id for s in listed], synced, deleted

        got, listed, synced, deleted = asyncio.run(main())
        assert got == [AIMessage("a")] and listed == ["s1"]
        assert synced == [HumanMessage("q"), AIMessage("a")] and deleted is True

    def test_one_store_serves_several_event_loops(self, store: ChatHistoryStore) -> None:
        for i in range(3):
            asyncio.run(store.aadd_messages("s1", [("human", f"q{i}")]))
            store.add_messages("s1", [("ai", f"a{i}")])
        assert len(asyncio.run(store.aget_messages("s1"))) == 6

    # -- bad input -------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("session_id", "message"),
        [
            ("", "must not be empty"),
            ("x" * 201, "at most 200 characters, not 201"),
            ("a\nb", "printable"),
            ("nul\x00", "printable"),
            (42, "must be a str, not int"),
            (None, "must be a str, not NoneType"),
        ],
    )
    def test_bad_session_ids_are_refused(
        self, store: ChatHistoryStore, session_id: Any, message: str
    ) -> None:
        with pytest.raises(InputError, match=message):
            store.add_messages(session_id, [("human", "q")])
        with pytest.raises(InputError, match=message):
            store.get_messages(session_id)
        with pytest.raises(InputError, match=message):
            store.delete_session(session_id)
        assert store.list_sessions() == []

    @pytest.mark.parametrize(
        ("messages", "error"),
        [
            ("hello", "a list of messages or \\(role, text\\) tuples, not str"),
            (HumanMessage("q"), "not HumanMessage"),
            ([("human", "ok"), 42], "message 1: cannot make a chat message from int"),
            ([("robot", "beep")], "message 0: unknown message role 'robot'"),
            ([("human", 3)], "content must be a str, not int"),
            ([BaseMessage("untyped")], "cannot store a BaseMessage \\(type 'base'\\)"),
            ([("human", "a\x00b")], "NUL character"),
            ([AIMessage("a", response_metadata={"k": "\x00"})], "NUL character"),
            ([AIMessage("a", response_metadata={"when": object()})], "metadata .* is not JSON"),
            ([AIMessage("a", response_metadata={"score": math.nan})], "is not JSON"),
        ],
    )
    def test_bad_messages_are_refused_and_nothing_is_stored(
        self, store: ChatHistoryStore, messages: Any, error: str
    ) -> None:
        with pytest.raises(InputError, match=error):
            store.add_messages("s1", messages)
        assert store.get_messages("s1") == []

    @pytest.mark.parametrize("limit", [-1, 1.5, "3", True])
    def test_a_bad_limit_is_refused(self, store: ChatHistoryStore, limit: Any) -> None:
        with pytest.raises(InputError, match="limit must be None or an int >= 0"):
            store.get_messages("s1", limit=limit)

    # -- migrations ------------------------------------------------------------------

    def test_a_new_database_records_every_migration_once(
        self, store: ChatHistoryStore, location: str
    ) -> None:
        store.list_sessions()
        rows = self.query(location, "SELECT name FROM _migrations ORDER BY name")
        assert [name for (name,) in rows] == ALL_NAMES
        assert self.migrate(location, MIGRATIONS) == []
        assert self.query(location, "SELECT count(*) FROM _migrations") == [(len(ALL_NAMES),)]

    def test_an_old_database_is_brought_up_to_date(self, location: str) -> None:
        assert self.migrate(location, MIGRATIONS[:1]) == ["m001_messages"]
        t0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        rows = [
            ("old", 1, "system", "be brief", "{}", t0),
            ("old", 2, "human", "the first question", '{"id": "h1"}', t0 + timedelta(seconds=1)),
            ("old", 3, "ai", "an answer", '{"usage_metadata": {"total_tokens": 3}}',
             t0 + timedelta(seconds=2)),
            ("other", 1, "ai", "hello", "{}", t0),
        ]
        for row in rows:
            self.query(
                location,
                "INSERT INTO chat_messages (session_id, seq, type, content, data, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                row,
            )
        with open_history(location) as store:
            assert store.get_messages("old") == [
                SystemMessage("be brief"), HumanMessage("the first question", id="h1"),
                AIMessage("an answer", usage_metadata={"total_tokens": 3}),
            ]
            sessions = {s.id: s for s in store.list_sessions()}
            assert sessions["old"].title == "the first question"
            assert sessions["old"].message_count == 3
            assert sessions["old"].created_at == t0
            assert sessions["old"].updated_at == t0 + timedelta(seconds=2)
            assert sessions["other"].title == ""
            store.add_messages("old", [("human", "a new question")])
            assert store.get_messages("old", limit=2)[-1] == HumanMessage("a new question")
            assert [s.id for s in store.list_sessions()] == ["old", "other"]
        names = [n for (n,) in self.query(location, "SELECT name FROM _migrations ORDER BY name")]
        assert names == ALL_NAMES
        assert self.migrate(location, MIGRATIONS) == []

    def test_rows_written_by_a_newer_version(
        self, store: ChatHistoryStore, location: str
    ) -> None:
        store.list_sessions()
        insert = ("INSERT INTO chat_messages (session_id, seq, type, content, data, created_at)"
                  " VALUES (?, ?, ?, ?, ?, ?)")
        at = datetime.now(UTC)
        self.query(location, insert, ("s", 1, "ai", "x", '{"id": "a", "added_later": 1}', at))
        self.query(location, insert, ("f", 1, "function", "y", "{}", at))
        assert store.get_messages("s") == [AIMessage("x", id="a")]
        with pytest.raises(StoreError, match="a message of unknown type 'function'"):
            store.get_messages("f")

    # -- concurrency -----------------------------------------------------------------

    def test_concurrent_tasks_lose_and_reorder_nothing(self, location: str) -> None:
        tags, count = "abcdef", 15

        async def main() -> list[BaseMessage]:
            async with open_history(location) as store:
                async def writer(tag: str) -> None:
                    for i in range(count):
                        await store.aadd_messages(
                            "shared", [("human", f"{tag} q{i}"), ("ai", f"{tag} a{i}")]
                        )
                        await store.aadd_messages(f"own-{tag}", [("human", str(i))])

                await asyncio.gather(*(writer(t) for t in tags))
                return await store.aget_messages("shared")

        check_writers(asyncio.run(main()), tags, count)
        with open_history(location) as store:
            counts = {s.id: s.message_count for s in store.list_sessions()}
        assert counts == {"shared": 2 * count * len(tags), **{f"own-{t}": count for t in tags}}

    def test_concurrent_threads_lose_and_reorder_nothing(self, store: ChatHistoryStore) -> None:
        tags, count = "abcd", 15

        def writer(tag: str) -> None:
            for i in range(count):
                store.add_messages("shared", [("human", f"{tag} q{i}"), ("ai", f"{tag} a{i}")])

        threads = [threading.Thread(target=writer, args=(t,)) for t in tags]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        check_writers(store.get_messages("shared"), tags, count)

    def test_concurrent_processes_lose_and_reorder_nothing(self, location: str) -> None:
        tags, count = "ab", 40
        writers = [
            subprocess.Popen([sys.executable, "-c", WRITER, location, "shared", tag, str(count)],
                             stderr=subprocess.PIPE)
            for tag in tags
        ]
        for writer in writers:
            _, err = writer.communicate(timeout=60)
            assert writer.returncode == 0, err.decode()
        with open_history(location) as store:
            check_writers(store.get_messages("shared"), tags, count)
            assert store.list_sessions()[0].message_count == 2 * count * len(tags)

    def test_cancelled_adds_leave_whole_writes_or_none(self, location: str) -> None:
        async def main() -> None:
            async with open_history(location) as store:
                await store.aadd_messages("s", [("human", "warm up")])
                # cancel at points swept through the whole write
                for k in range(60):
                    batch = [("human" if j == 0 else "ai", f"{k}.{j}") for j in range(20)]
                    task = asyncio.create_task(store.aadd_messages("s", batch))
                    await asyncio.sleep(k * 0.00005)
                    task.cancel()
                    # a write may finish before the cancel lands
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

        asyncio.run(main())
        with open_history(location) as store:
            messages = store.get_messages("s")[1:]
            [info] = store.list_sessions()
            store.add_messages("s", [("human", "after")])
            assert store.get_messages("s", limit=1) == [HumanMessage("after")]
        assert len(messages) % 20 == 0
        batches = [messages[i : i + 20] for i in range(0, len(messages), 20)]
        for batch in batches:
            k = batch[0].content.split(".")[0]
            assert [m.content for m in batch] == [f"{k}.{j}" for j in range(20)]
        assert info.message_count == len(messages) + 1

    def test_an_interrupted_writer_leaves_only_whole_writes(self, location: str) -> None:
        writer = subprocess.Popen([sys.executable, "-c", INTERRUPTED, location],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert writer.stdout is not None
        done = -1
        while done < 20:
            done = int(writer.stdout.readline())
        writer.send_signal(signal.SIGINT)
        _, err = writer.communicate(timeout=30)
        assert b"KeyboardInterrupt" in err
        with open_history(location) as store:
            messages = store.get_messages("s")
            [info] = store.list_sessions()
        assert len(messages) % 20 == 0 and len(messages) >= 20 * (done + 1)
        assert [m.content for m in messages] == [
            f"{i}.{j}" for i in range(len(messages) // 20) for j in range(20)
        ]
        assert info.message_count == len(messages)
        # the next write carries on where the interrupted one left off
        with open_history(location) as store:
            store.add_messages("s", [("human", "after")])
            assert store.get_messages("s", limit=1) == [HumanMessage("after")]
