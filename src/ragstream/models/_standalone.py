"""Standalone questions: a follow-up with what it points back to spelled out.

The offline extractive model rewrites "How do I configure it?" into "How do I
configure ragstream?" from the chat history, with no model: it finds what the
conversation is about (the subject of the latest question that names one, else
the most salient phrase of the latest answer) and puts it in place of the
pronoun. When the earlier question asked how to *do* something ("How do I keep
only the article of a page?"), the subject is that action: "do it" becomes the
action itself, other references its object or "keeping ...".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ragstream.messages import BaseMessage
from ragstream.models._sentences import STOP_WORDS, terms, words

__all__ = ["VERBS", "noun_phrases", "question_focus", "standalone_question"]

# Verbs that end a noun phrase ("vector databases | used for ...").
VERBS = frozenset(
    {
        "use", "used", "uses", "using", "work", "works", "worked", "working", "mean", "means",
        "meant", "do", "does", "did", "done", "help", "helps", "helped", "compare", "compares",
        "compared", "differ", "differs", "relate", "relates", "related", "apply", "applies",
        "applied", "involve", "involves", "involved", "make", "makes", "made", "call", "called",
        "store", "stores", "stored", "handle", "handles", "handled", "need", "needs", "needed",
        "require", "requires", "required", "improve", "improves", "improved", "affect", "affects",
        "matter", "matters", "happen", "happens", "come", "comes", "go", "goes", "run", "runs",
        "get", "gets", "implement", "implements", "implemented", "contain", "contains", "include",
        "includes", "provide", "provides", "provided", "allow", "allows", "allowed", "support",
        "supports", "supported", "perform", "performs", "become", "becomes", "break", "breaks",
        "create", "creates", "created", "find", "finds", "return", "returns", "returned", "consist",
        "consists", "refer", "refers", "stand", "stands", "look", "looks", "play", "plays", "solve",
        "solves", "choose", "install", "installed", "set", "configure", "deal", "deals",
        "split", "splits", "keep", "keeps", "kept"
    }
)

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
# prepositions whose object is a thing ("what goes in it"), unlike "examples of it"
_PLACES = frozenset(
    {"to", "in", "on", "for", "with", "from", "into", "at", "by", "without", "over", "under",
     "inside", "within", "onto", "behind"}
)
_PARTICIPLES = frozenset(
    {"kept", "made", "done", "shown", "written", "sent", "built", "found", "lost", "given",
     "taken", "seen", "known", "run", "set", "split", "put", "read", "held", "left"}
)
_ARTICLES = frozenset({"a", "an", "the", "my", "our", "your", "some", "many", "all", "each"})
# words that may sit between a verb and its object: "keep only the article"
_ADVERBS = frozenset(
    {"only", "just", "also", "really", "actually", "even", "still", "ever", "then", "first",
     "up", "out", "off", "down", "back", "away", "again", "properly", "quickly"}
)
_FOLLOW_UP_TERMS = frozenset(terms(" ".join(_FOLLOW_UPS)))
_WORD_OR_MARK = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*|[^\w\s]")
_POSSESSIVE_END = re.compile(r"['’]s?$")
# "How do I keep only the article of a page?": the subject is an action
_ACTION_PATTERNS = [
    re.compile(p, re.I) for p in (
        r"^\s*(?:how|where|when|why)\s+(?:do|can|could|should|would|will|shall|may|might|must)"
        r"\s+(?:i|we|you|one)\s+(?P<a>.+)",
        r"^\s*how\s+to\s+(?P<a>.+)",
        r"^\s*(?:can|could|should|may|must|shall|do)\s+(?:i|we)\s+(?P<a>.+)",
        r"^\s*(?:what(?:['’]s|\s+is)\s+the\s+(?:(?:best|right|easiest|simplest|quickest)\s+)?"
        r"way\s+to|is\s+(?:it\s+possible|there\s+a\s+way)\s+to"
        r"|i\s+(?:want|need|would\s+like|['’]d\s+like)\s+to)\s+(?P<a>.+)",
    )
]
# "What does the offline extractive mode do?": the subject is a thing
_SUBJECT_PATTERNS = [
    re.compile(p, re.I) for p in (
        r"^\s*(?:what|who)(?:['’]s|\s+(?:is|are|was|were))\s+(?P<s>.+)",
        r"^\s*(?:can you\s+|could you\s+|please\s+)?(?:tell me|talk|teach me|learn)\s+"
        r"(?:more\s+|a bit\s+)?about\s+(?P<s>.+)",
        r"^\s*(?:can you\s+|could you\s+|please\s+)?(?:explain|describe|define|summari[sz]e)"
        r"\s+(?P<s>.+)",
        r"^\s*what do you know about\s+(?P<s>.+)",
        r"^\s*what about\s+(?P<s>.+)",
        r"^\s*(?:how|what|where|when|which)\s+(?:does|do|did|can|could|should|would|will|is|are)"
        r"\s+(?P<s>.+)",
        r"^\s*why\s+(?:is|are|does|do|should|would)\s+(?P<s>.+)",
    )
]
# "Is ragstream a library?", "Does ragstream need a GPU?": what they ask about
_YES_NO_PATTERNS = [
    re.compile(r"^\s*(?:is|are)\s+(?P<s>.+?)\s+(?:a|an|the)\s", re.I),
    re.compile(r"^\s*(?:does|do|can|will)\s+(?P<s>.+)", re.I),
]


@dataclass(frozen=True, slots=True)
class _Subject:
    """What a conversation is about: a thing, or an action and the thing it acts on."""

    noun: str | None
    action: str | None = None

    @property
    def text(self) -> str:
        return self.noun or self.action or ""

    def referent(self, *, thing: bool = False) -> str:
        """What a pronoun stands for: the thing acted on when the pronoun stands where a
        thing must (``thing``: "configure it", "in it") or the thing has a name ("Is it
        free?" after "How do I install ragstream?"), else the action ("Is it slow?" ->
        "Is keeping only the article of a page slow?")."""
        if self.action is None:
            return self.noun or ""
        if self.noun and (thing or self.noun.split()[0].lower() not in _ARTICLES):
            return self.noun
        return _gerund(self.action)


def standalone_question(question: str, history: Sequence[BaseMessage]) -> str:
    """``question`` with what it points back to in ``history`` spelled out.

    >>> from ragstream.messages import HumanMessage, AIMessage
    >>> standalone_question("What are some common ways of doing it?", [
    ...     HumanMessage("What is task decomposition?"),
    ...     AIMessage("Task decomposition breaks a task into steps.")])
    'What are some common ways of doing task decomposition?'
    >>> standalone_question("Can I do it for many pages?", [
    ...     HumanMessage("How do I keep only the article of a page?"), AIMessage("...")])
    'Can I keep only the article of a page for many pages?'
    """
    if not history:
        return question
    subject = _subject(history)
    if subject is None or set(terms(subject.text)) <= set(terms(question)):
        return question
    return _resolve(question, subject) or question


def question_focus(question: str) -> tuple[str | None, str | None]:
    """What ``question`` asks about, and the phrase an answer is likely to repeat:
    ``("a collection", "a collection")`` for "What is a collection?", ``(None,
    "stop an answer")`` for "How do I stop an answer?" (it asks about stopping)."""
    subject = _asked_about(question)
    if subject is None:
        for pattern in _YES_NO_PATTERNS:
            m = pattern.match(question)
            if m and (noun := _trim_subject(m.group("s"))):
                return noun, noun
        return None, None
    if subject.action is not None:
        return None, subject.action
    return subject.noun, subject.noun


def _subject(history: Sequence[BaseMessage]) -> _Subject | None:
    """What the conversation is about: the subject of the latest question that names
    one, else the most salient phrase of the latest answer."""
    humans = [m.content for m in reversed(history) if m.type == "human"]
    answers = [m.content for m in reversed(history) if m.type != "human"]
    for text in humans[:1]:
        if found := _asked_about(text):
            return found
    for text in answers[:1]:
        if phrase := _salient(text, " ".join(m.content for m in history)):
            return _Subject(phrase)
    for text in humans[1:]:
        if found := _asked_about(text):
            return found
    for text in humans:
        if phrase := _salient(text, text):
            return _Subject(phrase)
    return None


def _asked_about(question: str) -> _Subject | None:
    for pattern in _ACTION_PATTERNS:
        m = pattern.match(question)
        if m:
            return _action(m.group("a"))
    for pattern in _SUBJECT_PATTERNS:
        m = pattern.match(question)
        if m:
            noun = _trim_subject(m.group("s"))
            return _Subject(noun) if noun else None
    return None


def _action(text: str) -> _Subject | None:
    """"keep only the article of a page?" -> the action and "the article of a page"."""
    text = re.split(r"[?!;,()]|\.(?:\s|$)", text, maxsplit=1)[0]
    tokens = list(_WORD_OR_MARK.finditer(text))
    lowered = [t.group().lower() for t in tokens]
    if not tokens or len(words(text)) > 12 or lowered[0] in _AUXILIARIES \
            or any(w in _PRONOUNS or w in _POSSESSIVES for w in lowered):
        return None
    action = text[tokens[0].start(): tokens[-1].end()]
    i = 1
    while i < len(lowered) and lowered[i] in _ADVERBS:
        i += 1
    noun = _object(text, tokens[i:])
    return _Subject(noun, action)


def _object(text: str, tokens: list[re.Match[str]]) -> str | None:
    """The noun phrase that opens ``tokens``: an article, content words, and an "of"
    phrase after them; "a"/"an" become "the", as the thing is known by now."""
    end = 0
    i = 0
    while i < len(tokens):
        j = i
        if tokens[j].group().lower() in _ARTICLES:
            j += 1
        k = j
        while k < len(tokens) and _is_noun_word(tokens[k].group()) and not (
            _POSSESSIVE_END.search(tokens[k].group())
            and (k + 1 == len(tokens) or not _is_noun_word(tokens[k + 1].group()))
        ):
            k += 1  # "the page's title", but never a phrase that ends in "page's"
        if k == j:
            break
        end = k
        if k + 1 < len(tokens) and tokens[k].group().lower() == "of":
            i = k + 1
            continue
        break
    if not end:
        return None
    noun = text[tokens[0].start(): tokens[end - 1].end()]
    return re.sub(r"^(?:a|an)\s+", "the ", noun, flags=re.I)


def _is_noun_word(w: str) -> bool:
    lower = w.lower()
    return w[0].isalnum() and lower not in STOP_WORDS


def _gerund(action: str) -> str:
    """"keep only the article" -> "keeping only the article"."""
    verb, _, rest = action.partition(" ")
    v = verb.lower()
    if v.endswith("ie"):
        ing = v[:-2] + "ying"
    elif v.endswith("e") and not v.endswith(("ee", "ye", "oe")) and len(v) > 2:
        ing = v[:-1] + "ing"
    elif re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", v):
        ing = v + v[-1] + "ing"  # one syllable ending consonant-vowel-consonant: "stopping"
    else:
        ing = v + "ing"
    return f"{ing} {rest}" if rest else ing


def _trim_subject(text: str) -> str | None:
    """The noun phrase a question pattern captured, cut before its verb."""
    kept: list[re.Match[str]] = []
    for tok in _WORD_OR_MARK.finditer(text):
        w = tok.group().lower()
        if not w[0].isalnum() or w in VERBS or w in _PRONOUNS or w in _POSSESSIVES \
                or w in _AUXILIARIES:
            break
        kept.append(tok)
    while kept and (kept[-1].group().lower() in STOP_WORDS
                    or _POSSESSIVE_END.search(kept[-1].group())):
        kept.pop()  # "vector databases for" -> "vector databases"; never "page's"
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


def noun_phrases(text: str) -> list[tuple[int, str]]:
    """Runs of content words (``of`` may join two runs), with the index of their first
    word; a run never ends in a possessive ("the page's <title>" gives no "page's").

    >>> noun_phrases("Task decomposition involves breaking up a chain of thought.")
    [(0, 'Task decomposition'), (3, 'breaking'), (6, 'chain of thought')]
    """
    tokens = list(_WORD_OR_MARK.finditer(text))
    out: list[tuple[int, str]] = []
    run: list[re.Match[str]] = []
    n_word = -1
    first_word = 0

    def close() -> None:
        while run and _POSSESSIVE_END.search(run[-1].group()):
            run.pop()
        if run:
            out.append((first_word, text[run[0].start(): run[-1].end()]))
        run.clear()

    for i, tok in enumerate(tokens):
        w = tok.group()
        is_word = w[0].isalnum()
        n_word += is_word
        joins = (
            w.lower() == "of" and bool(run) and i + 1 < len(tokens)
            and _is_content(tokens[i + 1].group().lower())
        )
        if _is_content(w.lower()) or joins:
            if not run:
                first_word = n_word
            run.append(tok)
            continue
        close()
    close()
    return out


def _resolve(question: str, subject: _Subject) -> str | None:
    tokens = list(_WORD_OR_MARK.finditer(question))
    lowered = [t.group().lower() for t in tokens]
    for i, w in enumerate(lowered):
        nxt = lowered[i + 1] if i + 1 < len(lowered) else ""
        prev = lowered[i - 1] if i else ""
        after = lowered[i + 2] if i + 2 < len(lowered) else ""
        start, end = tokens[i].start(), tokens[i].end()
        if w in {"it", "this", "that", "so"} and subject.action and (
            prev in ("do", "doing")
        ):
            # "can I do it" -> "can I keep only the article", "doing it" -> "keeping ..."
            action = subject.action if prev == "do" else _gerund(subject.action)
            return _splice(question, tokens[i - 1].start(), end, action)
        if w == "so":
            continue
        # "configure it", "in it", "is it kept": the pronoun stands for a thing
        thing = (prev[:1].isalpha() and prev not in STOP_WORDS) or prev in _PLACES \
            or nxt in _PARTICIPLES or nxt.endswith("ed")
        if w in {"it", "they", "them"}:
            if w == "it" and nxt in _EXPLETIVE_NEXT and after in {"to", "that", "for"}:
                continue
            return _splice(question, start, end, subject.referent(thing=thing))
        if w in {"this", "that", "these", "those"}:
            if nxt in _GENERIC_NOUNS:
                return _splice(question, start, tokens[i + 1].end(), subject.referent())
            if _is_content(nxt) and not (prev in _AUXILIARIES and not _is_content(after)):
                continue  # a determiner: "that library" names something new
            if w == "that" and prev not in _AUXILIARIES and (
                _is_content(prev) or nxt in VERBS or nxt in _AUXILIARIES
            ):
                continue  # a relative pronoun: "the tools that help"
            return _splice(question, start, end, subject.referent(thing=thing))
        if w in _POSSESSIVES:
            j = i + 1
            while j < len(lowered) and _is_content(lowered[j]):
                j += 1
            if j > i + 1:
                owned = question[tokens[i + 1].start(): tokens[j - 1].end()]
                return _splice(question, start, tokens[j - 1].end(),
                               f"the {owned} of {subject.referent()}")
    return _complete_ellipsis(question, lowered, subject.referent())


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
