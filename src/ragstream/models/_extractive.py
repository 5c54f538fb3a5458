"""The offline extractive chat model: answers by quoting its context, with no weights.

It is the default model when none is configured. It reads the prompt and does
one of three things:

- **answer**: when the prompt carries context (the documents stuffed in by
  ``create_stuff_documents_chain``, or failing those the system message's
  text), it streams the few context sentences most relevant to the last user
  question, each followed by `` [n]``, the 1-based position of its document;
- **rewrite**: for a "formulate a standalone question" prompt (or chat
  history with no context) it streams the last question with the pronoun that
  points back into the conversation replaced by the conversation's subject;
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
from ragstream.models._sentences import (
    STOP_WORDS,
    VERBS,
    normalized,
    noun_phrases,
    sections,
    terms,
    words,
)

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
            best = max(scores)
            cutoff = max(floor, best - _COSINE_MARGIN)
            relevant = [i for i, s in enumerate(scores) if s >= cutoff]
        else:
            scores, coverage = _lexical_scores(question, candidates)
            floor = _MIN_LEXICAL if self.min_score is None else self.min_score
            passing = [i for i in range(len(candidates)) if coverage[i] >= floor and scores[i] > 0]
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


def _candidates(passages: list[tuple[int, str]]) -> list[_Candidate]:
    out: list[_Candidate] = []
    seen: set[str] = set()
    position = 0
    for marker, text in passages:
        for heading, sentence in sections(text):
            key = normalized(sentence)
            if key in seen:  # overlapping chunks repeat sentences: cite the first
                continue
            seen.add(key)
            out.append(_Candidate(marker, position, sentence, key, heading))
            position += 1
    return out


def _lexical_scores(
    question: str, candidates: list[_Candidate]
) -> tuple[list[float], list[float]]:
    """BM25 of each sentence against the question, and the share of the question's
    IDF weight that the sentence covers."""
    asked = set(terms(question))
    n = len(candidates)
    if not asked:
        return [0.0] * n, [0.0] * n
    counted: list[dict[str, float]] = []
    lengths: list[int] = []
    under: list[set[str]] = []
    for c in candidates:
        own: dict[str, float] = dict(Counter(terms(c.text)))
        lengths.append(int(sum(own.values())))
        headed = set(terms(c.heading)) - own.keys()
        under.append(headed)
        own.update(dict.fromkeys(headed, _HEADING_WEIGHT))
        counted.append(own)
    average = (sum(lengths) / n) or 1.0
    df = Counter(t for c in counted for t in c if t in asked)
    idf = {t: math.log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in asked if df[t]}
    # A word the context never uses cannot tell its sentences apart: it may be the
    # crux ("France") or mere phrasing ("common ways"). It weighs as an average word.
    absent = len(asked) - len(idf)
    total = sum(idf.values()) * (1.0 + absent / len(idf)) if idf else 1.0
    scores: list[float] = []
    coverage: list[float] = []
    for tf, length, headed in zip(counted, lengths, under, strict=True):
        norm = _K1 * (1.0 - _B + _B * length / average)
        matched = [t for t in idf if t in tf]
        scores.append(sum(idf[t] * tf[t] * (_K1 + 1.0) / (tf[t] + norm) for t in matched))
        coverage.append(
            sum(idf[t] * (_HEADING_WEIGHT if t in headed else 1.0) for t in matched) / total
        )
    return scores, coverage


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


# --- rewrite: a standalone question from a follow-up --------------------------------

_PRONOUNS = frozenset({"it", "they", "them", "this", "that", "these", "those"})
_POSSESSIVES = frozenset({"its", "their"})
# "is it possible to ..." and the like: an "it" that points at nothing
_EXPLETIVE_NEXT = frozenset(
    {
        "possible", "necessary", "true", "important", "better", "best", "hard", "easy", "worth",
        "likely", "ok", "okay", "fine", "enough", "safe", "wise", "useful", "allowed"
    }
)
# "this approach" refers back as surely as "this" does
_GENERIC_NOUNS = frozenset(
    {
        "approach", "approaches", "method", "methods", "technique", "techniques", "idea", "ideas",
        "concept", "concepts", "process", "processes", "thing", "things", "one", "ones", "topic",
        "strategy", "strategies", "way", "ways", "algorithm", "algorithms", "framework",
        "frameworks", "pattern", "patterns", "system", "systems", "tool", "tools", "model",
        "models", "step", "steps"
    }
)
_FOLLOW_UPS = {
    "example": "of", "examples": "of", "elaborate": "on", "expand": "on",
    "more": "about", "details": "about", "detail": "about", "else": "about",
}
_AUXILIARIES = frozenset(
    {
        "is", "are", "was", "were", "be", "do", "does", "did", "can", "could", "should", "would",
        "will", "has", "have", "had", "i", "we", "you"
    }
)
_FOLLOW_UP_TERMS = frozenset(terms(" ".join(_FOLLOW_UPS)))
_WORD_OR_MARK = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*|[^\w\s]")
_SUBJECT_PATTERNS = [
    re.compile(p, re.I) for p in (
        r"^\s*(?:what|who)(?:['’]s|\s+(?:is|are|was|were))\s+(?P<s>.+)",
        r"^\s*(?:can you\s+|could you\s+|please\s+)?(?:tell me|talk|teach me|learn)\s+"
        r"(?:more\s+|a bit\s+)?about\s+(?P<s>.+)",
        r"^\s*(?:can you\s+|could you\s+|please\s+)?(?:explain|describe|define|summari[sz]e)"
        r"\s+(?P<s>.+)",
        r"^\s*what do you know about\s+(?P<s>.+)",
        r"^\s*how\s+(?:does|do|did|can|could|should|would|will|is|are)\s+(?P<s>.+)",
        r"^\s*why\s+(?:is|are|does|do|should|would)\s+(?P<s>.+)",
    )
]


def standalone_question(question: str, history: Sequence[BaseMessage]) -> str:
    """``question`` with what it points back to in ``history`` spelled out.

    >>> from ragstream.messages import HumanMessage, AIMessage
    >>> standalone_question("What are some common ways of doing it?", [
    ...     HumanMessage("What is task decomposition?"),
    ...     AIMessage("Task decomposition breaks a task into steps.")])
    'What are some common ways of doing task decomposition?'
    """
    if not history:
        return question
    subject = _subject(history)
    if subject is None or set(terms(subject)) <= set(terms(question)):
        return question
    return _resolve(question, subject) or question


def _subject(history: Sequence[BaseMessage]) -> str | None:
    """What the conversation is about: the subject of the latest question that names
    one, else the most salient phrase of the latest answer."""
    humans = [m.content for m in reversed(history) if m.type == "human"]
    answers = [m.content for m in reversed(history) if m.type != "human"]
    for text in humans[:1]:
        if found := _asked_about(text):
            return found
    for text in answers[:1]:
        if found := _salient(text, " ".join(m.content for m in history)):
            return found
    for text in humans[1:]:
        if found := _asked_about(text):
            return found
    for text in humans:
        if found := _salient(text, text):
            return found
    return None


def _asked_about(question: str) -> str | None:
    for pattern in _SUBJECT_PATTERNS:
        m = pattern.match(question)
        if m:
            return _trim_subject(m.group("s"))
    return None


def _trim_subject(text: str) -> str | None:
    """The noun phrase a question pattern captured, cut before its verb."""
    kept: list[re.Match[str]] = []
    for tok in _WORD_OR_MARK.finditer(text):
        w = tok.group().lower()
        if not w[0].isalnum() or w in VERBS or w in _PRONOUNS or w in _POSSESSIVES \
                or w in _AUXILIARIES:
            break
        kept.append(tok)
    while kept and kept[-1].group().lower() in STOP_WORDS:
        kept.pop()  # "vector databases for" -> "vector databases"
    if not kept or len(kept) > 8:
        return None
    subject = text[kept[0].start(): kept[-1].end()]
    return subject if terms(subject) else None


def _salient(text: str, everything: str) -> str | None:
    """The noun phrase whose words recur most in ``text`` (the first one wins ties,
    and a phrase that opens the text, its likely subject, gets a head start)."""
    counts = Counter(terms(text))
    best: tuple[float, str] | None = None
    for first_word, phrase in noun_phrases(text):
        phrase_terms = terms(phrase)
        if not phrase_terms:
            continue
        score = sum(counts[t] for t in phrase_terms) / len(phrase_terms)
        score += 2.0 if first_word == 0 else 0.0
        if best is None or score > best[0]:
            best = (score, phrase)
    if best is None:
        return None
    phrase = best[1]
    head = phrase.split()[0]
    # a sentence-initial capital is not part of the name: "Task decomposition ..."
    if head[:1].isupper() and head[1:].islower() and \
            re.search(rf"\b{re.escape(head.lower())}\b", everything):
        phrase = phrase[0].lower() + phrase[1:]
    return phrase


def _resolve(question: str, subject: str) -> str | None:
    tokens = list(_WORD_OR_MARK.finditer(question))
    lowered = [t.group().lower() for t in tokens]
    for i, w in enumerate(lowered):
        nxt = lowered[i + 1] if i + 1 < len(lowered) else ""
        prev = lowered[i - 1] if i else ""
        after = lowered[i + 2] if i + 2 < len(lowered) else ""
        if w in {"it", "they", "them"}:
            if w == "it" and nxt in _EXPLETIVE_NEXT and after in {"to", "that", "for"}:
                continue
            return _splice(question, tokens[i].start(), tokens[i].end(), subject)
        if w in {"this", "that", "these", "those"}:
            if nxt in _GENERIC_NOUNS:
                return _splice(question, tokens[i].start(), tokens[i + 1].end(), subject)
            if _is_content(nxt) and not (prev in _AUXILIARIES and not _is_content(after)):
                continue  # a determiner: "that library" names something new
            if w == "that" and prev not in _AUXILIARIES and (
                _is_content(prev) or nxt in VERBS or nxt in _AUXILIARIES
            ):
                continue  # a relative pronoun: "the tools that help"
            return _splice(question, tokens[i].start(), tokens[i].end(), subject)
        if w in _POSSESSIVES:
            j = i + 1
            while j < len(lowered) and _is_content(lowered[j]):
                j += 1
            if j > i + 1:
                owned = question[tokens[i + 1].start(): tokens[j - 1].end()]
                return _splice(question, tokens[i].start(), tokens[j - 1].end(),
                               f"the {owned} of {subject}")
    return _complete_ellipsis(question, lowered, subject)


def _complete_ellipsis(question: str, lowered: list[str], subject: str) -> str | None:
    """"Any examples?" -> "Any examples of task decomposition?"."""
    cue = next((w for w in reversed(lowered) if w in _FOLLOW_UPS), None)
    if cue is None or len(words(question)) > 6:
        return None
    if not set(terms(question)) <= _FOLLOW_UP_TERMS:
        return None
    body = question.rstrip()
    tail = len(body) - len(body.rstrip("?.!"))
    return f"{body[:len(body) - tail]} {_FOLLOW_UPS[cue]} {subject}{body[len(body) - tail:]}"


def _is_content(word: str) -> bool:
    return bool(word) and word[0].isalnum() and word not in STOP_WORDS and word not in VERBS


def _splice(text: str, start: int, end: int, replacement: str) -> str:
    return text[:start] + replacement + text[end:]
