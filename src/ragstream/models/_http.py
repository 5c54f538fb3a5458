"""Retries and deadlines for calls to model servers, and the errors they end in.

A call is tried again (with backoff, honouring ``Retry-After``) only while no
token has reached the caller: once text has gone out, a failure ends the call
with the partial text kept on the error. Two deadlines bound a call from its
start: one for the first token, one for the whole answer. Errors name the
server's URL and never the key.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ragstream.errors import (
    ConfigError,
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
    ModelTimeoutError,
    RagstreamError,
    StreamInterruptedError,
)
from ragstream.messages import AIMessageChunk

if TYPE_CHECKING:
    from ragstream.models._sdk import Secret

__all__ = [
    "CallLimits",
    "Classify",
    "EndedEarly",
    "Failure",
    "Progress",
    "guarded_call",
    "guarded_stream",
    "retry_after",
    "root_reason",
]

T = TypeVar("T")
Piece = AIMessageChunk | str

_RETRY_STATUSES = frozenset({408, 409, 429})
_MAX_WAIT = 60.0  # the longest Retry-After we honour
_MAX_BACKOFF = 8.0


@dataclass(frozen=True)
class CallLimits:
    """How long a call may take and how often it is tried again."""

    max_retries: int = 2
    retry_backoff: float = 0.5
    first_token_timeout: float | None = 60.0
    total_timeout: float | None = 300.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, not {self.max_retries}")
        if self.retry_backoff < 0:
            raise ConfigError(f"retry_backoff must be 0 or more, not {self.retry_backoff}")
        for name in ("first_token_timeout", "total_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be positive or None, not {value}")


class EndedEarly(Exception):
    """Raised by a decoder whose stream ended without the model saying it was done."""


class Progress:
    """What an attempt tells the driver: whether the server has answered yet."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


Kind = Literal["connect", "status", "timeout", "broken", "server", "malformed"]


@dataclass
class Failure:
    """A provider failure, classified."""

    kind: Kind
    detail: str
    status: int | None = None
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        if self.kind in ("connect", "broken"):
            return True
        status = self.status
        if self.kind == "status" and status is not None:
            return status in _RETRY_STATUSES or status >= 500
        return False


Classify = Callable[[BaseException, bool], Failure | None]


class _Errors:
    def __init__(self, url: str, secret: Secret, *, streaming: bool) -> None:
        self.url = url
        self.secret = secret
        self.streaming = streaming

    def build(self, f: Failure, partial: str, tries: int) -> ModelError:
        url = self.url
        detail = self.secret.redact(f.detail)
        after = f" (after {tries} attempts)" if tries > 1 else ""
        if f.kind == "connect":
            return ModelConnectionError(f"cannot connect to {url}: {detail}{after}", url=url)
        if f.kind == "status":
            assert f.status is not None
            return ModelHTTPError(
                f"{url} answered HTTP {f.status}: {detail}{after}", status=f.status, url=url
            )
        if f.kind == "timeout":
            return ModelTimeoutError(f"{url} timed out: {detail}", url=url, partial=partial)
        if not self.streaming:  # a whole response that made no sense
            return ModelError(f"{url} sent a response that cannot be read: {detail}", url=url)
        got = f"after {len(partial)} characters" if partial else "before any text"
        if f.kind == "server":
            msg = f"{url} reported an error mid-stream ({got}): {detail}"
        elif f.kind == "malformed":
            msg = f"{url} sent a malformed stream frame ({got}): {detail}"
        else:
            msg = f"the answer stream from {url} broke off {got}: {detail}{after}"
        return StreamInterruptedError(msg, url=url, partial=partial)

    def mentions_secret(self, exc: BaseException) -> bool:
        key = self.secret.get()
        if key is None:
            return False
        seen: BaseException | None = exc
        for _ in range(20):  # a chain can loop back on itself
            if seen is None:
                break
            if key in str(seen) or key in repr(getattr(seen, "body", None)):
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    def wait(self, f: Failure, tries: int, limits: CallLimits) -> float:
        if f.retry_after is not None:
            return min(max(f.retry_after, 0.0), _MAX_WAIT)
        base = limits.retry_backoff * 2.0 ** (tries - 1)
        return min(base, _MAX_BACKOFF) * random.uniform(0.8, 1.2)


def _deadline_error(url: str, first: bool, limits: CallLimits, partial: str) -> ModelTimeoutError:
    if first:
        msg = f"no answer from {url} within first_token_timeout={limits.first_token_timeout:g} s"
    else:
        msg = f"the answer from {url} took longer than total_timeout={limits.total_timeout:g} s"
    return ModelTimeoutError(msg, url=url, partial=partial)


