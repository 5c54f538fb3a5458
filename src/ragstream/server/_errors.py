"""What a client is told when something goes wrong, and nothing more.

``HTTPProblem`` is a refusal the server decides on (bad JSON, a body too
large, an unknown session): its message is written for the client.
``public_error`` turns any other exception into a status and a message safe
to send: the messages of errors about the client's own input pass through;
everything else gets a fixed sentence by kind, plus an error id that the
server log repeats next to the full traceback. No traceback, path, URL or key
ever reaches a client.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from ragstream.errors import (
    ConfigError,
    InputError,
    MissingDependencyError,
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
    ModelTimeoutError,
    SourceError,
    StoreError,
    StreamInterruptedError,
)

__all__ = ["HTTPProblem", "PublicError", "public_error"]

log = logging.getLogger("ragstream.server")


class HTTPProblem(Exception):
    """A request the server refuses, with the status and a message for the client.

    ``errors`` holds per-field details (``loc``, ``msg``, ``type``) for 422s;
    ``param`` names the offending field in OpenAI-style error bodies.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.errors = errors


class PublicError(dict[str, Any]):
    """``{"status_code": int, "message": str, "type": str}``, safe to send."""

    @property
    def status(self) -> int:
        return int(self["status_code"])

    @property
    def message(self) -> str:
        return str(self["message"])


def _with_id(status: int, kind: str, sentence: str, exc: BaseException) -> PublicError:
    error_id = secrets.token_hex(4)
    log.error("error %s: %s", error_id, sentence, exc_info=exc)
    return PublicError(
        status_code=status,
        message=f"{sentence} (error id {error_id}; the server log has the details)",
        type=kind,
    )


def public_error(exc: BaseException) -> PublicError:
    """The status code and a message about ``exc`` that a client may see."""
    if isinstance(exc, HTTPProblem):
        return PublicError(status_code=exc.status, message=exc.message, type="invalid_request")
    if isinstance(exc, ConfigError | MissingDependencyError):
        # their messages may name files and settings of the server
        return _with_id(500, "server_error", "the server is misconfigured", exc)
    if isinstance(exc, InputError):
        return PublicError(status_code=422, message=str(exc), type="invalid_input")
    if isinstance(exc, ModelHTTPError):
        return _with_id(
            502, "model_error", f"the model server answered with status {exc.status}", exc
        )
    if isinstance(exc, ModelTimeoutError):
        return _with_id(504, "model_error", "the model did not answer in time", exc)
    if isinstance(exc, ModelConnectionError):
        return _with_id(502, "model_error", "the model server could not be reached", exc)
    if isinstance(exc, StreamInterruptedError):
        return _with_id(502, "model_error", "the model's answer broke off mid-stream", exc)
    if isinstance(exc, ModelError):
        return _with_id(502, "model_error", "the model failed", exc)
    if isinstance(exc, SourceError):
        return PublicError(status_code=422, message=str(exc), type="source_error")
    if isinstance(exc, StoreError):
        return _with_id(500, "store_error", "the document or history store failed", exc)
    return _with_id(500, "server_error", "internal server error", exc)
