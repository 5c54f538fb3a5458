"""Runs and the context variable that carries the current one.

A *run* is one execution of one runnable while somebody listens for events.
When nobody listens, no run objects exist at all: ``current_run()`` is
``None`` and every step takes its fast path.

The current run travels in a context variable, so a user function that calls
another runnable inside it (in sync code, async code, or a thread started with
a copied context) is recorded as that run's child without passing anything by
hand.
"""

from __future__ import annotations

import os
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ragstream.core._events import EventSink

__all__ = ["Cfg", "Observer", "Run", "current_run", "get_observer", "set_observer"]

_RUN: ContextVar[Run | None] = ContextVar("ragstream_run", default=None)


class Observer(Protocol):
    """Sees every run's start and end (a tracer): ``on_event`` gets each
    ``*_start``/``*_end`` event in the v2 shape, with the run's type. It must
    return quickly (hand the work to another thread)."""

    def on_event(self, event: dict[str, Any], run_type: str) -> None: ...


_UNSET: Any = object()
_observer: Any = _UNSET


def get_observer() -> Observer | None:
    """The observer every top-level run reports to, if tracing is on.

    On first use it is taken from the environment: ``RAGSTREAM_TRACING=1``
    (or the reference framework's ``LANGCHAIN_TRACING_V2=true``) turns on
    ``ragstream.tracing``.
    """
    global _observer
    if _observer is _UNSET:
        _observer = _observer_from_env()
    return _observer  # type: ignore[no-any-return]


def set_observer(observer: Observer | None) -> None:
    """Report every top-level run to ``observer`` from now on (``None``: stop)."""
    global _observer
    _observer = observer


def _observer_from_env() -> Observer | None:
    on = os.environ.get("RAGSTREAM_TRACING", "").strip().lower() in ("1", "true", "yes", "on")
    on = on or os.environ.get("LANGCHAIN_TRACING_V2", "").strip().lower() == "true"
    if not on:
        return None
    from ragstream.tracing import tracer_from_env

    observer: Observer | None = tracer_from_env()
    return observer


def current_run() -> Run | None:
    """The run whose code is executing now, or ``None`` when nobody listens."""
    return _RUN.get()


@dataclass(slots=True)
class Cfg:
    """Configuration a binding lays over the runnable it wraps.

    ``tags`` and ``metadata`` are inherited by every descendant run;
    ``run_name`` names this run only; ``kwargs`` go to the implementer.
    """

    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    run_name: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_concurrency: int | None = None

    def under(self, outer: Cfg | None) -> Cfg:
        """This configuration with ``outer`` (applied later, so stronger) laid over it."""
        if outer is None:
            return self
        return Cfg(
            tags=self.tags + tuple(t for t in outer.tags if t not in self.tags),
            metadata={**self.metadata, **outer.metadata},
            run_name=outer.run_name or self.run_name,
            kwargs={**self.kwargs, **outer.kwargs},
            max_concurrency=outer.max_concurrency or self.max_concurrency,
        )


_CONFIG_KEYS = frozenset(
    {"tags", "metadata", "run_name", "max_concurrency", "recursion_limit", "configurable",
     "run_id", "callbacks"}
)


def cfg_from_config(config: dict[str, Any] | None, kwargs: dict[str, Any]) -> Cfg | None:
    """Turn a user's ``config={...}`` dict and call kwargs into a ``Cfg``."""
    if not config and not kwargs:
        return None
    config = config or {}
    if not isinstance(config, dict):
        from ragstream.errors import ConfigError

        raise ConfigError(f"config must be a dict, not {type(config).__name__}")
    unknown = set(config) - _CONFIG_KEYS
    if unknown:
        from ragstream.errors import ConfigError

        raise ConfigError(
            f"unknown config keys: {', '.join(sorted(unknown))}; "
            f"known keys: {', '.join(sorted(_CONFIG_KEYS))}"
        )
    if config.get("callbacks"):
        from ragstream.errors import ConfigError

        raise ConfigError(
            "callbacks are not supported; listen with astream_events() or stream_events()"
        )
    return Cfg(
        tags=tuple(config.get("tags") or ()),
        metadata=dict(config.get("metadata") or {}),
        run_name=config.get("run_name"),
        kwargs=dict(kwargs),
        max_concurrency=config.get("max_concurrency"),
    )


