"""The chat page end to end in headless Chromium: ask, watch the answer and
the steps stream in, ask a follow-up, press Stop mid-answer."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragstream.server import create_rag_server
from ragstream.testing import FakeChatModel
from tests.server._live import FakeRagApp, KeywordRetriever, LiveServer

CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "server"

FIRST = ("Task decomposition breaks a complicated task into smaller, simpler steps [1]. "
         "Chain of thought prompting asks the model to think step by step, and Tree of "
         "Thoughts explores several reasoning paths at each step [2].")
SECOND = ("Agents decompose a task with simple prompts such as \"Steps for XYZ\", with "
          "task-specific instructions, or with human inputs [1].")
LONG = " ".join(["Self-reflection lets an agent refine its past decisions."] * 40)
REWRITE = "How do LLM agents perform task decomposition?"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the page tests. Module scope, not session: while it is
    open, Playwright's sync API keeps an event loop running on this thread,
    and the other tests here call ``asyncio.run``."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page_server(tmp_path: Path) -> Iterator[LiveServer]:
    model = FakeChatModel([FIRST, SECOND, LONG], delay=0.03)
    rag = FakeRagApp(tmp_path, model=model, label="FakeChatModel (test)")
    rag.rewrite_model = FakeChatModel(REWRITE, delay=0.06)
    with LiveServer(create_rag_server(rag, keepalive=1.0, allow_private_urls=True)) as server:
        yield server


@pytest.fixture
def site() -> Iterator[LiveServer]:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse("<title>Reflexion</title><p>Reflexion adds dynamic memory.</p>")

    with LiveServer(Starlette(routes=[Route("/reflexion", page)])) as server:
        yield server


def _watch_lengths(page: Any, selector: str, name: str) -> None:
    """Record every length the element's text takes, to see it grow token by token."""
    page.evaluate(
        """([selector, name]) => {
            window[name] = [];
            const el = document.querySelector(selector);
            new MutationObserver(() => window[name].push(el.textContent.length))
                .observe(el, {childList: true, characterData: true, subtree: true});
        }""",
        [selector, name],
    )


