"""The behaviour every vector store must have.

A store's test module subclasses ``VectorStoreContract`` and provides the
``make_store`` fixture: a function that takes an ``Embeddings`` and returns a
new, empty store. The tests use ``FakeEmbeddings`` (hashed bags of words):
texts that share words are close, and the expected distances can be computed
here with NumPy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from ragstream.documents import Document
from ragstream.embeddings import Embeddings
from ragstream.errors import ConfigError, InputError, StoreError
from ragstream.runnables import RunnableLambda
from ragstream.testing import FakeEmbeddings
from ragstream.vectorstores import VectorStore, VectorStoreRetriever
from ragstream.vectorstores._ids import stable_id
from ragstream.vectorstores._records import IndexRecord

MakeStore = Callable[[Embeddings], VectorStore]

EMB = FakeEmbeddings(size=64)

DOCS = [
    Document("the cat sat on the mat", {"source": "pets.txt", "kind": "cat", "page": 1}),
    Document("a cat chased a mouse", {"source": "pets.txt", "kind": "cat", "page": 2}),
    Document("the dog barked at the mailman", {"source": "dogs.txt", "kind": "dog", "page": 1}),
    Document(
        "dogs love long walks in the park",
        {"source": "dogs.txt", "kind": "dog", "page": 2, "draft": True},
    ),
    Document(
        "stock markets fell sharply today",
        {"source": "news.txt", "kind": "finance", "page": 3.0, "score": 0.5},
    ),
]


def texts(docs: list[Document]) -> list[str]:
    return [d.page_content for d in docs]


def cosine_distance(a: str, b: str) -> float:
    va, vb = np.array(EMB.embed_query(a)), np.array(EMB.embed_query(b))
    return float(1.0 - va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


class VectorStoreContract:
    """Subclass and provide ``make_store``."""

    @pytest.fixture
    def make_store(self) -> MakeStore:
        raise NotImplementedError

    @pytest.fixture
    def store(self, make_store: MakeStore) -> VectorStore:
        return make_store(EMB)

    @pytest.fixture
    def full(self, store: VectorStore) -> VectorStore:
        store.add_documents(DOCS)
        return store

    # -- adding and ids ------------------------------------------------------

    def test_add_returns_stable_ids_from_source_and_text(self, store: VectorStore) -> None:
        ids = store.add_documents(DOCS)
        assert ids == [stable_id(d) for d in DOCS]
        assert len(set(ids)) == len(DOCS)
        assert store.count() == len(DOCS)

    def test_re_adding_the_same_chunks_does_not_duplicate_them(self, full: VectorStore) -> None:
        again = full.add_documents([Document(d.page_content, dict(d.metadata)) for d in DOCS])
        assert again == [stable_id(d) for d in DOCS]
        assert full.count() == len(DOCS)
        hits = full.similarity_search("the cat sat on the mat", k=5)
        assert texts(hits).count("the cat sat on the mat") == 1

    def test_the_same_text_from_another_source_is_another_chunk(self, full: VectorStore) -> None:
        other = Document(DOCS[0].page_content, {"source": "other.txt"})
        [new_id] = full.add_documents([other])
        assert new_id != stable_id(DOCS[0])
        assert full.count() == len(DOCS) + 1

    def test_document_id_and_explicit_ids_are_respected(self, store: VectorStore) -> None:
        ids = store.add_documents([Document("alpha", id="doc-a"), Document("beta", id="doc-b")])
        assert ids == ["doc-a", "doc-b"]
        assert store.add_texts(["gamma"], [{"source": "g"}], ids=["doc-g"]) == ["doc-g"]
        got = store.get_by_ids(["doc-g", "missing", "doc-a"])
        assert [(d.id, d.page_content) for d in got] == [("doc-g", "gamma"), ("doc-a", "alpha")]
        assert got[0].metadata == {"source": "g"}

    def test_adding_an_existing_id_replaces_the_document(self, store: VectorStore) -> None:
        store.add_texts(["old words here"], [{"v": 1}], ids=["x1"])
        store.add_texts(["brand new text"], [{"v": 2}], ids=["x1"])
        assert store.count() == 1
        [doc] = store.get_by_ids(["x1"])
        assert (doc.page_content, doc.metadata) == ("brand new text", {"v": 2})
        [(hit, distance)] = store.similarity_search_with_score("brand new text", k=1)
        assert hit.id == "x1" and distance == pytest.approx(0.0, abs=1e-5)

    def test_the_same_id_twice_in_one_call_keeps_the_last(self, store: VectorStore) -> None:
        ids = store.add_texts(["first", "second"], ids=["same", "same"])
        assert ids == ["same", "same"]
        assert store.count() == 1
        assert texts(store.get_by_ids(["same"])) == ["second"]

    def test_adding_nothing_returns_no_ids(self, store: VectorStore) -> None:
        assert store.add_documents([]) == []
        assert store.add_texts([]) == []
        assert store.count() == 0

    def test_metadata_values_come_back_as_they_went_in(self, store: VectorStore) -> None:
        meta = {"source": "a.txt", "page": 3, "ratio": 0.25, "ok": True, "title": "Ünïcode ✓"}
        [doc_id] = store.add_texts(["some text"], [meta])
        [doc] = store.get_by_ids([doc_id])
        assert doc.metadata == meta
        assert [type(doc.metadata[k]) for k in meta] == [type(v) for v in meta.values()]

    def test_bad_ids_and_documents_are_refused(self, store: VectorStore) -> None:
        with pytest.raises(InputError, match="2 ids for 1 documents"):
            store.add_documents([Document("a")], ids=["x", "y"])
        with pytest.raises(InputError, match="document 0 is a str"):
            store.add_documents(["not a document"])  # type: ignore[list-item]
        with pytest.raises(InputError, match="1 metadatas for 2 texts"):
            store.add_texts(["a", "b"], [{}])
        with pytest.raises(InputError, match="ids must be a list of str"):
            store.get_by_ids("abc")

    def test_vectors_of_another_size_are_refused(self, full: VectorStore) -> None:
        with pytest.raises(StoreError, match="dimension"):
            full.similarity_search_by_vector([1.0, 0.0, 0.0], k=1)
        other: Any = full
        other._embedding = FakeEmbeddings(size=8)
        with pytest.raises(StoreError, match="dimension"):
            other.add_texts(["a text of another size"])

    # -- searching -----------------------------------------------------------

    def test_similarity_search_finds_the_nearest_first(self, full: VectorStore) -> None:
        hits = full.similarity_search("where the cat sat", k=2)
        assert texts(hits)[0] == "the cat sat on the mat"
        assert hits[0].id == stable_id(DOCS[0])
        assert hits[0].metadata == DOCS[0].metadata

    def test_scores_are_cosine_distances_nearest_first(self, full: VectorStore) -> None:
        query = "the dog in the park"
        pairs = full.similarity_search_with_score(query, k=5)
        assert len(pairs) == 5
        distances = [d for _, d in pairs]
        assert distances == sorted(distances)
        for doc, distance in pairs:
            assert 0.0 <= distance <= 2.0
            assert distance == pytest.approx(cosine_distance(query, doc.page_content), abs=1e-4)

    def test_relevance_scores_are_cosine_similarities(self, full: VectorStore) -> None:
        query = "a cat and a mouse"
        relevance = full.similarity_search_with_relevance_scores(query, k=5)
        distance = full.similarity_search_with_score(query, k=5)
        assert [d.id for d, _ in relevance] == [d.id for d, _ in distance]
        for (_, r), (_, d) in zip(relevance, distance, strict=True):
            assert r == pytest.approx(1.0 - d, abs=1e-6)
        kept = full.similarity_search_with_relevance_scores(query, k=5, score_threshold=0.3)
        assert kept and all(score >= 0.3 for _, score in kept)
        assert len(kept) < len(relevance)

    def test_search_by_vector_matches_search_by_text(self, full: VectorStore) -> None:
        query = "markets and stocks"
        by_text = full.similarity_search(query, k=3)
        by_vector = full.similarity_search_by_vector(EMB.embed_query(query), k=3)
        assert [d.id for d in by_vector] == [d.id for d in by_text]
        pairs = full.similarity_search_by_vector_with_score(EMB.embed_query(query), k=1)
        assert pairs[0][1] == pytest.approx(
            cosine_distance(query, by_text[0].page_content), abs=1e-4
        )

    def test_k_larger_than_the_store_returns_everything(self, full: VectorStore) -> None:
        assert len(full.similarity_search("cat", k=50)) == len(DOCS)
        assert len(full.max_marginal_relevance_search("cat", k=50, fetch_k=50)) == len(DOCS)

    def test_an_empty_store_finds_nothing(self, store: VectorStore) -> None:
        assert store.count() == 0
        assert store.similarity_search("anything") == []
        assert store.similarity_search_with_score("anything", k=3, filter={"a": 1}) == []
        assert store.max_marginal_relevance_search("anything") == []
        assert store.get_by_ids(["nope"]) == []
        store.delete(["nope"])
        assert store.count() == 0

    def test_async_twins_give_the_same_results(self, full: VectorStore) -> None:
        async def main() -> tuple[list[Document], list[Document], int]:
            hits = await full.asimilarity_search("cat", k=2, filter={"kind": "cat"})
            mmr = await full.amax_marginal_relevance_search("dog", k=2)
            return hits, mmr, await full.acount()

        hits, mmr, count = asyncio.run(main())
        assert [d.id for d in hits] == [
            d.id for d in full.similarity_search("cat", 2, {"kind": "cat"})
        ]
        assert len(mmr) == 2 and count == len(DOCS)

    # -- filters -------------------------------------------------------------

    @pytest.mark.parametrize(
        ("where", "expected"),
        [
            ({"kind": "cat"}, {0, 1}),
            ({"kind": {"$eq": "dog"}}, {2, 3}),
            ({"kind": {"$ne": "cat"}}, {2, 3, 4}),
            ({"kind": {"$in": ["cat", "finance"]}}, {0, 1, 4}),
            ({"kind": {"$nin": ["cat", "finance"]}}, {2, 3}),
            ({"page": 1}, {0, 2}),
            ({"page": 3}, {4}),  # 3 == 3.0
            ({"page": {"$gt": 1}}, {1, 3, 4}),
            ({"page": {"$gte": 2}}, {1, 3, 4}),
            ({"page": {"$lt": 2}}, {0, 2}),
            ({"page": {"$lte": 2.5}}, {0, 1, 2, 3}),
            ({"draft": True}, {3}),
            ({"draft": {"$ne": True}}, {0, 1, 2, 4}),  # a missing key is "not equal"
            ({"score": {"$gt": 0}}, {4}),
            ({"kind": "dog", "page": 2}, {3}),  # several keys: all must hold
            ({"$and": [{"kind": "cat"}, {"page": {"$gt": 1}}]}, {1}),
            ({"$or": [{"kind": "finance"}, {"page": 2}]}, {1, 3, 4}),
            ({"$or": [{"$and": [{"kind": "cat"}, {"page": 1}]}, {"draft": True}]}, {0, 3}),
            ({"$and": [{"kind": "cat"}]}, {0, 1}),  # one part is fine
            ({"source": "nowhere.txt"}, set()),
            ({}, {0, 1, 2, 3, 4}),
        ],
    )
    def test_filters(self, full: VectorStore, where: dict[str, Any], expected: set[int]) -> None:
        hits = full.similarity_search("the cat", k=10, filter=where)
        assert {texts(DOCS).index(d.page_content) for d in hits} == expected
        mmr = full.max_marginal_relevance_search("the cat", k=10, fetch_k=10, filter=where)
        assert {texts(DOCS).index(d.page_content) for d in mmr} == expected

    def test_the_filter_applies_before_k(self, full: VectorStore) -> None:
        hits = full.similarity_search("the cat sat on the mat", k=1, filter={"kind": "finance"})
        assert texts(hits) == ["stock markets fell sharply today"]

    @pytest.mark.parametrize(
        ("where", "message"),
        [
            ({"kind": {"$like": "c%"}}, "unknown operator '\\$like'"),
            ({"$not": [{"kind": "cat"}]}, "unknown operator '\\$not'"),
            ({"kind": {"$in": []}}, "non-empty list"),
            ({"kind": {"$in": ["a", 1]}}, "one type"),
            ({"page": {"$gt": "2"}}, "compares numbers"),
            ({"kind": {"$eq": "cat", "$ne": "dog"}}, "exactly one operator"),
            ({"kind": None}, "must be a str, int, float or bool"),
            ({"kind": ["cat"]}, "must be a str, int, float or bool"),
            ({"$or": []}, "non-empty list"),
            ({"$and": {"kind": "cat"}}, "non-empty list"),
        ],
    )
    def test_bad_filters_are_named(
        self, full: VectorStore, where: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(InputError, match=message):
            full.similarity_search("cat", filter=where)
        with pytest.raises(InputError, match=message):
            full.delete(filter=where)
        assert full.count() == len(DOCS)

    # -- maximal marginal relevance ------------------------------------------

    def test_mmr_trades_relevance_for_diversity(self, store: VectorStore) -> None:
        store.add_documents(
            [
                Document("apple banana", {"source": "a"}),
                Document("apple banana", {"source": "b"}),  # the same text, another chunk
                Document("apple cherry", {"source": "c"}),
                Document("unrelated words entirely", {"source": "d"}),
            ]
        )
        plain = store.similarity_search("apple banana", k=2)
        assert texts(plain) == ["apple banana", "apple banana"]
        # among the three nearest, the copy adds nothing and "apple cherry" does
        diverse = store.max_marginal_relevance_search(
            "apple banana", k=2, fetch_k=3, lambda_mult=0.3
        )
        assert texts(diverse) == ["apple banana", "apple cherry"]
        relevant = store.max_marginal_relevance_search(
            "apple banana", k=2, fetch_k=3, lambda_mult=1.0
        )
        assert texts(relevant) == ["apple banana", "apple banana"]

    def test_mmr_arguments_are_checked(self, full: VectorStore) -> None:
        with pytest.raises(InputError, match=r"fetch_k \(2\) must be at least k \(3\)"):
            full.max_marginal_relevance_search("cat", k=3, fetch_k=2)
        with pytest.raises(InputError, match="lambda_mult must be a number from 0 to 1"):
            full.max_marginal_relevance_search("cat", lambda_mult=1.5)
        with pytest.raises(InputError, match="fetch_k must be a positive int"):
            full.max_marginal_relevance_search("cat", fetch_k=0)

    # -- bad arguments -------------------------------------------------------

    @pytest.mark.parametrize("k", [0, -1, 2.5, "3", True])
    def test_k_must_be_a_positive_int(self, full: VectorStore, k: Any) -> None:
        with pytest.raises(InputError, match="k must be a positive int"):
            full.similarity_search("cat", k=k)
        with pytest.raises(InputError, match="k must be a positive int"):
            full.max_marginal_relevance_search("cat", k=k)
        with pytest.raises(InputError, match="k must be a positive int"):
            full.similarity_search_by_vector(EMB.embed_query("cat"), k=k)

    def test_the_query_must_be_text(self, full: VectorStore) -> None:
        with pytest.raises(InputError, match="query must be a str, not dict"):
            full.similarity_search({"input": "cat"})  # type: ignore[arg-type]
        with pytest.raises(InputError, match="the search vector is empty"):
            full.similarity_search_by_vector([])
        with pytest.raises(InputError, match="score_threshold must be a number from -1 to 1"):
            full.similarity_search_with_relevance_scores("cat", score_threshold=3)

    # -- deleting ------------------------------------------------------------

    def test_delete_by_ids_ignores_unknown_ones(self, full: VectorStore) -> None:
        full.delete([stable_id(DOCS[0]), "unknown-id"])
        assert full.count() == len(DOCS) - 1
        assert full.get_by_ids([stable_id(DOCS[0])]) == []
        assert "the cat sat on the mat" not in texts(full.similarity_search("cat", k=10))

    def test_delete_by_filter(self, full: VectorStore) -> None:
        full.delete(filter={"source": "dogs.txt"})
        assert full.count() == 3
        assert not [d for d in full.similarity_search("dog", k=10) if d.metadata["kind"] == "dog"]

    def test_delete_by_ids_and_filter_needs_both(self, full: VectorStore) -> None:
        full.delete([stable_id(DOCS[0]), stable_id(DOCS[2])], filter={"kind": "cat"})
        assert full.count() == len(DOCS) - 1
        assert [d.page_content for d in full.get_by_ids([stable_id(DOCS[2])])] == [
            DOCS[2].page_content
        ]

    def test_delete_needs_ids_or_a_filter(self, full: VectorStore) -> None:
        with pytest.raises(InputError, match="needs ids or a filter"):
            full.delete()
        full.delete([])
        assert full.count() == len(DOCS)

    def test_deleted_rows_leave_the_rest_searchable(self, store: VectorStore) -> None:
        words = [f"word{i} common" for i in range(40)]
        ids = store.add_texts(words, [{"source": "w", "i": i} for i in range(40)])
        store.delete(ids[::3])
        assert store.count() == 40 - len(ids[::3])
        for i in (1, 2, 10, 38):
            [hit] = store.similarity_search(words[i], k=1)
            assert hit.page_content == words[i] and hit.metadata["i"] == i
        assert store.similarity_search("word0 common", k=1, filter={"i": 0}) == []

    # -- building and retrieving ---------------------------------------------

    def test_the_retriever_searches_and_tags_its_runs(self, full: VectorStore) -> None:
        retriever = full.as_retriever(search_kwargs={"k": 2})
        assert isinstance(retriever, VectorStoreRetriever)
        assert retriever.tags == [type(full).__name__, "FakeEmbeddings"]
        docs = retriever.invoke("the cat sat")
        assert len(docs) == 2 and docs[0].page_content == "the cat sat on the mat"
        chain = RunnableLambda(lambda q: q) | retriever
        events = [
            e for e in chain.stream_events("the cat sat", version="v1") if "retriever" in e["event"]
        ]
        assert [e["event"] for e in events] == ["on_retriever_start", "on_retriever_end"]
        assert events[0]["name"] == "Retriever"
        assert events[0]["tags"] == ["seq:step:2", type(full).__name__, "FakeEmbeddings"]
        assert events[1]["data"]["output"] == {"documents": docs}

    def test_retriever_search_types(self, full: VectorStore) -> None:
        mmr = full.as_retriever(search_type="mmr", search_kwargs={"k": 3, "fetch_k": 5})
        assert len(mmr.invoke("cat")) == 3
        threshold = full.as_retriever(
            search_type="similarity_score_threshold",
            search_kwargs={"score_threshold": 0.4, "k": 5},
        )
        found = threshold.invoke("the cat sat on the mat")
        assert texts(found)[0] == "the cat sat on the mat"
        assert all(
            1 - cosine_distance("the cat sat on the mat", d.page_content) >= 0.4 for d in found
        )
        assert len(found) < len(DOCS)
        filtered = full.as_retriever(search_kwargs={"k": 5, "filter": {"kind": "dog"}})
        assert {d.metadata["kind"] for d in filtered.invoke("cat")} == {"dog"}
        assert asyncio.run(filtered.ainvoke("cat")) == filtered.invoke("cat")

    @pytest.mark.parametrize(
        ("search_type", "search_kwargs"),
        [
            ("similarity", {"k": 3}),
            ("mmr", {"k": 3, "fetch_k": 5}),
            ("similarity_score_threshold", {"k": 5, "score_threshold": 0.2}),
        ],
    )
    def test_the_retriever_puts_cosine_similarity_on_copies_when_asked(
        self, full: VectorStore, search_type: str, search_kwargs: dict[str, Any]
    ) -> None:
        query = "the cat sat"
        plain = full.as_retriever(search_type=search_type, search_kwargs=search_kwargs)
        scored = full.as_retriever(
            search_type=search_type, search_kwargs=search_kwargs, include_scores=True
        )
        docs = plain.invoke(query)
        found = scored.invoke(query)
        assert docs and [d.id for d in found] == [d.id for d in docs]
        for doc, hit in zip(docs, found, strict=True):
            score = hit.metadata["score"]
            assert isinstance(score, float)
            assert score == pytest.approx(1 - cosine_distance(query, hit.page_content), abs=1e-5)
            assert hit.metadata == {**doc.metadata, "score": score}
            assert hit.page_content == doc.page_content
        # what the store holds is untouched, and so is what a plain search returns
        assert full.get_by_ids([d.id for d in docs if d.id]) == docs
        assert plain.invoke(query) == docs
        assert asyncio.run(scored.ainvoke(query)) == scored.invoke(query)
        if search_type == "similarity":
            scores = [d.metadata["score"] for d in scored.invoke(query)]
            assert scores == sorted(scores, reverse=True)

    def test_a_score_already_in_the_metadata_is_replaced_on_the_copy_only(
        self, full: VectorStore
    ) -> None:
        query = "stock markets fell sharply today"
        (hit,) = full.as_retriever(search_kwargs={"k": 1}, include_scores=True).invoke(query)
        assert hit.metadata["score"] == pytest.approx(1.0, abs=1e-5)
        assert full.get_by_ids([stable_id(DOCS[4])])[0].metadata["score"] == 0.5

    def test_documents_print_as_stored_by_default(self, store: VectorStore) -> None:
        store.add_documents([Document("Task decomposition is hard", {"source": "a.md"})])
        (doc,) = store.as_retriever().invoke("task decomposition")
        assert repr(doc) == (
            "Document(page_content='Task decomposition is hard', metadata={'source': 'a.md'})"
        )
        assert "include_scores" not in repr(store.as_retriever())
        assert "include_scores=True" in repr(store.as_retriever(include_scores=True))

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"include_scores": "yes"}, "include_scores must be True or False, not str"),
            ({"search_type": "fancy"}, "unknown search_type 'fancy'"),
            ({"search_kwargs": {"top_k": 3}}, "'top_k' not allowed with search_type 'similarity'"),
            ({"search_kwargs": {"k": 0}}, "k'\\] must be a positive int"),
            (
                {"search_type": "similarity_score_threshold"},
                "needs search_kwargs\\['score_threshold'\\]",
            ),
            (
                {
                    "search_type": "similarity_score_threshold",
                    "search_kwargs": {"score_threshold": 2},
                },
                "score_threshold must be a number from -1 to 1",
            ),
            ({"search_type": "mmr", "search_kwargs": {"k": 5, "fetch_k": 2}}, "fetch_k \\(2\\)"),
            ({"search_kwargs": {"filter": {"a": {"$regex": "x"}}}}, "unknown operator '\\$regex'"),
            ({"search_kwargs": [("k", 2)]}, "search_kwargs must be a dict"),
        ],
    )
    def test_retriever_arguments_are_checked(
        self, full: VectorStore, kwargs: dict[str, Any], message: str
    ) -> None:
        with pytest.raises(ConfigError, match=message):
            full.as_retriever(**kwargs)

    # -- index records -------------------------------------------------------

    def test_index_records_round_trip(self, store: VectorStore) -> None:
        records = store.record_store()
        one = IndexRecord("a.txt", "h1", {"c1": "x", "c2": "y"})
        two = IndexRecord("https://example.org/ü", "h2", {})

        async def main() -> None:
            assert await records.aget(["a.txt"]) == {}
            await records.aput([one, two])
            assert await records.aget(["a.txt", "nope", two.source]) == {
                "a.txt": one,
                two.source: two,
            }
            assert sorted(await records.asources()) == sorted(["a.txt", two.source])
            assert await records.acount() == 2
            await records.aput([IndexRecord("a.txt", "h3", {"c3": "z"})])
            assert (await records.aget(["a.txt"]))["a.txt"].content_hash == "h3"
            await records.adelete(["a.txt", "nope"])
            assert await records.asources() == [two.source]
            assert await records.acount() == 1

        asyncio.run(main())
        assert store.record_store() is records
        assert store.count() == 0  # records are not documents
