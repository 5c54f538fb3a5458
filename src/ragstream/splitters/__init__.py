"""Splitting documents into chunks for embedding and retrieval.

>>> from ragstream.splitters import RecursiveCharacterTextSplitter
>>> splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
>>> splits = splitter.split_documents(docs)  # doctest: +SKIP
"""

from ragstream.splitters._recursive import RecursiveCharacterTextSplitter
from ragstream.splitters._tokens import load_minilm_tokenizer, minilm_tokenizer_path

__all__ = ["RecursiveCharacterTextSplitter", "load_minilm_tokenizer", "minilm_tokenizer_path"]