def test_chat_page(browser: Any, page_server: LiveServer, site: LiveServer) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1360, "height": 860})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(page_server.url)
    expect(page.locator("#model")).to_have_text("FakeChatModel (test)")

    # 1. a question: the answer streams in, the sources appear as cards
    page.fill("#question", "What is task decomposition?")
    page.click("#send")
    page.wait_for_selector(".message.assistant.streaming")
    _watch_lengths(page, ".message.assistant:last-child .text", "answerLengths")
    expect(page.locator(".source-card")).to_have_count(2)
    expect(page.locator("#send")).to_be_enabled(timeout=10_000)
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".text")).to_have_text(FIRST)
    lengths = page.evaluate("window.answerLengths")
    assert len(set(lengths)) > 10 and lengths == sorted(lengths)  # it grew token by token
    expect(page.locator("#rewrite-kind")).to_have_text("as asked")
    expect(page.locator("#rewrite")).to_have_text("What is task decomposition?")
    card = page.locator(".source-card").first
    expect(card.locator(".source-title")).to_have_text("LLM Powered Autonomous Agents")
    assert card.locator(".source-title").get_attribute("href", timeout=1000).startswith("https://")
    assert float(card.locator(".score").inner_text()) > 0
    expect(page.locator("#sessions .session")).to_have_count(1)

    # 2. a follow-up: the question is rewritten live, token by token
    _watch_lengths(page, "#rewrite", "rewriteLengths")
    page.fill("#question", "How do agents do it?")
    page.press("#question", "Enter")
    expect(page.locator("#rewrite-kind")).to_have_text("rewritten from the conversation")
    expect(page.locator("#rewrite")).to_have_text(REWRITE)
    expect(page.locator("#send")).to_be_enabled(timeout=10_000)
    expect(page.locator(".message.assistant").last.locator(".text")).to_have_text(SECOND)
    rewrite_lengths = [n for n in page.evaluate("window.rewriteLengths") if n > 0]
    assert len(set(rewrite_lengths)) >= 5
    expect(page.locator(".message")).to_have_count(4)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "chat_page.png"))

    # 3. Stop mid-answer: the partial answer stays, marked incomplete, here and saved
    page.fill("#question", "And self-reflection?")
    page.click("#send")
    page.wait_for_function(
        "() => document.querySelector('.message.assistant:last-child .text')"
        ".textContent.length > 40")
    page.click("#stop")
    last = page.locator(".message.assistant").last
    expect(last.locator(".note")).to_have_text("Stopped — this answer is incomplete.")
    expect(page.locator("#send")).to_be_enabled()
    shown = last.locator(".text").inner_text()
    assert 40 < len(shown) < len(LONG)
    page.screenshot(path=str(OUTPUT / "chat_page_stopped.png"))

    session_id = page.evaluate("localStorage.getItem('ragstream.session')")
    saved = _wait_saved(page_server, session_id)
    assert saved[-1]["incomplete"] is True and LONG.startswith(saved[-1]["content"])
    assert len(saved[-1]["content"]) >= len(shown)

    # 4. reload: the conversation comes back, the stopped answer still marked
    page.reload()
    expect(page.locator(".message")).to_have_count(6)
    expect(page.locator(".message.assistant.incomplete")).to_have_count(1)

    # 5. an error gets a clear message
    page.fill("#question", "x" * 9000)
    page.click("#send")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).to_contain_text("at most 8000 characters")

    # 6. ingest a page, and see a refused URL explained
    page.click("#ingest summary")
    page.fill("#ingest-urls", f"{site.url}/reflexion")
    page.click("#ingest-start")
    expect(page.locator("#ingest-status")).to_have_text("Done: chunks added 1.")
    page.fill("#ingest-urls", "file:///etc/passwd")
    page.click("#ingest-start")
    expect(page.locator("#ingest-status")).to_contain_text("only http and https")
    assert errors == []
    page.close()


def test_the_page_says_when_the_collection_holds_no_documents(
    browser: Any, tmp_path: Path, site: LiveServer
) -> None:
    from playwright.sync_api import expect

    rag = FakeRagApp(tmp_path, retriever=KeywordRetriever([]), exists=False)
    with LiveServer(create_rag_server(rag, keepalive=1.0, allow_private_urls=True)) as server:
        page = browser.new_page()
        page.goto(server.url)
        expect(page.locator("#error")).to_contain_text(
            "The collection \u201ctest\u201d holds no documents yet")
        page.fill("#question", "What is Reflexion?")
        page.click("#send")
        expect(page.locator("#error")).to_contain_text("collection 'test' does not exist yet")
        expect(page.locator(".message.assistant.failed")).to_have_count(1)

        # loading a page fills it: the notice goes, and the next question is answered
        page.click("#ingest summary")
        page.fill("#ingest-urls", f"{site.url}/reflexion")
        page.click("#ingest-start")
        expect(page.locator("#ingest-status")).to_have_text("Done: chunks added 1.")
        expect(page.locator("#error")).to_be_hidden()
        page.fill("#question", "What is Reflexion?")
        page.click("#send")
        expect(page.locator(".source-card")).to_have_count(1)
        expect(page.locator("#error")).to_be_hidden()
        page.close()


def _wait_saved(server: LiveServer, session_id: str) -> list[dict[str, Any]]:
    import time

    deadline = time.monotonic() + 5
    while True:
        messages = httpx.get(f"{server.url}/sessions/{session_id}").json()["messages"]
        if len(messages) == 6 or time.monotonic() > deadline:
            return list(messages)
        time.sleep(0.05)


CITED = ("Tree of Thoughts explores several reasoning paths at each step [1]. " + " ".join(
    ["It searches them breadth-first or depth-first, one step at a time."] * 6))
