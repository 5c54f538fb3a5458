"""The streaming engine: runnables, their compositions, run context and events.

It knows nothing of retrieval; everything else in ragstream is built on it.
"""

from ragstream.core._binding import (
    RunnableBinding,
    RunnableBranch,
    RunnableRetry,
    RunnableWithFallbacks,
)
from ragstream.core._compose import (
    RunnableAssign,
    RunnableParallel,
    RunnablePassthrough,
    RunnablePick,
    RunnableSequence,
    coerce,
)
from ragstream.core._events import (
    EventData,
    StreamEvent,
    adispatch_custom_event,
    dispatch_custom_event,
)
from ragstream.core._lambda import RunnableGenerator, RunnableLambda
from ragstream.core._run import current_run
from ragstream.core._runnable import Runnable

__all__ = [
    "EventData",
    "Runnable",
    "RunnableAssign",
    "RunnableBinding",
    "RunnableBranch",
    "RunnableGenerator",
    "RunnableLambda",
    "RunnableParallel",
    "RunnablePassthrough",
    "RunnablePick",
    "RunnableRetry",
    "RunnableSequence",
    "RunnableWithFallbacks",
    "StreamEvent",
    "adispatch_custom_event",
    "coerce",
    "current_run",
    "dispatch_custom_event",
]
