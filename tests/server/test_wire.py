"""SSE frames and JSON shapes, on plain values (no server)."""

from __future__ import annotations

import json

import pytest

from ragstream.documents import Document
from ragstream.errors import InputError, ModelHTTPError
from ragstream.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from ragstream.prompts import ChatPromptTemplate, PromptTemplate
from ragstream.server._schema import schema_errors
from ragstream.server._serialize import decode, encode, source_card
from ragstream.server._sse import frame
from tests.server._live import SECRET, parse_sse


def test_frame_encodes_json_data_one_line_per_data_field() -> None:
    raw = frame("data", {"text": "two\nlines", "n": 1})
    assert raw == b'event: data\ndata: {"text":"two\\nlines","n":1}\n\n'
    assert parse_sse(raw.decode())[0].json() == {"text": "two\nlines", "n": 1}


def test_frame_without_data_and_raw_text() -> None:
    assert frame("end") == b"event: end\n\n"
    assert frame(None, raw="[DONE]") == b"data: [DONE]\n\n"
    # raw text with newlines becomes several data fields that join back
    assert parse_sse(frame("x", raw="a\nb").decode())[0].data == "a\nb"


def test_frame_strings_are_json_strings() -> None:
    # a LangServe client json-decodes every data field
    assert frame("data", " decomposition") == b'event: data\ndata: " decomposition"\n\n'
    assert frame("data", "é") == 'event: data\ndata: "é"\n\n'.encode()


def test_decoder_handles_comments_crlf_and_multiline() -> None:
    events = parse_sse(": ping\r\n\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: x\n\n")
    assert [(e.event, e.data) for e in events] == [("a", "1\n2"), ("message", "x")]


def test_documents_and_messages_encode_in_langserve_shapes() -> None:
    out = encode({
        "doc": Document("text", metadata={"source": "a"}, id="1"),
        "msg": AIMessage("hi", usage_metadata={"input_tokens": 1, "output_tokens": 2,
                                               "total_tokens": 3}),
        "chunk": AIMessageChunk("to"),
        "human": HumanMessage("q"),
    })
    assert out["doc"] == {"id": "1", "metadata": {"source": "a"}, "page_content": "text",
                          "type": "Document"}
    assert out["msg"]["type"] == "ai" and out["msg"]["usage_metadata"]["total_tokens"] == 3
    assert out["chunk"] == {"type": "AIMessageChunk", "content": "to"}
    assert out["human"] == {"type": "human", "content": "q"}
    json.dumps(out)


def test_prompt_values_encode_like_the_reference() -> None:
    chat = ChatPromptTemplate.from_messages([("human", "{q}")]).invoke({"q": "hi"})
    assert encode(chat) == {"messages": [{"type": "human", "content": "hi"}],
                            "type": "ChatPromptValueConcrete"}
    text = PromptTemplate.from_template("say {q}").invoke({"q": "hi"})
    assert encode(text) == {"text": "say hi", "type": "StringPromptValue"}


def test_exceptions_in_event_data_are_safe() -> None:
    exc = ModelHTTPError(f"failed with key {SECRET}", status=500, url="http://10.1.1.1/v1")
    out = encode({"error": exc})
    text = json.dumps(out)
    assert out["error"]["status_code"] == 502
    assert SECRET not in text and "10.1.1.1" not in text and "Traceback" not in text


def test_decode_turns_serialized_objects_back() -> None:
    value = decode({
        "history": [
            {"type": "human", "content": "hi", "additional_kwargs": {}, "example": False},
            {"type": "ai", "content": "hello", "response_metadata": {"incomplete": True}},
            {"type": "tool", "content": "42", "tool_call_id": "c1"},
        ],
        "doc": {"type": "Document", "page_content": "p", "metadata": {"a": 1}},
        "plain": {"type": "not-a-kind", "content": "x"},
    })
    human, ai, tool = value["history"]
    assert isinstance(human, HumanMessage) and human.content == "hi"
    assert isinstance(ai, AIMessage) and ai.response_metadata == {"incomplete": True}
    assert isinstance(tool, ToolMessage) and tool.tool_call_id == "c1"
    assert value["doc"] == Document("p", metadata={"a": 1})
    assert value["plain"] == {"type": "not-a-kind", "content": "x"}


def test_decode_refuses_non_text_message_content() -> None:
    with pytest.raises(InputError, match="content must be a string"):
        decode({"type": "human", "content": [{"type": "image_url"}]})


def test_source_card_title_link_snippet_score() -> None:
    web = Document("word " * 200, metadata={"source": "https://x.org/a", "title": " A ",
                                            "score": 0.75})
    card = source_card(web, rank=1)
    assert card["title"] == "A" and card["link"] == "https://x.org/a" and card["score"] == 0.75
    assert len(card["snippet"]) <= 280 and card["snippet"].endswith("…")
    local = source_card(Document("t", metadata={"source": "/srv/notes/plan.md"}), rank=2)
    assert local["title"] == "plan.md" and local["link"] is None and local["score"] is None


def test_schema_subset() -> None:
    schema = {
        "type": "object", "additionalProperties": False, "required": ["a"],
        "properties": {"a": {"type": "string", "minLength": 1},
                       "b": {"type": "array", "items": {"$ref": "#/$defs/N"}, "maxItems": 2}},
        "$defs": {"N": {"type": "integer", "minimum": 0}},
    }
    assert schema_errors({"a": "x", "b": [1, 2]}, schema) == []
    locs = [e["loc"] for e in schema_errors({"b": [1, -1, True], "c": 0}, schema)]
    assert ["body", "a"] in locs and ["body", "c"] in locs
    assert ["body", "b", 1] in locs and ["body", "b", 2] in locs  # a bool is no integer
    assert schema_errors("x", {"anyOf": [{"type": "integer"}, {"type": "null"}]})[0]["type"] \
        == "any_of"


def test_public_surface() -> None:
    import ragstream.server

    assert sorted(ragstream.server.__all__) == [
        "BearerAuth", "RAG_INPUT_SCHEMA", "RAG_OUTPUT_SCHEMA", "RagAppLike", "add_routes",
        "create_app", "create_rag_server", "run_server", "serve",
    ]
    for name in ragstream.server.__all__:
        assert getattr(ragstream.server, name) is not None
