"""Time per answer of the offline extractive model.

Answers natural questions from a 4-document context: 4 chunks (1000/200) of
the sample docs that ship with ragstream, stuffed into the guide's QA prompt.
Rows:

- fake chat model: ``FakeChatModel`` streaming a 60-word answer through the
  same prompt, the same-run baseline for what any chat model costs here;
- lexical: the default ``ExtractiveChatModel()`` (BM25 over sentences), with
  its sentence cache warm (a conversation retrieves the same chunks again) and
  cold (every chunk parsed again, as for chunks never seen);
- embeddings: ``ExtractiveChatModel(embeddings=FakeEmbeddings(384))``, the
  sentence vectors cached after the first answer (``--minilm`` adds a row
  with the local MiniLM model, if installed);
- rewrite: a follow-up turned into a standalone question from chat history.

    python benchmarks/extractive.py [--repeat 200] [--minilm]

Prints the median milliseconds per answer and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from importlib.resources import files
from typing import Any

from ragstream.chains import CONTEXTUALIZE_Q_SYSTEM_PROMPT, QA_SYSTEM_PROMPT
from ragstream.documents import Document, StuffedDocuments
from ragstream.embeddings import Embeddings
from ragstream.models import ExtractiveChatModel
from ragstream.models._sentences import sections
from ragstream.prompts import ChatPromptTemplate, MessagesPlaceholder
from ragstream.splitters import RecursiveCharacterTextSplitter
from ragstream.testing import FakeChatModel, FakeEmbeddings

QUESTIONS = [
    "What does the offline extractive mode do?",
    "Where does ragstream keep its data?",
    "What does ragstream ingest do?",
    "How do I configure ragstream?",
    "How are web pages loaded?",
]
FOLLOW_UPS = [
    ("How do I keep only the article of a page?", "Can I do it for many pages?"),
    ("What is task decomposition?", "What are some common ways of doing it?"),
    ("How do I install ragstream?", "How do I configure it?"),
]
QA_PROMPT = ChatPromptTemplate.from_messages([("system", QA_SYSTEM_PROMPT), ("human", "{input}")])
REWRITE_PROMPT = ChatPromptTemplate.from_messages(
    [("system", CONTEXTUALIZE_Q_SYSTEM_PROMPT), MessagesPlaceholder("chat_history"),
     ("human", "{input}")]
)


def context() -> list[Document]:
    """The first chunk of each of four sample docs: about 4,000 characters."""
    folder = files("ragstream") / "data" / "docs"
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    out = []
    for name in ("models.md", "configuration.md", "ingesting.md", "cli.md"):
        text = (folder / name).read_text(encoding="utf-8")
        out.append(splitter.split_documents([Document(text, {"source": name})])[0])
    return out


def median_ms(answer: Callable[[int], Any], repeat: int) -> float:
    answer(0)  # warm up: imports, caches that a running application has filled
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        answer(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="answers per row")
    parser.add_argument("--minilm", action="store_true", help="add a row with MiniLM embeddings")
    args = parser.parse_args()

    docs = context()
    stuffed = StuffedDocuments("\n\n".join(d.page_content for d in docs), docs)
    prompts = [QA_PROMPT.format_prompt(context=stuffed, input=q) for q in QUESTIONS]
    rewrites = [REWRITE_PROMPT.format_prompt(chat_history=[("human", first), ("ai", "Noted.")],
                                             input=follow_up)
                for first, follow_up in FOLLOW_UPS]

    def answering(model: Any, *, cold: bool = False) -> Callable[[int], Any]:
        def answer(i: int) -> Any:
            if cold:
                sections.cache_clear()
            return model.invoke(prompts[i % len(prompts)])
        return answer

    lexical = ExtractiveChatModel()
    rows: list[tuple[str, Callable[[int], Any]]] = [
        ("fake chat model (baseline)",
         answering(FakeChatModel(" ".join(f"word{i}" for i in range(60))))),
        ("lexical, sentence cache warm", answering(lexical)),
        ("lexical, sentence cache cold", answering(lexical, cold=True)),
        ("embeddings (FakeEmbeddings)",
         answering(ExtractiveChatModel(embeddings=FakeEmbeddings(384)))),
    ]
    if args.minilm:
        from ragstream.embeddings import MiniLMEmbeddings

        minilm: Embeddings = MiniLMEmbeddings()
        rows.append(("embeddings (MiniLM)", answering(ExtractiveChatModel(embeddings=minilm))))
    rows.append(("rewrite (standalone question)",
                 lambda i: lexical.invoke(rewrites[i % len(rewrites)])))

    chars = sum(len(d.page_content) for d in docs)
    print(f"context: {len(docs)} documents, {chars} characters; median of {args.repeat} answers")
    print(f"{'row':<32} {'ms/answer':>10} {'x baseline':>11}")
    baseline = 0.0
    for label, answer in rows:
        ms = median_ms(answer, args.repeat)
        baseline = baseline or ms
        print(f"{label:<32} {ms:>10.3f} {ms / baseline:>11.2f}")
    print("\nanswers:")
    for prompt, question in zip(prompts, QUESTIONS, strict=True):
        print(f"  {question}\n    {lexical.invoke(prompt).content}")


if __name__ == "__main__":
    main()
