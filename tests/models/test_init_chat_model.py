"""``init_chat_model``: a model from one ``"<provider>:<model>"`` string."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ragstream.errors import ConfigError
from ragstream.models import ChatAnthropic, ChatOpenAI, ExtractiveChatModel, init_chat_model
from tests.servers import OpenAIServer


def test_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    model = init_chat_model("openai:gpt-4o-mini", temperature=0, max_retries=5)
    assert isinstance(model, ChatOpenAI)
    assert (model.model, model.base_url) == ("gpt-4o-mini", "https://api.openai.com/v1")
    assert model.temperature == 0 and model.limits.max_retries == 5


def test_anthropic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    model = init_chat_model("anthropic:claude-haiku-4-5", max_tokens=300)
    assert isinstance(model, ChatAnthropic)
    assert (model.model, model.max_tokens) == ("claude-haiku-4-5", 300)


def test_the_provider_is_inferred_from_well_known_model_names() -> None:
    assert isinstance(init_chat_model("gpt-4o-mini"), ChatOpenAI)
    assert isinstance(init_chat_model("claude-haiku-4-5"), ChatAnthropic)
    assert isinstance(init_chat_model("haiku", model_provider="anthropic"), ChatAnthropic)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        (None, "http://localhost:11434/v1"),
        ("127.0.0.1:9999", "http://127.0.0.1:9999/v1"),
        ("http://gpu-box:11434", "http://gpu-box:11434/v1"),
        ("0.0.0.0", "http://localhost:11434/v1"),
        ("https://ollama.example.com", "https://ollama.example.com:11434/v1"),
    ],
)
def test_ollama_base_url_follows_ollama_host(
    host: str | None, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if host is None:
        monkeypatch.delenv("OLLAMA_HOST", raising=False)
    else:
        monkeypatch.setenv("OLLAMA_HOST", host)
    model = init_chat_model("ollama:llama3.2:3b")
    assert isinstance(model, ChatOpenAI)
    assert (model.model, model.base_url) == ("llama3.2:3b", url)


def test_ollama_model_talks_to_the_server_at_ollama_host(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", openai_server.url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    answer = init_chat_model("ollama:llama3.2", temperature=0).invoke("hi")
    assert answer.content == "Hello from the test server."
    body = openai_server.requests[0].json
    assert (body["model"], body["temperature"]) == ("llama3.2", 0)


def test_openai_compatible_with_the_url_in_the_name(openai_server: OpenAIServer) -> None:
    model = init_chat_model(f"openai-compatible:qwen2.5@{openai_server.base_url}")
    assert model.invoke("hi").content == "Hello from the test server."
    assert openai_server.requests[0].json["model"] == "qwen2.5"


def test_a_base_url_argument_makes_any_model_openai_compatible(
    openai_server: OpenAIServer,
) -> None:
    model = init_chat_model("mistral-7b", base_url=openai_server.base_url)
    assert isinstance(model, ChatOpenAI)
    model.invoke("hi")
    assert openai_server.requests[0].json["model"] == "mistral-7b"


def test_extractive_is_the_offline_model() -> None:
    assert isinstance(init_chat_model("extractive"), ExtractiveChatModel)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("foo:bar", r"unknown chat model provider 'foo'.*openai, anthropic, ollama"),
        ("llama3", r"cannot tell the provider of chat model 'llama3'.*ollama"),
        ("", "non-empty string"),
        ("openai:", "names no model"),
        ("openai-compatible:qwen", "openai-compatible:<model>@<base_url>"),
    ],
)
def test_bad_names_are_config_errors_listing_the_providers(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        init_chat_model(name)


def test_a_provider_clash_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="model_provider"):
        init_chat_model("openai:gpt-4o", model_provider="anthropic")


def test_models_load_their_sdk_only_when_they_are_called() -> None:
    code = (
        "import sys\n"
        "from ragstream.models import ChatOpenAI, init_chat_model\n"
        "from ragstream.embeddings import OpenAIEmbeddings\n"
        "ChatOpenAI(); OpenAIEmbeddings(); init_chat_model('anthropic:claude-haiku-4-5')\n"
        "print('openai' in sys.modules, 'anthropic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
