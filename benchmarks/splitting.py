"""Throughput of RecursiveCharacterTextSplitter against the reference splitter.

Builds a few MB of text deterministically (no downloads): ordinary prose in
paragraphs of varied length, and the same words with no newline at all.
Each splitter splits each text several times; the outputs must be equal.
Prints the median MB/s of each and the speed ratio, measured in this run.

    python benchmarks/splitting.py [--mb 4] [--repeat 5] [--tokens]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter as ReferenceSplitter

from ragstream.splitters import RecursiveCharacterTextSplitter

_WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when "
    "agent memory planning task decomposition reflection retrieval vector embedding model "
    "language prompt chain thought tool observation action result reasoning step goal "
    "subgoal large complex external knowledge long-term short-term context window token "
    "self-reflection refinement trajectory feedback environment experiment performance"
).split()


def prose(size: int, *, seed: int = 7) -> str:
    """Paragraphs of sentences, like an article: blank lines between paragraphs,
    an occasional single newline inside one, punctuation and capitals."""
    rng = random.Random(seed)
    paragraphs: list[str] = []
    total = 0
    while total < size:
        sentences = []
        for _ in range(rng.randint(1, 12)):
            words = [rng.choice(_WORDS) for _ in range(rng.randint(4, 28))]
            words[0] = words[0].capitalize()
            if rng.random() < 0.2:
                words[rng.randrange(len(words))] += ","
            sentences.append(" ".join(words) + rng.choice(".!?."))
        paragraph = " ".join(sentences)
        if rng.random() < 0.15:
            cut = paragraph.find(" ", len(paragraph) // 2)
            if cut > 0:
                paragraph = paragraph[:cut] + "\n" + paragraph[cut + 1 :]
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return "\n\n".join(paragraphs)[:size]


def no_newlines(size: int, *, seed: int = 11) -> str:
    """The same kind of words, sentences run together, never a newline."""
    return prose(size, seed=seed).replace("\n\n", " ").replace("\n", " ")


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _cases(with_tokens: bool) -> list[tuple[str, dict[str, Any], float]]:
    """(label, constructor arguments, share of the text size) for each row."""
    cases: list[tuple[str, dict[str, Any], float]] = [
        ("1000/200", {"chunk_size": 1000, "chunk_overlap": 200}, 1.0),
        ("4000/200", {"chunk_size": 4000, "chunk_overlap": 200}, 1.0),
        (
            "1000/200 keep=False",
            {"chunk_size": 1000, "chunk_overlap": 200, "keep_separator": False},
            1.0,
        ),
    ]
    if with_tokens:
        # the reference tokenizes every piece several times: a smaller text
        cases.append(("256/32 MiniLM tokens", {"chunk_size": 256, "chunk_overlap": 32}, 0.05))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=4.0, help="size of each text in MB")
    parser.add_argument("--repeat", type=int, default=5, help="runs per splitter and text")
    parser.add_argument(
        "--tokens", action="store_true", help="also sizes in MiniLM tokens (needs transformers)"
    )
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    texts = {"prose": prose(size), "no newlines": no_newlines(size)}
    tokenizers: tuple[Any, Any] | None = None
    if args.tokens:
        from transformers import AutoTokenizer

        from ragstream.splitters import load_minilm_tokenizer, minilm_tokenizer_path

        reference_tokenizer = AutoTokenizer.from_pretrained(str(minilm_tokenizer_path().parent))
        tokenizers = (load_minilm_tokenizer(), reference_tokenizer)
    print(f"text size {args.mb:g} MB (characters), median of {args.repeat} runs, interleaved")
    header = ("text", "chunk/overlap", "MB", "reference MB/s", "ragstream MB/s", "ratio")
    print(
        f"{header[0]:<12} {header[1]:<22} {header[2]:>5} {header[3]:>15} {header[4]:>15}"
        f" {header[5]:>7}"
    )
    for name, full_text in texts.items():
        for label, kwargs, share in _cases(args.tokens):
            text = full_text[: int(len(full_text) * share)]
            megabytes = len(text) / 1_000_000
            if "tokens" in label:
                assert tokenizers is not None
                ours = RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
                    tokenizers[0], **kwargs
                )
                reference = ReferenceSplitter.from_huggingface_tokenizer(tokenizers[1], **kwargs)
            else:
                ours = RecursiveCharacterTextSplitter(**kwargs)
                reference = ReferenceSplitter(**kwargs)
            assert ours.split_text(text) == reference.split_text(text), (
                f"outputs differ on {name} with {label}"
            )
            ref_times, our_times = [], []
            for _ in range(args.repeat):  # alternate, so load on the machine hits both alike
                ref_times.append(_seconds(lambda r=reference, t=text: r.split_text(t)))
                our_times.append(_seconds(lambda o=ours, t=text: o.split_text(t)))
            ref_s = statistics.median(ref_times)
            our_s = statistics.median(our_times)
            print(
                f"{name:<12} {label:<22} {megabytes:>5.2f} {megabytes / ref_s:>15.1f}"
                f" {megabytes / our_s:>15.1f} {ref_s / our_s:>6.1f}x"
            )


if __name__ == "__main__":
    main()
