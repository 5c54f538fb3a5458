"""Fixtures shared by the whole suite: real servers started once per session."""

from tests._chroma_server import chroma_server  # noqa: F401  (fixtures)
from tests._postgres_server import postgres_dsn, postgres_server  # noqa: F401  (fixtures)
from tests.servers.fixtures import anthropic_server, openai_server  # noqa: F401  (fixtures)
