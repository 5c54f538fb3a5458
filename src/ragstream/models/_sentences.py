"""Sentences and terms: the text analysis behind the offline extractive model.

``split_sentences`` cuts a passage into the sentences worth quoting: headings
are left out, bullet items stand alone without their bullet, lines wrapped
inside a sentence are joined, and a period after an abbreviation ("e.g.",
"et al.", "Fig. 1.") does not end a sentence. Markdown structure never becomes
a sentence: code blocks, tables, rules, HTML and link definitions are skipped,
and inline markup is reduced to its text. ``terms`` turns text into the
lowercased, stemmed content words that lexical ranking compares.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "STOP_WORDS",
    "Sentence",
    "normalized",
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
        "resp", "dept", "inc", "ltd", "co", "corp", "u.s", "u.k", "a.m", "p.m", "ph.d", "etc",
        "viz", "esp", "incl", "excl", "ed", "eds", "a.k.a", "op", "cit",
    }
)
# ... and after "Fig. 1." the number is a label, not the end of a sentence.
_NUMBERED = frozenset({"fig", "figs", "figure", "table", "eq", "eqs", "sec", "section"})

# A sentence may end at . ! or ? (then closing quotes or brackets) before a space;
# _split_unit decides from what follows. A full-width stop always ends one.
_BOUNDARY = re.compile(r"[.!?]+(?P<closers>[\"'”’)\]]*)\s+|[。！？]+[\"'”’)\]]*\s*")
_OPENERS = "\"'“‘([`*_"
_BULLET = re.compile(
    r"^(?:[-*+•‣◦·–]\s+(?:\[[ xX]\]\s+)?|(?P<paren>\(\d{1,3}\)|\([a-z]\))\s+|\d{1,3}[.)]\s+"
    r"|\(?[a-zA-Z][.)]\s+(?=[A-Z]))"
)
_ENDS_SENTENCE = re.compile(r"[.!?。！？][\"'”’)\]]*$")
# a line ending in one of these is continued by the next line, whatever its case
_CONTINUES = re.compile(
    r"(?:,|;|\b(?:a|an|the|of|to|in|on|for|by|with|from|and|or|as|at|into|that|is|are))$",
    re.IGNORECASE,
)

# --- Markdown structure ---------------------------------------------------------
_MARKDOWN_HINT = re.compile(
    r"^ {0,3}(?:#{1,6}[ \t]|```|~~~|\|.*\|[ \t]*$)|`[^`\n]+`|\*\*[^*\n]+\*\*|\]\([^)\s]+\)",
    re.M,
)
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([^`\s]*)")
_TABLE_DELIMITER = re.compile(
    r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)+\|?$|^\|\s*:?-{2,}:?\s*\|$"
)
_RULE = re.compile(r"^(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_SETEXT = re.compile(r"^(?:={2,}|-{2,})$")
_HTML_LINE = re.compile(r"^(?:<(?:[A-Za-z][\w-]*(?:\s[^<>]*)?/?|/[A-Za-z][\w-]*\s*)>\s*)+$")
_LINK_DEFINITION = re.compile(r"^\[[^\]^][^\]]*\]:\s*\S+")
_ATX = re.compile(r"^#{1,6}(?:\s+|$)")
_QUOTE_MARK = re.compile(r"^(?:>\s?)+")
_FRONT_MATTER_KEY = re.compile(r"^[\w-]+\s*:")
# a line of source code, for telling where a chunk cut out of a code block ends
_CODE_LINE = re.compile(
    r"^(?:from\s+[\w.]+\s+import\b|import\s+[\w.]+|def\s+\w+\s*\(|class\s+\w+\s*[(:]"
    r"|async\s+(?:def|for|with)\b|await\s|return\b|print\(|@\w|\$\s|>>>\s|#!"
    r"|[\w.\[\]\"']+\s*[+\-*/]?=\s*\S|[}\])]+[,;)]*$|(?:if|for|while|with|elif|else)\b.*:$)"
)

# --- inline Markdown --------------------------------------------------------------
_LINK = re.compile(
    r"(!?)\[([^\]\n]*)\](?:\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)|\[[^\]\n]*\])"
)
_CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_HTML_TAG = re.compile(
    r"<!--.*?-->|</?(?:a|abbr|b|big|blockquote|br|center|code|dd|del|details|div|dl|dt|em|"
    r"figcaption|figure|font|h[1-6]|hr|i|img|ins|kbd|li|mark|ol|p|picture|pre|s|samp|small|"
    r"source|span|strike|strong|sub|summary|sup|table|tbody|td|th|thead|tr|tt|u|ul|var|video)"
    r"(?:\s[^<>]*)?/?>",
    re.I,
)
_SPACING_TAG = re.compile(r"</?(?:br|hr|p|div|li|td|th|tr|dd|dt|h[1-6])\b", re.I)
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+)>")
_EMPHASIS = [
    re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"),
    re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"),
    re.compile(r"(?<![\w*\\])\*(?=[^\s*])([^*\n]+?)(?<=[^\s*\\])\*(?![\w*])"),
    re.compile(r"(?<![\w\\])_(?=[^\s_])([^_\n]+?)(?<=[^\s_])_(?!\w)"),
]
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")


# forms the suffix rules cannot reach
_IRREGULAR = {
    "used": "use", "uses": "use", "using": "use", "made": "make", "makes": "make",
    "making": "make", "better": "good", "best": "good", "ran": "run", "running": "run",
}


class Sentence(NamedTuple):
    """A sentence worth quoting, with the heading it sits under ("" before any),
    which says what a sentence is about when it does not."""

    heading: str
    text: str


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
    ...                 "- Use **e.g.** `prompts`. It helps a lot.\\n```\\nx = 1\\n```")
    ['Task decomposition (Wei et al. 2022) splits work.', 'Use e.g. prompts.', 'It helps a lot.']
    """
    return [sentence.text for sentence in sections(text)]


