"""Run records, and the assembler that folds start and end events into them.

One record per run: who its parent and its trace are, when it started and
ended, what it took and gave (as bounded JSON), how it ended, and the tokens
a chat model reported. The assembler runs on the tracer's writer thread; it
is the only place that touches the live objects an event carries.

A run's *status* is ``running`` until its end event arrives, then ``ok``,
``error`` or ``cancelled``. A run that never reports an end (the engine does
not report a stream its consumer stopped reading) is closed as ``cancelled``
when the root of its trace ends, or when the program exits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ragstream.tracing._serialize import to_json

__all__ = ["RunAssembler", "RunRecord", "TraceSummary"]

RUNNING, OK, ERROR, CANCELLED = "running", "ok", "error", "cancelled"
_MODELS = frozenset({"chat_model", "llm"})


@dataclass(slots=True)
class RunRecord:
    """One run of one step, as a trace keeps it.

    ``trace_id`` is the run id of the trace's root; ``inputs``, ``outputs``
    and ``metadata`` are plain JSON values (cut to the tracer's field size),
    decoded from the JSON text kept in ``inputs_json`` and friends (``None``:
    not recorded);
    ``usage`` holds ``input_tokens``, ``output_tokens`` and ``total_tokens``
    for a chat model that reported them. ``start_ns`` and ``end_ns`` are when
    the start and end events came (a step that transforms a stream starts
    when its first input arrives), ``latency_s`` the time between them and
    ``first_chunk_s`` the time from the start to the first output chunk of a
    streamed run. ``children`` is filled by ``get_trace``: the steps of a
    sequence in their order, other runs by start time.
    """

    run_id: str
    trace_id: str
    parent_id: str | None
    name: str
    run_type: str
    status: str
    start_ns: int
    end_ns: int | None = None
    latency_s: float | None = None
    first_chunk_s: float | None = None
    tags: list[str] = field(default_factory=list)
    metadata_json: str | None = None
    inputs_json: str | None = None
    outputs_json: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    usage: dict[str, int] | None = None
    model: str | None = None
    truncated: bool = False
    children: list[RunRecord] = field(default_factory=list)

    @property
    def inputs(self) -> Any:
        return None if self.inputs_json is None else json.loads(self.inputs_json)

    @property
    def outputs(self) -> Any:
        return None if self.outputs_json is None else json.loads(self.outputs_json)

    @property
    def metadata(self) -> Any:
        return None if self.metadata_json is None else json.loads(self.metadata_json)

    @property
    def start_time(self) -> datetime:
        return datetime.fromtimestamp(self.start_ns / 1e9, UTC)

    @property
    def end_time(self) -> datetime | None:
        return None if self.end_ns is None else datetime.fromtimestamp(self.end_ns / 1e9, UTC)

    def walk(self) -> list[RunRecord]:
        """This run and every run below it, depth first."""
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out

    def find(self, name: str) -> RunRecord | None:
        """The first run named ``name`` in this tree (depth first), if any."""
        return next((r for r in self.walk() if r.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the run and its children."""
        return {
            "run_id": self.run_id, "trace_id": self.trace_id, "parent_id": self.parent_id,
            "name": self.name, "run_type": self.run_type, "status": self.status,
            "start_time": self.start_time.isoformat(),
            "end_time": None if self.end_time is None else self.end_time.isoformat(),
            "latency_s": self.latency_s, "first_chunk_s": self.first_chunk_s,
            "tags": self.tags, "metadata": self.metadata, "inputs": self.inputs,
            "outputs": self.outputs, "error_type": self.error_type,
            "error_message": self.error_message, "usage": self.usage, "model": self.model,
            "truncated": self.truncated, "children": [c.to_dict() for c in self.children],
        }


@dataclass(slots=True)
class TraceSummary:
    """One trace in a listing: its root run and totals over all its runs."""

    trace_id: str
    name: str
    run_type: str
    status: str
    start_time: datetime
    latency_s: float | None
    runs: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    error_type: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id, "name": self.name, "run_type": self.run_type,
            "status": self.status, "start_time": self.start_time.isoformat(),
            "latency_s": self.latency_s, "runs": self.runs,
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens, "error_type": self.error_type,
        }


