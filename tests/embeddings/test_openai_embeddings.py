"""OpenAIEmbeddings against an OpenAI-compatible server on 127.0.0.1, through the real SDK."""

from __future__ import annotations

import asyncio
import sys

import pytest

from ragstream.embeddings import OpenAIEmbeddings
from ragstream.errors import (
    ConfigError,
    InputError,
    MissingDependencyError,
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
)
from tests.servers import OpenAIServer, Reply, refused_url, vector
from tests.servers.fixtures import openai_server  # noqa: F401

KEY = "sk-test-EMBEDLEAK-41c07a"


def embeddings(server: OpenAIServer, **kwargs: object) -> OpenAIEmbeddings:
    options: dict[str, object] = {"base_url": server.base_url, "api_key": KEY}
    options.update(kwargs)
    return OpenAIEmbeddings(**options)  # type: ignore[arg-type]


def test_vectors_come_back_in_order_across_batches(openai_server: OpenAIServer) -> None:  # noqa: F811
    texts = [f"chunk number {i}" for i in range(7)]
    model = embeddings(openai_server, batch_size=3, dimensions=16)
    assert model.embed_documents(texts) == [vector(t, 16) for t in texts]
    batches = [r.json["input"] for r in openai_server.requests]
    assert sorted(batches) == sorted([texts[0:3], texts[3:6], texts[6:7]])
    body = openai_server.requests[0].json
    assert (body["model"], body["dimensions"], body["encoding_format"]) == (
        "text-embedding-3-small", 16, "float",
    )
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def test_batches_run_at_most_max_concurrency_at_a_time(
    openai_server: OpenAIServer,  # noqa: F811
) -> None:
    openai_server.default = Reply(first_delay=0.1)
    model = embeddings(openai_server, batch_size=1, max_concurrency=2)
    assert len(model.embed_documents([f"t{i}" for i in range(4)])) == 4
    starts = sorted(r.at for r in openai_server.requests)
    # two at once, then the next two once those answered
    assert starts[1] - starts[0] < 0.08
    assert starts[2] - starts[0] >= 0.09


def test_query_and_async_twins(openai_server: OpenAIServer) -> None:  # noqa: F811
    model = embeddings(openai_server)
    assert model.embed_query("What is task decomposition?") == vector(
        "What is task decomposition?", 8
    )

    async def main() -> list[list[float]]:
        return [await model.aembed_query("q"), *(await model.aembed_documents(["a", "b"]))]

    assert asyncio.run(main()) == [vector("q", 8), vector("a", 8), vector("b", 8)]


def test_no_texts_make_no_request(openai_server: OpenAIServer) -> None:  # noqa: F811
    assert embeddings(openai_server).embed_documents([]) == []
    assert openai_server.requests == []


def test_a_5xx_is_retried(openai_server: OpenAIServer) -> None:  # noqa: F811
    openai_server.script(Reply(status=503), Reply())
    model = embeddings(openai_server, retry_backoff=0.01)
    assert model.embed_query("x") == vector("x", 8)
    assert len(openai_server.requests) == 2


def test_an_error_status_names_the_url_and_hides_the_key(
    openai_server: OpenAIServer,  # noqa: F811
) -> None:
    openai_server.script(Reply(status=401, error=f"Incorrect API key provided: {KEY}"))
    with pytest.raises(ModelHTTPError) as caught:
        embeddings(openai_server).embed_query("x")
    error = caught.value
    assert error.status == 401
    assert error.url == f"{openai_server.base_url}/embeddings"
    assert f"{openai_server.base_url}/embeddings" in str(error)
    assert KEY not in str(error) and KEY not in repr(error.__cause__)


def test_a_refused_connection_is_a_connection_error() -> None:
    url = refused_url()
    model = OpenAIEmbeddings(base_url=url, api_key=KEY, max_retries=1, retry_backoff=0.01)
    with pytest.raises(ModelConnectionError, match="after 2 attempts") as caught:
        model.embed_query("x")
    assert caught.value.url == f"{url}/embeddings"


def test_a_garbled_answer_is_a_clear_error(openai_server: OpenAIServer) -> None:  # noqa: F811
    openai_server.script(Reply(raw=b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                  b"content-length: 5\r\n\r\n{oops"))
    with pytest.raises(ModelError, match="cannot be read") as caught:
        embeddings(openai_server, max_retries=0).embed_query("x")
    assert caught.value.url == f"{openai_server.base_url}/embeddings"
    assert f"{openai_server.base_url}/embeddings" in str(caught.value)


def test_bad_texts_are_input_errors(openai_server: OpenAIServer) -> None:  # noqa: F811
    model = embeddings(openai_server)
    with pytest.raises(InputError, match="text 1 to embed is empty"):
        model.embed_documents(["fine", ""])
    with pytest.raises(InputError, match="text 0 to embed is a int"):
        model.embed_documents([3])  # type: ignore[list-item]
    assert openai_server.requests == []


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        OpenAIEmbeddings(batch_size=0)
    with pytest.raises(ConfigError, match="dimensions"):
        OpenAIEmbeddings(dimensions=0)


def test_repr_hides_the_key() -> None:
    model = OpenAIEmbeddings(base_url="http://127.0.0.1:9/v1", api_key=KEY)
    assert repr(model) == "OpenAIEmbeddings(model='text-embedding-3-small', base_url='http://127.0.0.1:9/v1')"
    assert KEY not in repr(vars(model))


def test_without_the_sdk_the_error_says_what_to_install(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match=r'pip install "ragstream\[openai\]"'):
        embeddings(openai_server).embed_query("x")