FOLLOW_UP = "Each step is small [2]."


def test_a_cited_source_lights_up_as_the_answer_cites_it(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    model = FakeChatModel([CITED, FOLLOW_UP], delay=0.03)
    rag = FakeRagApp(tmp_path, model=model, label="FakeChatModel (test)")
    rag.rewrite_model = FakeChatModel("How does Tree of Thoughts search?", delay=0.01)
    with LiveServer(create_rag_server(rag, keepalive=1.0, warm_up=False)) as server:
        page = browser.new_page(viewport={"width": 1360, "height": 860})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url)
        expect(page.locator("#model")).to_have_text("FakeChatModel (test)")
        # note what the page shows at the moment a card is marked cited
        page.evaluate("""() => {
            window.citedSeen = [];
            new MutationObserver((records) => {
                for (const r of records) {
                    if (r.target.classList.contains("cited") && !r.oldValue.includes("cited")) {
                        window.citedSeen.push({
                            id: r.target.id,
                            streaming: !!document.querySelector(".message.streaming"),
                            answer: document.querySelector(".message.assistant:last-child .text")
                                .textContent,
                        });
                    }
                }
            }).observe(document.getElementById("sources"),
                       {attributes: true, attributeFilter: ["class"], attributeOldValue: true,
                        subtree: true});
        }""")

        page.fill("#question", "What is Tree of Thoughts?")
        page.click("#send")
        expect(page.locator("#source-1")).to_have_class(re.compile(r"\bcited\b"))
        expect(page.locator("#send")).to_be_enabled(timeout=10_000)

        # 1. live: the card lit up while the answer streamed, right after its marker
        seen = page.evaluate("window.citedSeen")
        assert [s["id"] for s in seen] == ["source-1"] and seen[0]["streaming"] is True
        assert seen[0]["answer"].endswith("at each step [1]")  # the "." is not here yet
        # only the cited card, and the count says so
        expect(page.locator(".source-card.cited")).to_have_count(1)
        expect(page.locator("#source-1 .cited-tag")).to_have_text("cited")
        expect(page.locator("#source-1 .source-path")).to_have_text("notes/tree-of-thoughts.md")
        expect(page.locator("#source-2")).not_to_have_class(re.compile(r"\bcited\b"))
        expect(page.locator("#source-count")).to_have_text("2 · 1 cited")

        # 2. the marker in the answer is a link to its card; the text is unchanged
        answer = page.locator(".message.assistant").last
        expect(answer.locator(".text")).to_have_text(CITED)
        link = answer.locator("a.cite")
        expect(link).to_have_count(1)
        expect(link).to_have_text("[1]")
        assert link.get_attribute("href") == "#source-1"
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / "chat_page_cited.png"))

        # 3. on a narrow screen the sources are below the chat: the link scrolls there
        page.set_viewport_size({"width": 700, "height": 420})
        page.locator("#messages").evaluate("el => el.scrollIntoView()")
        expect(page.locator("#source-1")).not_to_be_in_viewport()
        link.click()
        expect(page.locator("#source-1")).to_be_in_viewport()
        expect(page.locator("#source-1")).to_have_class(re.compile(r"\bfocused\b"))
        assert page.evaluate("document.activeElement.id") == "source-1"
        page.set_viewport_size({"width": 1360, "height": 860})

        # 4. the next question's cards replace these: the old marker is text again
        page.fill("#question", "How does it search?")
        page.click("#send")
        expect(page.locator("#send")).to_be_enabled(timeout=10_000)
        first, second = page.locator(".message.assistant").all()
        expect(first.locator("a.cite")).to_have_count(0)
        expect(first.locator(".text")).to_have_text(CITED)
        expect(second.locator("a.cite")).to_have_attribute("href", "#source-2")
        expect(page.locator(".source-card.cited")).to_have_count(1)
        expect(page.locator("#source-2")).to_have_class(re.compile(r"\bcited\b"))
        assert errors == []
        page.close()
