"""Fixtures for the vector store tests: the shared Chroma server."""

from tests._chroma_server import chroma_server

__all__ = ["chroma_server"]
