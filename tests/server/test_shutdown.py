"""SIGTERM ends open streams with a terminal event, then the server exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.server._live import SSEDecoder

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_ends_open_streams_with_a_terminal_event() -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.server._serve_slow"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        events = []
        decoder = SSEDecoder()
        with httpx.Client(base_url=url, timeout=10) as client:
            for _ in range(100):  # the server may still be starting
                try:
                    client.get("/healthz")
                    break
                except httpx.ConnectError:
                    time.sleep(0.05)
            with client.stream("POST", "/slow/stream", json={"input": "hi"}) as response:
                sent = None
                for line in response.iter_lines():
                    event = decoder.feed(line)
                    if event is None:
                        continue
                    events.append(event)
                    if sent is None and len(events) == 4:
                        proc.send_signal(signal.SIGTERM)
                        sent = time.monotonic()
            ended = time.monotonic()
        assert sent is not None
        assert ended - sent < 3  # the stream did not run on for its 100 s
        kinds = [e.event for e in events]
        assert kinds[0] == "metadata" and kinds[-1] == "error" and "end" not in kinds
        assert events[-1].json() == {"status_code": 503,
                                     "message": "the server is shutting down; try again"}
        # uvicorn re-raises the signal once its shutdown is complete
        assert proc.wait(timeout=10) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
