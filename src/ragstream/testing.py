"""Fakes for testing applications built on ragstream, with no network and no weights."""

from ragstream.embeddings._fake import FakeEmbeddings
from ragstream.models._fake import FakeChatModel
from ragstream.models._llm import FakeLLM

__all__ = ["FakeChatModel", "FakeEmbeddings", "FakeLLM"]
