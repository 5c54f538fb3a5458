"""Make ``docs/screenshot.png``: the chat page over the real offline
application (the extractive model, MiniLM embeddings, embedded Chroma) and
ragstream's sample documentation, after a question and a follow-up.

Run: python -m tests.server._screenshot [OUT.png]
Needs Debian's chromium at /usr/bin/chromium and Playwright's Python package.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from ragstream.app import RagApp, sample_corpus_path
from ragstream.config import Settings
from ragstream.server import create_rag_server
from tests.server._live import LiveServer

QUESTIONS = ["How does the server stream answers?", "What happens when I press Stop?"]
ROOT = Path(__file__).resolve().parents[2]


def main(out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    rag = RagApp(Settings(home=Path(tempfile.mkdtemp()), model="extractive",
                          embeddings="minilm"))
    asyncio.run(rag.aingest([str(sample_corpus_path())]))
    with LiveServer(create_rag_server(rag)) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1360, "height": 860})
        page.goto(server.url)
        for question in QUESTIONS:
            page.fill("#question", question)
            page.click("#send")
            page.wait_for_selector(".message.assistant.streaming", state="detached",
                                   timeout=60_000)
            expect(page.locator("#send")).to_be_enabled(timeout=60_000)
        page.screenshot(path=str(out))
        browser.close()
    print(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png")