@lru_cache(maxsize=2048)
def sections(text: str) -> tuple[Sentence, ...]:
    """The sentences worth quoting, each with its heading.

    Cached: a conversation retrieves the same chunks again and again."""
    out: list[Sentence] = []
    units = _units(text)
    for i, (heading, unit) in enumerate(units):
        plain, code = _plain(unit)
        split = _split_unit(plain, code)
        for j, sentence in enumerate(split):
            if _is_fragment(sentence, first=i == 0 and j == 0):
                continue
            if i == len(units) - 1 and j == len(split) - 1 and _cut_off(sentence):
                continue
            out.append(Sentence(heading, _closed(sentence)))
    return tuple(out)


def _cut_off(sentence: str) -> bool:
    """A passage cut out of a longer text can end in the middle of a sentence:
    a long last sentence that ends in a word or number, not in punctuation."""
    return len(words(sentence)) >= 8 and sentence[-1:].isalnum()


# --- paragraphs and items ---------------------------------------------------------


def _units(text: str) -> list[tuple[str, str]]:
    """Paragraphs (wrapped lines joined) and bullet items, each with its heading,
    leaving out the lines that are Markdown structure rather than prose."""
    markdown = _MARKDOWN_HINT.search(text) is not None
    raw = text.splitlines()
    skipped = _structure(raw)
    lines = [_QUOTE_MARK.sub("", line.strip()).strip() for line in raw]
    units: list[tuple[str, str]] = []
    current: list[str] = []
    heading = ""
    barrier = 0  # units before this index sit under an earlier heading

    def close() -> None:
        if current:
            units.append((heading, " ".join(current)))
            current.clear()

    def set_heading(line: str) -> None:
        nonlocal heading, barrier
        close()
        heading = _plain(_ATX.sub("", line).strip("#: \t"))[0]
        barrier = len(units)

    for i, line in enumerate(lines):
        if i in skipped or not line:
            close()
            if i in skipped:
                barrier = len(units)  # code or a table stands between: nothing to go on with
            continue
        if _ATX.match(line):
            set_heading(line)
            continue
        if markdown and _SETEXT.match(line) and len(current) == 1:
            set_heading(current.pop())  # "Title\n=====": the line above is a heading
            continue
        if _RULE.match(line):
            close()
            continue
        bullet = _BULLET.match(line)
        if bullet:
            body = line[bullet.end():]
            previous = current[-1] if current else (
                units[-1][1] if len(units) > barrier else "")
            if previous and not _ENDS_SENTENCE.search(previous) and (
                _starts_lower(body) or previous.endswith((";", ","))
            ):
                # "can be done\n(1) by LLM ...", or an item that goes on the sentence
                # leading into its list ("from four places:\n1. command-line flags;")
                if not current:
                    current.append(units.pop()[1])
                current.append(line if bullet.group("paren") else body)
                continue
            close()
            current.append(body)
            continue
        if current and (markdown or _continues(current, line)):
            current.append(line)  # a line wrapped inside a sentence
            continue
        if markdown:
            if line.endswith("#") or (line.endswith(":") and len(words(line)) <= 4
                                      and not _starts_lower(_next_item(lines, i))):
                set_heading(line)  # a label over a list: "Resources:"
                continue
        elif _is_heading(line, _next_item(lines, i)):
            set_heading(line)
            continue
        if current and not _ENDS_SENTENCE.search(current[-1]):
            close()  # the previous line was a caption or label, not part of a sentence
        current.append(line)
    close()
    return units


