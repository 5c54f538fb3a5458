"""The assembled application that the CLI and the server share.

``RagApp(settings)`` builds, on first use, the embeddings, the vector store
of a collection, the chat model and the chat history store named by the
settings, and the guide's conversational chain over them.

- ``astream_turn`` runs one question of a conversation and yields what
  happens as it happens: the rewritten question token by token, the
  retrieved sources (each with ``metadata["score"]``, its cosine similarity),
  the answer token by token, and a ``citation`` event as soon as the answer
  cites a source by its number (``[2]``); the turn is saved in the session's
  history, marked incomplete if it was stopped.
- ``CitationParser`` finds those markers in text fed piece by piece
  (``find_markers`` in a whole answer); ``citing_rag_chain`` is the guide's
  conversational chain with the sources numbered in the prompt, so that a
  real model can cite them (``RagApp.chain`` is one).
- ``aingest`` loads URLs, files, folders and glob patterns into a
  collection, incrementally (``ragstream.indexing``): unchanged sources are
  skipped with no embedding work, and a source that fails is reported while
  the others are stored.
- ``alist_collections``, ``acollection``, ``acheck_collection`` and
  ``adelete_collection`` manage collections.

>>> from ragstream.app import RagApp, sample_corpus_path
>>> from ragstream.config import load_settings
>>> app = RagApp(load_settings({"home": "/tmp/rs"}))
>>> report = app.ingest([str(sample_corpus_path())])  # doctest: +SKIP
>>> async for event in app.astream_turn("What is ragstream?"):  # doctest: +SKIP
...     print(event["type"])
"""

from ragstream.app._app import RagApp, TurnEvent, make_embeddings, sample_corpus_path
from ragstream.app._chain import CITING_QA_SYSTEM_PROMPT, citing_rag_chain
from ragstream.app._citations import CitationParser, Marker, find_markers
from ragstream.app._collections import CollectionInfo, NoDocumentsError
from ragstream.app._ingest import IngestReport, ProgressCallback, SourceReport, SourceStatus

__all__ = [
    "CITING_QA_SYSTEM_PROMPT",
    "CitationParser",
    "CollectionInfo",
    "IngestReport",
    "Marker",
    "NoDocumentsError",
    "ProgressCallback",
    "RagApp",
    "SourceReport",
    "SourceStatus",
    "TurnEvent",
    "citing_rag_chain",
    "find_markers",
    "make_embeddings",
    "sample_corpus_path",
]
