"""FileLoader on real files written to a temporary folder."""

from __future__ import annotations

import asyncio
import codecs
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from ragstream.documents import Document
from ragstream.errors import ConfigError, SourceError
from ragstream.loaders import DirectoryLoader, FileLoader, LoadError

from .conftest import PNG

MakePdf = Callable[..., bytes]


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def only_failure(loader: FileLoader) -> SourceError:
    with pytest.raises(LoadError) as info:
        loader.load()
    (failure,) = info.value.failures
    return failure


@pytest.fixture
def notes(tmp_path: Path, make_pdf: MakePdf) -> Path:
    """A folder of notes in every supported format, with things to skip."""
    root = tmp_path / "notes"
    write(root / "intro.md", "Some preface.\n\n# Introduction\n\nAgents plan and remember.\n")
    write(root / "plain.txt", "Task decomposition splits a task.\n")
    write(
        root / "guide" / "page.html",
        '<html lang="ko"><head><title>가이드</title></head>'
        "<body><h1>Streaming</h1>\n<p>Tokens arrive one by one.</p></body></html>",
    )
    write(root / "guide" / "paper.pdf", make_pdf(["Chain of thought", "", "Tree of thoughts"]))
    write(root / "image.png", PNG)  # unsupported suffix: skipped in a folder scan
    write(root / ".hidden.md", "# Secret\n")
    write(root / ".git" / "notes.txt", "not a note\n")
    return root


# --- formats -----------------------------------------------------------------------


def test_text_file(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "Line one.\nLine two.\n")
    assert FileLoader(path).load() == [
        Document("Line one.\nLine two.\n", metadata={"source": str(path)})
    ]


def test_markdown_title_is_the_first_heading(tmp_path: Path) -> None:
    path = write(tmp_path / "a.md", "intro\n\n# Retrieval, streamed ##\n\n## Later\n")
    (doc,) = FileLoader(path).load()
    assert doc.page_content == "intro\n\n# Retrieval, streamed ##\n\n## Later\n"
    assert doc.metadata == {"source": str(path), "title": "Retrieval, streamed"}


def test_html_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.html",
        '<html lang="en"><head><title> Page </title><meta name="description" content="d">'
        "<style>p {}</style></head><body><p>One</p>\n<p>Two &amp; three</p></body></html>",
    )
    (doc,) = FileLoader(path).load()
    # soup.get_text(), as for web pages: BeautifulSoup leaves <style> out
    assert doc.page_content == " Page One\nTwo & three"
    assert doc.metadata == {"source": str(path), "title": "Page", "description": "d",
                            "language": "en"}


def test_html_file_in_its_declared_encoding(tmp_path: Path) -> None:
    html = '<html><head><meta charset="shift_jis"><title>日本</title></head><body>記憶</body>'
    path = write(tmp_path / "a.htm", html.encode("shift_jis"))
    (doc,) = FileLoader(path).load()
    assert doc.page_content == "日本記憶"
    assert doc.metadata["title"] == "日本"


def test_html_file_with_bs_kwargs(tmp_path: Path) -> None:
    import bs4

    path = write(tmp_path / "a.html", '<nav>menu</nav><div class="post">kept</div>')
    loader = FileLoader(path, bs_kwargs={"parse_only": bs4.SoupStrainer(class_="post")})
    assert [d.page_content for d in loader.load()] == ["kept"]


def test_pdf_one_document_per_page_with_text(tmp_path: Path, make_pdf: MakePdf) -> None:
    path = write(tmp_path / "a.pdf", make_pdf(["First (page)", "", "Third page"], title="Paper"))
    docs = FileLoader(path).load()
    assert docs == [
        Document("First (page)", metadata={"source": str(path), "title": "Paper", "page": 0,
                                           "total_pages": 3}),
        Document("Third page", metadata={"source": str(path), "title": "Paper", "page": 2,
                                         "total_pages": 3}),
    ]


def test_pdf_one_document_per_file(tmp_path: Path, make_pdf: MakePdf) -> None:
    path = write(tmp_path / "a.pdf", make_pdf(["First", "", "Third"]))
    assert FileLoader(path, pdf_mode="single").load() == [
        Document("First\n\nThird", metadata={"source": str(path), "total_pages": 3})
    ]


def test_named_file_with_an_unknown_suffix_is_read_as_text(tmp_path: Path) -> None:
    path = write(tmp_path / "config.rst", "Title\n=====\n")
    assert FileLoader(path).load()[0].page_content == "Title\n=====\n"


