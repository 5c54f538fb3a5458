"""The guide's pipeline end to end on real parts: a blog served on 127.0.0.1,
the web loader, the splitter, Chroma, OpenAI-compatible embeddings and chat
from a local test server, and the three chain constructors."""

from __future__ import annotations

import asyncio
import contextlib
import io
import runpy
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bs4
import pytest

from ragstream.chains import (
    create_history_aware_retriever,
    create_retrieval_chain,
    create_stuff_documents_chain,
)
from ragstream.documents import Document
from ragstream.embeddings import OpenAIEmbeddings
from ragstream.loaders import WebBaseLoader
from ragstream.models import ChatOpenAI
from ragstream.prompts import ChatPromptTemplate, MessagesPlaceholder
from ragstream.splitters import RecursiveCharacterTextSplitter
from ragstream.vectorstores import Chroma
from tests.servers import OpenAIServer, Reply

ROOT = Path(__file__).resolve().parents[1]

SECTIONS = [
    ("Planning", "An agent splits a large goal into subgoals before acting. "
     "Task decomposition turns one hard problem into several easy steps. "
     "Chain of thought prompting asks the model to reason step by step."),
    ("Memory", "Short-term memory is the context window of the model. "
     "Long-term memory keeps facts in an external vector store for later retrieval."),
    ("Tool use", "Agents call external tools such as search engines and calculators. "
     "The model decides which tool to call from a description of each tool."),
    ("Reflection", "Self-reflection lets an agent learn from its mistakes. "
     "It reviews past actions and refines its plan for the next attempt."),
]

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Agents, planned</title></head><body>
<nav class="menu">Home | Archive | Tags</nav>
<article>
<header class="post-header"><h1 class="post-title">How agents plan</h1>
<div class="post-meta">Date: 2026-11-24 | Reading time: 3 min</div></header>
<div class="post-content">{body}</div>
</article>
<footer class="site-footer">Copyright notice, not part of the post</footer>
</body></html>"""


def _body() -> str:
    parts = []
    for title, text in SECTIONS:
        # repeat each section so the 1000-character splitter has real work
        paragraphs = "".join(f"<p>{text} ({i})</p>" for i in range(4))
        parts.append(f"<h2>{title}</h2>{paragraphs}")
    return "".join(parts)


class _Blog(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = PAGE.format(body=_body()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def blog_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Blog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/posts/agents/"
    server.shutdown()
    server.server_close()


ANSWER = "Task decomposition splits a hard task into smaller steps."
REWRITE = "What are common ways of doing task decomposition?"


def build_pipeline(url: str, server: OpenAIServer, tmp_path: Path) -> dict[str, Any]:
    docs = WebBaseLoader(
        web_paths=(url,),
        bs_kwargs=dict(parse_only=bs4.SoupStrainer(class_=("post-content", "post-title",
                                                           "post-header"))),
    ).load()
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(
        docs
    )
    embeddings = OpenAIEmbeddings(base_url=server.base_url, api_key="test-key")
    store = Chroma.from_documents(
        documents=splits, embedding=embeddings, persist_directory=str(tmp_path / "chroma"),
        collection_name="guide",
    )
    retriever = store.as_retriever()
    llm = ChatOpenAI(base_url=server.base_url, api_key="test-key", model="test-model")
    qa_prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the context.\n\n{context}"), ("human", "{input}")]
    )
    rag_chain = create_retrieval_chain(retriever, create_stuff_documents_chain(llm, qa_prompt))
    rewrite_prompt = ChatPromptTemplate.from_messages(
        [("system", "Rephrase as a standalone question."), MessagesPlaceholder("chat_history"),
         ("human", "{input}")]
    )
    history_qa = ChatPromptTemplate.from_messages(
        [("system", "Answer from the context.\n\n{context}"), MessagesPlaceholder("chat_history"),
         ("human", "{input}")]
    )
    har = create_history_aware_retriever(
        llm.with_config(tags=["contextualize_q_llm"]), retriever, rewrite_prompt
    )
    history_chain = create_retrieval_chain(har, create_stuff_documents_chain(llm, history_qa))
    return {"docs": docs, "splits": splits, "rag": rag_chain, "history": history_chain}


def test_guide_pipeline_streams_input_then_context_then_answer(
    blog_url: str, openai_server: OpenAIServer, tmp_path: Path
) -> None:
    openai_server.default = Reply(text=ANSWER)
    parts = build_pipeline(blog_url, openai_server, tmp_path)

    (doc,) = parts["docs"]
    assert doc.metadata["source"] == blog_url
    assert "How agents plan" in doc.page_content
    assert "Copyright notice" not in doc.page_content  # the SoupStrainer dropped the footer
    assert len(parts["splits"]) > 2
    assert all(len(s.page_content) <= 1000 for s in parts["splits"])

    chunks = list(parts["rag"].stream({"input": "What is Task Decomposition?"}))
    assert chunks[0] == {"input": "What is Task Decomposition?"}
    assert list(chunks[1]) == ["context"]
    context = chunks[1]["context"]
    assert len(context) == 4 and all(isinstance(d, Document) for d in context)
    assert all(d.metadata["source"] == blog_url for d in context)
    answer_chunks = chunks[2:]
    assert all(list(c) == ["answer"] for c in answer_chunks)
    assert "".join(c["answer"] for c in answer_chunks) == ANSWER
    assert len([c for c in answer_chunks if c["answer"]]) == len(ANSWER.split()) + 1

    # the model was asked with the retrieved context stuffed into its prompt
    chat_requests = [r for r in openai_server.requests if r.path.endswith("/chat/completions")]
    system = chat_requests[-1].json["messages"][0]["content"]
    assert context[0].page_content in system

    picked = list(parts["rag"].pick("answer").stream({"input": "What is Task Decomposition?"}))
    assert all(isinstance(p, str) for p in picked)
    assert "".join(picked) == ANSWER


def test_guide_history_chain_v1_events(
    blog_url: str, openai_server: OpenAIServer, tmp_path: Path
) -> None:
    parts = build_pipeline(blog_url, openai_server, tmp_path)
    chain = parts["history"]
    inputs = {
        "input": "What are some common ways of doing it?",
        "chat_history": [
            ("human", "What is task decomposition?"),
            ("ai", "Task decomposition breaks a complex task into simpler steps."),
        ],
    }

    async def collect() -> list[dict[str, Any]]:
        return [e async for e in chain.astream_events(inputs, version="v1")]

    openai_server.default = Reply(text=ANSWER)  # the answer, and every embedding request
    openai_server.script(Reply(text=REWRITE))  # the first request: the rewrite
    events = asyncio.run(collect())

    rewrite = [
        e["data"]["chunk"].content for e in events
        if e["event"] == "on_chat_model_stream" and "contextualize_q_llm" in e["tags"]
    ]
    assert "".join(rewrite) == REWRITE
    assert len([t for t in rewrite if t]) > 5  # token by token, not one blob

    retriever_events = [e for e in events if e["name"] == "Retriever"]
    assert [e["event"] for e in retriever_events] == ["on_retriever_start", "on_retriever_end"]
    start, end = retriever_events
    assert start["data"]["input"] == {"query": REWRITE}
    assert start["tags"] == ["seq:step:4", "Chroma", "OpenAIEmbeddings"]
    assert "parent_ids" not in start
    docs = end["data"]["output"]["documents"]
    assert len(docs) == 4 and all(isinstance(d, Document) for d in docs)
    assert set(start) == {"event", "name", "run_id", "tags", "metadata", "data"}

    answer = [
        e["data"]["chunk"] for e in events
        if e["event"] == "on_chain_stream" and e["name"] == "retrieval_chain"
        and "answer" in e["data"]["chunk"]
    ]
    assert "".join(c["answer"] for c in answer) == ANSWER


def test_guide_code_runs_with_only_its_imports_changed(
    blog_url: str, openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/guide_streaming.py is the guide's code with ragstream imports; run
    it against the local blog and model server and check what it prints."""
    source = (ROOT / "examples" / "guide_streaming.py").read_text(encoding="utf-8")
    guide_url = "https://lilianweng.github.io/posts/2023-06-23-agent/"
    assert guide_url in source
    source = source.replace(guide_url, blog_url)  # this machine has no internet
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    openai_server.default = Reply(text=ANSWER)
    notebook = runpy.run_path(str(ROOT / "examples" / "run_notebook.py"))

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        notebook["run_notebook"](source, "guide_streaming.py")
    lines = out.getvalue().splitlines()

    assert lines[0] == "{'input': 'What is Task Decomposition?'}"
    assert lines[1].startswith("{'context': [Document(page_content=")
    assert "metadata={'source': '" + blog_url + "'" in lines[1]
    assert lines[2] == "{'answer': ''}"
    assert lines[3] == "{'answer': 'Task'}"
    assert lines[4] == "{'answer': ' decomposition'}"
    tail = "\n".join(lines[5:])
    assert "Task| decomposition| splits|" in tail
    assert "|Task| decomposition|" in tail  # the pick("answer") stream starts with ''
    assert "{'event': 'on_retriever_start', 'name': 'Retriever'" in tail
    assert "'tags': ['seq:step:4', 'Chroma', 'OpenAIEmbeddings']" in tail
    assert "'data': {'input': {'query': " in tail
    assert "'output': {'documents': [Document(page_content=" in tail
