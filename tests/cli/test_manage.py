"""``--help``, ``collections``, ``sessions``, ``config``, ``sample-path`` and ``serve``."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from ragstream import __version__
from tests._chroma_server import unique_collection
from tests.cli.conftest import Cli, Spawn

COMMANDS = [
    "ask", "chat", "collections", "config", "ingest", "sample-path", "serve", "sessions", "traces",
]


def test_help_lists_every_command_and_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from ragstream.cli import main\n"
        "try:\n"
        "    main(['--help'], prog_name='ragstream')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('chromadb', 'torch', 'openai', 'anthropic', 'numpy', 'rich', 'httpx')\n"
        "print('loaded:', sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)

    assert done.returncode == 0, done.stderr
    for command in COMMANDS:
        assert f"\n  {command} " in done.stdout
    assert done.stdout.rstrip().endswith("loaded: []")


def test_version_and_every_command_has_help(cli: Cli) -> None:
    assert cli("--version").stdout.strip() == f"ragstream, version {__version__}"
    for command in COMMANDS:
        result = cli(command, "--help")
        assert result.exit_code == 0 and "Usage: " in result.stdout, command


def test_collections_list_show_and_delete(cli: Cli, sample_home: Path) -> None:
    listed = json.loads(cli("collections", "--json").stdout)
    assert [c["name"] for c in listed] == ["docs"]
    docs = listed[0]
    assert docs["sources"] == 9 and docs["chunks"] > 9 and docs["embeddings"] == "fake:384"
    table = cli("collections").stdout
    assert table == f"docs\t{docs['chunks']}\t9\tfake:384\n"

    shown = cli("collections", "show", "docs")
    assert f"collection 'docs': {docs['chunks']} chunks from 9 sources" in shown.stdout
    assert "quickstart.md" in shown.stdout

    refused = cli("collections", "delete", "docs")  # not a terminal: --yes is required
    assert refused.exit_code == 2 and "add --yes" in refused.stderr
    deleted = cli("collections", "delete", "docs", "--yes")
    assert deleted.exit_code == 0 and "deleted collection 'docs'" in deleted.stdout
    assert json.loads(cli("collections", "--json").stdout) == []
    assert "no collections in" in cli("collections").stderr

    again = cli("collections", "delete", "docs", "--yes")
    assert again.exit_code == 4 and "collection 'docs' does not exist" in again.stderr
    assert cli("collections", "show", "nope").exit_code == 4


def test_sessions_list_show_and_delete(cli: Cli, sample_home: Path) -> None:
    assert "no chat sessions yet" in cli("sessions").stderr
    cli("ask", "What is ragstream?", "--session", "one")
    cli("ask", "How do I install it?", "--session", "two")

    rows = [line.split("\t") for line in cli("sessions").stdout.splitlines()]
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("two", "2", "How do I install it?"), ("one", "2", "What is ragstream?"),
    ]
    shown = cli("sessions", "show", "one").stdout
    assert shown.startswith("you: What is ragstream?\nragstream: ")

    assert cli("sessions", "delete", "one", "--yes").exit_code == 0
    assert [s["id"] for s in json.loads(cli("sessions", "list", "--json").stdout)] == ["two"]
    missing = cli("sessions", "show", "one")
    assert missing.exit_code == 4 and "no chat session 'one'" in missing.stderr
    assert cli("sessions", "delete", "one", "--yes").exit_code == 4


def test_config_shows_each_value_and_where_it_came_from(cli: Cli, home: Path) -> None:
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        '[ragstream]\nmodel = "ollama:llama3.2"\nk = 6\nchunk_size = 800\n', encoding="utf-8"
    )

    shown = json.loads(cli("config", "--json", "--k", "2",
                           env={"RAGSTREAM_K": "5", "RAGSTREAM_CHUNK_SIZE": "700"}).stdout)

    assert shown["k"] == {"value": "2", "source": "flag --k"}
    assert shown["chunk_size"] == {"value": "700", "source": "env RAGSTREAM_CHUNK_SIZE"}
    assert shown["model"] == {"value": "ollama:llama3.2",
                              "source": f"file {home / 'config.toml'}"}
    assert shown["collection"] == {"value": "docs", "source": "default"}
    assert shown["home"] == {"value": str(home), "source": "env RAGSTREAM_HOME"}
    assert shown["embeddings"]["source"] == "env RAGSTREAM_EMBEDDINGS"

    table = cli("config", "--data-dir", str(home / "other")).stdout
    assert f"home\t{home / 'other'}\tflag --data-dir\n" in table
    secret = cli("config", env={"RAGSTREAM_API_KEY": "s3cret-value"}).stdout
    assert "s3cret-value" not in secret and "api_key\t****\tenv RAGSTREAM_API_KEY" in secret


def test_a_bad_config_file_is_one_line(cli: Cli, home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[ragstream]\nmodle = 'x'\n", encoding="utf-8")

    result = cli("--config", str(bad), "ask", "hello?")

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: config file {bad}: unknown settings modle")
    assert result.stderr.count("\n") == 1


def test_sample_path(cli: Cli) -> None:
    folder = Path(cli("sample-path").stdout.strip())

    names = sorted(p.name for p in folder.glob("*.md"))
    assert {"quickstart.md", "cli.md", "configuration.md", "server.md", "models.md"} <= set(names)
    for path in folder.glob("*.md"):
        assert path.read_text(encoding="utf-8").startswith("# "), path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_until_ctrl_c(spawn: Spawn, sample_home: Path) -> None:
    port = _free_port()
    process = spawn.popen("serve", "--port", str(port))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/info", timeout=2).json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.3)
        assert info["offline"] is True and info["collection"] == "docs"
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    assert process.returncode in (0, 130)
    assert f"at http://127.0.0.1:{port}/" in err


def test_collections_on_a_chroma_server(
    cli: Cli, corpus: Callable[..., Path], chroma_server: str
) -> None:
    name = unique_collection("cli")
    root = corpus(a="# A\n\nAlpha is the first letter.", b="# B\n\nBeta is the second.")
    server = {"RAGSTREAM_CHROMA_URL": chroma_server}

    stored = cli("ingest", str(root), "-c", name, "--chroma-url", chroma_server)
    asked = cli("ask", "Which letter is first?", "-c", name, "--json", env=server)
    listed = json.loads(cli("collections", "--json", env=server).stdout)
    deleted = cli("collections", "delete", name, "--yes", env=server)
    gone = cli("ask", "Which letter is first?", "-c", name, env=server)

    assert stored.exit_code == 0, stored.output
    assert f"stored in {chroma_server}" in stored.stdout
    assert "Alpha is the first letter." in json.loads(asked.stdout)["answer"]
    assert {"name": name, "chunks": 2, "sources": 2, "embeddings": "fake:384"} in listed
    assert deleted.exit_code == 0
    assert gone.exit_code == 4 and f"collection {name!r} does not exist" in gone.stderr
