"""Citations over HTTP: ``citation`` events on ``/chat`` as the answer cites its
sources, and ``citations`` beside ``sources`` on ``/v1`` (official client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from ragstream.documents import Document
from ragstream.server import create_rag_server
from tests.server._live import FakeRagApp, KeywordRetriever, LiveServer, collect_sse, run

QUESTION = "What is task decomposition?"
# cites 2, then 1 and 2 in one marker; [9] is out of range and [a] is no marker
CITING = ("Tree of Thoughts explores several paths [2]. Task decomposition splits a task "
          "into steps [1, 2]; see [9] and [a]. Done [1].")
FILES = [
    Document("Task decomposition splits a task into smaller steps.",
             metadata={"source": "/srv/data/notes/agents.md", "title": "Agents"}, id="a"),
    Document("Tree of Thoughts explores several reasoning paths at each step.",
             metadata={"source": "/srv/data/notes/guide/tot.md"}, id="b"),
]


def chat(server: LiveServer, body: dict[str, Any]) -> list[Any]:
    async def main() -> list[Any]:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            return (await collect_sse(c, "/chat", body))[1]

    return run(main())


def check_order(events: list[Any]) -> None:
    """Every citation comes right after the token that ends its marker (or after
    another citation of the same marker), and points at that marker."""
    so_far, last = "", ""
    for n, event in enumerate(events):
        if event.event == "token":
            last = event.json()["text"]
            so_far += last
        elif event.event == "citation":
            data = event.json()
            assert events[n - 1].event in ("token", "citation")
            assert so_far[data["offset"] - len(data["marker"]):data["offset"]] == data["marker"]
            assert len(so_far) - len(last) < data["offset"] <= len(so_far)


def test_chat_sends_a_citation_event_after_the_token_that_ends_the_marker(
    rag_server: LiveServer,
) -> None:
    events = chat(rag_server, {"question": QUESTION})

    kinds = [e.event for e in events]
    assert kinds.count("citation") == 1 and kinds[-2:] == ["done", "end"]
    at = kinds.index("citation")
    assert [e.json()["text"] for e in events[at - 3:at]] == [" [", "1", "]"]
    assert events[at + 1].event == "token" and events[at + 1].json()["text"] == "."
    check_order(events)
    cards = next(e.json()["sources"] for e in events if e.event == "sources")
    citation = events[at].json()
    assert citation == {"index": 1, "marker": "[1]", "offset": citation["offset"],
                        "source": cards[0]}
    assert cards[0]["title"] == "LLM Powered Autonomous Agents" and cards[0]["rank"] == 1
    done = events[-2].json()
    assert done["answer"][:citation["offset"]].endswith("steps [1]")
    assert done["citations"] == [1]


@pytest.fixture(scope="module")
def citing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    rag = FakeRagApp(tmp_path_factory.mktemp("citing"), answer=CITING,
                     retriever=KeywordRetriever(FILES, k=2))
    with LiveServer(create_rag_server(rag, keepalive=1.0, warm_up=False)) as server:
        yield server


def test_several_citations_in_range_with_the_cards_as_the_sources_show_them(
    citing_server: LiveServer,
) -> None:
    events = chat(citing_server, {"question": "How do agents plan steps?"})

    check_order(events)
    cited = [e.json() for e in events if e.event == "citation"]
    cards = {c["rank"]: c for c in next(e.json()["sources"] for e in events
                                        if e.event == "sources")}
    assert [(c["index"], c["marker"]) for c in cited] == [
        (2, "[2]"), (1, "[1, 2]"), (2, "[1, 2]"), (1, "[1]"),
    ]
    assert all(c["source"] == cards[c["index"]] for c in cited)
    # file sources are shown relative to the collection's files, never as the server's paths
    assert {c["source"]["source"] for c in cited} == {"notes/agents.md", "notes/guide/tot.md"}
    assert events[-2].json()["citations"] == [2, 1]


def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0,
                         timeout=10)


def test_v1_streaming_puts_citations_beside_the_sources(citing_server: LiveServer) -> None:
    stream = client(citing_server).chat.completions.create(
        model="ragstream", messages=[{"role": "user", "content": "How do agents plan?"}],
        stream=True,
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == CITING
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert final.model_extra["citations"] == [2, 1]
    ranks = [s["rank"] for s in final.model_extra["sources"]]
    assert set(final.model_extra["citations"]) <= set(ranks)
    # only the final chunk carries them: the others are plain OpenAI chunks
    assert all("citations" not in c.model_extra for c in chunks if c is not final)


def test_v1_without_streaming_has_citations_too(citing_server: LiveServer,
                                                rag_server: LiveServer) -> None:
    response = client(citing_server).chat.completions.create(
        model="ragstream", messages=[{"role": "user", "content": "How do agents plan?"}],
    )
    assert response.choices[0].message.content == CITING
    assert response.model_extra["citations"] == [2, 1]
    assert len(response.model_extra["sources"]) == 2

    plain = client(rag_server).chat.completions.create(
        model="ragstream", messages=[{"role": "user", "content": QUESTION}],
    )
    assert plain.model_extra["citations"] == [1]


def test_an_answer_that_cites_nothing_has_an_empty_list(tmp_path: Path) -> None:
    rag = FakeRagApp(tmp_path, answer="No markers here, nor [x] nor [0].")
    with LiveServer(create_rag_server(rag, keepalive=1.0, warm_up=False)) as server:
        events = chat(server, {"question": QUESTION})
        response = client(server).chat.completions.create(
            model="ragstream", messages=[{"role": "user", "content": QUESTION}],
        )
    assert "citation" not in [e.event for e in events]
    assert next(e.json() for e in events if e.event == "done")["citations"] == []
    assert response.model_extra["citations"] == []
