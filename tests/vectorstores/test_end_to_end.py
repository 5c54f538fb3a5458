"""The offline default end to end: MiniLM vectors in Chroma and in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragstream.documents import Document
from ragstream.embeddings import MiniLMEmbeddings
from ragstream.indexing import index
from ragstream.runnables import RunnableLambda
from ragstream.vectorstores import Chroma, InMemoryVectorStore

pytest.importorskip("sentence_transformers")
pytest.importorskip("chromadb")

SOURCE = "https://lilianweng.github.io/posts/2023-06-23-agent/"
CHUNKS = [
    "Chain of thought has become a standard prompting technique: the model is told to "
    "think step by step and decompose hard tasks into smaller and simpler steps.",
    "Tree of Thoughts extends chain of thought by exploring several reasoning "
    "possibilities at each step, searching the tree breadth-first or depth-first.",
    "Short-term memory is in-context learning; long-term memory keeps information over "
    "extended periods in an external vector store with fast retrieval.",
    "Maximum inner product search algorithms such as HNSW, FAISS and ScaNN make "
    "approximate nearest neighbour lookups fast.",
    "Tool use lets a language model call external APIs such as a calculator, a search "
    "engine or a code interpreter.",
]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbeddings:
    return MiniLMEmbeddings()  # the model itself is loaded once per process


def docs() -> list[Document]:
    return [Document(text, {"source": SOURCE, "part": n}) for n, text in enumerate(CHUNKS)]


def test_chroma_with_minilm_finds_the_passage_a_question_means(
    minilm: MiniLMEmbeddings, tmp_path: Path
) -> None:
    store = Chroma.from_documents(
        documents=docs(), embedding=minilm, persist_directory=tmp_path / "db"
    )
    retriever = store.as_retriever(search_kwargs={"k": 2})
    found = retriever.invoke("How can an agent split a complicated job into subtasks?")
    assert found[0].page_content == CHUNKS[0]
    assert found[0].metadata == {"part": 0, "source": SOURCE}
    where_memory = store.similarity_search("Where is memory kept between sessions?", k=1)
    assert where_memory[0].page_content == CHUNKS[2]
    chain = RunnableLambda(lambda q: q) | retriever
    starts = [
        e
        for e in chain.stream_events("What are some ways to call external APIs?", version="v1")
        if e["event"] == "on_retriever_start"
    ]
    assert starts[0]["name"] == "Retriever"
    assert starts[0]["tags"] == ["seq:step:2", "Chroma", "MiniLMEmbeddings"]


def test_in_memory_mmr_and_threshold_with_minilm(minilm: MiniLMEmbeddings) -> None:
    store = InMemoryVectorStore(minilm)
    result = index(docs(), store)
    assert result.added == len(CHUNKS)
    # the two chain-of-thought passages are near each other; MMR keeps one of them
    plain = store.similarity_search("step by step reasoning with chain of thought", k=2)
    assert {d.metadata["part"] for d in plain} == {0, 1}
    diverse = store.max_marginal_relevance_search(
        "step by step reasoning with chain of thought", k=2, fetch_k=5, lambda_mult=0.2
    )
    assert diverse[0].metadata["part"] in (0, 1) and diverse[1].metadata["part"] not in (0, 1)
    threshold = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.5, "k": 5}
    )
    assert [d.metadata["part"] for d in threshold.invoke("nearest neighbour search with HNSW")] == [
        3
    ]
