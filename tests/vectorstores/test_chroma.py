"""Chroma on the real chromadb engine: embedded (on disk, in memory) and a real server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ragstream.documents import Document
from ragstream.embeddings import Embeddings
from ragstream.errors import ConfigError, StoreError
from ragstream.vectorstores import Chroma
from ragstream.vectorstores._chroma import sanitize_metadata
from ragstream.vectorstores._ids import stable_id
from tests._chroma_server import _free_port, unique_collection
from tests.vectorstores.contract import DOCS, EMB, MakeStore, VectorStoreContract

pytest.importorskip("chromadb")


class TestPersistentChromaContract(VectorStoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path) -> MakeStore:
        def make(embedding: Embeddings) -> Chroma:
            return Chroma(
                unique_collection(),
                embedding_function=embedding,
                persist_directory=tmp_path / "chroma",
            )

        return make


class TestEphemeralChromaContract(VectorStoreContract):
    @pytest.fixture
    def make_store(self) -> MakeStore:
        def make(embedding: Embeddings) -> Chroma:
            return Chroma(unique_collection(), embedding_function=embedding)

        return make


class TestChromaServerContract(VectorStoreContract):
    @pytest.fixture
    def make_store(self, chroma_server: str) -> MakeStore:
        def make(embedding: Embeddings) -> Chroma:
            return Chroma(unique_collection(), embedding_function=embedding, url=chroma_server)

        return make


READER = """
import json, sys
from ragstream.testing import FakeEmbeddings
from ragstream.vectorstores import Chroma
emb = FakeEmbeddings(size=64)
store = Chroma(sys.argv[2], embedding_function=emb, persist_directory=sys.argv[1])
hits = store.similarity_search_with_score("the cat sat", k=1, filter={"kind": "cat"})
records = store.record_store()
import asyncio
print(json.dumps({
    "count": store.count(),
    "top": [hits[0][0].page_content, hits[0][0].id, hits[0][1]],
    "sources": asyncio.run(records.asources()),
}))
"""


def test_a_persistent_collection_is_on_disk_for_the_next_process(tmp_path: Path) -> None:
    from ragstream.vectorstores._records import IndexRecord

    folder = tmp_path / "db"
    store = Chroma("kept", embedding_function=EMB, persist_directory=folder)
    store.add_documents(DOCS)
    import asyncio

    asyncio.run(store.record_store().aput([IndexRecord("pets.txt", "h", {})]))
    out = subprocess.run(
        [sys.executable, "-c", READER, str(folder), "kept"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(out.stdout)
    assert seen["count"] == len(DOCS)
    assert seen["top"][:2] == ["the cat sat on the mat", stable_id(DOCS[0])]
    assert seen["sources"] == ["pets.txt"]


def test_the_guide_call_builds_a_collection_in_cosine_space(chroma_server: str) -> None:
    name = unique_collection("guide")
    store = Chroma.from_documents(
        documents=DOCS, embedding=EMB, collection_name=name, url=chroma_server
    )
    assert store.count() == len(DOCS)
    import chromadb

    host, port = chroma_server.removeprefix("http://").split(":")
    settings = chromadb.config.Settings(anonymized_telemetry=False)
    client = chromadb.HttpClient(host=host, port=int(port), settings=settings)
    config = client.get_collection(name).configuration_json
    assert config["hnsw"]["space"] == "cosine"
    assert store.as_retriever().tags == ["Chroma", "FakeEmbeddings"]


def test_telemetry_is_off(tmp_path: Path) -> None:
    store = Chroma("quiet", embedding_function=EMB, persist_directory=tmp_path)
    store.add_texts(["x"])
    assert store._get_client().get_settings().anonymized_telemetry is False


@pytest.mark.parametrize("space", ["l2", "ip"])
def test_collections_in_other_spaces_still_give_cosine_distances(space: str) -> None:
    import chromadb

    # the same settings as ragstream's: Chroma allows one set per process
    client = chromadb.EphemeralClient(settings=chromadb.config.Settings(anonymized_telemetry=False))
    name = unique_collection(space)
    client.create_collection(
        name, configuration={"hnsw": {"space": space}}, embedding_function=None
    )
    store = Chroma(name, embedding_function=EMB, client=client)
    store.add_documents(DOCS)
    pairs = store.similarity_search_with_score("a cat and a dog", k=5)
    reference = Chroma(unique_collection(), embedding_function=EMB)
    reference.add_documents(DOCS)
    expected = reference.similarity_search_with_score("a cat and a dog", k=5)
    want = {d.id: distance for d, distance in expected}
    assert {d.id: distance for d, distance in pairs} == pytest.approx(want, abs=1e-4)


def test_metadata_chroma_cannot_hold_is_stored_changed() -> None:
    store = Chroma(unique_collection(), embedding_function=EMB)
    meta: dict[str, Any] = {
        "source": "a.txt",
        "missing": None,
        "authors": ["ann", "bob"],
        "mixed": [1, "x"],
        "empty": [],
        "nested": {"a": [1, 2]},
        "path": Path("/tmp/x.txt"),
    }
    [doc_id] = store.add_texts(["text"], [meta])
    [doc] = store.get_by_ids([doc_id])
    assert doc.metadata == {
        "source": "a.txt",
        "authors": ["ann", "bob"],
        "mixed": '[1, "x"]',
        "empty": "[]",
        "nested": '{"a": [1, 2]}',
        "path": "/tmp/x.txt",
    }
    assert sanitize_metadata({"only": None}) is None
    # a document with no metadata at all is fine too
    [bare] = store.add_texts(["bare"])
    assert store.get_by_ids([bare])[0].metadata == {}


def test_an_unreachable_server_is_a_store_error_naming_it() -> None:
    port = _free_port()
    store = Chroma("nobody", embedding_function=EMB, url=f"http://127.0.0.1:{port}")
    with pytest.raises(StoreError, match=f"'nobody' at http://127.0.0.1:{port}"):
        store.similarity_search("anything")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"collection_name": "a"}, "collection_name must be 3-512"),
        ({"collection_name": "-bad-"}, "collection_name must be 3-512"),
        ({"url": "chroma:8000"}, "url must look like http://host:8000"),
        ({"url": "http://h:8000/api"}, "must not have a path"),
        ({"url": "http://h:1", "persist_directory": "x"}, "at most one of"),
        ({"url": "http://h:1", "host": "h"}, "url, or host and port"),
        ({"embedding_function": "minilm"}, "must be an Embeddings, not str"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Chroma(**kwargs)


def test_url_forms() -> None:
    assert Chroma(url="http://chroma.internal")._server == ("chroma.internal", 8000, False)
    assert Chroma(url="https://chroma.example.com/")._server == ("chroma.example.com", 443, True)
    assert Chroma(host="10.0.0.2", port=9000)._server == ("10.0.0.2", 9000, False)
    assert "at http://10.0.0.2:9000" in repr(Chroma(host="10.0.0.2", port=9000))


def test_construction_does_no_io(tmp_path: Path) -> None:
    folder = tmp_path / "not-yet"
    store = Chroma("lazy", persist_directory=folder)
    assert not folder.exists()
    assert store._client is None
    assert type(store.embeddings).__name__ == "MiniLMEmbeddings"  # the offline default


def test_delete_collection_starts_over(tmp_path: Path) -> None:
    store = Chroma("gone", embedding_function=EMB, persist_directory=tmp_path)
    store.add_documents(DOCS)
    store.delete_collection()
    assert store.count() == 0
    store.add_documents(DOCS[:1])
    assert store.count() == 1


def test_importing_vectorstores_does_not_import_chromadb() -> None:
    code = (
        "import sys, ragstream.vectorstores, ragstream.indexing;"
        "print('chromadb' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_documents_come_back_with_metadata_keys_sorted() -> None:
    store = Chroma(unique_collection(), embedding_function=EMB)
    [doc_id] = store.add_documents([Document("t", {"z": 1, "a": 2, "source": "s"})])
    [doc] = store.get_by_ids([doc_id])
    assert list(doc.metadata) == ["a", "source", "z"]
    assert list(store.similarity_search("t")[0].metadata) == ["a", "source", "z"]


# -- collections of a Chroma ----------------------------------------------------------


def _raw_names(folder: Path) -> list[str]:
    import chromadb

    settings = chromadb.config.Settings(anonymized_telemetry=False)  # as Chroma opens it
    client = chromadb.PersistentClient(path=str(folder), settings=settings)
    return sorted(c.name for c in client.list_collections())


def test_list_collections_in_a_folder_leaves_the_records_out(tmp_path: Path) -> None:
    from ragstream.indexing import index

    folder = tmp_path / "db"
    index(DOCS, Chroma("notes", embedding_function=EMB, persist_directory=folder))
    Chroma("blog", embedding_function=EMB, persist_directory=folder).add_documents(DOCS[:1])

    assert Chroma.list_collections(persist_directory=folder) == ["blog", "notes"]
    assert _raw_names(folder) == ["blog", "notes", "notes.index-records"]
    assert asyncio.run(Chroma.alist_collections(persist_directory=str(folder))) == [
        "blog", "notes",
    ]


def test_listing_a_folder_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "never"
    assert Chroma.list_collections(persist_directory=folder) == []
    assert not folder.exists()


def test_list_collections_on_a_server_and_through_a_client(chroma_server: str) -> None:
    import chromadb

    from ragstream.indexing import index

    name = unique_collection("listed")
    index(DOCS, Chroma(name, embedding_function=EMB, url=chroma_server))
    names = Chroma.list_collections(url=chroma_server)
    assert name in names and f"{name}.index-records" not in names
    assert names == sorted(names)
    host, port = chroma_server.removeprefix("http://").split(":")
    assert name in Chroma.list_collections(host=host, port=int(port))
    settings = chromadb.config.Settings(anonymized_telemetry=False)
    client = chromadb.HttpClient(host=host, port=int(port), settings=settings)
    assert Chroma.list_collections(client=client) == names


def test_list_collections_in_memory() -> None:
    name = unique_collection("memory")
    Chroma(name, embedding_function=EMB).add_documents(DOCS[:1])
    assert name in Chroma.list_collections()


def test_list_collections_names_what_failed() -> None:
    port = _free_port()
    with pytest.raises(StoreError, match=f"at http://127.0.0.1:{port}: listing collections"):
        Chroma.list_collections(url=f"http://127.0.0.1:{port}")
    with pytest.raises(ConfigError, match="at most one of"):
        Chroma.list_collections(url="http://h:1", persist_directory="x")
    with pytest.raises(ConfigError, match="url must look like"):
        Chroma.list_collections(url="chroma:8000")


def test_exists_and_reading_records_create_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    Chroma("other", embedding_function=EMB, persist_directory=folder).add_documents(DOCS[:1])
    store = Chroma("maybe", embedding_function=EMB, persist_directory=folder)
    records = store.record_store()

    assert store.exists() is False
    assert asyncio.run(records.asources()) == []
    assert asyncio.run(records.aget(["a.txt"])) == {}
    assert asyncio.run(records.acount()) == 0
    assert _raw_names(folder) == ["other"]

    store.add_documents(DOCS[:2])
    assert store.exists() is True and asyncio.run(store.aexists()) is True
    assert asyncio.run(records.acount()) == 0  # added without indexing: no records
    assert _raw_names(folder) == ["maybe", "other"]


def test_the_stored_collection_metadata_is_what_it_was_created_with(tmp_path: Path) -> None:
    first = Chroma(
        "meta", embedding_function=EMB, persist_directory=tmp_path,
        collection_metadata={"ragstream_embeddings": "fake:64"},
    )
    first.add_documents(DOCS[:1])
    later = Chroma(
        "meta", embedding_function=EMB, persist_directory=tmp_path,
        collection_metadata={"ragstream_embeddings": "minilm"},
    )
    assert later.get_collection_metadata() == {"ragstream_embeddings": "fake:64"}
    assert asyncio.run(later.aget_collection_metadata())["ragstream_embeddings"] == "fake:64"
    assert later.collection_metadata == {"ragstream_embeddings": "minilm"}  # as given