def _next_item(lines: list[str], i: int) -> str:
    """The text of the next non-blank line after ``lines[i]``, without its bullet."""
    following = next((n for n in lines[i + 1:] if n), "")
    m = _BULLET.match(following)
    return following[m.end():] if m else following


def _continues(current: list[str], line: str) -> bool:
    """Whether ``line`` goes on with the sentence of the lines before it."""
    last = current[-1]
    if _starts_lower(line) or line.startswith("`") or _CONTINUES.search(last):
        return True
    joined = " ".join(current)
    # inside an open bracket or quote: "prompting like "Steps for XYZ.\n1.", ..."
    return joined.count("(") > joined.count(")") or joined.count('"') % 2 == 1


def _starts_lower(text: str) -> bool:
    """Whether the first letter or digit of ``text`` (past quotes and brackets) is lowercase."""
    for c in text:
        if c.isalnum():
            return c.islower()
        if c not in _OPENERS:
            return False
    return False


def _structure(lines: list[str]) -> set[int]:
    """Indices of the lines that are Markdown structure: code blocks with their
    fences, tables, HTML, link reference definitions and front matter."""
    skipped: set[int] = set()
    stripped = [line.strip() for line in lines]
    fences = [(i, m) for i, m in ((i, _FENCE.match(s)) for i, s in enumerate(stripped)) if m]
    start = 0
    # a chunk cut out of the middle of a code block starts with code and a closing fence:
    # a bare fence before one that names a language, or after lines of code
    if fences and not fences[0][1].group(2):
        first = fences[0][0]
        if (len(fences) > 1 and fences[1][1].group(2)) or (
            len(fences) % 2 == 1 and any(_CODE_LINE.match(s) for s in stripped[:first])
        ):
            skipped.update(range(first + 1))
            start = first + 1
    i = start
    n = len(lines)
    while i < n:
        s = stripped[i]
        fence = _FENCE.match(s)
        if fence:
            mark = fence.group(1)
            j = i + 1
            while j < n and not (stripped[j].startswith(mark[0] * len(mark))
                                 and not stripped[j].strip(mark[0])):
                j += 1
            skipped.update(range(i, min(j, n - 1) + 1))
            i = j + 1
            continue
        if s.startswith("<!--"):
            j = i
            while j < n and "-->" not in stripped[j]:
                j += 1
            skipped.update(range(i, min(j, n - 1) + 1))
            i = j + 1
            continue
        if _TABLE_DELIMITER.match(s) and "|" in s:
            j = i - 1
            while j >= 0 and "|" in stripped[j]:
                skipped.add(j)
                j -= 1
            j = i
            while j < n and "|" in stripped[j] and stripped[j]:
                skipped.add(j)
                j += 1
            i = j
            continue
        if (s.startswith("|") and s.endswith("|") and len(s) > 1) or _HTML_LINE.match(s) \
                or _LINK_DEFINITION.match(s):
            skipped.add(i)
        i += 1
    if stripped and stripped[0] == "---":
        end = next((k for k in range(1, min(n, 40)) if stripped[k] in ("---", "...")), None)
        if end is not None and all(_FRONT_MATTER_KEY.match(s) or not s or s.startswith("-")
                                   for s in stripped[1:end]):
            skipped.update(range(end + 1))
    return skipped


def _is_heading(line: str, following: str) -> bool:
    if line.startswith("#"):
        return True
    if _ENDS_SENTENCE.search(line):
        return False
    n = len(words(line))
    if n > 10:
        return False
    if _starts_lower(following):
        return False  # "... from four places:\n1. command-line flags" leads into its list
    if line.endswith(("#", ":")):
        return True
    capitals = sum(1 for w in words(line) if w[:1].isupper() or w.isdigit())
    return n <= 8 and capitals * 2 >= n


