"""``RagApp``: ingest with its report and progress, the events of a turn, the
history it saves, and collections. Real Chroma on disk, fake embeddings."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ragstream.app import (
    CollectionInfo,
    NoDocumentsError,
    RagApp,
    TurnEvent,
    make_embeddings,
    sample_corpus_path,
)
from ragstream.config import load_settings
from ragstream.documents import Document
from ragstream.embeddings import FakeEmbeddings
from ragstream.errors import ConfigError, InputError
from ragstream.history import is_incomplete
from ragstream.messages import AIMessage, HumanMessage
from ragstream.models._fake import split_tokens
from ragstream.testing import FakeChatModel
from ragstream.vectorstores import Chroma, VectorStoreRetriever
from tests.servers import OpenAIServer, Reply

STAGES = {"load", "split", "embed", "store", "done"}


def make_app(home: Path, **flags: Any) -> RagApp:
    return RagApp(load_settings({"home": str(home), "embeddings": "fake", **flags}, env={}))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "cats.md").write_text(
        "# Cats\n\nCats purr when they are content. A cat sleeps most of the day.\n",
        encoding="utf-8",
    )
    (root / "dogs.md").write_text(
        "# Dogs\n\nDogs bark at strangers. A dog needs a walk every day.\n", encoding="utf-8"
    )
    return root


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def collect(app: RagApp, question: str, **kwargs: Any) -> list[TurnEvent]:
    events = [event async for event in app.astream_turn(question, **kwargs)]
    await app.aclose()
    return events


def test_init_does_no_io(tmp_path: Path) -> None:
    home = tmp_path / "never"
    app = make_app(home, model="openai:gpt-4o-mini")

    app.store("docs")
    app.store("other")

    assert not home.exists()
    assert repr(app) == (
        f"RagApp(home={str(home)!r}, collection='docs', model='openai:gpt-4o-mini')"
    )


def test_ingest_reports_each_source_and_progress(tmp_path: Path, folder: Path) -> None:
    app = make_app(tmp_path / "home")
    updates: list[dict[str, Any]] = []

    report = app.ingest([str(folder), str(tmp_path / "missing.md")], on_progress=updates.append)

    assert {(Path(s.source).name, s.status, s.chunks) for s in report.sources} == {
        ("cats.md", "added", 1), ("dogs.md", "added", 1), ("missing.md", "failed", 0),
    }
    assert [f.error for f in report.failures] == ["no such file or directory"]
    assert (report.added, report.skipped, report.deleted) == (2, 0, 0)
    assert report.count("added") == 2 and report.chunks_embedded == 2
    assert report.to_dict()["sources_by_status"]["failed"] == 1

    assert all(set(u) >= {"stage", "done", "total", "source"} for u in updates)
    assert {u["stage"] for u in updates} == STAGES and updates[-1]["stage"] == "done"
    loads = [u for u in updates if u["stage"] == "load" and "error" not in u]
    assert [u["done"] for u in loads] == [1, 2]
    assert {u["total"] for u in loads} == {2}  # a folder's files are counted up front
    embedded = [u["done"] for u in updates if u["stage"] == "embed"]
    assert embedded[-1] == 2 and embedded == sorted(embedded)
    assert {u["status"] for u in updates if u["stage"] == "split"} == {"added"}
    assert [u["source"] for u in updates if "error" in u] == [str(tmp_path / "missing.md")]


def test_the_load_total_counts_each_file_once_and_failures_count_as_done(
    tmp_path: Path, folder: Path
) -> None:
    (folder / "sub").mkdir()
    (folder / "sub" / "birds.md").write_text("# Birds\n\nBirds sing at dawn.\n", "utf-8")
    (folder / "broken.txt").write_bytes(b"\xff\xfe not text")
    app = make_app(tmp_path / "home")
    updates: list[dict[str, Any]] = []

    nope = str(tmp_path / "nope.md")
    report = app.ingest([str(folder / "cats.md"), str(folder), nope], on_progress=updates.append)

    assert report.count("added") == 3 and report.count("failed") == 2
    loads = [u for u in updates if u["stage"] == "load" and u["source"] != nope]
    assert {u["total"] for u in loads} == {4}  # cats.md named twice, nope.md never listed
    assert [u["done"] for u in loads] == [1, 2, 3, 4]
    assert loads[-1]["source"] == str(folder / "broken.txt") and "error" in loads[-1]


def test_the_retriever_gives_scores_from_the_store(tmp_path: Path, folder: Path) -> None:
    app = make_app(tmp_path / "home")
    app.ingest([str(folder)])
    retriever = app.retriever(k=2)

    docs = retriever.invoke("Why do cats purr?")

    assert isinstance(retriever, VectorStoreRetriever) and retriever.include_scores
    expected = app.store().similarity_search_with_relevance_scores("Why do cats purr?", k=2)
    assert [(d.id, d.metadata["score"]) for d in docs] == [(d.id, s) for d, s in expected]
    assert all("score" not in d.metadata for d, _ in expected)


def test_a_second_ingest_embeds_nothing(tmp_path: Path, folder: Path) -> None:
    app = make_app(tmp_path / "home")
    app.ingest([str(folder)])
    updates: list[dict[str, Any]] = []

    again = app.ingest([str(folder)], on_progress=updates.append)

    assert {s.status for s in again.sources} == {"unchanged"}
    assert (again.added, again.skipped) == (0, 2)
    assert not [u for u in updates if u["stage"] == "embed"]


def test_ingest_input_errors(tmp_path: Path) -> None:
    app = make_app(tmp_path / "home")
    with pytest.raises(InputError, match="a list of sources, not one str"):
        app.ingest("notes/")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="nothing to ingest"):
        app.ingest([])
    with pytest.raises(ConfigError, match=r"chunk_overlap \(50\) must be smaller"):
        app.ingest(["x.md"], chunk_size=50, chunk_overlap=50)


def test_a_turn_streams_query_sources_tokens_then_done(tmp_path: Path, folder: Path) -> None:
    app = make_app(tmp_path / "home")
    app.ingest([str(folder)])

    events = run(collect(app, "Why do cats purr?"))

    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["query", "sources"] and kinds[-1] == "done"
    assert set(kinds[2:-1]) == {"token", "citation"} and len(kinds) > 5
    sources = events[1]["documents"]
    scores = [d.metadata["score"] for d in sources]
    assert Path(sources[0].metadata["source"]).name == "cats.md"
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    done = events[-1]
    assert done["answer"] == "".join(e["text"] for e in events if e["type"] == "token")
    assert "purr" in done["answer"] and "[1]" in done["answer"]
    assert done["model"] == app.model_label == "offline extractive mode"
    assert done["incomplete"] is False
    assert set(done["timings"]) >= {"first_token_s", "total_s"}


def test_the_history_makes_follow_ups_rewritten(tmp_path: Path, folder: Path) -> None:
    app = make_app(tmp_path / "home")
    app.ingest([str(folder)])
    history = [HumanMessage("Tell me about cats."), AIMessage("Cats purr when content. [1]")]

    events = run(collect(app, "How long does it sleep?", chat_history=history))

    rewritten = "".join(e["text"] for e in events if e["type"] == "rewrite")
    assert rewritten and "it" not in rewritten.split()
    query = next(e for e in events if e["type"] == "query")
    assert query["text"] == rewritten


def test_turns_are_saved_and_a_stopped_answer_is_marked(tmp_path: Path, folder: Path) -> None:
    app = make_app(tmp_path / "home")
    app.ingest([str(folder)])

    async def main() -> list[Any]:
        await collect(app, "Why do cats purr?", session_id="s")
        tokens = []
        turn = app.astream_turn("Why do dogs bark?", session_id="s")
        async for event in turn:
            if event["type"] == "token":
                tokens.append(event["text"])
                if len(tokens) == 2:
                    break
        await turn.aclose()
        messages = await app.history.aget_messages("s")
        await app.aclose()
        return [tokens, messages]

    tokens, messages = run(main())

    assert [m.type for m in messages] == ["human", "ai", "human", "ai"]
    assert not is_incomplete(messages[1])
    assert messages[3].content == "".join(tokens) and is_incomplete(messages[3])
    assert messages[3].response_metadata["model"] == "offline extractive mode"


def test_collections_list_check_and_delete(tmp_path: Path, folder: Path) -> None:
    app = make_app(tmp_path / "home")
    assert app.list_collections() == []
    with pytest.raises(NoDocumentsError, match="collection 'docs' does not exist") as missing:
        app.collection()
    assert missing.value.exists is False and missing.value.collection == "docs"
    assert not (tmp_path / "home").exists()  # looking created nothing

    app.ingest([str(folder)])
    app.ingest([str(folder)], collection="more")

    docs = CollectionInfo("docs", 2, 2, "fake:384")
    assert app.list_collections() == [docs, CollectionInfo("more", 2, 2, "fake:384")]
    assert run(app.acheck_collection()) == docs
    assert sorted(Path(s).name for s in run(app.acollection_sources())) == ["cats.md", "dogs.md"]
    assert app.delete_collection("more") == CollectionInfo("more", 2, 2, "fake:384")
    assert [c.name for c in app.list_collections()] == ["docs"]
    assert Chroma.list_collections(persist_directory=app.settings.chroma_path) == ["docs"]


def test_a_collection_written_without_indexing_has_no_sources(tmp_path: Path) -> None:
    app = make_app(tmp_path / "home")
    app.store("plain").add_documents([Document("loose text", {"source": "x"})])

    assert app.collection("plain") == CollectionInfo("plain", 1, 0, "fake:384")
    assert app.list_collections() == [CollectionInfo("plain", 1, 0, "fake:384")]
    assert not run(app.store("plain").record_store().asources())
    error = pickle.loads(pickle.dumps(NoDocumentsError("gone", exists=False, where="here")))
    assert (error.collection, error.exists, str(error)) == (
        "gone", False, "collection 'gone' does not exist (here)"
    )


def test_an_empty_collection_cannot_answer(tmp_path: Path, folder: Path) -> None:
    app = make_app(tmp_path / "home")
    app.ingest([str(folder)])
    for path in folder.iterdir():
        path.unlink()
    app.ingest([str(folder)])  # the folder is now empty: its files are removed

    with pytest.raises(NoDocumentsError, match="collection 'docs' is empty") as empty:
        run(app.acheck_collection())
    assert empty.value.exists is True


def test_a_collection_remembers_its_embeddings(tmp_path: Path, folder: Path) -> None:
    make_app(tmp_path / "home").ingest([str(folder)])
    other = make_app(tmp_path / "home", embeddings="fake:16")

    with pytest.raises(ConfigError, match="built with embeddings 'fake:384', not 'fake:16'"):
        run(other.acheck_collection())
    with pytest.raises(ConfigError, match="built with embeddings"):
        other.ingest([str(folder)])


def test_make_embeddings() -> None:
    fake = make_embeddings("fake:8")
    assert isinstance(fake, FakeEmbeddings) and len(fake.embed_query("hi")) == 8
    for spec, message in [("nope", "unknown embeddings 'nope'"),
                          ("fake:x", "'fake:' needs an int size")]:
        with pytest.raises(ConfigError, match=message):
            make_embeddings(spec)


def test_the_sample_corpus_is_user_documentation() -> None:
    files: dict[str, Callable[[], str]] = {
        p.name: p.read_text for p in sample_corpus_path().glob("*.md")
    }
    assert len(files) >= 8
    for name, read in files.items():
        text = read()
        assert text.startswith("# ") and len(text.split()) > 150, name


def test_a_failing_retriever_raises_its_own_error_from_the_turn(tmp_path: Path) -> None:
    from ragstream.errors import StoreError
    from ragstream.retrievers import BaseRetriever

    class Broken(BaseRetriever):
        async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
            raise StoreError("the vector server went away")

    class App(RagApp):
        def retriever(self, collection: str | None = None, *, k: int | None = None) -> Any:
            return Broken()

    app = App(load_settings({"home": str(tmp_path), "embeddings": "fake"}, env={}))
    with pytest.raises(StoreError, match="the vector server went away"):
        run(collect(app, "What do cats do?"))


# -- citations ------------------------------------------------------------------


def check_citations(events: list[TurnEvent]) -> list[TurnEvent]:
    """Each citation comes right after the token that ends its marker (or after
    another citation of that marker), points at that marker in the answer so
    far, and carries the source of its number; the citations found."""
    sources = next(e["documents"] for e in events if e["type"] == "sources")
    so_far = ""
    last_token = ""
    for n, event in enumerate(events):
        if event["type"] == "token":
            so_far += event["text"]
            last_token = event["text"]
        elif event["type"] == "citation":
            assert events[n - 1]["type"] in ("token", "citation")
            end, marker = event["offset"], event["marker"]
            assert so_far[end - len(marker):end] == marker
            assert len(so_far) - len(last_token) < end <= len(so_far)  # ended by that token
            assert event["document"] is sources[event["index"] - 1]
    return [e for e in events if e["type"] == "citation"]


def test_the_offline_answer_cites_its_sources_as_it_streams(
    tmp_path: Path, folder: Path
) -> None:
    app = make_app(tmp_path / "home")
    app.ingest([str(folder)])

    events = run(collect(app, "Why do cats purr and dogs bark?"))

    cited = check_citations(events)
    done = events[-1]
    sources = events[1]["documents"]
    by_name = {Path(d.metadata["source"]).name: n for n, d in enumerate(sources, 1)}
    assert done["answer"] == (
        f"Cats purr when they are content. [{by_name['cats.md']}] "
        f"Dogs bark at strangers. [{by_name['dogs.md']}]"
    )
    assert [(c["index"], c["marker"]) for c in cited] == [
        (by_name["cats.md"], f"[{by_name['cats.md']}]"),
        (by_name["dogs.md"], f"[{by_name['dogs.md']}]"),
    ]
    assert done["citations"] == [by_name["cats.md"], by_name["dogs.md"]]


class ScriptedApp(RagApp):
    """The real turn over a scripted answer model."""

    def __init__(self, home: Path, answer: str) -> None:
        super().__init__(load_settings({"home": str(home), "embeddings": "fake"}, env={}))
        self.scripted = FakeChatModel(answer)

    @property
    def model(self) -> Any:
        return self.scripted


CITING = "Dogs bark [2]. Both are pets [1, 2]; not [7], [a], [10.5] or `x[1]`. Cats purr [1]."


def test_a_model_that_cites_gets_citation_events_right_after_the_closing_token(
    tmp_path: Path, folder: Path
) -> None:
    app = ScriptedApp(tmp_path / "home", CITING)
    app.ingest([str(folder)])

    events = run(collect(app, "Tell me about pets."))

    tokens = [e["text"] for e in events if e["type"] == "token"]
    assert tokens == split_tokens(CITING)  # tokens go out as they come, none held back
    cited = check_citations(events)
    assert [(c["index"], c["marker"]) for c in cited] == [
        (2, "[2]"), (1, "[1, 2]"), (2, "[1, 2]"), (1, "[1]"),
    ]
    kinds = [e["type"] if e["type"] != "token" else e["text"] for e in events]
    first = kinds.index("citation")
    assert kinds[first - 3:first + 2] == [" [", "2", "]", "citation", "."]
    assert events[-1]["citations"] == [2, 1]
    assert events[-1]["answer"] == CITING


def test_a_real_model_is_sent_numbered_sources_and_its_citations_stream(
    tmp_path: Path, folder: Path, openai_server: OpenAIServer
) -> None:
    openai_server.script(Reply(text=["Cats", " purr", " [", "1", "]", "."]))
    app = make_app(tmp_path / "home",
                   model=f"openai-compatible:test-model@{openai_server.base_url}")
    app.ingest([str(folder)])

    events = run(collect(app, "Why do cats purr?"))

    system = openai_server.requests[-1].json["messages"][0]["content"]
    sources = events[1]["documents"]
    numbered = "\n\n".join(f"[{n}] {d.page_content}" for n, d in enumerate(sources, 1))
    assert system.endswith("\n\n" + numbered)
    assert "cite the pieces it uses by their numbers" in system
    cited = check_citations(events)
    assert [(c["index"], c["offset"]) for c in cited] == [(1, len("Cats purr [1]"))]
    assert events[-1]["citations"] == [1]
