"""RecursiveCharacterTextSplitter gives the reference splitter's chunks, exactly.

Every property test splits generated text with both splitters and compares
the output; the reference is ``langchain_text_splitters`` (test dependency
only, never imported by ``src/``).
"""

from __future__ import annotations

import logging
import random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_text_splitters import RecursiveCharacterTextSplitter as Reference

from ragstream.documents import Document
from ragstream.errors import ConfigError, InputError
from ragstream.splitters import (
    RecursiveCharacterTextSplitter,
    load_minilm_tokenizer,
    minilm_tokenizer_path,
)
from ragstream.splitters._merge import windows, windows_by_walk

# the reference warns about every oversized chunk; generated text makes many
logging.getLogger("langchain_text_splitters").setLevel(logging.ERROR)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOKENS = [
    "lorem", "ipsum", "a", "bb", "ccc", "dolor sit", "x" * 40,
    " ", "  ", "\n", "\n\n", "\n\n\n", "\t", " \n ",
    "é", "naïve", "你好世界", "🙂", "\u00a0", "\u3000", "\u2028",
    ".", "*", "(", ")", "|", "\\", "$", "^", "?", "+", "[", "]", "{", "}",
    "a.b", "--", "ab", "aba", "abab", "...", "...",
]  # fmt: skip
LITERAL_SEPARATORS = [
    "\n\n", "\n", " ", "", ".", "*", "(", "|", "\\", "$", "a.b", "--", "ab",
    "aba", "  ", "\n\n\n", "é", "🙂", "[", "xxx", "...", " \n ",
]  # fmt: skip
REGEX_SEPARATORS = [
    r"\n\n", r"\n", r"\s", r"\s+", r"[.!?]", r"(?<=\.)", r"(?=\n)", r"\d+",
    r"a|b", r"(?:ab)+", r"x*", " ", "", r"\.", r"\|", r"\n\n|\.",
]  # fmt: skip
KEEP_MODES: list[Any] = [True, False, "start", "end"]


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _words(text: str) -> int:
    return len(text.split())


def _approx_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _len_plus_one(text: str) -> int:  # even "" has length 1: a joiner that weighs
    return len(text) + 1


def _len_minus_two(text: str) -> int:  # negative for short pieces
    return len(text) - 2


def _half_len(text: str) -> float:  # floats: rounding must land where the reference's does
    return len(text) * 0.5


LENGTH_FUNCTIONS: list[Callable[[str], Any]] = [
    len, _utf8_len, _words, _approx_tokens, _len_plus_one, _len_minus_two, _half_len,
]  # fmt: skip

texts = st.lists(
    st.one_of(
        st.sampled_from(TOKENS),
        st.text(alphabet="ab .\n-é", max_size=12),
        st.text(max_size=6),  # anything unicode, surrogates excepted
    ),
    max_size=60,
).map("".join)


@st.composite
def sizes(draw: st.DrawFn) -> tuple[int, int]:
    """A chunk size and an overlap smaller than it: 0, close to the size, or between."""
    size = draw(st.one_of(st.integers(1, 40), st.integers(1, 300)))
    overlap = draw(
        st.one_of(st.just(0), st.just(size - 1), st.integers(0, size - 1), st.integers(0, 3))
    )
    return size, min(overlap, size - 1)


def both(size: int, overlap: int, **kwargs: Any) -> tuple[RecursiveCharacterTextSplitter, Any]:
    ours = RecursiveCharacterTextSplitter(size, overlap, **kwargs)
    reference = Reference(chunk_size=size, chunk_overlap=overlap, **kwargs)
    return ours, reference


def assert_same_chunks(text: str, size: int, overlap: int, **kwargs: Any) -> list[str]:
    ours, reference = both(size, overlap, **kwargs)
    got = ours.split_text(text)
    assert got == reference.split_text(text)
    return got


# the property tests


@SETTINGS
@given(text=texts, size_overlap=sizes(), keep=st.sampled_from(KEEP_MODES), strip=st.booleans())
def test_default_separators_match_reference(
    text: str, size_overlap: tuple[int, int], keep: Any, strip: bool
) -> None:
    size, overlap = size_overlap
    assert_same_chunks(text, size, overlap, keep_separator=keep, strip_whitespace=strip)