# --- inline Markdown and sentences --------------------------------------------------


def _plain(unit: str) -> tuple[str, list[tuple[int, int]]]:
    """``unit`` with its inline Markdown reduced to text ("**bold**" -> "bold",
    "[text](url)" -> "text"), and where its code spans now stand."""
    unit = _LINK.sub(lambda m: m.group(2), unit)
    out: list[str] = []
    code: list[tuple[int, int]] = []
    size = 0
    last = 0
    for m in _CODE_SPAN.finditer(unit):
        text = _prose(unit[last:m.start()])
        out.append(text)
        size += len(text)
        span = m.group(2).strip() or m.group(2)
        out.append(span)
        code.append((size, size + len(span)))
        size += len(span)
        last = m.end()
    out.append(_prose(unit[last:]).replace("`", ""))  # a span cut off by the chunk's end
    return "".join(out), code


def _prose(text: str) -> str:
    # a line break or a block between words still parts them; an inline tag does not
    text = _HTML_TAG.sub(lambda m: " " if _SPACING_TAG.match(m.group()) else "", text)
    text = _AUTOLINK.sub(r"\1", text)
    for pattern in _EMPHASIS:
        text = pattern.sub(lambda m: m.group(m.lastindex or 0), text)
    return _ESCAPE.sub(r"\1", text)


def _split_unit(unit: str, code: list[tuple[int, int]]) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(unit):
        end = m.start() + len(m.group().rstrip())
        if any(a <= m.start() < b for a, b in code) or _no_boundary(unit, start, m, code):
            continue
        out.append(unit[start:end].strip())
        start = m.end()
    out.append(unit[start:].strip())
    return [" ".join(s.split()) for s in out if s]


def _no_boundary(unit: str, start: int, m: re.Match[str], code: list[tuple[int, int]]) -> bool:
    """Whether the stop that ``m`` matched does not end the sentence begun at ``start``."""
    if m.group("closers") is None:
        return False  # a full-width stop
    head = unit[start:m.start() + 1]
    rest = unit[m.end():]
    after = next((c for c in rest if c not in _OPENERS), "")
    closers = m.group("closers")
    if after.islower() or not after:
        starts_code = any(a == m.end() for a, _ in code)
        if not after or closers or not (starts_code or _may_end_before_lowercase(head)):
            return True
    elif not (after.isupper() or after.isdigit() or not after.isascii()):
        return True
    # inside an open bracket or quote that closes later: 'like "Steps for XYZ. 1.", ...'
    seen = unit[start:m.end()]
    if seen.count("(") > seen.count(")") and ")" in rest:
        return True
    if seen.count('"') % 2 == 1 and '"' in rest:
        return True
    if seen.count("“") > seen.count("”") and "”" in rest:
        return True
    return _abbreviated(head, closers)


def _may_end_before_lowercase(head: str) -> bool:
    """Whether a period may end ``head`` although the next word is lowercase
    ("... it?". ragstream rewrites"): after a plain word, not an abbreviation or initial."""
    if not head.endswith("."):
        return True
    tokens = head[:-1].split()
    if len(tokens) < 3:
        return False
    last = tokens[-1].lstrip(_OPENERS).lower()
    return (len(last) > 1 or not last.isalpha()) and last not in _ABBREVIATIONS \
        and "." not in last


def _abbreviated(head: str, closers: str) -> bool:
    """Whether the period that ends ``head`` belongs to an abbreviation or a label."""
    if not head.endswith("."):
        return False
    tokens = head[:-1].split()
    if not tokens:
        return True
    last = tokens[-1].lstrip(_OPENERS).lower()
    if last in _ABBREVIATIONS:
        return True
    if len(last) == 1 and last.isalpha() and tokens[-1][-1:].isupper():
        return True  # an initial: "J. Smith"
    if last.isdigit() and len(tokens) > 1 and not closers:
        return tokens[-2].rstrip(".").lower() in _NUMBERED  # "Fig. 1. Overview"
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


def _closed(sentence: str) -> str:
    """A sentence that led into a list or code block, which is not quoted, ends as a
    sentence: "Settings go in a table:" -> "Settings go in a table."."""
    return sentence[:-1].rstrip() + "." if sentence.endswith(":") else sentence
