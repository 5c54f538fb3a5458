"""Faults between a chat model and its server, each run for ChatOpenAI and
ChatAnthropic against their test servers through the real SDKs: refused
connections, error statuses, streams that break off, silent and slow servers,
bad frames, split characters, and consumers that stop reading."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from ragstream.errors import (
    ModelConnectionError,
    ModelHTTPError,
    ModelTimeoutError,
    StreamInterruptedError,
)
from tests.models.conftest import Target
from tests.servers import Reply, refused_url

TOKENS = [f" t{i}" for i in range(40)]


# -- before the first token: retried -------------------------------------------


def test_connection_refused_is_retried_then_names_the_server(target: Target) -> None:
    url = refused_url()
    base = url if target.name == "openai" else url.removesuffix("/v1")
    model = target.make(base_url=base, api_key="k", max_retries=2, retry_backoff=0.01)
    with pytest.raises(ModelConnectionError) as caught:
        model.invoke("hi")
    error = caught.value
    assert error.url is not None and error.url.startswith(base)
    assert base in str(error)
    assert "after 3 attempts" in str(error)


def test_a_5xx_before_the_first_token_is_retried(target: Target) -> None:
    target.server.script(Reply(status=503), Reply(status=500), Reply(text=["fine"]))
    assert target.model(max_retries=2).invoke("hi").content == "fine"
    assert len(target.server.requests) == 3


def test_retries_back_off_exponentially(target: Target) -> None:
    target.server.script(Reply(status=502), Reply(status=502), Reply(text=["ok"]))
    target.model(max_retries=2, retry_backoff=0.1).invoke("hi")
    first, second, third = (r.at for r in target.server.requests)
    # 0.1 s then 0.2 s, each within 20 % jitter
    assert 0.08 <= second - first < 0.5
    assert third - second > second - first


def test_a_429_waits_as_long_as_retry_after_says(target: Target) -> None:
    target.server.script(Reply(status=429, headers={"Retry-After": "1"}), Reply(text=["ok"]))
    assert target.model(retry_backoff=0.0).invoke("hi").content == "ok"
    first, second = target.server.requests
    assert second.at - first.at >= 0.95


def test_when_retries_run_out_the_error_has_the_status_and_the_url(target: Target) -> None:
    target.server.script(*[Reply(status=500, error="upstream exploded")] * 3)
    with pytest.raises(ModelHTTPError) as caught:
        target.model(max_retries=2).invoke("hi")
    error = caught.value
    assert error.status == 500
    assert error.url is not None and error.url.startswith(target.server.url)
    assert "upstream exploded" in str(error) and "after 3 attempts" in str(error)
    assert len(target.server.requests) == 3


def test_max_retries_zero_tries_once(target: Target) -> None:
    target.server.script(Reply(status=503), Reply(text=["never sent"]))
    with pytest.raises(ModelHTTPError):
        target.model(max_retries=0).invoke("hi")
    assert len(target.server.requests) == 1


def test_a_client_error_is_not_retried(target: Target) -> None:
    target.server.script(Reply(status=400, error="bad model"), Reply())
    with pytest.raises(ModelHTTPError) as caught:
        target.model(max_retries=2).invoke("hi")
    assert caught.value.status == 400
    assert len(target.server.requests) == 1


def test_a_stream_that_breaks_before_any_text_is_retried(target: Target) -> None:
    target.server.script(Reply(close_after=0), Reply(text=["second", " try"]))
    assert target.model().invoke("hi").content == "second try"
    assert len(target.server.requests) == 2


# -- after the first token: never retried, partial text kept -------------------


def test_a_socket_closed_mid_answer_raises_with_the_partial_text(target: Target) -> None:
    target.server.script(Reply(text=TOKENS, close_after=3), Reply(text=["retried"]))
    with pytest.raises(StreamInterruptedError) as caught:
        list(target.model(max_retries=2).stream("hi"))
    assert caught.value.partial == " t0 t1 t2"
    assert caught.value.url is not None and target.server.url in caught.value.url
    assert len(target.server.requests) == 1  # no retry once text went out
    assert target.server.pending == 1


def test_the_consumer_gets_every_token_before_the_error(target: Target) -> None:
    target.server.script(Reply(text=TOKENS, close_after=5))
    seen: list[str] = []
    with pytest.raises(StreamInterruptedError) as caught:
        for chunk in target.model().stream("hi"):
            seen.append(chunk.content)
    assert "".join(seen) == caught.value.partial == "".join(TOKENS[:5])


def test_a_stream_ending_without_a_finish_reason_is_interrupted(target: Target) -> None:
    target.server.script(Reply(text=["Task", " decomposition"], finish=False))
    with pytest.raises(StreamInterruptedError, match="without a") as caught:
        target.model(max_retries=0).invoke("hi")
    assert caught.value.partial == "Task decomposition"


# -- deadlines -------------------------------------------------------------------


def test_headers_then_silence_ends_at_the_first_token_deadline(target: Target) -> None:
    model = target.model(first_token_timeout=0.3, max_retries=0)
    target.server.script(Reply(silence_after_headers=True))
    start = time.monotonic()
    with pytest.raises(ModelTimeoutError, match=r"first_token_timeout=0\.3") as caught:
        model.invoke("hi")
    assert 0.25 < time.monotonic() - start < 1.5
    assert caught.value.partial == ""
    target.server.wait_disconnected(timeout=1.0)


def test_a_silent_connection_ends_at_the_sdk_read_timeout(target: Target) -> None:
    target.server.script(Reply(silence_after_headers=True))
    model = target.model(timeout=0.3, first_token_timeout=None, total_timeout=None)
    with pytest.raises(ModelTimeoutError, match=r"silent longer than timeout=0\.3"):
        model.invoke("hi")
    assert len(target.server.requests) == 1  # a timeout is not retried


def test_a_trickling_server_ends_at_the_first_token_deadline(target: Target) -> None:
    # each byte 20 ms apart: the first frame alone would take seconds
    target.server.script(Reply(trickle=0.02))
    start = time.monotonic()
    with pytest.raises(ModelTimeoutError, match="first_token_timeout"):
        target.model(first_token_timeout=0.5).invoke("hi")
    assert time.monotonic() - start < 3.0
    target.server.wait_disconnected(timeout=1.0)


def test_a_slow_answer_ends_at_the_total_deadline_with_its_partial_text(target: Target) -> None:
    target.server.script(Reply(text=TOKENS, delay=0.05))
    model = target.model(first_token_timeout=5, total_timeout=0.6)
    start = time.monotonic()
    with pytest.raises(ModelTimeoutError, match=r"total_timeout=0\.6") as caught:
        model.invoke("hi")
    assert time.monotonic() - start < 2.0
    partial = caught.value.partial
    assert partial and "".join(TOKENS).startswith(partial)
    assert len(partial) < len("".join(TOKENS))
    target.server.wait_disconnected(timeout=1.0)


def test_a_deadline_passing_while_the_consumer_works_is_seen_at_the_next_read(
    target: Target,
) -> None:
    target.server.script(Reply(text=TOKENS, delay=0.01))
    model = target.model(total_timeout=0.3)

    async def main() -> ModelTimeoutError:
        stream = model.astream("hi")
        got = [(await stream.__anext__()).content for _ in range(3)]
        assert got == ["", " t0", " t1"]
        await asyncio.sleep(0.5)  # the consumer's own wait: the deadline must not cancel it
        with pytest.raises(ModelTimeoutError) as caught:
            await stream.__anext__()
        await stream.aclose()  # type: ignore[attr-defined]
        return caught.value

    error = asyncio.run(main())
    assert error.partial == " t0 t1"
    target.server.wait_disconnected(timeout=1.0)


def test_trickled_bytes_still_make_correct_text_within_the_deadline(target: Target) -> None:
    text = ["Grü", "ße", " 世界", " 🎉"]
    target.server.script(Reply(text=text, trickle=0))
    assert target.model(total_timeout=30).invoke("hi").content == "Grüße 世界 🎉"


# -- bad frames --------------------------------------------------------------------


def test_a_malformed_frame_is_a_clear_error(target: Target) -> None:
    target.server.script(Reply(text=TOKENS, malformed_after=2), Reply())
    with pytest.raises(StreamInterruptedError, match="malformed") as caught:
        target.model().invoke("hi")
    assert caught.value.partial == " t0 t1"
    assert len(target.server.requests) == 1


def test_an_error_frame_mid_stream_carries_the_server_message(target: Target) -> None:
    target.server.script(Reply(text=TOKENS, error_after=2, error="the GPU caught fire"))
    with pytest.raises(StreamInterruptedError, match="the GPU caught fire") as caught:
        target.model().invoke("hi")
    assert caught.value.partial == " t0 t1"


def test_multibyte_characters_split_across_network_writes(target: Target) -> None:
    text = ["Grüße", ",", " 世界", "!", " 🎉", " café", " naïve"]
    target.server.script(Reply(text=text, split_utf8=True))
    chunks = [c.content for c in target.model().stream("hi")]
    assert chunks == ["", *text, ""]


def test_a_garbage_response_is_an_error_not_a_crash(target: Target) -> None:
    target.server.script(Reply(raw=b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                                   b"content-length: 9\r\n\r\n\xff\xfe\x00garbage"))
    with pytest.raises(StreamInterruptedError):
        target.model(max_retries=0).invoke("hi")


# -- consumers that stop reading ---------------------------------------------------


def test_breaking_out_of_a_sync_stream_closes_the_connection(
    target: Target, background_tasks: Callable[[], int]
) -> None:
    target.server.script(Reply(text=TOKENS, delay=0.05))
    for i, _chunk in enumerate(target.model().stream("hi")):
        if i == 2:
            break
    stopped = time.monotonic()
    closed = target.server.wait_disconnected(timeout=1.0)
    assert closed - stopped < 1.0
    assert background_tasks() == 0


def test_aclose_on_astream_closes_the_connection(target: Target) -> None:
    target.server.script(Reply(text=TOKENS, delay=0.05))
    model = target.model()

    async def main() -> float:
        stream = model.astream("hi")
        seen = 0
        async for _chunk in stream:
            seen += 1
            if seen == 3:
                break
        await stream.aclose()  # type: ignore[attr-defined]
        stopped = time.monotonic()
        assert asyncio.all_tasks() == {asyncio.current_task()}
        return stopped

    stopped = asyncio.run(main())
    assert target.server.wait_disconnected(timeout=1.0) - stopped < 1.0
    assert len(target.server.requests) == 1


def test_cancelling_the_reading_task_closes_the_connection(target: Target) -> None:
    target.server.script(Reply(text=TOKENS, delay=0.05))
    model = target.model()

    async def main() -> float:
        got_three = asyncio.Event()

        async def read() -> None:
            seen = 0
            async for _chunk in model.astream("hi"):
                seen += 1
                if seen == 3:
                    got_three.set()

        task = asyncio.create_task(read())
        await got_three.wait()
        task.cancel()
        stopped = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert asyncio.all_tasks() == {asyncio.current_task()}
        return stopped

    stopped = asyncio.run(main())
    assert target.server.wait_disconnected(timeout=1.0) - stopped < 1.0


def test_a_deadline_leaves_no_task_behind(target: Target) -> None:
    target.server.script(Reply(silence_after_headers=True))
    model = target.model(first_token_timeout=0.2, max_retries=0)

    async def main() -> None:
        with pytest.raises(ModelTimeoutError):
            async for _chunk in model.astream("hi"):
                pass
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(main())
