"""On a terminal (a real pseudo-terminal): the progress bar, the sources table,
the answer wrapped at word boundaries."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import Spawn

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDTH = 72


def in_terminal(spawn: Spawn, *args: str) -> tuple[int, str]:
    """Run the program with stdout and stderr on a pseudo-terminal; its exit code
    and what it showed (escape codes and carriage returns removed)."""
    leader, follower = pty.openpty()
    env = spawn.env(COLUMNS=str(WIDTH), LINES="40")
    process = subprocess.Popen([sys.executable, "-m", "ragstream.cli", *args], env=env,
                               stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the program
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(timeout=60), ANSI.sub("", shown.decode()).replace("\r", "")


def test_ingest_shows_progress_then_a_summary(spawn: Spawn) -> None:
    code, shown = in_terminal(spawn, "ingest", "--sample")

    assert code == 0, shown
    assert "embedding" in shown and "loading" in shown  # the progress bar
    assert re.search(r"added\s+\S+quickstart\.md\s+\(\d+ chunks\)", shown)
    assert "collection 'docs': 9 added, 0 unchanged" in shown
    assert 'next: ragstream ask "your question" --steps' in shown


def test_ask_shows_a_sources_table_and_a_wrapped_answer(spawn: Spawn, sample_home: Path) -> None:
    code, shown = in_terminal(spawn, "ask", "How do I resume an interrupted ingest?", "--steps")

    assert code == 0, shown
    lines = [line.rstrip() for line in shown.splitlines()]
    start = lines.index("Sources")
    assert lines[start + 1].split() == ["#", "title", "source", "score"]
    assert set(lines[start + 2].strip()) == {"─"}
    assert [line.split()[0] for line in lines[start + 3:start + 7]] == ["[1]", "[2]", "[3]", "[4]"]
    assert lines[start + 7] == "answer (offline extractive mode):"
    footer = next(i for i, line in enumerate(lines) if line.startswith("offline extractive mode ·"))
    cited = next(i for i, line in enumerate(lines) if line.startswith("cited: ["))
    assert start + 8 < cited < footer  # the sources the answer cited, after it
    assert all(len(line) <= WIDTH for line in lines[cited:footer])
    answer = lines[start + 8:cited]
    assert len(answer) > 1 and all(len(line) <= WIDTH for line in answer)
    words = " ".join(answer).split()
    assert "interrupted" in words and "resume:" in words  # wrapped between words, not inside