class _Deadline:
    """One timer for a whole call, where ``asyncio.timeout`` around each chunk
    would cost a timer per token. It cancels the reading task only while that
    task waits on the server (``waiting``), never while the consumer holds a
    chunk; a deadline that passes meanwhile is seen at the next read."""

    __slots__ = ("_handle", "_loop", "_ours", "expired", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._ours = False
        self.expired = False
        self.waiting: asyncio.Task[Any] | None = None

    def set(self, when: float | None) -> None:
        self.cancel()
        if when is not None:
            self._handle = self._loop.call_at(when, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self.expired = True
        task = self.waiting
        if task is not None and not task.done():
            self._ours = True
            task.cancel()

    def absorb(self, task: asyncio.Task[Any]) -> bool:
        """After a CancelledError in a read: True when it was this deadline's
        alone (and is taken back), False when someone else cancelled too."""
        if not self._ours:
            return False
        self._ours = False
        return task.uncancel() == 0


async def guarded_stream(
    attempt: Callable[[Progress], AsyncGenerator[Piece, None]],
    *,
    url: str,
    secret: Secret,
    limits: CallLimits,
    classify: Classify,
    setup: Callable[[], Awaitable[Any]] | None = None,
) -> AsyncIterator[Piece]:
    """Run ``attempt`` (an async generator of text pieces) under ``limits``.

    ``classify(exc, connected)`` turns a provider error into a ``Failure``
    (None: not a provider error, re-raise it as it is). ``setup`` (importing
    the SDK...) runs first, before the deadlines start counting.
    """
    if setup is not None:
        await setup()
    errors = _Errors(url, secret, streaming=True)
    loop = asyncio.get_running_loop()
    start = loop.time()
    first_by = None if limits.first_token_timeout is None else start + limits.first_token_timeout
    total_by = None if limits.total_timeout is None else start + limits.total_timeout
    before_first = first_by if total_by is None else (
        total_by if first_by is None else min(first_by, total_by)
    )
    deadline = _Deadline(loop)
    deadline.set(before_first)
    partial: list[str] = []
    tries = 0
    try:
        while True:
            tries += 1
            progress = Progress()
            stream = attempt(progress)
            started = False
            try:
                while True:
                    if deadline.expired:
                        first = not started and before_first == first_by
                        raise _deadline_error(url, first, limits, "".join(partial))
                    # the reader, each time: a stream may be read from several tasks
                    reader = deadline.waiting = asyncio.current_task()
                    try:
                        piece = await stream.__anext__()
                    except StopAsyncIteration:
                        return
                    except asyncio.CancelledError:
                        if reader is None or not deadline.absorb(reader):
                            raise
                        continue  # report the deadline at the top of the loop
                    finally:
                        deadline.waiting = None
                    if not started:
                        started = True
                        if total_by != before_first:
                            deadline.set(total_by)
                    text = piece if type(piece) is str else piece.content  # type: ignore[union-attr]
                    if text:
                        partial.append(text)
                    yield piece
            except RagstreamError:  # already ours: a deadline, a missing key...
                raise
            except Exception as exc:
                failure = classify(exc, progress.connected)
                if failure is None:
                    raise
                if not started and failure.retryable and tries <= limits.max_retries:
                    wait = errors.wait(failure, tries, limits)
                    if before_first is None or loop.time() + wait < before_first:
                        await asyncio.sleep(wait)
                        continue
                error = errors.build(failure, "".join(partial), tries)
                if errors.mentions_secret(exc):
                    raise error from None
                raise error from exc
            finally:
                await stream.aclose()
    finally:
        deadline.cancel()


async def guarded_call(
    call: Callable[[], Awaitable[T]],
    *,
    url: str,
    secret: Secret,
    limits: CallLimits,
    classify: Classify,
) -> T:
    """Run one non-streaming request under ``limits`` (``total_timeout`` bounds
    the whole call, retries included)."""
    errors = _Errors(url, secret, streaming=False)
    loop = asyncio.get_running_loop()
    total_by = None if limits.total_timeout is None else loop.time() + limits.total_timeout
    tries = 0
    while True:
        tries += 1
        scope = asyncio.timeout_at(total_by)
        try:
            async with scope:
                return await call()
        except TimeoutError:
            if not scope.expired():
                raise
            raise _deadline_error(url, False, limits, "") from None
        except RagstreamError:
            raise
        except Exception as exc:
            failure = classify(exc, False)
            if failure is None and isinstance(exc, ValueError):  # a body that does not parse
                failure = Failure("malformed", root_reason(exc)[:300])
            if failure is None:
                raise
            if failure.retryable and tries <= limits.max_retries:
                wait = errors.wait(failure, tries, limits)
                if total_by is None or loop.time() + wait < total_by:
                    await asyncio.sleep(wait)
                    continue
            error = errors.build(failure, "", tries)
            if errors.mentions_secret(exc):
                raise error from None
            raise error from exc


def retry_after(headers: Any) -> float | None:
    """Seconds a server asked us to wait (``retry-after-ms`` or ``Retry-After``)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def root_reason(exc: BaseException) -> str:
    """The innermost cause's message: 'Connection refused' beats 'Connection error.'."""
    reason = str(exc) or type(exc).__name__
    seen: BaseException | None = exc
    depth = 0
    while seen is not None and depth < 10:
        text = str(seen)
        if text:
            reason = text
        seen = seen.__cause__ or seen.__context__
        depth += 1
    return reason