@SETTINGS
@given(
    text=texts,
    size_overlap=sizes(),
    keep=st.sampled_from(KEEP_MODES),
    strip=st.booleans(),
    separators=st.lists(st.sampled_from(LITERAL_SEPARATORS), min_size=1, max_size=4),
)
def test_custom_literal_separators_match_reference(
    text: str, size_overlap: tuple[int, int], keep: Any, strip: bool, separators: list[str]
) -> None:
    size, overlap = size_overlap
    assert_same_chunks(
        text, size, overlap, keep_separator=keep, strip_whitespace=strip, separators=separators
    )


@SETTINGS
@given(
    text=texts,
    size_overlap=sizes(),
    keep=st.sampled_from(KEEP_MODES),
    separators=st.lists(st.sampled_from(REGEX_SEPARATORS), min_size=1, max_size=4),
)
def test_regex_separators_match_reference(
    text: str, size_overlap: tuple[int, int], keep: Any, separators: list[str]
) -> None:
    size, overlap = size_overlap
    assert_same_chunks(
        text, size, overlap, keep_separator=keep, separators=separators, is_separator_regex=True
    )


@SETTINGS
@given(
    text=texts,
    size_overlap=sizes(),
    keep=st.sampled_from(KEEP_MODES),
    length_function=st.sampled_from(LENGTH_FUNCTIONS),
    separators=st.one_of(
        st.none(), st.lists(st.sampled_from(LITERAL_SEPARATORS), min_size=1, max_size=3)
    ),
)
def test_custom_length_functions_match_reference(
    text: str,
    size_overlap: tuple[int, int],
    keep: Any,
    length_function: Callable[[str], int],
    separators: list[str] | None,
) -> None:
    size, overlap = size_overlap
    assert_same_chunks(
        text,
        size,
        overlap,
        keep_separator=keep,
        length_function=length_function,
        separators=separators,
    )


repetitive = st.lists(
    st.sampled_from(["abc", "abc ", " ", "\n", "abc\n\n", "ab", "c"]), max_size=40
)


@SETTINGS
@given(
    pieces=st.one_of(repetitive.map("".join), texts.map(lambda text: text + " " + text)),
    size_overlap=sizes(),
    keep=st.sampled_from(KEEP_MODES),
    strip=st.booleans(),
)
def test_start_index_matches_reference_with_repeated_chunks(
    pieces: str, size_overlap: tuple[int, int], keep: Any, strip: bool
) -> None:
    size, overlap = size_overlap
    ours, reference = both(
        size, overlap, keep_separator=keep, strip_whitespace=strip, add_start_index=True
    )
    metadata = {"source": "s.txt"}
    got = ours.create_documents([pieces, pieces[::-1]], [metadata, {"page": 2}])
    expected = reference.create_documents([pieces, pieces[::-1]], [metadata, {"page": 2}])
    assert [(d.page_content, d.metadata) for d in got] == [
        (d.page_content, d.metadata) for d in expected
    ]


@settings(max_examples=500, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 30), max_size=40),
    sep_len=st.integers(0, 5),
    size_overlap=sizes(),
)
def test_binary_search_merge_equals_the_walk(
    lengths: list[int], sep_len: int, size_overlap: tuple[int, int]
) -> None:
    size, overlap = size_overlap
    prefix = [0]
    for length in lengths:
        prefix.append(prefix[-1] + length + sep_len)
    n = len(lengths)
    assert list(windows(prefix, sep_len, 0, n, size, overlap)) == list(
        windows_by_walk(lengths, sep_len, 0, n, size, overlap)
    )


# larger texts: the paths that only pay off at scale


def _article(paragraphs: int, *, seed: int) -> str:
    rng = random.Random(seed)
    vocabulary = "the agent plans tasks with memory and tools; reflection improves it".split()
    out = []
    for _ in range(paragraphs):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(3, 400))]
        text = " ".join(words)
        if rng.random() < 0.3:
            text = text.replace(" and ", "\n", 2)
        out.append(text)
    return rng.choice(["\n\n", "\n\n\n"]).join(out)


