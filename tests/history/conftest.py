"""Fixtures for the chat history tests: the shared PostgreSQL server."""

from tests._postgres_server import postgres_dsn, postgres_server

__all__ = ["postgres_dsn", "postgres_server"]
