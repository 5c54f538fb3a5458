"""Vector stores: in memory (NumPy) and Chroma, searched as retrievers.

>>> from ragstream.vectorstores import Chroma
>>> from ragstream.embeddings import OpenAIEmbeddings
>>> splits = [Document("Task decomposition is ...", {"source": "a.txt"})]  # doctest: +SKIP
>>> vectorstore = Chroma.from_documents(documents=splits, embedding=OpenAIEmbeddings())
>>> retriever = vectorstore.as_retriever(search_kwargs={"k": 4})  # doctest: +SKIP

Importing this package imports neither chromadb nor any model: they load on
first use.
"""

from ragstream.vectorstores._base import VectorStore
from ragstream.vectorstores._chroma import Chroma
from ragstream.vectorstores._memory import InMemoryVectorStore
from ragstream.vectorstores._retriever import VectorStoreRetriever

__all__ = ["Chroma", "InMemoryVectorStore", "VectorStore", "VectorStoreRetriever"]