@pytest.mark.parametrize("keep", KEEP_MODES)
@pytest.mark.parametrize(("size", "overlap"), [(1000, 200), (4000, 200), (300, 299), (50, 0)])
def test_long_article_matches_reference(keep: Any, size: int, overlap: int) -> None:
    text = _article(120, seed=size + overlap)
    chunks = assert_same_chunks(text, size, overlap, keep_separator=keep)
    assert len(chunks) > 1


@pytest.mark.parametrize("keep", KEEP_MODES)
@pytest.mark.parametrize(("size", "overlap"), [(1000, 200), (4000, 200), (120, 100)])
def test_overlapping_separators_late_in_a_long_text_match_reference(
    keep: Any, size: int, overlap: int
) -> None:
    # "\n\n\n\n" holds overlapping occurrences of "\n\n": chunking by search
    # must hand over to the boundary list there, keeping what it cut before
    text = _article(60, seed=1).replace("\n\n\n", "\n\n") + "\n\n\n\n\n" + _article(4, seed=2)
    chunks = assert_same_chunks(text, size, overlap, keep_separator=keep)
    assert len(chunks) > 3


def test_text_without_newlines_matches_reference() -> None:
    text = _article(60, seed=3).replace("\n", " ")
    chunks = assert_same_chunks(text, 1000, 200)
    assert all(len(chunk) <= 1000 for chunk in chunks)


def test_word_longer_than_chunk_size_is_cut_into_characters() -> None:
    text = "short " + "y" * 25 + " tail"
    chunks = assert_same_chunks(text, 10, 2)
    assert chunks == ["short", "yyyyyyyyy", "yyyyyyyyyy", "yyyyyyyyyy", "tail"]


def test_the_guides_arguments_on_a_document() -> None:
    doc = Document(_article(30, seed=5), metadata={"source": "https://example.org/post"})
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        [doc]
    )
    expected = Reference(chunk_size=1000, chunk_overlap=200).split_text(doc.page_content)
    assert [split.page_content for split in splits] == expected
    assert all(split.metadata == {"source": "https://example.org/post"} for split in splits)


# documents and metadata


def test_each_chunk_gets_its_own_copy_of_nested_metadata() -> None:
    metadata: dict[str, Any] = {"source": "a.txt", "tags": ["x"]}
    docs = RecursiveCharacterTextSplitter(5, 0).create_documents(["aaa bbb ccc"], [metadata])
    assert len(docs) == 3
    docs[0].metadata["tags"].append("changed")
    docs[1].metadata["source"] = "b.txt"
    assert docs[2].metadata == {"source": "a.txt", "tags": ["x"]}
    assert metadata == {"source": "a.txt", "tags": ["x"]}


def test_start_index_points_at_each_chunk() -> None:
    text = "alpha beta gamma alpha beta gamma"
    splitter = RecursiveCharacterTextSplitter(12, 6, add_start_index=True)
    docs = splitter.create_documents([text])
    assert [d.metadata["start_index"] for d in docs] == [0, 6, 11, 17, 23]
    for doc in docs:
        start = doc.metadata["start_index"]
        assert text[start : start + len(doc.page_content)] == doc.page_content


def test_create_documents_without_metadatas_gives_empty_metadata() -> None:
    docs = RecursiveCharacterTextSplitter(4, 0).create_documents(["ab cd", "ef"])
    assert [(d.page_content, d.metadata) for d in docs] == [("ab", {}), ("cd", {}), ("ef", {})]


def test_empty_and_blank_texts_give_no_chunks() -> None:
    splitter = RecursiveCharacterTextSplitter(10, 2)
    assert splitter.split_text("") == []
    assert splitter.split_text(" \n\n \t ") == []
    assert splitter.split_documents([Document("")]) == []


# bad input


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_size": 0}, "chunk_size must be a positive int, got 0"),
        ({"chunk_size": -5}, "chunk_size must be a positive int, got -5"),
        ({"chunk_size": 10.5}, "chunk_size must be a positive int, got 10.5"),
        ({"chunk_size": 10, "chunk_overlap": -1}, "chunk_overlap must be an int >= 0, got -1"),
        ({"chunk_size": 10, "chunk_overlap": 10}, r"chunk_overlap \(10\) must be smaller"),
        ({"chunk_size": 10, "chunk_overlap": 50}, r"chunk_overlap \(50\) must be smaller"),
        ({"keep_separator": "middle"}, "keep_separator must be True, False, 'start' or 'end'"),
        ({"keep_separator": 1}, "keep_separator must be"),
        ({"length_function": 3}, "length_function must be callable, got int"),
        ({"separators": ["\n", 3]}, "separators must be strings, got 3"),
        (
            {"separators": ["(unclosed"], "is_separator_regex": True},
            r"separator '\(unclosed' is not a valid regular expression",
        ),
    ],
)
def test_bad_configuration_is_a_config_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        RecursiveCharacterTextSplitter(**kwargs)
    assert isinstance(caught.value, ValueError)  # what the reference raises


