"""Incremental ingest of many small files: a first run and an unchanged re-run.

A folder of N one-chunk Markdown files is ingested with ``RagApp.ingest`` (the
path ``ragstream ingest`` takes: resolve, FileLoader, split, fake embeddings,
embedded Chroma on disk in a temporary directory), then ingested again
unchanged, which must skip every file without embedding work. Each repeat
starts from a fresh data directory. Fake embeddings keep the model out of the
figure: what is left is the per-file cost of loading, records and writes.

Run: python benchmarks/ingest.py [--files N] [--repeat N]
Prints medians over the repeats, in files per second.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ragstream.app import RagApp
from ragstream.config import load_settings


def write_corpus(root: Path, files: int) -> None:
    root.mkdir(parents=True)
    for i in range(files):
        (root / f"note{i:05d}.md").write_text(
            f"# Note {i}\n\nNote {i} is about topic {i % 17}, briefly.\n", encoding="utf-8"
        )


def timed_ingest(home: Path, corpus: Path, files: int, *, added: bool) -> float:
    app = RagApp(load_settings({"home": str(home), "embeddings": "fake"}, env={}))
    started = time.perf_counter()
    report = app.ingest([str(corpus)])
    seconds = time.perf_counter() - started
    status = "added" if added else "unchanged"
    if report.count(status) != files or report.failures:
        raise SystemExit(f"expected {files} {status} sources, got {report.to_dict()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    first: list[float] = []
    again: list[float] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "corpus"
            write_corpus(corpus, args.files)
            home = Path(tmp) / "home"
            first.append(timed_ingest(home, corpus, args.files, added=True))
            again.append(timed_ingest(home, corpus, args.files, added=False))

    n = args.files
    print(f"ingest of {n} one-chunk files, fake embeddings, embedded Chroma "
          f"(median of {args.repeat})")
    for label, times in (("first run", first), ("unchanged re-run", again)):
        median = statistics.median(times)
        print(f"  {label:<17} {median:7.2f} s  {n / median:8.0f} files/s")


if __name__ == "__main__":
    main()
