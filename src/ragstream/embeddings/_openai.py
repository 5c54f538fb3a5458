"""``OpenAIEmbeddings``: vectors from any OpenAI-compatible ``/embeddings``
endpoint through the official ``openai`` SDK."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from ragstream.embeddings._base import Embeddings
from ragstream.errors import ConfigError, InputError, ModelError
from ragstream.models._http import CallLimits, guarded_call
from ragstream.models._openai import OPENAI_URL, resolve_openai_key
from ragstream.models._sdk import (
    PerLoop,
    Secret,
    aimport_sdk,
    import_sdk,
    safe_url,
    sdk_classifier,
)

__all__ = ["OpenAIEmbeddings"]


class OpenAIEmbeddings(Embeddings):
    """Embeddings from OpenAI or any server with an OpenAI-compatible
    ``/embeddings`` route (Ollama, vLLM, llama.cpp server, LM Studio...).

    Texts go in batches of ``batch_size``, at most ``max_concurrency`` batches
    at a time; vectors come back in the order of the texts. Failed requests are
    tried again ``max_retries`` times; errors are ``ModelError`` subclasses
    naming the URL, never the key.

    >>> embeddings = OpenAIEmbeddings(model="nomic-embed-text",
    ...                               base_url="http://localhost:11434/v1")
    >>> vector = embeddings.embed_query("task decomposition")  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        model: str = "text-embedding-3-small",
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 256,
        dimensions: int | None = None,
        timeout: float | None = 60.0,
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        max_concurrency: int = 4,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be at least 1, not {max_concurrency}")
        if dimensions is not None and dimensions < 1:
            raise ConfigError(f"dimensions must be at least 1, not {dimensions}")
        self.model = model
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL
        self._api_key = Secret(api_key if api_key is not None else os.environ.get("OPENAI_API_KEY"))
        self.batch_size = batch_size
        self.dimensions = dimensions
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.limits = CallLimits(
            max_retries=max_retries, retry_backoff=retry_backoff,
            first_token_timeout=None, total_timeout=None,
        )
        self.default_headers = dict(default_headers or {})
        self._clients: PerLoop[Any] = PerLoop(self._make_client, _close_client)

    @property
    def endpoint(self) -> str:
        """The URL embedding requests go to, as errors name it."""
        return safe_url(self.base_url.rstrip("/") + "/embeddings")

    def __repr__(self) -> str:
        return f"OpenAIEmbeddings(model={self.model!r}, base_url={safe_url(self.base_url)!r})"

    def _make_client(self) -> Any:
        openai = import_sdk("openai")
        return openai.AsyncOpenAI(
            api_key=resolve_openai_key(self._api_key, self.base_url),
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,
            default_headers=self.default_headers or None,
        )

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(f"text {i} to embed is a {type(text).__name__}, not a str")
            if not text:
                raise InputError(f"text {i} to embed is empty; embedding servers refuse it")
        if not texts:
            return []
        await aimport_sdk("openai")
        client = await self._clients.get()
        classify = sdk_classifier("openai", self.timeout)
        gate = asyncio.Semaphore(self.max_concurrency)
        size = self.batch_size

        async def one(batch: list[str]) -> list[list[float]]:
            async with gate:
                return await guarded_call(
                    lambda: self._request(client, batch), url=self.endpoint,
                    secret=self._api_key, limits=self.limits, classify=classify,
                )

        batches = [texts[i : i + size] for i in range(0, len(texts), size)]
        tasks = [asyncio.ensure_future(one(b)) for b in batches]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            # one batch failed (or we were cancelled): stop the others too
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return [vector for result in results for vector in result]

    async def _request(self, client: Any, batch: list[str]) -> list[list[float]]:
        params: dict[str, Any] = {"model": self.model, "input": batch, "encoding_format": "float"}
        if self.dimensions is not None:
            params["dimensions"] = self.dimensions
        response = await client.embeddings.create(**params)
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != len(batch):
            raise ModelError(
                f"{self.endpoint} returned {len(data)} vectors for {len(batch)} texts",
                url=self.endpoint,
            )
        return [list(d.embedding) for d in data]


async def _close_client(client: Any) -> None:
    await client.close()
