"""URL guards: called before every connection, and the ready-made public-only one."""

from __future__ import annotations

import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import httpx
import pytest

from ragstream.errors import SourceError
from ragstream.loaders import LoadError, WebBaseLoader, public_only_guard

from .conftest import Site


def only_failure(loader: WebBaseLoader) -> SourceError:
    with pytest.raises(LoadError) as info:
        loader.load()
    (failure,) = info.value.failures
    return failure


def test_guard_sees_the_first_url_and_every_hop_before_connecting(site: Site) -> None:
    seen: list[tuple[str, int]] = []

    def guard(url: str) -> None:
        seen.append((url, len(site.requests)))  # how many requests came before

    WebBaseLoader(site.url("/redirect/chain-1"), url_guard=guard).load()
    assert seen == [
        (site.url("/redirect/chain-1"), 0),
        (site.url("/redirect/chain-2"), 1),
        (site.url("/redirect/chain-3"), 2),
        (site.url("/posts/agent/"), 3),
    ]


def test_guard_refusing_a_hop_stops_before_it_is_fetched(site: Site) -> None:
    def guard(url: str) -> None:
        if url.endswith("/posts/agent/"):
            raise ValueError("internal page")

    failure = only_failure(WebBaseLoader(site.url("/redirect/to-post"), url_guard=guard))
    assert failure.source == site.url("/redirect/to-post")
    assert failure.reason == (
        f"redirect to {site.url('/posts/agent/')}: refused by the URL guard: internal page"
    )
    assert site.requests == ["/redirect/to-post"]


def test_public_only_guard_refuses_the_loopback_site(site: Site) -> None:
    url = site.url("/posts/agent/")
    failure = only_failure(WebBaseLoader(url, url_guard=public_only_guard))
    assert failure.source == url
    assert failure.reason == "refused: host '127.0.0.1' is 127.0.0.1, a loopback address"
    assert site.requests == []


def test_no_guard_by_default(site: Site) -> None:
    assert WebBaseLoader(site.url("/posts/agent/")).url_guard is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/", "127.0.0.1, a loopback address"),
        ("http://127.8.9.10:8080/x", "127.8.9.10, a loopback address"),
        ("http://localhost/", "a loopback address"),
        ("http://[::1]/", "::1, a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address"),
        ("http://2130706433/", "127.0.0.1, a loopback address"),  # 127.0.0.1 as one number
        ("http://0x7f.1/", "127.0.0.1, a loopback address"),
        ("http://10.1.2.3/", "10.1.2.3, a private address"),
        ("http://172.16.0.1/", "172.16.0.1, a private address"),
        ("https://192.168.1.1/admin", "192.168.1.1, a private address"),
        ("http://[fd12::1]/", "fd12::1, a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254, a cloud metadata address"),
        ("http://169.254.1.1/", "169.254.1.1, a link-local address"),
        ("http://[fe80::1]/", "fe80::1, a link-local address"),
        ("http://224.0.0.251/", "224.0.0.251, a multicast address"),
        ("http://0.0.0.0/", "0.0.0.0, an unspecified address"),
        ("http://240.0.0.1/", "240.0.0.1, a reserved address"),
        ("http://100.64.0.1/", "100.64.0.1, not a public address"),
    ],
)
def test_public_only_guard_refuses_internal_addresses(url: str, why: str) -> None:
    with pytest.raises(SourceError) as info:
        public_only_guard(url)
    assert info.value.source == url
    assert info.value.reason.startswith("refused: host ")
    assert why in info.value.reason


@pytest.mark.parametrize(
    "url", ["http://93.184.215.14/", "https://8.8.8.8:443/path?q=1", "http://[2606:4700::1111]/"]
)
def test_public_only_guard_accepts_public_addresses(url: str) -> None:
    public_only_guard(url)  # literal addresses: no DNS needed


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://127.0.0.1/", "http://"])
def test_public_only_guard_refuses_other_schemes(url: str) -> None:
    with pytest.raises(SourceError):
        public_only_guard(url)


# --- the address each connection reached (DNS rebinding) ---------------------------


class RebindingGuard:
    """A guard whose name check passes (as when a hostile DNS server answers a
    public address to the guard) and whose address check is public_only_guard's,
    so the loopback site is refused only when its address is seen."""

    def __init__(self, refuse_after: int = 0) -> None:
        self.refuse_after = refuse_after
        self.names: list[str] = []
        self.addresses: list[str] = []

    def __call__(self, url: str) -> None:
        self.names.append(url)

    def check_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        self.addresses.append(str(address))
        if len(self.addresses) > self.refuse_after:
            public_only_guard.check_address(address)


