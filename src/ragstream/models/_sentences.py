"""Sentences and terms: the text analysis behind the offline extractive model.

``split_sentences`` cuts a passage into the sentences worth quoting: headings
are left out, bullet items stand alone without their bullet, lines wrapped
inside a sentence are joined, and a period after an abbreviation ("e.g.",
"et al.", "Fig. 1.") does not end a sentence. ``terms`` turns text into the
lowercased, stemmed content words that lexical ranking compares.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = [
    "STOP_WORDS",
    "VERBS",
    "normalized",
    "noun_phrases",
    "sections",
    "split_sentences",
    "stem",
    "terms",
    "words",
]

STOP_WORDS = frozenset(
    {
        "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
        "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
        "but", "by", "can", "could", "did", "do", "does", "doing", "done", "down", "during", "each",
        "either", "else", "etc", "even", "ever", "every", "few", "for", "from", "further", "get",
        "gets", "got", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
        "him", "himself", "his", "how", "however", "i", "if", "in", "into", "is", "it", "its",
        "itself", "just", "let", "lets", "like", "may", "me", "might", "mine", "more", "most",
        "much", "must", "my", "myself", "neither", "no", "nor", "not", "now", "of", "off", "on",
        "once", "only", "or", "other", "others", "our", "ours", "ourselves", "out", "over", "own",
        "please", "same", "shall", "she", "should", "so", "some", "such", "than", "that", "the",
        "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those",
        "through", "thus", "to", "too", "under", "until", "up", "upon", "us", "very", "was", "we",
        "were", "what", "whatever", "when", "where", "whether", "which", "while", "who", "whom",
        "whose", "why", "will", "with", "within", "without", "would", "yet", "you", "your", "yours",
        "yourself", "yourselves", "tell", "explain", "describe", "define", "give", "show", "know",
        "mean", "say", "yes", "yeah", "ok", "okay", "sure", "thanks", "thank", "hello", "hi",
        "great",
    }
)

_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_TERM_SPLIT = re.compile(r"[^\W_]+")

# A period after one of these does not end a sentence ("e.g. Chroma", "et al. 2022").
_ABBREVIATIONS = frozenset(
    {
        "e.g", "i.e", "cf", "vs", "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "fig",
        "figs", "eq", "eqs", "no", "nos", "al", "approx", "ca", "vol", "pp", "p", "sec", "ref",
        "resp", "dept", "inc", "ltd", "co", "corp", "u.s", "u.k", "a.m", "p.m", "ph.d"
    }
)
# ... and after "Fig. 1." the number is a label, not the end of a sentence.
_NUMBERED = frozenset({"fig", "figs", "figure", "table", "eq", "eqs", "sec", "section"})

# a sentence ends at . ! or ? before a space and a capital, digit or uncased letter
# (Hangul, kana, CJK), or at a full-width stop
_BOUNDARY = re.compile(
    r"[.!?]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?(?:[A-Z0-9]|[^\x00-\x7f]))|[。！？]+[\"'”’)\]]*\s*"
)
_BULLET = re.compile(r"^(?:[-*•‣◦·–]\s+|\(?\d{1,3}[.)]\s+|\(?[a-zA-Z][.)]\s+(?=[A-Z]))")
_ENDS_SENTENCE = re.compile(r"[.!?。！？][\"'”’)\]]*$")
# a line ending in one of these is continued by the next line, whatever its case
_CONTINUES = re.compile(
    r"(?:,|;|\b(?:a|an|the|of|to|in|on|for|by|with|from|and|or|as|at|into|that|is|are))$",
    re.IGNORECASE,
)


# forms the suffix rules cannot reach
_IRREGULAR = {
    "used": "use", "uses": "use", "using": "use", "made": "make", "makes": "make",
    "making": "make", "better": "good", "best": "good", "ran": "run", "running": "run",
}


def words(text: str) -> list[str]:
    """The words of ``text`` (letters and digits, with inner apostrophes and hyphens)."""
    return _WORD.findall(text)


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A light suffix-stripping stem, so that "tasks", "task" and "tasked" meet.

    >>> [stem(w) for w in ("embeddings", "stored", "stories", "decomposition", "decomposes")]
    ['embed', 'stor', 'story', 'decompos', 'decompos']
    """
    w = word.lower()
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            base = w[: -len(suffix)]
            if not any(c in "aeiouy" for c in base):
                break
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # "embedding" -> "embedd" -> "embed"
            w = base
            break
    for suffix, repl in (("ational", "ate"), ("ization", "ize"), ("ation", ""), ("ition", ""),
                         ("fulness", "ful"), ("ness", ""), ("ment", ""), ("ly", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)] + repl
            break
    # "store", "stored" and "storing" all end up as "stor"
    if len(w) > 4 and w.endswith("e") and not w.endswith("ee"):
        w = w[:-1]
    # ... and "evaluate", "evaluated" and "evaluation" as "evalu"
    return w[:-2] if len(w) > 5 and w.endswith("at") else w


def terms(text: str) -> list[str]:
    """The stemmed content words of ``text``, in order, stop words left out.

    >>> terms("What are the common ways of doing task decomposition?")
    ['common', 'way', 'task', 'decompos']
    """
    out = []
    for w in _TERM_SPLIT.findall(text.lower()):
        if w in STOP_WORDS or (len(w) == 1 and not w.isdigit()):
            continue
        s = stem(w)
        if s not in STOP_WORDS:
            out.append(s)
    return out