def test_byte_order_marks(tmp_path: Path) -> None:
    utf8 = write(tmp_path / "a.txt", codecs.BOM_UTF8 + "héllo".encode())
    utf16 = write(tmp_path / "b.txt", codecs.BOM_UTF16_LE + "wörld".encode("utf-16-le"))
    assert [d.page_content for d in FileLoader([utf8, utf16]).load()] == ["héllo", "wörld"]


def test_other_encoding_on_request(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "caf\xe9\n".encode("latin-1"))
    assert FileLoader(path, encoding="latin-1").load()[0].page_content == "café\n"


# --- folders -----------------------------------------------------------------------


def test_folder_loads_supported_files_in_order_and_skips_hidden(notes: Path) -> None:
    docs = FileLoader(notes).load()
    assert [(Path(d.metadata["source"]).relative_to(notes).as_posix(), d.metadata.get("page"))
            for d in docs] == [
        ("guide/page.html", None),
        ("guide/paper.pdf", 0),
        ("guide/paper.pdf", 2),
        ("intro.md", None),
        ("plain.txt", None),
    ]
    assert docs[0].metadata == {"source": str(notes / "guide" / "page.html"), "title": "가이드",
                                "language": "ko"}
    assert docs[0].page_content == "가이드Streaming\nTokens arrive one by one."


def test_glob_and_recursive(notes: Path) -> None:
    assert [d.metadata["source"] for d in FileLoader(notes, glob="**/*.md").load()] == [
        str(notes / "intro.md")
    ]
    top = FileLoader(notes, recursive=False).load()
    assert [Path(d.metadata["source"]).name for d in top] == ["intro.md", "plain.txt"]


def test_hidden_files_on_request(notes: Path) -> None:
    names = {Path(d.metadata["source"]).name
             for d in FileLoader(notes, include_hidden=True).load()}
    assert {".hidden.md", "notes.txt"} <= names


def test_suffixes_choose_what_a_folder_scan_reads(notes: Path) -> None:
    write(notes / "data.csv", "a,b\n1,2\n")
    docs = FileLoader(notes, suffixes=["csv", ".TXT"]).load()
    assert [Path(d.metadata["source"]).name for d in docs] == ["data.csv", "plain.txt"]


def test_directory_loader_is_the_same_loader(notes: Path) -> None:
    assert DirectoryLoader is FileLoader
    assert len(DirectoryLoader(str(notes), glob="**/*.txt").load()) == 1


def test_four_ways_to_load_agree(notes: Path) -> None:
    loader = FileLoader(notes)

    async def async_lazy() -> list[Document]:
        return [doc async for doc in loader.alazy_load()]

    loaded = loader.load()
    assert len(loaded) == 5
    assert list(loader.lazy_load()) == loaded
    assert asyncio.run(loader.aload()) == loaded
    assert asyncio.run(async_lazy()) == loaded


