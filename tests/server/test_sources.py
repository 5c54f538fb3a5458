"""SourceLabels on plain strings: file sources relative to the collection's files."""

from __future__ import annotations

import pytest

from ragstream.documents import Document
from ragstream.server._serialize import source_card
from ragstream.server._sources import SourceLabels

FILES = [
    "/home/ana/work/notes/intro.md",
    "/home/ana/work/notes/guide/install.md",
    "/home/ana/work/notes/guide/deep/faq.txt",
    "https://example.org/blog/post",
]


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("/home/ana/work/notes/intro.md", "notes/intro.md"),
        ("/home/ana/work/notes/guide/install.md", "notes/guide/install.md"),
        ("/home/ana/work/notes/guide/deep/faq.txt", "notes/guide/deep/faq.txt"),
        # not under the collection's folder: its folder and name only
        ("/srv/elsewhere/secret/report.pdf", "secret/report.pdf"),
        ("/report.pdf", "report.pdf"),
        # URLs and relative paths as they are
        ("https://example.org/blog/post", "https://example.org/blog/post"),
        ("http://127.0.0.1:8000/a/b/c", "http://127.0.0.1:8000/a/b/c"),
        ("notes/tree-of-thoughts.md", "notes/tree-of-thoughts.md"),
        ("", ""),
    ],
)
def test_labels_relative_to_the_folder_holding_the_files(source: str, shown: str) -> None:
    assert SourceLabels(FILES)(source) == shown


def test_the_base_is_the_longest_common_folder_of_file_sources_only() -> None:
    labels = SourceLabels(FILES)
    assert str(labels.base) == "/home/ana/work/notes"
    assert repr(labels) == "SourceLabels(base='/home/ana/work/notes')"


def test_one_file_is_shown_with_its_folder() -> None:
    labels = SourceLabels(["/data/corpus/a.md"])
    assert labels("/data/corpus/a.md") == "corpus/a.md"


def test_files_from_unrelated_places_fall_back_to_folder_and_name() -> None:
    # their common folder is the filesystem root, which says nothing
    labels = SourceLabels(["/home/ana/a.md", "/srv/docs/b.md"])
    assert labels.base is None
    assert labels("/home/ana/a.md") == "ana/a.md"
    assert labels("/srv/docs/b.md") == "docs/b.md"


def test_with_no_file_sources_every_path_is_folder_and_name() -> None:
    labels = SourceLabels(["https://example.org/"])
    assert labels.base is None
    assert labels("/home/ana/work/notes/intro.md") == "notes/intro.md"


def test_a_folder_named_like_the_base_is_not_under_it() -> None:
    labels = SourceLabels(["/data/docs/a.md", "/data/docs/b.md"])
    assert labels("/data/docs-old/c.md") == "docs-old/c.md"


def test_source_card_shows_the_label_and_keeps_the_title_from_the_file_name() -> None:
    doc = Document("Install with pip.", metadata={"source": FILES[1]}, id="d1")
    card = source_card(doc, rank=1, show_source=SourceLabels(FILES))
    assert card["source"] == "notes/guide/install.md"
    assert card["title"] == "install.md" and card["link"] is None
    assert source_card(doc, rank=1)["source"] == FILES[1]  # no labels: as stored