class RunAssembler:
    """Folds ``(time, event, run_type)`` into run records.

    ``add`` returns the records it changed; the writer stores them (and
    exports the finished ones). Open runs are kept until they end, their
    trace ends, or ``max_open`` newer ones push them out (they stay
    ``running`` in the store).
    """

    def __init__(self, *, field_size: int, max_open: int = 10_000) -> None:
        self.field_size = field_size
        self.max_open = max_open
        self.open: dict[str, RunRecord] = {}
        self.by_trace: dict[str, set[str]] = {}

    def add(self, t_ns: int, event: dict[str, Any], run_type: str) -> list[RunRecord]:
        kind = event["event"]
        if kind.endswith("_start"):
            return [self._start(t_ns, event, run_type)]
        if kind.endswith("_end"):
            return self._end(t_ns, event, run_type)
        return []

    def _new(self, t_ns: int, event: dict[str, Any], run_type: str) -> RunRecord:
        parents = event.get("parent_ids") or []
        run_id = str(event["run_id"])
        metadata = event.get("metadata")
        meta, cut = to_json(metadata, limit=self.field_size) if metadata else ("{}", False)
        return RunRecord(
            run_id=run_id, trace_id=str(parents[0]) if parents else run_id,
            parent_id=str(parents[-1]) if parents else None, name=str(event.get("name")),
            run_type=run_type, status=RUNNING, start_ns=t_ns,
            tags=[str(t) for t in event.get("tags") or ()], metadata_json=meta, truncated=cut,
        )

    def _start(self, t_ns: int, event: dict[str, Any], run_type: str) -> RunRecord:
        rec = self._new(t_ns, event, run_type)
        data = event.get("data") or {}
        if "input" in data:
            self._set_inputs(rec, data["input"])
        self.open[rec.run_id] = rec
        self.by_trace.setdefault(rec.trace_id, set()).add(rec.run_id)
        if len(self.open) > self.max_open:
            oldest = next(iter(self.open))
            self._forget(self.open[oldest])
        return rec

    def _end(self, t_ns: int, event: dict[str, Any], run_type: str) -> list[RunRecord]:
        run_id = str(event["run_id"])
        rec = seen_start = self.open.get(run_id)
        if rec is None:  # its start was dropped or pushed out: keep what the end says
            rec = self._new(t_ns, event, run_type)
        else:
            self._forget(rec)
        data = event.get("data") or {}
        timing = data.get("timing") or {}
        engine_latency = timing.get("latency_s")
        if not isinstance(engine_latency, int | float):
            engine_latency = None
        if seen_start is None and engine_latency is not None:
            rec.start_ns = t_ns - int(engine_latency * 1e9)  # its start was not seen
        rec.end_ns = t_ns
        # from the start event to the end event, as a trace viewer shows it. The
        # engine's clock for a streamed step starts when the step is first
        # pulled, which for a later step in a stream is long before its first
        # input arrives (and its start event is sent).
        rec.latency_s = round((t_ns - rec.start_ns) / 1e9, 6)
        first = timing.get("first_chunk_s")
        if isinstance(first, int | float):
            waited = max(0.0, (engine_latency or 0.0) - rec.latency_s)
            rec.first_chunk_s = round(max(0.0, first - waited), 6)
        if rec.inputs_json is None and "input" in data:
            self._set_inputs(rec, data["input"])
        error = data.get("error")
        if error is not None:
            rec.status = CANCELLED if _is_cancel(error) else ERROR
            rec.error_type = type(error).__name__
            rec.error_message, cut = _message(error, self.field_size)
            rec.truncated |= cut
        else:
            rec.status = OK
        if "output" in data:
            output = data["output"]
            rec.outputs_json, cut = to_json(output, limit=self.field_size)
            rec.truncated |= cut
            if rec.run_type in _MODELS:  # a chain that returns the message counts nothing
                _take_usage(rec, output)
        changed = [rec]
        if rec.parent_id is None:
            changed += self._close_trace(rec.trace_id, t_ns, "its trace ended first")
        return changed

    def _set_inputs(self, rec: RunRecord, value: Any) -> None:
        rec.inputs_json, cut = to_json(value, limit=self.field_size)
        rec.truncated |= cut

    def _forget(self, rec: RunRecord) -> None:
        self.open.pop(rec.run_id, None)
        ids = self.by_trace.get(rec.trace_id)
        if ids is not None:
            ids.discard(rec.run_id)
            if not ids:
                del self.by_trace[rec.trace_id]

    def _close_trace(self, trace_id: str, t_ns: int, why: str) -> list[RunRecord]:
        closed = []
        for run_id in sorted(self.by_trace.pop(trace_id, ())):
            rec = self.open.pop(run_id)
            closed.append(_cancel(rec, t_ns, why))
        return closed

    def close_all(self, t_ns: int, why: str) -> list[RunRecord]:
        """Close every open run as ``cancelled`` (the program is exiting)."""
        closed = [_cancel(rec, t_ns, why) for rec in self.open.values()]
        self.open.clear()
        self.by_trace.clear()
        return closed


def _cancel(rec: RunRecord, t_ns: int, why: str) -> RunRecord:
    rec.status = CANCELLED
    rec.end_ns = max(t_ns, rec.start_ns)
    rec.latency_s = round((rec.end_ns - rec.start_ns) / 1e9, 6)
    rec.error_type = "Cancelled"
    rec.error_message = f"no end was reported: {why}"
    return rec


def _is_cancel(error: BaseException) -> bool:
    import asyncio  # the engine has loaded it already; the CLI need not

    return isinstance(error, asyncio.CancelledError | GeneratorExit | KeyboardInterrupt)


def _message(error: BaseException, limit: int) -> tuple[str, bool]:
    try:
        text = str(error)
    except Exception:
        text = f"<{type(error).__name__}>"
    if len(text) > limit:
        return text[:limit] + "…", True
    return text, False


def _take_usage(rec: RunRecord, output: Any) -> None:
    usage = getattr(output, "usage_metadata", None)
    if isinstance(usage, dict) and usage:
        counts = {k: int(v) for k, v in usage.items()
                  if k in ("input_tokens", "output_tokens", "total_tokens")
                  and isinstance(v, int | float)}
        if counts:
            counts.setdefault(
                "total_tokens", counts.get("input_tokens", 0) + counts.get("output_tokens", 0)
            )
            rec.usage = counts
    meta = getattr(output, "response_metadata", None)
    if isinstance(meta, dict) and isinstance(meta.get("model_name"), str):
        rec.model = meta["model_name"]
