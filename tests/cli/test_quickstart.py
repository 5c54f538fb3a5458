"""The README's quick start on the real offline defaults: the shipped sample
corpus, MiniLM embeddings, the extractive model; no key, no network."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Spawn

QUESTION = "How do I use a real model instead of the offline mode?"


@pytest.mark.slow
def test_the_quick_start_runs_offline(spawn: Spawn, tmp_path: Path) -> None:
    program = shutil.which("ragstream")
    command = [program] if program else [sys.executable, "-m", "ragstream.cli"]
    env = spawn.env()
    del env["RAGSTREAM_EMBEDDINGS"]  # the real default: MiniLM
    env.pop("NO_COLOR")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], env=env, capture_output=True, text=True,
                              timeout=600, cwd=tmp_path)

    ingest = run("ingest", "--sample")
    ask = run("ask", QUESTION, "--steps")

    assert ingest.returncode == 0, ingest.stderr
    assert "collection 'docs': 9 added, 0 unchanged" in ingest.stdout
    assert ask.returncode == 0, ask.stderr
    lines = ask.stdout.splitlines()
    assert lines[:2] == [f"search: {QUESTION}", "sources:"]
    top = lines[2].split("\t")
    assert top[:2] == ["[1]", "Offline extractive mode and real models"]
    assert top[2].endswith("data/docs/models.md") and 0 < float(top[3]) <= 1
    answer = ask.stdout.split("answer (offline extractive mode):\n")[1]
    assert "name it with --model" in answer and "[1]" in answer
    assert answer.rstrip().endswith("(offline extractive mode)")
    collections = run("collections", "--json")
    assert '"embeddings": "minilm"' in collections.stdout