def normalized(text: str) -> str:
    """Lowercased words joined by single spaces: the key that duplicates share."""
    return " ".join(_TERM_SPLIT.findall(text.lower()))


def split_sentences(text: str) -> list[str]:
    """The sentences of a passage worth quoting, in order.

    >>> split_sentences("Planning#\\nTask decomposition (Wei et al. 2022) splits work.\\n"
    ...                 "- Use e.g. prompts. It helps a lot.")
    ['Task decomposition (Wei et al. 2022) splits work.', 'Use e.g. prompts.', 'It helps a lot.']
    """
    return [sentence for _, sentence in sections(text)]


def sections(text: str) -> list[tuple[str, str]]:
    """``(heading, sentence)`` for each sentence worth quoting: the heading it sits
    under ("" before any), which says what a sentence is about when it does not."""
    out: list[tuple[str, str]] = []
    for i, (heading, unit) in enumerate(_units(text)):
        for j, sentence in enumerate(_split_unit(unit)):
            if not _is_fragment(sentence, first=i == 0 and j == 0):
                out.append((heading, sentence))
    return out


def _units(text: str) -> list[tuple[str, str]]:
    """Paragraphs (wrapped lines joined) and bullet items, each with its heading."""
    lines = [line.strip() for line in text.splitlines()]
    units: list[tuple[str, str]] = []
    current: list[str] = []
    heading = ""

    def close() -> None:
        if current:
            units.append((heading, " ".join(current)))
            current.clear()

    for i, line in enumerate(lines):
        if not line:
            close()
            continue
        bullet = _BULLET.match(line)
        if bullet:
            close()
            current.append(line[bullet.end():])
            continue
        following = next((n for n in lines[i + 1:] if n), "")
        if current and (line[0].islower() or _CONTINUES.search(current[-1])):
            current.append(line)  # a line wrapped inside a sentence
            continue
        if _is_heading(line, following):
            close()
            heading = line.strip("#: \t")
            continue
        if current and not _ENDS_SENTENCE.search(current[-1]):
            close()  # the previous line was a caption or label, not part of a sentence
        current.append(line)
    close()
    return units


def _is_heading(line: str, following: str) -> bool:
    if line.startswith("#"):
        return True
    if _ENDS_SENTENCE.search(line):
        return False
    n = len(words(line))
    if n > 10:
        return False
    if line.endswith(("#", ":")):
        return True
    if following[:1].islower():
        return False
    capitals = sum(1 for w in words(line) if w[:1].isupper() or w.isdigit())
    return n <= 8 and capitals * 2 >= n


def _split_unit(unit: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(unit):
        end = m.start() + len(m.group().rstrip())
        if _no_boundary(unit[start:m.start() + 1]):
            continue
        out.append(unit[start:end].strip())
        start = m.end()
    out.append(unit[start:].strip())
    return [" ".join(s.split()) for s in out if s]


def _no_boundary(head: str) -> bool:
    """Whether the period that ends ``head`` belongs to an abbreviation or a label."""
    if not head.endswith("."):
        return False
    tokens = head[:-1].split()
    if not tokens:
        return True
    last = tokens[-1].lstrip("(\"'“‘[").lower()
    if last in _ABBREVIATIONS:
        return True
    if len(last) == 1 and last.isalpha() and tokens[-1][-1:].isupper():
        return True  # an initial: "J. Smith"
    if last.isdigit() and len(tokens) > 1:
        return tokens[-2].rstrip(".").lower() in _NUMBERED
    return False


_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def _is_fragment(sentence: str, *, first: bool) -> bool:
    ws = words(sentence)
    # kana and CJK write words without spaces: two characters make about a word
    size = sum(len(w) // 2 if _UNSPACED.search(w) else 1 for w in ws)
    # all capitals is a label or a shout; an uncased script (Hangul, CJK) is text
    if size < 3 or not any(c.isalpha() and not c.isupper() for c in sentence):
        return True
    if sentence.rstrip("\"'”’)]").endswith("?"):
        return True  # a question in the context asks, it does not answer
    # a passage cut out of a longer text can begin in the middle of a sentence
    return first and ws[0][:1].islower() and (ws[0].lower() in STOP_WORDS or len(ws) < 6)


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
        "split", "splits", "keep", "keeps"
    }
)


def noun_phrases(text: str) -> list[tuple[int, str]]:
    """Runs of content words (``of`` may join two runs), with the index of their first word.

    >>> noun_phrases("Task decomposition involves breaking up a chain of thought.")
    [(0, 'Task decomposition'), (3, 'breaking'), (6, 'chain of thought')]
    """
    tokens = list(_PHRASE_TOKEN.finditer(text))
    out: list[tuple[int, str]] = []
    start: int | None = None
    end = 0
    n_word = -1
    first_word = 0
    for i, tok in enumerate(tokens):
        w = tok.group()
        is_word = w[0].isalnum()
        n_word += is_word
        lower = w.lower()
        content = is_word and lower not in STOP_WORDS and lower not in VERBS
        joins = (
            lower == "of" and start is not None and i + 1 < len(tokens)
            and _is_content(tokens[i + 1].group())
        )
        if content or joins:
            if start is None:
                start, first_word = tok.start(), n_word
            end = tok.end()
            continue
        if start is not None:
            out.append((first_word, text[start:end]))
            start = None
    if start is not None:
        out.append((first_word, text[start:end]))
    return out


_PHRASE_TOKEN = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*|[^\w\s]")


def _is_content(w: str) -> bool:
    lower = w.lower()
    return w[0].isalnum() and lower not in STOP_WORDS and lower not in VERBS
