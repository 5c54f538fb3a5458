"""The HTTP server: runnable routes, an OpenAI-compatible API and a chat page.

    create_app(runnable, path=...)      a Starlette app serving one runnable
    add_routes(app, runnable, path=...) the same routes in your own Starlette/FastAPI app
    create_rag_server(rag_app)          what ``ragstream serve`` runs
    serve(app, host=..., port=...)      uvicorn, ending open streams on SIGTERM
    run_server(settings)                ``ragstream serve``

Runnable routes speak the request and response shapes of LangServe
(``/invoke``, ``/batch``, ``/stream``, ``/stream_events``, ``/input_schema``,
``/output_schema``), so its ``RemoteRunnable`` client works against them.

>>> from ragstream.server import create_app
>>> from ragstream.testing import FakeChatModel
>>> app = create_app(FakeChatModel("Hello!"), path="/chat")
"""

try:
    import starlette  # noqa: F401
except ImportError:  # pragma: no cover - depends on the installed extras
    from ragstream.errors import MissingDependencyError

    raise MissingDependencyError("starlette", "server") from None

from ragstream.server._app import create_app
from ragstream.server._rag import RAG_INPUT_SCHEMA, RAG_OUTPUT_SCHEMA, RagAppLike, create_rag_server
from ragstream.server._routes import add_routes
from ragstream.server._run import run_server, serve
from ragstream.server._security import BearerAuth

__all__ = [
    "RAG_INPUT_SCHEMA",
    "RAG_OUTPUT_SCHEMA",
    "BearerAuth",
    "RagAppLike",
    "add_routes",
    "create_app",
    "create_rag_server",
    "run_server",
    "serve",
]
