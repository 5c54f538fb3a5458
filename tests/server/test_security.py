"""Security defaults: bearer auth before the body, CORS, ingest URL guard,
loopback binding."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from ragstream.config import Settings, load_settings
from ragstream.server import create_app, create_rag_server
from ragstream.testing import FakeChatModel
from tests.server._live import FakeRagApp, LiveServer

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    rag = FakeRagApp(tmp_path_factory.mktemp("locked"))
    app = create_rag_server(rag, api_key=KEY, cors_origins="https://app.example, "
                                                           "https://other.example/")
    with LiveServer(app) as server:
        yield server


def test_routes_need_the_key(locked: LiveServer) -> None:
    for method, path in [("POST", "/rag/invoke"), ("GET", "/sessions"), ("POST", "/ingest"),
                         ("GET", "/info"), ("POST", "/chat"), ("GET", "/rag/input_schema")]:
        missing = httpx.request(method, locked.url + path, json={})
        assert missing.status_code == 401, path
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert "missing API key" in missing.json()["detail"]
        wrong = httpx.request(method, locked.url + path, json={},
                              headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid API key"
    ok = httpx.get(locked.url + "/info", headers={"authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200 and ok.json()["auth"] is True


def test_the_page_and_health_check_are_public(locked: LiveServer) -> None:
    page = httpx.get(locked.url + "/")
    assert page.status_code == 200 and "<title>ragstream</title>" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(locked.url + "/static/app.js").status_code == 200
    assert httpx.get(locked.url + "/healthz").json()["status"] == "ok"


def test_static_serves_only_the_pages_own_files(locked: LiveServer) -> None:
    for path in ["/static/../_app.py", "/static/%2e%2e%2f_app.py", "/static/index.html.bak",
                 "/static/conftest.py"]:
        response = httpx.get(locked.url + path)
        # a dot-dot path is normalised away from /static/, where the key is needed
        assert response.status_code in (401, 404), path
        assert "import" not in response.text


def test_the_key_is_checked_before_the_body_is_read(locked: LiveServer) -> None:
    """Headers announce a large body that is never sent: the 401 comes at once."""
    host, port = locked.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /rag/invoke HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n"
        )
        started = time.monotonic()
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 401") and time.monotonic() - started < 2


def test_the_openai_client_with_and_without_the_key(locked: LiveServer) -> None:
    good = openai.OpenAI(base_url=f"{locked.url}/v1", api_key=KEY, max_retries=0)
    answer = good.chat.completions.create(
        model="ragstream", messages=[{"role": "user", "content": "What is task decomposition?"}])
    assert answer.choices[0].message.content
    bad = openai.OpenAI(base_url=f"{locked.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_cors_answers_only_listed_origins(locked: LiveServer) -> None:
    preflight = {"origin": "https://app.example", "access-control-request-method": "POST",
                 "access-control-request-headers": "authorization, content-type"}
    ok = httpx.options(locked.url + "/chat", headers=preflight)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in ok.headers["access-control-allow-headers"].lower()
    other = httpx.options(locked.url + "/chat",
                          headers={**preflight, "origin": "https://other.example"})
    assert other.headers["access-control-allow-origin"] == "https://other.example"
    evil = httpx.options(locked.url + "/chat", headers={**preflight, "origin": "https://evil"})
    assert "access-control-allow-origin" not in evil.headers


def test_cors_is_off_by_default(runnable_server: LiveServer) -> None:
    response = httpx.post(runnable_server.url + "/model/invoke", json={"input": "hi"},
                          headers={"origin": "https://app.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = httpx.options(runnable_server.url + "/model/invoke", headers={
        "origin": "https://app.example", "access-control-request-method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_a_json_body_needs_a_json_content_type(runnable_server: LiveServer) -> None:
    """Browsers send cross-site form posts as text/plain or form data: refused."""
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = httpx.post(runnable_server.url + "/model/invoke",
                              content=b'{"input": "hi"}', headers={"content-type": kind})
        assert response.status_code == 415


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    rag = FakeRagApp(tmp_path_factory.mktemp("guarded"))
    with LiveServer(create_rag_server(rag)) as server:  # the default: public URLs only
        yield server


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("http://127.0.0.1:8000/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.1.1/admin", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("file:///etc/passwd", "only http and https"),
        ("/etc/passwd", "only http and https"),
        ("ftp://example.org/x", "only http and https"),
    ],
)
def test_ingest_refuses_internal_addresses_and_files(guarded: LiveServer, url: str,
                                                     needle: str) -> None:
    response = httpx.post(guarded.url + "/ingest", json={"urls": [url]}, timeout=10)
    assert response.status_code == 422 and needle in response.json()["detail"]


def test_settings_bind_to_loopback_by_default() -> None:
    assert Settings().host == "127.0.0.1"
    assert load_settings(env={}).host == "127.0.0.1"


def test_create_app_needs_nothing_else_to_be_safe() -> None:
    app = create_app(FakeChatModel("hi"))
    assert app.state.max_body_bytes == 1024 * 1024
    names = [m.cls.__name__ for m in app.user_middleware]
    assert names == []  # no CORS, no auth unless asked