class Run:
    """One execution of one runnable, seen by a listener.

    The root scope that ``astream_events`` opens is a ``Run`` too, with no
    ``run_id``: it carries the sink and the caller's tags to the first real run.
    """

    __slots__ = (
        "inheritable_metadata",
        "inheritable_tags",
        "metadata",
        "name",
        "observer",
        "parent_ids",
        "pending_start",
        "run_id",
        "run_type",
        "sink",
        "tags",
        "v1_retriever",
        "visible",
    )

    def __init__(
        self,
        *,
        sink: EventSink,
        run_id: str | None,
        name: str,
        run_type: str,
        tags: list[str],
        metadata: dict[str, Any],
        parent_ids: list[str],
        inheritable_tags: list[str],
        inheritable_metadata: dict[str, Any],
        observer: Observer | None = None,
    ) -> None:
        self.sink = sink
        self.observer = observer
        self.run_id = run_id
        self.name = name
        self.run_type = run_type
        self.tags = tags
        self.metadata = metadata
        self.parent_ids = parent_ids
        self.inheritable_tags = inheritable_tags
        self.inheritable_metadata = inheritable_metadata
        self.pending_start = False
        # The guide's version="v1" output names a retriever nested in a chain
        # "Retriever" and wraps its input and output; keep that shape.
        self.v1_retriever = (
            sink.version == "v1" and run_type == "retriever" and bool(parent_ids)
        )
        shown = "Retriever" if self.v1_retriever else name
        self.visible = run_id is not None and sink.accepts(shown, run_type, tags)

    @classmethod
    def root(
        cls, sink: EventSink | None, cfg: Cfg | None, *, observer: Observer | None = None
    ) -> Run:
        """The scope of one listener (``sink``) and/or an observer (a tracer)."""
        tags = list(cfg.tags) if cfg else []
        meta = dict(cfg.metadata) if cfg else {}
        return cls(
            sink=sink or _NO_SINK, run_id=None, name="", run_type="root", tags=tags,
            metadata=meta, parent_ids=[], inheritable_tags=tags, inheritable_metadata=meta,
            observer=observer,
        )

    def child(
        self,
        *,
        name: str,
        run_type: str,
        autotag: str | None,
        cfg: Cfg | None,
        local_tags: tuple[str, ...] = (),
        local_metadata: dict[str, Any] | None = None,
    ) -> Run:
        """A new run below this one: inherited tags first, then the automatic tag
        (``seq:step:N`` and friends, for the direct child only), then the tags of
        ``with_config``, then the component's own tags."""
        inh_tags = self.inheritable_tags
        inh_meta = self.inheritable_metadata
        if cfg is not None:
            if cfg.tags:
                inh_tags = inh_tags + [t for t in cfg.tags if t not in inh_tags]
            if cfg.metadata:
                inh_meta = {**inh_meta, **cfg.metadata}
        tags = list(self.inheritable_tags)
        if autotag is not None and autotag not in tags:
            tags.append(autotag)
        for t in inh_tags:
            if t not in tags:
                tags.append(t)
        for t in local_tags:
            if t not in tags:
                tags.append(t)
        metadata = {**inh_meta, **local_metadata} if local_metadata else inh_meta
        parent_ids = [*self.parent_ids, self.run_id] if self.run_id is not None else []
        return Run(
            sink=self.sink,
            run_id=str(uuid.uuid4()),
            name=(cfg.run_name if cfg is not None and cfg.run_name else name),
            run_type=run_type,
            tags=tags,
            metadata=metadata,
            parent_ids=parent_ids,
            inheritable_tags=inh_tags,
            inheritable_metadata=inh_meta,
            observer=self.observer,
        )

    # -- emitting -----------------------------------------------------------

    def start_now(self) -> None:
        """Emit the start event a transform deferred until its first chunk."""
        self.pending_start = False
        self.emit("start", {})

    def observe_cancel(self, exc: BaseException, timing: dict[str, float]) -> None:
        """Tell the observer (not the listener, as in the reference framework)
        that this run was cancelled: an end event whose ``error`` is the
        cancellation."""
        observer = self.observer
        if observer is not None:
            observer.on_event(
                {
                    "event": f"on_{self.run_type}_end",
                    "name": self.name,
                    "run_id": self.run_id,
                    "tags": self.tags,
                    "metadata": self.metadata,
                    "data": {"error": exc, "timing": timing},
                    "parent_ids": self.parent_ids,
                },
                self.run_type,
            )

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Send ``on_{run_type}_{kind}`` to the listener if the filters let it through.

        The events of one run share their ``tags``, ``metadata`` and
        ``parent_ids`` objects: listeners read events, they do not change them.
        """
        observer = self.observer
        if observer is not None and kind != "stream":
            observer.on_event(
                {
                    "event": f"on_{self.run_type}_{kind}",
                    "name": self.name,
                    "run_id": self.run_id,
                    "tags": self.tags,
                    "metadata": self.metadata,
                    "data": data,
                    "parent_ids": self.parent_ids,
                },
                self.run_type,
            )
        if not self.visible:
            return
        if self.v1_retriever:
            data = _wrap_v1_retriever(data)
        event = {
            "event": f"on_{self.run_type}_{kind}",
            "name": "Retriever" if self.v1_retriever else self.name,
            "run_id": self.run_id,
            "tags": self.tags,
            "metadata": self.metadata,
            "data": data,
        }
        if self.sink.v2:
            event["parent_ids"] = self.parent_ids
        self.sink.emit(event)


class _NoSink:
    """The sink of a scope that only an observer watches: it takes no events."""

    version = "v2"
    v2 = True
    timings = False
    _buf: tuple[()] = ()

    def accepts(self, name: str, run_type: str, tags: Any) -> bool:
        return False

    def emit(self, event: dict[str, Any]) -> None:
        pass


_NO_SINK: Any = _NoSink()


def _wrap_v1_retriever(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "input" in data:
        out["input"] = {"query": data["input"]}
    if "output" in data:
        out["output"] = {"documents": data["output"]}
    for k, v in data.items():
        out.setdefault(k, v)
    return out
