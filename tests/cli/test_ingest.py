"""``ragstream ingest``: files, folders, globs and web pages; incremental runs;
failures reported without stopping the others; the report and the summary."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

PAGE = b"""<html><head><title>A post</title></head><body>
<nav class="menu">NAVIGATION Home About Contact</nav>
<h1 class="post-title">Streaming retrieval</h1>
<div class="post-content"><p>Chunks are embedded and stored in a collection.</p></div>
<footer class="footer">FOOTER copyright notice</footer>
</body></html>"""


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """A web server on 127.0.0.1 with one page (/post.html); anything else is 404."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/post.html":
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(PAGE)))
                self.end_headers()
                self.wfile.write(PAGE)
            else:
                self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def report(cli: Cli, *args: str) -> dict:
    result = cli("ingest", "--json", *args)
    assert result.exit_code in (0, 3), result.output
    return json.loads(result.stdout)


def statuses(data: dict) -> dict[str, str]:
    return {Path(s["source"]).name: s["status"] for s in data["sources"]}


def test_files_folders_and_globs_are_stored_with_a_summary(
    cli: Cli, corpus: Callable[..., Path], chdir: Path
) -> None:
    corpus("notes", a="# A\n\nAlpha text.", b="# B\n\nBeta text.")
    corpus("more", c="# C\n\nGamma text.", d="# D\n\nDelta text.")
    single = corpus("single", e="# E\n\nEpsilon text.") / "e.md"

    result = cli("ingest", "notes", "more/*.md", str(single))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert sorted(line.split()[1] for line in lines if line.startswith("added")) == [
        "more/c.md", "more/d.md", "notes/a.md", "notes/b.md", "single/e.md",
    ]
    assert "collection 'docs': 5 added, 0 unchanged · 5 chunks embedded" in result.stdout
    shown = json.loads(cli("collections", "show", "--json").stdout)
    assert shown["chunks"] == 5 and shown["sources"] == 5
    assert all(Path(s).is_absolute() for s in shown["source_list"])  # same name from any folder


def test_a_second_run_skips_unchanged_sources_and_replaces_changed_ones(
    cli: Cli, corpus: Callable[..., Path]
) -> None:
    root = corpus(a="# A\n\nAlpha text.", b="# B\n\nBeta text.", c="# C\n\nGamma text.")
    first = report(cli, str(root))
    assert first["added"] == 3 and first["sources_by_status"]["added"] == 3

    again = report(cli, str(root))
    assert again["added"] == 0 and again["updated"] == 0 and again["skipped"] == 3
    assert set(statuses(again).values()) == {"unchanged"}

    (root / "b.md").write_text("# B\n\nBeta text, rewritten.", encoding="utf-8")
    (root / "c.md").unlink()
    changed = report(cli, str(root))
    assert statuses(changed) == {"a.md": "unchanged", "b.md": "updated", "c.md": "deleted"}
    assert changed["added"] == 1 and changed["deleted"] == 2  # b's old chunk, and c's
    assert json.loads(cli("collections", "show", "--json").stdout)["chunks"] == 2

    text = cli("ingest", str(root))
    assert [line.split()[0] for line in text.stdout.splitlines()[:2]] == ["unchanged"] * 2
    assert "0 added, 2 unchanged · 0 chunks embedded (2 already stored)" in text.stdout


def test_failed_sources_are_reported_and_the_others_stored(
    cli: Cli, corpus: Callable[..., Path], chdir: Path
) -> None:
    corpus("good", a="# A\n\nAlpha text.")

    result = cli("ingest", "good", "missing.md", "nothing/*.md", "ftp://example.org/x")

    assert result.exit_code == 3
    assert "1 added" in result.stdout and "3 failed" in result.stdout
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: 3 sources failed:")
    for named in ("missing.md: no such file", "nothing/*.md: no files match",
                  "ftp://example.org/x: only http:// and https://"):
        assert named in error[0]
    assert "Traceback" not in result.output
    assert json.loads(cli("collections", "show", "--json").stdout)["chunks"] == 1


def test_web_pages_with_a_css_class_filter(cli: Cli, site: str) -> None:
    data = report(cli, f"{site}/post.html", f"{site}/gone.html",
                  "--css-class", "post-content", "--css-class", "post-title")

    assert statuses(data) == {"post.html": "added", "gone.html": "failed"}
    failed = next(s for s in data["sources"] if s["status"] == "failed")
    assert "404" in failed["error"]
    answer = json.loads(cli("ask", "streaming retrieval", "--json").stdout)
    stored = " ".join(s["content"] for s in answer["sources"])
    assert "Chunks are embedded and stored" in stored and "Streaming retrieval" in stored
    assert "NAVIGATION" not in stored and "FOOTER" not in stored


def test_chunk_size_and_overlap(cli: Cli, corpus: Callable[..., Path]) -> None:
    text = "# Long\n\n" + " ".join(f"Sentence number {i} says a little." for i in range(60))
    root = corpus(long=text)

    small = report(cli, str(root), "--chunk-size", "200", "--chunk-overlap", "20",
                   "--collection", "small")
    default = report(cli, str(root), "--collection", "large")

    assert small["added"] > default["added"] >= 1
    bad = cli("ingest", str(root), "--chunk-size", "100", "--chunk-overlap", "100")
    assert bad.exit_code == 2
    assert "chunk_overlap (100) must be smaller than chunk_size (100)" in bad.stderr


def test_sample_corpus(cli: Cli) -> None:
    data = report(cli, "--sample")

    names = set(statuses(data))
    assert {"quickstart.md", "cli.md", "configuration.md", "models.md"} <= names
    assert data["sources_by_status"]["added"] == len(names) and data["added"] > len(names)


def test_usage_errors(cli: Cli, corpus: Callable[..., Path]) -> None:
    nothing = cli("ingest")
    assert nothing.exit_code == 2 and "give at least one SOURCE" in nothing.stderr

    bad_name = cli("ingest", "--sample", "--collection", "x")
    assert bad_name.exit_code == 2 and "collection_name" in bad_name.stderr


def test_a_collection_keeps_its_embeddings(cli: Cli, corpus: Callable[..., Path]) -> None:
    root = corpus(a="# A\n\nAlpha text.")
    assert cli("ingest", str(root)).exit_code == 0

    other = cli("ingest", str(root), "--embeddings", "fake:16")
    asked = cli("ask", "alpha?", "--embeddings", "fake:16")

    for result in (other, asked):
        assert result.exit_code == 2
        assert "was built with embeddings 'fake:384', not 'fake:16'" in result.stderr