def test_files_lists_what_load_reads_in_order(notes: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.md"
    empty = tmp_path / "empty"
    empty.mkdir()
    again = notes / "plain.txt"
    loader = FileLoader([notes, missing, empty, again])

    files = loader.files()

    assert [p.relative_to(notes).as_posix() for p in files] == [
        "guide/page.html", "guide/paper.pdf", "intro.md", "plain.txt", "plain.txt",
    ]
    assert all(isinstance(p, Path) for p in files)
    with pytest.raises(LoadError) as info:
        loader.load()
    sources = list(dict.fromkeys(d.metadata["source"] for d in info.value.documents))
    assert sources == list(dict.fromkeys(str(p) for p in files))
    assert [f.source for f in info.value.failures] == [str(missing), str(empty)]
    assert asyncio.run(loader.afiles()) == files


def test_files_of_a_named_file_and_of_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.log", "read as text when named\n")
    assert FileLoader(path).files() == [path]
    assert FileLoader(tmp_path / "nope").files() == []
    assert FileLoader(tmp_path, glob="**/*.md").files() == []


def test_many_small_files_keep_their_order_and_their_failures(tmp_path: Path) -> None:
    """Files are read several at a time off the event loop; order and failures hold."""
    root = tmp_path / "many"
    for i in range(700):
        write(root / f"n{i:04d}.txt", f"note {i}\n" if i % 250 != 7 else b"\xff bad")
    with pytest.raises(LoadError) as info:
        FileLoader(root).load()
    error = info.value
    assert [d.page_content for d in error.documents] == [
        f"note {i}\n" for i in range(700) if i % 250 != 7
    ]
    assert [Path(f.source).name for f in error.failures] == ["n0007.txt", "n0257.txt", "n0507.txt"]


def test_load_errors_pickle_with_their_failures_and_documents(notes: Path) -> None:
    write(notes / "broken.txt", b"\xff\xff")
    with pytest.raises(LoadError) as info:
        FileLoader([notes, notes / "missing.md"]).load()
    error = info.value
    error.add_note("while loading the notes")

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is LoadError and str(copy) == str(error)
    assert copy.documents == error.documents and copy.loaded == error.loaded == 5
    assert [(f.source, f.reason) for f in copy.failures] == [
        (f.source, f.reason) for f in error.failures
    ]
    assert all(type(f) is SourceError for f in copy.failures)
    assert copy.__notes__ == ["while loading the notes"]
    single = pickle.loads(pickle.dumps(SourceError("a.md", "gone")))
    assert (single.source, single.reason, str(single)) == ("a.md", "gone", "a.md: gone")


# --- bad input ---------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    failure = only_failure(FileLoader(missing))
    assert (failure.source, failure.reason) == (str(missing), "no such file or directory")


def test_folder_with_nothing_to_load(tmp_path: Path) -> None:
    write(tmp_path / "only.png", PNG)
    failure = only_failure(FileLoader(tmp_path, glob="**/*.md"))
    assert failure.source == str(tmp_path)
    assert failure.reason.startswith("no files matching '**/*.md' with suffix ")


def test_binary_file(tmp_path: Path) -> None:
    for name in ("image.png", "disguised.txt"):
        path = write(tmp_path / name, PNG)
        failure = only_failure(FileLoader(path))
        assert (failure.source, failure.reason) == (str(path), "binary file, not text")


def test_invalid_utf8_fails_with_where_and_what_to_do(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", b"good text then \xff\xfe bad")
    failure = only_failure(FileLoader(path))
    assert failure.source == str(path)
    assert failure.reason == (
        "not valid utf-8 text (byte 0xff at offset 15); "
        "pass encoding=... to read it in another encoding"
    )


def test_empty_files(tmp_path: Path) -> None:
    text = write(tmp_path / "a.txt", "  \n\n")
    html = write(tmp_path / "b.html", "<html><body>  </body></html>")
    with pytest.raises(LoadError) as info:
        FileLoader([text, html]).load()
    assert [(f.source, f.reason) for f in info.value.failures] == [
        (str(text), "the file has no text"),
        (str(html), "no text in the HTML file"),
    ]


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\nthis is not really a pdf\n%%EOF\n", b"", b"PK\x03\x04 a zip file"],
    ids=["garbage", "empty", "zip"],
)
def test_corrupt_pdf(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "bad.pdf", data)
    failure = only_failure(FileLoader(path))
    assert failure.source == str(path)
    assert failure.reason.startswith("not a readable PDF: ")


def test_truncated_pdf(tmp_path: Path, make_pdf: MakePdf) -> None:
    path = write(tmp_path / "cut.pdf", make_pdf(["Some text"])[:120])
    assert only_failure(FileLoader(path)).reason.startswith("not a readable PDF: ")


def test_pdf_without_text(tmp_path: Path, make_pdf: MakePdf) -> None:
    path = write(tmp_path / "scan.pdf", make_pdf(["", ""]))
    assert only_failure(FileLoader(path)).reason == (
        "no text in the PDF's 2 page(s) (scanned images?)"
    )


def test_file_over_the_cap(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "x" * 2000)
    assert only_failure(FileLoader(path, max_bytes=1000)).reason == (
        "file is 2000 bytes, over the 1000-byte limit"
    )


def test_batch_keeps_the_good_and_reports_the_bad(notes: Path) -> None:
    bad_txt = write(notes / "broken.txt", b"\xff\xff")
    bad_pdf = write(notes / "broken.pdf", b"%PDF-nonsense")
    missing = notes / "missing.md"
    with pytest.raises(LoadError) as info:
        FileLoader([notes, missing]).load()
    error = info.value
    assert len(error.documents) == 5
    assert [f.source for f in error.failures] == [str(bad_pdf), str(bad_txt), str(missing)]
    assert str(error).startswith("loaded 5 documents, failed 3 sources: ")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"glob": ""}, "glob must not be empty"),
        ({"pdf_mode": "pages"}, "pdf_mode must be 'page' or 'single'"),
        ({"max_bytes": 0}, "max_bytes must be at least 1"),
        ({"encoding": "no-such-codec"}, "unknown encoding 'no-such-codec'"),
    ],
)
def test_bad_configuration(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        FileLoader(tmp_path, **kwargs)  # type: ignore[arg-type]


def test_paths_must_be_paths() -> None:
    with pytest.raises(ConfigError, match="not int"):
        FileLoader([1])  # type: ignore[list-item]
