"""The offline extractive chat model: answers by quoting its context, with no weights.

It is the default model when none is configured. It reads the prompt and does
one of three things:

- **answer**: when the prompt carries context (the documents stuffed in by
  ``create_stuff_documents_chain``, or failing those the system message's
  text), it streams the few context sentences most relevant to the last user
  question, each followed by `` [n]``, the 1-based position of its document
  (``_sentences`` finds the sentences, leaving Markdown structure out);
- **rewrite**: for a "formulate a standalone question" prompt (or chat
  history with no context) it streams the last question with the pronoun that
  points back into the conversation replaced by the conversation's subject
  (``_standalone``);
- otherwise it says that it has no documents to answer from.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ragstream.documents import Document
from ragstream.embeddings import Embeddings
from ragstream.errors import ConfigError, InputError
from ragstream.messages import AIMessageChunk, BaseMessage
from ragstream.models._base import BaseChatModel, input_messages
from ragstream.models._fake import _cut_at_stop, split_tokens
from ragstream.models._sentences import normalized, sections, terms, words
from ragstream.models._standalone import question_focus, standalone_question

__all__ = ["NO_ANSWER", "NO_DOCUMENTS", "ExtractiveChatModel", "standalone_question"]

NO_ANSWER = "I could not find an answer to that in the provided documents."
NO_DOCUMENTS = (
    "I am running in offline extractive mode and have no documents to answer from."
)

# The least relevance a sentence needs to be quoted when ``min_score`` is not given.
# Lexical: the IDF-weighted share of the question's terms the sentence contains
# (about a third: one of three words, two of six).
# Embeddings: cosine similarity (unrelated sentences score about 0.0-0.2 with MiniLM).
_MIN_LEXICAL = 0.3
_MIN_COSINE = 0.25
# Sentences far below the best one add noise, not answer: quote only those within
# this share of the best BM25 score, or this cosine distance of the best cosine.
_RELATIVE_BM25 = 0.5
_COSINE_MARGIN = 0.15
_K1, _B = 1.2, 0.75
# Sentence vectors kept per model: a conversation retrieves the same chunks again.
_CACHED_VECTORS = 4096
# A heading's words count for this much in each sentence under it: "Resources:" tells
# what the bullets below it are, though none of them says "resources".
_HEADING_WEIGHT = 0.75
# A word inside quotes is mentioned, not used ('labelled "offline extractive mode"').
_QUOTED_DISCOUNT = 0.5
_QUOTED = re.compile(r'"[^"]+"|“[^”]+”')
# Sentences quoted only when nothing else is relevant: a bare quoted phrase, and
# "Installing ragstream: see the installation guide.", which sends the reader elsewhere.
_QUOTE_ONLY = re.compile(r'^\s*(?:"[^"]*"|“[^”]*”|\'[^\']*\'|‘[^’]*’)[\s.!?:;,)]*$')
_POINTER = re.compile(
    r"\bsee (?:also )?(?:the |our )?[\w\s-]{0,40}?\b(?:guide|section|chapter|documentation"
    r"|docs|page|reference|below|above)\b", re.I)
# Scores are raised by these factors for a sentence that repeats the question's
# phrase ("To use a real model ..."), sits under a heading that does, opens with what
# the question asks about, or defines it ("A collection is a named set of chunks.").
_PHRASE_BONUS = 1.3
_HEADED_BONUS = 1.15
_LEAD_BONUS = 1.3
_DEFINES_BONUS = 2.0
_DEFINING = re.compile(r"\s(?:is|are|means|refers to|stands for)\s", re.I)

_REWRITE_ASKED = re.compile(
    r"stand-?alone|reformulat|rephras|re-?write|re-?word|self-contained question", re.I
)
_ANSWER_ASKED = re.compile(r"\b(?:context|retrieved|documents?|sources?|passages?)\b", re.I)
_INSTRUCTION = re.compile(
    r"\byou are\b|\buse the following\b|\banswer the\b|\bif you don'?t know\b"
    r"|\bkeep the answer\b|\bsentences maximum\b|\bdo not answer\b",
    re.I,
)
_LABEL = re.compile(r"^[ \t]*(question|context|answer)[ \t]*:", re.I | re.M)


class ExtractiveChatModel(BaseChatModel):
    """Answers from the context in its prompt by quoting it, offline and with no weights.

    Relevance is cosine similarity under ``embeddings`` when given, else lexical
    (BM25 over stemmed words). At most ``max_sentences`` sentences are quoted,
    each at least ``min_score`` relevant (see the module's defaults). ``delay``
    waits that many seconds before each token, so demos stream visibly.

    >>> from ragstream.prompts import ChatPromptValue
    >>> from ragstream.documents import Document
    >>> from ragstream.messages import HumanMessage
    >>> prompt = ChatPromptValue([HumanMessage("What is task decomposition?")], [
    ...     Document("Task decomposition splits a hard task into simple steps."),
    ...     Document("Chroma stores vectors.")])
    >>> ExtractiveChatModel().invoke(prompt).content
    'Task decomposition splits a hard task into simple steps. [1]'
    """

    label: ClassVar[str] = "offline extractive mode"

    def __init__(
        self,
        *,
        embeddings: Embeddings | None = None,
        max_sentences: int = 3,
        min_score: float | None = None,
        delay: float = 0.0,
    ) -> None:
        if embeddings is not None and not isinstance(embeddings, Embeddings):
            raise ConfigError(
                f"ExtractiveChatModel: embeddings must be an Embeddings, "
                f"not {type(embeddings).__name__}"
            )
        if isinstance(max_sentences, bool) or not isinstance(max_sentences, int) \
                or max_sentences < 1:
            raise ConfigError(
                f"ExtractiveChatModel: max_sentences must be a positive int, not {max_sentences!r}"
            )
        if min_score is not None and not -1.0 <= min_score <= 1.0:
            raise ConfigError(
                f"ExtractiveChatModel: min_score must be between -1 and 1, not {min_score!r}"
            )
        if delay < 0:
            raise ConfigError(f"ExtractiveChatModel: delay must not be negative, not {delay!r}")
        self.embeddings = embeddings
        self.max_sentences = max_sentences
        self.min_score = min_score
        self.delay = delay
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()

    # This overrides _astream, not _astream_chat: citing needs the documents that the
    # prompt value carries beside its messages.
    async def _astream(self, input: Any, **kwargs: Any) -> AsyncIterator[AIMessageChunk]:
        messages = input_messages(input)
        # stuffed in by create_stuff_documents_chain, in the order the user sees them
        documents = list(getattr(input, "documents", None) or [])
        text = await self._reply(messages, documents)
        for chunk in _chunks(text, messages, kwargs.get("stop")):
            if self.delay and chunk.content:
                await asyncio.sleep(self.delay)
            yield chunk

    async def _reply(self, messages: Sequence[BaseMessage], documents: list[Document]) -> str:
        if not messages:
            raise InputError(
                "ExtractiveChatModel: got no messages; it needs at least a user message "
                "with the question"
            )
        last = next((i for i in range(len(messages) - 1, -1, -1)
                     if messages[i].type == "human"), None)
        if last is None:
            raise InputError(
                "ExtractiveChatModel: the messages hold no user (human) message to answer; "
                f"got {', '.join(m.type for m in messages)}"
            )
        history = [m for m in messages[:last] if m.type != "system"]
        system = "\n\n".join(m.content for m in messages if m.type == "system")
        question, labelled_context = _labelled(messages[last].content)
        if documents:
            passages = [(i, d.page_content) for i, d in enumerate(documents, 1)]
        else:
            if _REWRITE_ASKED.search(system):
                return standalone_question(question, history)
            context = labelled_context if labelled_context is not None else system
            passages = list(enumerate(_context_passages(context), 1))
            if not passages:
                if history and not _ANSWER_ASKED.search(system):
                    return standalone_question(question, history)
                return NO_DOCUMENTS
        return await self._answer(standalone_question(question, history), passages)

    async def _answer(self, question: str, passages: list[tuple[int, str]]) -> str:
        candidates = _candidates(passages)
        if not candidates:
            return NO_ANSWER
        if self.embeddings is not None:
            scores = await self._cosine_scores(self.embeddings, question, candidates)
            floor = _MIN_COSINE if self.min_score is None else self.min_score
            passing = _substantial([i for i, s in enumerate(scores) if s >= floor], candidates)
            best = max((scores[i] for i in passing), default=0.0)
            relevant = [i for i in passing if scores[i] >= best - _COSINE_MARGIN]
        else:
            scores, coverage = _lexical_scores(question, candidates)
            floor = _MIN_LEXICAL if self.min_score is None else self.min_score
            passing = _substantial(
                [i for i in range(len(candidates)) if coverage[i] >= floor and scores[i] > 0],
                candidates,
            )
            best = max((scores[i] for i in passing), default=0.0)
            relevant = [i for i in passing if scores[i] >= _RELATIVE_BM25 * best]
        chosen = _select(sorted(relevant, key=lambda i: (-scores[i], i)), candidates,
                         self.max_sentences)
        if not chosen:
            return NO_ANSWER
        return " ".join(f"{candidates[i].text} [{candidates[i].marker}]"
                        for i in _reading_order(chosen, candidates, scores))

    async def _cosine_scores(
        self, embeddings: Embeddings, question: str, candidates: list[_Candidate]
    ) -> list[float]:
        texts = [f"{c.heading}: {c.text}" if c.heading else c.text for c in candidates]
        cache = self._vectors
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        query, vectors = await asyncio.gather(
            embeddings.aembed_query(question),
            embeddings.aembed_documents(missing) if missing else _no_vectors(),
        )
        if len(vectors) != len(missing):
            raise ConfigError(
                f"ExtractiveChatModel: {type(embeddings).__name__} returned "
                f"{len(vectors)} vectors for {len(missing)} sentences"
            )
        cache.update(zip(missing, vectors, strict=True))
        scores = []
        for text in texts:
            cache.move_to_end(text)
            scores.append(_cosine(query, cache[text]))
        while len(cache) > _CACHED_VECTORS:
            cache.popitem(last=False)
        return scores

    def __repr__(self) -> str:
        return (f"ExtractiveChatModel(embeddings={self.embeddings!r}, "
                f"max_sentences={self.max_sentences}, min_score={self.min_score}, "
                f"delay={self.delay})")


def _chunks(text: str, messages: Sequence[BaseMessage], stop: Any) -> list[AIMessageChunk]:
    """The reply word by word, between an empty first chunk and an empty last one
    that carries the metadata, as streaming chat APIs send them."""
    tokens = split_tokens(text)
    if stop:
        tokens = _cut_at_stop(tokens, [stop] if isinstance(stop, str) else stop)
    prompt_tokens = sum(len(split_tokens(m.content)) for m in messages)
    last = AIMessageChunk(
        "",
        usage_metadata={
            "input_tokens": prompt_tokens,
            "output_tokens": len(tokens),
            "total_tokens": prompt_tokens + len(tokens),
        },
        response_metadata={
            "model_name": "extractive",
            "finish_reason": "stop",
            "mode": "offline-extractive",
        },
    )
    return [AIMessageChunk(""), *(AIMessageChunk(t) for t in tokens), last]


@dataclass(slots=True)
class _Candidate:
    marker: int
    position: int
    text: str
    key: str
    heading: str
    # a few words, or a bare quoted phrase: an answer only when nothing else is
    minor: bool = False


def _candidates(passages: list[tuple[int, str]]) -> list[_Candidate]:
    out: list[_Candidate] = []
    seen: set[str] = set()
    edges: list[int] = []  # the first and last sentence of each passage
    position = 0
    for marker, text in passages:
        found = sections(text)
        for n, (heading, sentence) in enumerate(found):
            key = normalized(sentence)
            if key in seen:  # overlapping chunks repeat sentences: cite the first
                continue
            seen.add(key)
            if n in (0, len(found) - 1):
                edges.append(len(out))
            minor = len(set(terms(sentence))) < 3 or _QUOTE_ONLY.match(sentence) is not None \
                or (_POINTER.search(sentence) is not None and len(words(sentence)) < 12)
            out.append(_Candidate(marker, position, sentence, key, heading, minor))
            position += 1
    # a chunk may begin or end in the middle of a sentence that a neighbouring chunk
    # holds whole: keep the whole one
    cut = {i for i in edges
           if any(j != i and out[i].key in c.key for j, c in enumerate(out))}
    return [c for i, c in enumerate(out) if i not in cut]


def _substantial(indices: list[int], candidates: list[_Candidate]) -> list[int]:
    """``indices`` without the minor sentences, unless nothing else is left."""
    return [i for i in indices if not candidates[i].minor] or indices


def _lexical_scores(
    question: str, candidates: list[_Candidate]
) -> tuple[list[float], list[float]]:
    """BM25 of each sentence against the question, and the share of the question's
    IDF weight that the sentence covers.

    A word under the sentence's heading counts as if the sentence had it, less so
    when the heading is about more than the question; a word inside quotes (a phrase
    mentioned, not used) counts half; ``_bonus`` raises the sentences that say what
    was asked in its own words."""
    asked = set(terms(question))
    n = len(candidates)
    if not asked:
        return [0.0] * n, [0.0] * n
    noun, phrase = question_focus(question)
    focus = set(terms(noun or ""))
    phrased = terms(phrase or "")
    counted: list[dict[str, float]] = []
    lengths: list[float] = []
    under: list[set[str]] = []
    bonuses: list[float] = []
    for c in candidates:
        listed = terms(c.text)
        own: dict[str, float] = dict(Counter(listed))
        for quoted in _QUOTED.finditer(c.text):
            for t in terms(quoted.group()):
                if t in own:
                    own[t] -= _QUOTED_DISCOUNT
        lengths.append(len(listed))
        heading = set(terms(c.heading))
        headed = heading - own.keys()
        under.append(headed)
        # "Offline extractive mode and real models" says less about each sentence
        # under it than "Offline extractive mode" would
        precise = len(heading & asked) / len(heading) if heading else 0.0
        own.update(dict.fromkeys(headed, _HEADING_WEIGHT * precise))
        counted.append(own)
        bonuses.append(_bonus(c, listed, focus, phrased))
    average = (sum(lengths) / n) or 1.0
    df = Counter(t for c in counted for t in c if t in asked)
    idf = {t: math.log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in asked if df[t]}
    # A word the context never uses cannot tell its sentences apart: it may be the
    # crux ("France") or mere phrasing ("common ways"). It weighs as an average word.
    absent = len(asked) - len(idf)
    total = sum(idf.values()) * (1.0 + absent / len(idf)) if idf else 1.0
    scores: list[float] = []
    coverage: list[float] = []
    for tf, length, headed, bonus in zip(counted, lengths, under, bonuses, strict=True):
        norm = _K1 * (1.0 - _B + _B * length / average)
        score = 0.0
        covered = 0.0
        for t in idf:
            if t in headed:  # scored as a word of the sentence, covering less of the question
                score += idf[t] * tf[t] / _HEADING_WEIGHT * (_K1 + 1.0) / (1.0 + norm)
                covered += idf[t] * tf[t]
            elif t in tf:
                score += idf[t] * tf[t] * (_K1 + 1.0) / (tf[t] + norm)
                covered += idf[t] * min(1.0, tf[t])
        scores.append(score * bonus)
        coverage.append(covered / total)
    return scores, coverage


def _bonus(c: _Candidate, listed: list[str], focus: set[str], phrased: list[str]) -> float:
    """How much a sentence's score is raised for saying what was asked in its words:
    it (or its heading) repeats the question's phrase ("use a real model"), it opens
    with what the question asks about, or it defines that ("A collection is ...")."""
    bonus = 1.0
    if len(phrased) > 1:
        bonus *= _PHRASE_BONUS if _contains(listed, phrased) else 1.0
        bonus *= _HEADED_BONUS if _contains(terms(c.heading), phrased) else 1.0
    if focus and focus <= set(listed[: len(focus) + 2]):
        verb = _DEFINING.search(c.text)
        defines = verb is not None and set(terms(c.text[: verb.start()])) == focus
        bonus *= _DEFINES_BONUS if defines else _LEAD_BONUS
    return bonus


def _contains(listed: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(listed[i:i + n] == phrase for i in range(len(listed) - n + 1))


async def _no_vectors() -> list[list[float]]:
    return []


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _select(ranked: list[int], candidates: list[_Candidate], limit: int) -> list[int]:
    """The best sentences, skipping any that repeat one already chosen."""
    chosen: list[int] = []
    for i in ranked:
        key = candidates[i].key
        bag = set(key.split())
        if any(_repeats(key, bag, candidates[j].key) for j in chosen):
            continue
        chosen.append(i)
        if len(chosen) == limit:
            break
    return chosen


def _repeats(key: str, bag: set[str], other: str) -> bool:
    if key in other or other in key:
        return True
    other_bag = set(other.split())
    return len(bag & other_bag) >= 0.8 * len(bag | other_bag)


def _reading_order(chosen: list[int], candidates: list[_Candidate],
                   scores: list[float]) -> list[int]:
    """Documents by their best sentence, sentences of a document in its own order:
    the best answer comes first, and sentences from one passage still read as written."""
    best: dict[int, float] = {}
    for i in chosen:
        m = candidates[i].marker
        best[m] = max(best.get(m, -math.inf), scores[i])
    return sorted(chosen, key=lambda i: (-best[candidates[i].marker], candidates[i].marker,
                                         candidates[i].position))


def _labelled(text: str) -> tuple[str, str | None]:
    """Split a one-message prompt written as ``Question: ... Context: ...``."""
    found = list(_LABEL.finditer(text))
    if len(found) < 2:
        return text, None
    parts: dict[str, str] = {}
    ends = [m.start() for m in found[1:]] + [len(text)]
    for m, end in zip(found, ends, strict=True):
        parts.setdefault(m.group(1).lower(), text[m.end(): end].strip())
    if "question" in parts and "context" in parts:
        return parts["question"], parts["context"]
    return text, None


def _context_passages(text: str) -> list[str]:
    """Blank-line separated passages, leaving out instructions addressed to the model."""
    passages = (p.strip() for p in re.split(r"\n[ \t]*\n", text))
    return [p for p in passages if p and not _INSTRUCTION.search(p)]
