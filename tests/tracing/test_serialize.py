"""What a trace keeps of inputs and outputs: bounded, JSON, secrets hidden."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ragstream.documents import Document
from ragstream.messages import AIMessage, HumanMessage
from ragstream.runnables import RunnableLambda
from ragstream.tracing import Tracer, enable_tracing, get_trace, is_secret_key, list_traces
from ragstream.tracing._serialize import MASK, to_jsonable

from .conftest import ListRetriever, guide_chain


def test_documents_and_messages_are_their_dicts_and_usage_is_kept() -> None:
    doc = Document("text", {"source": "a.md"}, id="d1")
    ai = AIMessage("hi", usage_metadata={"input_tokens": 3, "output_tokens": 1,
                                         "total_tokens": 4})
    out, cut = to_jsonable({"docs": [doc], "messages": [HumanMessage("q"), ai]}, limit=10_000)
    assert not cut
    assert out == {"docs": [doc.to_dict()], "messages": [
        {"type": "human", "content": "q"},
        {"type": "ai", "content": "hi",
         "usage_metadata": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}},
    ]}


class Broken:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class Weird:
    def to_dict(self) -> Any:
        raise ValueError("no dict either")


def test_anything_else_is_its_repr_and_nothing_raises() -> None:
    out, _ = to_jsonable({"a": Broken(), "b": Weird(), "c": b"\x00\x01", "d": float("nan"),
                          (1, 2): {1, 2}}, limit=10_000)
    assert out["a"] == "<Broken object>"
    assert out["b"].startswith("<tests.tracing.test_serialize.Weird object")
    assert out["c"] == "<2 bytes>" and out["d"] == "nan"
    assert out["(1, 2)"] == [1, 2]
    json.dumps(out)  # plain JSON


@settings(max_examples=50, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=60,
), st.integers(min_value=100, max_value=2000))
def test_any_json_value_comes_out_as_json_no_longer_than_about_the_limit(
    value: Any, limit: int
) -> None:
    out, cut = to_jsonable(value, limit=limit)
    text = json.dumps(out, ensure_ascii=False)
    assert len(text) <= 2 * limit + 200  # markers and escapes are the slack
    if not cut:
        assert len(json.dumps(value, ensure_ascii=False)) <= limit + 200


def test_secret_names() -> None:
    for name in ("api_key", "OPENAI_API_KEY", "apiKey", "x-api-key", "Authorization",
                 "password", "db_password", "access_token", "refreshToken", "token",
                 "client_secret", "SECRET", "credentials", "Cookie"):
        assert is_secret_key(name), name
    for name in ("max_tokens", "input_tokens", "total_tokens", "author", "tokenizer",
                 "secretary", "source", "passage"):
        assert not is_secret_key(name), name


def test_secret_values_never_reach_the_file(tmp_path: Path, restore_observer: None) -> None:
    tracer = enable_tracing(path=tmp_path / "traces.db")
    secrets = ["sk-live-123456", "hunter2-pass", "Bearer tok-789", "ghp_tokenvalue"]

    def call_api(x: dict[str, Any]) -> dict[str, Any]:
        return {"status": 200, "request": {"headers": {"Authorization": secrets[2]}}}

    chain = RunnableLambda(call_api).with_config(
        metadata={"api_key": secrets[0], "tenant": "acme"}
    )
    chain.invoke({"query": "q", "password": secrets[1],
                  "config": {"github_token": secrets[3], "max_tokens": 256}})
    tracer.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for secret in secrets:
        assert secret.encode() not in raw
    run = get_trace(list_traces(path=tracer.path)[0].trace_id, path=tracer.path)
    assert run is not None
    assert run.metadata == {"api_key": MASK, "tenant": "acme"}
    assert run.inputs == {"query": "q", "password": MASK,
                          "config": {"github_token": MASK, "max_tokens": 256}}
    assert run.outputs == {"status": 200, "request": {"headers": {"Authorization": MASK}}}


def test_each_field_is_cut_to_the_tracers_field_size(tmp_path: Path,
                                                     restore_observer: None) -> None:
    tracer = enable_tracing(path=tmp_path / "traces.db", field_size=500)
    docs = [Document(f"passage {i} " * 20, {"source": f"s{i}.md"}) for i in range(300)]
    question = "why? " * 2000
    guide_chain(retriever=ListRetriever(docs)).invoke({"input": question})
    assert tracer.flush()
    root = get_trace(list_traces(path=tracer.path)[0].trace_id, path=tracer.path)
    assert root is not None
    retriever = root.find("ListRetriever")
    assert retriever is not None and retriever.truncated
    assert retriever.inputs.startswith("why? why?")
    assert retriever.inputs.endswith("more characters]")
    assert retriever.outputs[-1].endswith("more items")
    assert retriever.outputs[0] == docs[0].to_dict()
    assert root.truncated
    with sqlite3.connect(tracer.path) as conn:
        widest = conn.execute(
            "SELECT MAX(MAX(LENGTH(inputs), LENGTH(outputs), LENGTH(metadata))) FROM runs"
        ).fetchone()[0]
    assert widest < 1500  # not the ~120 KB of the documents


def test_a_small_field_size_is_refused(tmp_path: Path) -> None:
    import pytest

    from ragstream.errors import ConfigError

    with pytest.raises(ConfigError, match="field_size"):
        Tracer(path=tmp_path / "t.db", field_size=10)
    with pytest.raises(ConfigError, match="otlp_endpoint"):
        Tracer(local=False)
