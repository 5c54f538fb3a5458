"""An API key reaches the server and nothing else: not reprs, error messages,
tracebacks, logs or events."""

from __future__ import annotations

import logging
import traceback

import pytest

from ragstream.errors import ModelError, ModelHTTPError, StreamInterruptedError
from tests.models.conftest import Target
from tests.servers import Reply


def test_the_key_is_sent_to_the_server(target: Target, key: str) -> None:
    target.model().invoke("hi")
    assert target.key_header(target.server.requests[0].headers) == key


def test_reprs_hide_the_key(target: Target, key: str) -> None:
    model = target.model()
    shown = [model, vars(model), model.bind(stop=["x"]), model.with_config(tags=["t"])]
    for thing in shown:
        assert key not in repr(thing)
        assert key not in str(thing)
    assert "**********" in repr(vars(model))


def _full_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error)


@pytest.mark.parametrize(
    "reply",
    [
        # like OpenAI's own 401: "Incorrect API key provided: sk-..."
        Reply(status=401, error="Incorrect API key provided: {key}"),
        Reply(status=500, error="upstream saw key {key}"),
        Reply(text=["partial"], error_after=1, error="stream failed for {key}"),
    ],
    ids=["401", "500", "error-frame"],
)
def test_errors_that_echo_the_key_do_not_repeat_it(target: Target, key: str, reply: Reply) -> None:
    reply.error = reply.error.format(key=key)
    target.server.script(reply)
    with pytest.raises(ModelError) as caught:
        target.model(max_retries=0).invoke("hi")
    error = caught.value
    assert isinstance(error, ModelHTTPError | StreamInterruptedError)
    assert key not in _full_text(error)
    assert "**********" in str(error)  # the message is kept, the key starred out


def test_logs_never_show_the_key(
    target: Target, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model = target.model(max_retries=1)
    target.server.script(Reply(status=503), Reply(), Reply(status=401, error=f"bad key {key}"))
    model.invoke("hi")
    with pytest.raises(ModelHTTPError):
        model.invoke("hi")
    sdk_records = [r for r in caplog.records if r.name.split(".")[0] in ("openai", "anthropic")]
    assert sdk_records, "the SDK logged nothing at DEBUG: this test would prove nothing"
    assert key not in caplog.text
    for record in caplog.records:
        assert key not in record.getMessage()


def test_events_never_carry_the_key(target: Target, key: str) -> None:
    model = target.model().with_config(tags=["llm"])
    events = [*model.stream_events("hi", version="v1"), *model.stream_events("hi")]
    assert any(e["event"] == "on_chat_model_stream" for e in events)
    assert key not in repr(events)
