"""Fixtures for the CLI tests.

Every test gets its own data directory (``RAGSTREAM_HOME``) and runs on the
fast fake embeddings (``RAGSTREAM_EMBEDDINGS=fake``); ``sample_home`` is a
copy of a data directory into which the shipped sample corpus was ingested
once per session. ``cli`` runs a command in-process with click's runner;
``spawn`` starts the real ``ragstream`` program (``python -m ragstream.cli``)
for streaming, signals and exit codes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ragstream.cli import main

__all__ = ["Cli", "Spawn"]

#: environment the commands see; anything else named RAGSTREAM_* is removed
BASE_ENV = {"RAGSTREAM_EMBEDDINGS": "fake", "OPENAI_API_KEY": "sk-test-cli", "NO_COLOR": "1"}


_OURS = ("RAGSTREAM_", "OPENAI_", "ANTHROPIC_", "OLLAMA_")


def _settings_env(home: Path) -> dict[str, str]:
    return {**BASE_ENV, "RAGSTREAM_HOME": str(home), "XDG_DATA_HOME": str(home.parent / "xdg")}


def _clean_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    return {**env, **_settings_env(home), **(extra or {})}


class Cli:
    """Runs ``ragstream ARGS`` in-process against one data directory."""

    def __init__(self, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.home = home
        for name in list(os.environ):
            if name.startswith(_OURS):
                monkeypatch.delenv(name)
        for name, value in _settings_env(home).items():
            monkeypatch.setenv(name, value)

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None
                 ) -> Result:
        return CliRunner().invoke(main, list(args), input=input, env=env,
                                  catch_exceptions=False)


class Spawn:
    """Starts the real program against one data directory."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def env(self, **extra: str) -> dict[str, str]:
        return _clean_env(self.home, extra)

    def popen(self, *args: str, env: dict[str, str] | None = None, **kwargs: Any
              ) -> subprocess.Popen[str]:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(
            [sys.executable, "-m", "ragstream.cli", *args], env=env or self.env(), text=True,
            **kwargs,
        )

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ragstream.cli", *args], env=env or self.env(), text=True,
            capture_output=True, timeout=timeout, input=input,
        )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty data directory for this test."""
    return tmp_path / "home"


@pytest.fixture
def cli(home: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(home, monkeypatch)


@pytest.fixture
def spawn(home: Path) -> Spawn:
    return Spawn(home)


@pytest.fixture(scope="session")
def _sample_home_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("sample") / "home"
    done = Spawn(home).run("ingest", "--sample")
    assert done.returncode == 0, done.stderr
    return home


@pytest.fixture
def sample_home(_sample_home_once: Path, home: Path) -> Path:
    """This test's data directory, holding the sample corpus in collection ``docs``."""
    shutil.copytree(_sample_home_once, home)
    return home


@pytest.fixture
def corpus(tmp_path: Path) -> Callable[..., Path]:
    """Writes Markdown files into a folder: ``corpus(name="text", ...)``."""

    def write(folder: str = "corpus", **files: str) -> Path:
        root = tmp_path / folder
        root.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (root / f"{name}.md").write_text(text, encoding="utf-8")
        return root

    return write


@pytest.fixture
def chdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path
