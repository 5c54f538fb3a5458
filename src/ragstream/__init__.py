"""ragstream: retrieval-augmented generation whose results stream.

The answer streams token by token, the intermediate steps (the rewritten
question, the retrieved sources) as they happen, and every step of the
pipeline as a filterable stream of events.
"""

from ragstream.documents import Document
from ragstream.errors import RagstreamError

__version__ = "0.1.0"

__all__ = ["Document", "RagstreamError", "__version__"]
