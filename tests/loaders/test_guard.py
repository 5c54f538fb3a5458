"""URL guards: called before every connection, and the ready-made public-only one."""

from __future__ import annotations

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
