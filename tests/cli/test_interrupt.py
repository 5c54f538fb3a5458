"""An ingest stopped half-way, by Ctrl-C or by SIGKILL, leaves a data directory
that the next run uses and completes, with no chunk stored twice."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.cli.conftest import Spawn
from tests.cli.test_ask import read_until

FILES = 150  # one chunk each


@pytest.fixture
def many(tmp_path: Path) -> Path:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(FILES):
        (root / f"note{i:03d}.md").write_text(
            f"# Note {i}\n\nNote {i} is about topic {i % 17}, briefly.\n", encoding="utf-8"
        )
    return root


def finish(spawn: Spawn, many: Path) -> dict:
    done = spawn.run("ingest", str(many), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    by_status = report["sources_by_status"]
    # stopped half-way: some sources were stored before, the rest now
    assert by_status["unchanged"] > 0 and by_status["added"] > 0, by_status
    assert by_status["unchanged"] + by_status["added"] == FILES
    return report


def stored(spawn: Spawn) -> dict:
    done = spawn.run("collections", "show", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_ctrl_c_during_ingest_then_the_next_run_resumes(spawn: Spawn, many: Path) -> None:
    process = spawn.popen("ingest", str(many))
    read_until(process, "added ")

    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)

    assert process.returncode == 130
    assert "interrupted: what was stored is kept; run the same command again to resume" in err
    assert "Traceback" not in err
    finish(spawn, many)
    info = stored(spawn)
    assert info["chunks"] == FILES and info["sources"] == FILES


@pytest.mark.slow
def test_sigkill_during_ingest_then_no_chunk_is_stored_twice(spawn: Spawn, many: Path) -> None:
    process = spawn.popen("ingest", str(many))
    read_until(process, "added ")

    process.kill()
    process.wait(timeout=30)

    assert process.returncode == -signal.SIGKILL
    before = stored(spawn)  # the store opens as it was left
    assert 0 < before["sources"] < FILES and before["chunks"] >= before["sources"]
    finish(spawn, many)
    info = stored(spawn)
    assert info["chunks"] == FILES and info["sources"] == FILES
    again = json.loads(spawn.run("ingest", str(many), "--json").stdout)
    assert again["sources_by_status"]["unchanged"] == FILES and again["added"] == 0
    asked = spawn.run("ask", "What is note 42 about?", "--json", "-k", "3")
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["sources"]
