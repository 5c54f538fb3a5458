"""The chat turn stream the page uses, and sessions over HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.server._live import LiveServer, collect_sse, run

QUESTION = "What is task decomposition?"


def chat(server: LiveServer, body: dict) -> tuple[httpx.Response, list]:
    async def main() -> tuple[httpx.Response, list]:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as c:
            return await collect_sse(c, "/chat", body)

    return run(main())


def get(server: LiveServer, method: str, path: str) -> httpx.Response:
    return httpx.request(method, f"{server.url}{path}", timeout=10)


def test_a_turn_streams_its_steps_in_order(rag_server: LiveServer) -> None:
    _, events = chat(rag_server, {"question": QUESTION})
    kinds = [e.event for e in events]
    assert kinds[0] == "session" and kinds[-2:] == ["done", "end"]
    assert kinds.index("query") < kinds.index("sources") < kinds.index("token")
    assert "rewrite" not in kinds  # a first question is sent to retrieval as asked
    assert next(e.json() for e in events if e.event == "query") == {"text": QUESTION}
    cards = next(e.json() for e in events if e.event == "sources")["sources"]
    assert cards[0]["title"] == "LLM Powered Autonomous Agents" and cards[0]["score"] > 0
    assert set(cards[0]) >= {"rank", "title", "link", "snippet", "score", "source"}
    tokens = [e.json()["text"] for e in events if e.event == "token"]
    done = next(e.json() for e in events if e.event == "done")
    assert "".join(tokens) == done["answer"] and len(tokens) > 5
    assert done["incomplete"] is False and done["model"] == "fake model"
    assert done["usage"]["output_tokens"] == len(tokens)
    assert events[0].json()["model"] == "fake model"


def test_a_follow_up_is_rewritten_and_saved_in_the_session(rag_server: LiveServer) -> None:
    _, first = chat(rag_server, {"question": QUESTION})
    session_id = first[0].json()["session_id"]
    _, second = chat(rag_server, {"question": "How do agents use it?", "session_id": session_id})
    assert second[0].json()["session_id"] == session_id
    rewrite = [e.json()["text"] for e in second if e.event == "rewrite"]
    assert "".join(rewrite) == "What is task decomposition in agents?" and len(rewrite) > 3
    query = next(e.json()["text"] for e in second if e.event == "query")
    assert query == "What is task decomposition in agents?"

    session = get(rag_server, "GET", f"/sessions/{session_id}").json()
    assert [m["type"] for m in session["messages"]] == ["human", "ai", "human", "ai"]
    assert session["messages"][2]["content"] == "How do agents use it?"
    assert not any(m["incomplete"] for m in session["messages"])
    listed = get(rag_server, "GET", "/sessions").json()["sessions"]
    mine = next(s for s in listed if s["id"] == session_id)
    assert mine["title"] == QUESTION and mine["message_count"] == 4


def test_delete_a_session(rag_server: LiveServer) -> None:
    _, events = chat(rag_server, {"question": QUESTION})
    session_id = events[0].json()["session_id"]
    assert get(rag_server, "DELETE", f"/sessions/{session_id}").status_code == 204
    assert get(rag_server, "GET", f"/sessions/{session_id}").status_code == 404
    gone = get(rag_server, "DELETE", f"/sessions/{session_id}")
    assert gone.status_code == 404 and session_id in gone.json()["detail"]


def test_unknown_and_invalid_session_ids(rag_server: LiveServer) -> None:
    missing = get(rag_server, "GET", "/sessions/no-such-session")
    assert missing.status_code == 404 and "no-such-session" in missing.json()["detail"]
    too_long = get(rag_server, "GET", "/sessions/" + "x" * 300)
    assert too_long.status_code == 422 and "at most 200" in too_long.json()["detail"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "field required"),
        ({"question": ""}, "at least 1"),
        ({"question": "   "}, "must not be blank"),
        ({"question": 42}, "must be of type string"),
        ({"question": "q", "session_id": 7}, "must be of type string or null"),
        ({"question": "q", "collection": "other"}, "unknown field"),
        ({"question": "q", "session_id": "a\nb"}, "printable"),
    ],
)
def test_bad_turns_are_422(rag_server: LiveServer, body: dict, needle: str) -> None:
    response, _ = chat(rag_server, body)
    assert response.status_code == 422 and needle in response.text


def test_a_failing_model_ends_the_turn_with_an_error_event(tmp_path) -> None:
    from ragstream.server import create_rag_server
    from tests.server._live import SECRET, FailingModel, FakeRagApp

    app = FakeRagApp(tmp_path, model=FailingModel())
    with LiveServer(create_rag_server(app, keepalive=None)) as server:
        _, events = chat(server, {"question": QUESTION, "session_id": "s-fail"})
        assert events[-1].event == "error" and "done" not in [e.event for e in events]
        assert events[-1].json()["status_code"] == 502
        assert SECRET not in "".join(e.data for e in events)
        saved = get(server, "GET", "/sessions/s-fail").json()["messages"]
        assert saved[-1]["content"] == "Partial answer" and saved[-1]["incomplete"] is True
