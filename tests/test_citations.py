"""Citation markers on plain strings (``CitationParser``, sans-IO), and the
chain that numbers its sources so a model can cite them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragstream.app import (
    CITING_QA_SYSTEM_PROMPT,
    CitationParser,
    citing_rag_chain,
    find_markers,
)
from ragstream.app._chain import numbered_context
from ragstream.chains import create_conversational_rag_chain
from ragstream.documents import Document
from ragstream.messages import AIMessage, HumanMessage
from ragstream.models import ExtractiveChatModel
from ragstream.retrievers import BaseRetriever
from ragstream.testing import FakeChatModel


def cites(text: str, count: int = 4) -> list[tuple[int, ...]]:
    return [m.indices for m in find_markers(text, count)]


# -- markers -------------------------------------------------------------------


def test_a_marker_split_across_tokens_is_found_at_its_closing_bracket() -> None:
    parser = CitationParser(3)

    found = [parser.feed(token) for token in ["Cats", " purr", ".", " [", "1", "]", " Dogs"]]

    assert [[m.indices for m in f] for f in found] == [[], [], [], [], [], [(1,)], []]
    marker = found[5][0]
    assert (marker.text, marker.start, marker.end) == ("[1]", 11, 14)
    assert parser.cited == [1] and parser.position == 19


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a [1] b", [(1,)]),
        ("a [1, 2] b", [(1, 2)]),
        ("a [1,2] b", [(1, 2)]),
        ("a [1; 3] b", [(1, 3)]),
        ("a [1][2] b", [(1,), (2,)]),
        ("a [ 2 ] b", [(2,)]),
        ("a[2].", [(2,)]),
        ("a [2-4] b", [(2, 3, 4)]),
        ("a [1\u20133] b", [(1, 2, 3)]),
        ("a [1, 2-3, 2] b", [(1, 2, 3)]),  # each index once per marker
        ("[[1]]", [(1,)]),
        ("[see [2]]", [(2,)]),
    ],
)
def test_markers(text: str, expected: list[tuple[int, ...]]) -> None:
    assert cites(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a [0] b", []),
        ("a [5] b", []),  # four sources
        ("a [1, 9] b", [(1,)]),
        ("a [3-9] b", [(3, 4)]),
        ("a [4-2] b", []),
        ("a [0-1] b", [(1,)]),
        ("a [12345] b", []),
    ],
)
def test_numbers_out_of_range_are_left_out(text: str, expected: list[tuple[int, ...]]) -> None:
    assert cites(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a [a] b",
        "a [10.5] b",
        "a [1a] b",
        "a [] b",
        "a [,] b",
        "a [-1] b",
        "a [1-] b",
        "see [the guide](https://example.org/guide) b",
        "a [link](https://example.org/page[1]) b",
        "go to https://example.org/a[1] now",
        "use `items[1]` here",
        "use ``x[`1`]`` here",
        "```python\nitems[1]\nitems[2]\n```",
        "a [1\n] b",
        "a [" + "1, " * 20 + "1] b",
    ],
)
def test_brackets_that_are_not_markers(text: str) -> None:
    assert cites(text) == []


def test_code_and_urls_end_where_they_end() -> None:
    assert cites("`x[1]` then [2]") == [(2,)]
    assert cites("```\nx[1]\n```\nthen [2]") == [(2,)]
    assert cites("an open ` tick\nthen [3]") == [(3,)]  # inline code stops at the line's end
    assert cites("see https://example.org/x [1]") == [(1,)]
    assert cites("see [docs](https://example.org/x) [2]") == [(2,)]
    # the ] cannot wait for what follows: a lone number reads as a citation
    assert cites("[1](https://example.org)") == [(1,)]


def test_cited_lists_each_index_once_in_order_of_first_use() -> None:
    parser = CitationParser(3)
    parser.feed("B [2]. A [1][2]. C [3, 1].")
    assert parser.cited == [2, 1, 3]


def test_offsets_point_into_the_answer_in_characters() -> None:
    answer = "Ça marche 🙂 [1]. Encore [2, 3]."
    markers = find_markers(answer, 3)
    assert [answer[m.start:m.end] for m in markers] == ["[1]", "[2, 3]"]
    assert [m.end for m in markers] == [answer.index("[1]") + 3, len(answer) - 1]


def test_without_sources_nothing_is_cited_and_count_is_checked() -> None:
    assert cites("a [1] b", count=0) == []
    parser = CitationParser()
    parser.feed("a [1")
    parser.count = 2  # the sources are known before the marker ends
    assert [m.indices for m in parser.feed("]")] == [(1,)]
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="count must be an int >= 0"):
            CitationParser(bad)  # type: ignore[arg-type]


_PIECES = st.sampled_from(
    ["[", "]", "1", "2", "7", ",", " ", "-", "a", ".", "`", "(", ")", "\n", "://", "[1]", "x"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40), st.data())
def test_the_markers_do_not_depend_on_how_the_text_is_split(
    pieces: list[str], data: st.DataObject
) -> None:
    text = "".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=10)))
    parser = CitationParser(3)
    streamed = []
    for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
        streamed.extend(parser.feed(text[start:end]))
    whole = find_markers(text, 3)
    assert streamed == whole
    for m in whole:
        assert text[m.start:m.end] == m.text and m.indices and set(m.indices) <= {1, 2, 3}


# -- the numbered chain -------------------------------------------------------------


class Shelf(BaseRetriever):
    def __init__(self, docs: list[Document]) -> None:
        self.docs = docs

    async def _aget_relevant_documents(self, query: str, **kwargs: Any) -> list[Document]:
        return list(self.docs)


DOCS = [Document("Cats purr when content.", metadata={"source": "cats.md"}),
        Document("Dogs bark at strangers.", metadata={"source": "dogs.md"})]


def test_numbered_context() -> None:
    context = numbered_context(DOCS)
    assert str(context) == "[1] Cats purr when content.\n\n[2] Dogs bark at strangers."
    assert context.documents == DOCS


def test_the_answer_model_gets_the_sources_numbered_and_asked_to_cite() -> None:
    model = FakeChatModel(["What do dogs do?", "Dogs bark [2]."])
    chain = citing_rag_chain(model, Shelf(DOCS))

    out = chain.invoke({"input": "And dogs?", "chat_history": [
        HumanMessage("Tell me about cats."), AIMessage("Cats purr [1].")]})

    assert out["answer"] == "Dogs bark [2]." and out["context"] == DOCS
    rewrite, answer = model.calls
    assert "[1]" not in rewrite[0].content  # the rewrite prompt is the guide's
    system = answer[0].content
    assert system.endswith("[1] Cats purr when content.\n\n[2] Dogs bark at strangers.")
    assert "cite the pieces it uses by their numbers" in system
    assert CITING_QA_SYSTEM_PROMPT.endswith("\n\n{context}")


def _shape(chain: Any, inputs: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    async def main() -> list[tuple[str, str, tuple[str, ...]]]:
        return [(e["event"], e["name"], tuple(sorted(e["tags"])))
                async for e in chain.astream_events(inputs, version="v2")
                if not e["event"].endswith("_stream")]

    return asyncio.run(main())


@pytest.mark.parametrize("history", [[], [HumanMessage("Cats?"), AIMessage("Cats purr [1].")]])
def test_the_chain_has_the_guides_shape(history: list[Any]) -> None:
    inputs = {"input": "What do dogs do?", "chat_history": history}

    ours = _shape(citing_rag_chain(FakeChatModel("Dogs bark [2]."), Shelf(DOCS)), inputs)
    guide = _shape(create_conversational_rag_chain(FakeChatModel("Dogs bark [2]."), Shelf(DOCS)),
                   inputs)

    assert ours == guide
    assert ("on_prompt_start", "ChatPromptTemplate", ("seq:step:2",)) in ours


def test_the_offline_model_still_quotes_the_documents_not_the_numbers() -> None:
    chain = citing_rag_chain(ExtractiveChatModel(), Shelf(DOCS))
    answer = chain.invoke({"input": "Why do dogs bark?"})["answer"]
    assert answer == "Dogs bark at strangers. [2]"