@pytest.mark.parametrize("text", [None, b"bytes", 3, ["a list"]])
def test_split_text_rejects_what_is_not_a_str(text: Any) -> None:
    with pytest.raises(InputError, match=f"split_text expects a str, got {type(text).__name__}"):
        RecursiveCharacterTextSplitter().split_text(text)


def test_create_documents_rejects_a_lone_str_and_mismatched_metadatas() -> None:
    splitter = RecursiveCharacterTextSplitter()
    with pytest.raises(InputError, match="expects a list of texts, got one str"):
        splitter.create_documents("one text")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="got 1 metadatas for 2 texts"):
        splitter.create_documents(["a", "b"], [{"source": "a"}])


# tokenizers


@pytest.fixture(scope="session")
def minilm() -> Any:
    return load_minilm_tokenizer()


@pytest.fixture(scope="session")
def minilm_transformers() -> Any:
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(minilm_tokenizer_path().parent))


def test_bundled_tokenizer_counts_every_token(minilm: Any) -> None:
    # the file asks for truncation at 128 tokens; a length function must not truncate
    text = "word " * 300
    assert len(minilm.encode(text, add_special_tokens=False).ids) == 300
    assert minilm.truncation is None and minilm.padding is None


def test_a_truncating_tokenizer_is_counted_in_full_and_left_untouched(minilm: Any) -> None:
    from tokenizers import Tokenizer

    truncating = Tokenizer.from_file(str(minilm_tokenizer_path()))
    assert truncating.truncation is not None
    splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        truncating, chunk_size=200, chunk_overlap=0, separators=["\n", " "]
    )
    # two lines of 250 tokens: counted as 128 each they would pass whole
    chunks = splitter.split_text("word " * 250 + "\n" + "word " * 250)
    assert [len(chunk.split()) for chunk in chunks] == [200, 50, 200, 50]
    assert truncating.truncation is not None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, size_overlap=sizes(), keep=st.sampled_from(KEEP_MODES))
def test_token_sizes_match_the_reference_with_a_transformers_tokenizer(
    minilm: Any, minilm_transformers: Any, text: str, size_overlap: tuple[int, int], keep: Any
) -> None:
    size, overlap = size_overlap
    reference = Reference.from_huggingface_tokenizer(
        minilm_transformers, chunk_size=size, chunk_overlap=overlap, keep_separator=keep
    )
    expected = reference.split_text(text)
    for tokenizer in (minilm, minilm_transformers):
        ours = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
            tokenizer, chunk_size=size, chunk_overlap=overlap, keep_separator=keep
        )
        assert ours.split_text(text) == expected


def test_token_chunks_stay_within_the_token_budget(minilm: Any) -> None:
    splitter = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        minilm, chunk_size=64, chunk_overlap=8
    )
    chunks = splitter.split_text(_article(10, seed=9))
    assert len(chunks) > 5
    assert all(len(minilm.encode(c, add_special_tokens=False).ids) <= 64 for c in chunks)


def test_from_huggingface_tokenizer_rejects_other_objects(minilm: Any) -> None:
    with pytest.raises(ConfigError, match=r"tokenizer must be a tokenizers\.Tokenizer"):
        RecursiveCharacterTextSplitter.from_huggingface_tokenizer(object())
    with pytest.raises(ConfigError, match="sets length_function itself"):
        RecursiveCharacterTextSplitter.from_huggingface_tokenizer(minilm, length_function=len)


def test_importing_the_splitters_stays_light() -> None:
    code = (
        "import sys, ragstream.splitters\n"
        "heavy = {'tokenizers', 'transformers', 'langchain_text_splitters', 'numpy'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
