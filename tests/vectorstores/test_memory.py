"""InMemoryVectorStore: the contract, exact top-k, growth, filters at scale, files."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragstream.documents import Document
from ragstream.errors import ConfigError, StoreError
from ragstream.testing import FakeEmbeddings
from ragstream.vectorstores import InMemoryVectorStore
from ragstream.vectorstores._columns import MetadataColumns
from ragstream.vectorstores._filters import matches, normalize_filter
from ragstream.vectorstores._ids import stable_id
from ragstream.vectorstores._records import IndexRecord
from tests.vectorstores.contract import EMB, MakeStore, VectorStoreContract


class TestInMemoryContract(VectorStoreContract):
    @pytest.fixture
    def make_store(self) -> MakeStore:
        return InMemoryVectorStore


def random_store(n: int, dim: int, seed: int = 0) -> tuple[InMemoryVectorStore, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    store = InMemoryVectorStore(FakeEmbeddings(size=dim))
    # written through the store's own entry, with vectors we know
    docs = [
        Document(f"doc {i}", {"i": i, "even": i % 2 == 0, "group": f"g{i % 7}"}) for i in range(n)
    ]
    store._write(
        [f"id{i}" for i in range(n)], docs, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    )
    return store, vectors


def brute_force(vectors: np.ndarray, query: np.ndarray, rows: np.ndarray, k: int) -> list[int]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit[rows] @ (query / np.linalg.norm(query))
    return [int(rows[i]) for i in np.argsort(-scores, kind="stable")[:k]]


def test_top_k_is_exact_with_and_without_filters() -> None:
    store, vectors = random_store(3000, 32)
    rng = np.random.default_rng(1)
    for _ in range(20):
        query = rng.standard_normal(32).astype(np.float32)
        hits = store.similarity_search_by_vector(query.tolist(), k=7)
        assert [h.id for h in hits] == [
            f"id{i}" for i in brute_force(vectors, query, np.arange(3000), 7)
        ]
        # a selective filter (gathered rows) and a broad one (full product)
        for where, rows in (
            ({"group": "g3"}, np.arange(3, 3000, 7)),
            ({"group": {"$ne": "g3"}}, np.array([i for i in range(3000) if i % 7 != 3])),
        ):
            hits = store.similarity_search_by_vector(query.tolist(), k=5, filter=where)
            assert [h.id for h in hits] == [f"id{i}" for i in brute_force(vectors, query, rows, 5)]


def test_the_matrix_grows_by_doubling_and_keeps_every_vector() -> None:
    store = InMemoryVectorStore(EMB)
    capacities = []
    for start in range(0, 300, 25):
        store.add_texts([f"text number {i}" for i in range(start, start + 25)])
        assert store._matrix is not None
        capacities.append(store._matrix.shape[0])
    assert store.count() == 300
    assert capacities[0] == 25 and capacities[-1] >= 300
    assert all(b in (a, 2 * a) for a, b in itertools.pairwise(capacities))
    matrix = store._matrix
    assert matrix is not None and matrix.flags["C_CONTIGUOUS"] and matrix.dtype == np.float32
    for doc in store.get_by_ids([stable_id(Document(f"text number {i}")) for i in range(300)]):
        expected = np.array(EMB.embed_query(doc.page_content), dtype=np.float32)
        assert np.allclose(matrix[store._row[doc.id]], expected, atol=1e-6)


def test_stored_vectors_are_unit_length() -> None:
    store = InMemoryVectorStore(EMB)
    store.add_texts(["a b c", "d e"])
    assert store._matrix is not None
    assert np.allclose(np.linalg.norm(store._matrix[:2], axis=1), 1.0)


METADATA = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(
        st.integers(-3, 3),
        st.floats(-3, 3, allow_nan=False),
        st.booleans(),
        st.sampled_from(["x", "y", "z"]),
        st.none(),
    ),
    max_size=3,
)
VALUE = st.one_of(st.integers(-3, 3), st.booleans(), st.sampled_from(["x", "y"]))
LEAF = st.one_of(
    st.builds(lambda k, v: {k: v}, st.sampled_from(["a", "b", "c"]), VALUE),
    st.builds(
        lambda k, op, v: {k: {op: v}},
        st.sampled_from(["a", "b"]),
        st.sampled_from(["$eq", "$ne"]),
        VALUE,
    ),
    st.builds(
        lambda k, op, v: {k: {op: v}},
        st.sampled_from(["a", "b"]),
        st.sampled_from(["$gt", "$gte", "$lt", "$lte"]),
        st.integers(-3, 3),
    ),
    st.builds(
        lambda k, op, v: {k: {op: v}},
        st.sampled_from(["a", "c"]),
        st.sampled_from(["$in", "$nin"]),
        st.one_of(
            st.lists(st.integers(-3, 3), min_size=1, max_size=3),
            st.lists(st.sampled_from(["x", "y", "z"]), min_size=1, max_size=3),
        ),
    ),
)
FILTER = st.recursive(
    LEAF,
    lambda inner: st.builds(
        lambda op, parts: {op: parts},
        st.sampled_from(["$and", "$or"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(METADATA, max_size=25), where=FILTER)
def test_column_filters_agree_with_row_by_row_evaluation(rows: list[dict], where: dict) -> None:
    canonical = normalize_filter(where)
    assert canonical is not None
    mask = MetadataColumns(rows).mask(canonical)
    assert mask.tolist() == [matches(canonical, row) for row in rows]


def test_dump_and_load_keep_documents_vectors_and_records(tmp_path: Path) -> None:
    store = InMemoryVectorStore(EMB)
    ids = store.add_texts(["cats purr", "dogs bark"], [{"source": "a", "n": 1}, {"source": "b"}])
    record = IndexRecord("a", "hash", {ids[0]: "chunkhash"})
    store.record_store().records["a"] = record
    path = tmp_path / "store.npz"
    store.dump(path)
    loaded = InMemoryVectorStore.load(path, EMB)
    assert loaded.count() == 2
    assert loaded.get_by_ids(ids) == store.get_by_ids(ids)
    assert loaded.similarity_search_with_score("cats", k=2) == store.similarity_search_with_score(
        "cats", k=2
    )
    assert loaded.record_store().records == {"a": record}
    empty = tmp_path / "empty.npz"
    InMemoryVectorStore(EMB).dump(empty)
    assert InMemoryVectorStore.load(empty, EMB).count() == 0


def test_load_and_dump_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a numpy file")
    with pytest.raises(StoreError, match=r"bad\.npz"):
        InMemoryVectorStore.load(bad, EMB)
    store = InMemoryVectorStore(EMB)
    store.add_texts(["x"], [{"when": object()}])
    with pytest.raises(StoreError, match="JSON"):
        store.dump(tmp_path / "x.npz")


def test_the_embedding_must_be_embeddings() -> None:
    with pytest.raises(ConfigError, match="needs an Embeddings, not str"):
        InMemoryVectorStore("minilm")  # type: ignore[arg-type]


def test_from_documents_and_from_texts_take_the_guide_keywords() -> None:
    store = InMemoryVectorStore.from_documents(documents=[Document("hello there")], embedding=EMB)
    assert store.get_by_ids([stable_id(Document("hello there"))])[0].page_content == "hello there"
    other = InMemoryVectorStore.from_texts(["a", "b"], EMB, [{"n": 1}, {"n": 2}], ids=["1", "2"])
    assert [d.metadata for d in other.get_by_ids(["2", "1"])] == [{"n": 2}, {"n": 1}]


def test_returned_documents_do_not_alias_the_store() -> None:
    store = InMemoryVectorStore(EMB)
    [doc_id] = store.add_texts(["text"], [{"tags": "a"}])
    store.get_by_ids([doc_id])[0].metadata["tags"] = "changed"
    store.similarity_search("text")[0].metadata["new"] = 1
    assert store.get_by_ids([doc_id])[0].metadata == {"tags": "a"}