def test_a_name_that_passed_is_refused_when_the_connection_reached_loopback(site: Site) -> None:
    guard = RebindingGuard()
    url = site.url("/posts/agent/")
    failure = only_failure(WebBaseLoader(url, url_guard=guard))
    assert failure.source == url
    assert failure.reason == "refused: connected to 127.0.0.1, a loopback address"
    assert guard.names == [url] and guard.addresses == ["127.0.0.1"]
    assert site.requests == ["/posts/agent/"]  # the name check let it connect


def test_the_address_is_refused_before_the_body_is_read(site: Site) -> None:
    # the page drips a byte every 50 ms for 10 s: reading it would time out
    failure = only_failure(WebBaseLoader(site.url("/drip"), url_guard=RebindingGuard(),
                                         timeout=2))
    assert failure.reason == "refused: connected to 127.0.0.1, a loopback address"


def test_every_redirect_hop_has_its_address_checked(site: Site) -> None:
    guard = RebindingGuard(refuse_after=1)  # the first hop's address passes
    failure = only_failure(WebBaseLoader(site.url("/redirect/to-post"), url_guard=guard))
    assert failure.reason == (
        f"redirect to {site.url('/posts/agent/')}: "
        "refused: connected to 127.0.0.1, a loopback address"
    )
    assert guard.addresses == ["127.0.0.1", "127.0.0.1"]
    assert site.requests == ["/redirect/to-post", "/posts/agent/"]


def test_an_address_check_that_passes_loads_the_page(site: Site) -> None:
    guard = RebindingGuard(refuse_after=10)
    docs = WebBaseLoader(site.url("/redirect/chain-1"), url_guard=guard).load()
    assert "LLM Powered Autonomous Agents" in docs[0].page_content
    assert guard.addresses == ["127.0.0.1"] * 4  # three redirects and the page


def test_any_exception_from_check_address_refuses(site: Site) -> None:
    class Guard:
        def __call__(self, url: str) -> None:
            pass

        def check_address(self, address: object) -> None:
            raise ValueError("not in the allow list")

    failure = only_failure(WebBaseLoader(site.url("/posts/agent/"), url_guard=Guard()))
    assert failure.reason == (
        "connected to 127.0.0.1, refused by the URL guard: not in the allow list"
    )


def test_an_address_guard_refuses_a_transport_that_hides_the_address() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<p>mock</p>")

    loader = WebBaseLoader("https://docs.example/", url_guard=RebindingGuard(),
                           transport=httpx.MockTransport(handler))
    failure = only_failure(loader)
    assert failure.reason == (
        "refused: the URL guard checks addresses, and the transport does not tell "
        "which address it connected to"
    )


def test_a_plain_guard_function_checks_names_only(site: Site) -> None:
    docs = WebBaseLoader(site.url("/posts/agent/"), url_guard=lambda url: None).load()
    assert len(docs) == 1


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("10.0.0.7", "a private address"),
        ("::ffff:192.168.0.1", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fe80::1", "a link-local address"),
    ],
)
def test_public_only_guard_checks_addresses(address: str, why: str) -> None:
    parsed = ipaddress.ip_address(address)
    with pytest.raises(SourceError) as info:
        public_only_guard.check_address(parsed)
    assert info.value.reason == f"refused: connected to {parsed}, {why}"


def test_public_only_guard_accepts_public_connection_addresses() -> None:
    for address in ("93.184.215.14", "2606:4700::1111"):
        public_only_guard.check_address(ipaddress.ip_address(address))
    assert repr(public_only_guard) == "public_only_guard"


class ForwardProxy(BaseHTTPRequestHandler):
    """An HTTP forward proxy on loopback: it fetches the absolute URL it is asked for."""

    seen: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append(self.path)
        upstream = httpx.get(self.path, trust_env=False)
        self.send_response(upstream.status_code)
        self.send_header("Content-Type", upstream.headers.get("content-type", "text/html"))
        self.send_header("Content-Length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)


def test_through_a_proxy_only_the_name_is_checked(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the connection reaches the proxy, which resolves the name: its address
    # says nothing about the page's
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), ForwardProxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        guard = RebindingGuard()
        docs = WebBaseLoader(site.url("/posts/agent/"), url_guard=guard).load()
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert "LLM Powered Autonomous Agents" in docs[0].page_content
    assert ForwardProxy.seen == [site.url("/posts/agent/")]
    assert guard.names == [site.url("/posts/agent/")] and guard.addresses == []
