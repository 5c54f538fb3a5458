"""Configuration: flags, then environment, then a TOML file, then defaults.

Every value remembers where it came from, so ``ragstream config`` can show it.

    [ragstream]                 # $RAGSTREAM_HOME/config.toml, or --config / RAGSTREAM_CONFIG
    model = "openai:gpt-4o-mini"
    collection = "docs"
    k = 4

Environment variables are the upper-case names with a ``RAGSTREAM_`` prefix
(``RAGSTREAM_MODEL``, ``RAGSTREAM_HOME`` ...); the providers' own variables
(``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``ANTHROPIC_API_KEY``) are read by
the models themselves.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ragstream.errors import ConfigError

__all__ = ["Settings", "default_home", "load_settings"]


def default_home() -> Path:
    """Where ragstream keeps its data when nothing says otherwise."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ragstream"


@dataclass
class Settings:
    """The effective configuration. ``sources`` says where each value came from."""

    home: Path = field(default_factory=default_home)
    collection: str = "docs"
    model: str = "extractive"
    embeddings: str = "minilm"
    chroma_url: str | None = None
    history: str | None = None
    k: int = 4
    chunk_size: int = 1000
    chunk_overlap: int = 200
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    cors_origins: str | None = None
    allow_private_urls: bool = False
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def history_location(self) -> str:
        return self.history or str(self.home / "history.db")

    def shown(self) -> list[tuple[str, str, str]]:
        """(name, value, source) for every setting; secrets masked."""
        out = []
        for f in fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            if f.name == "history" and value is None:
                value = self.history_location  # show where it really is
            text = "" if value is None else str(value)
            if f.name == "api_key" and value:
                text = "****"
            out.append((f.name, text, self.sources.get(f.name, "default")))
        return out


_SECRET = {"api_key"}
_NAMES = [f.name for f in fields(Settings) if f.name != "sources"]


def _convert(name: str, raw: Any, where: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if name == "home":
            return Path(str(raw)).expanduser()
        if kind == "int":
            value = int(raw)
            if value <= 0 and name in ("k", "chunk_size", "port"):
                raise ValueError("must be positive")
            if value < 0:
                raise ValueError("must not be negative")
            return value
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError("must be true or false")
        text = str(raw)
        return text if text != "" else None
    except ValueError as exc:
        shown = "****" if name in _SECRET else repr(raw)
        raise ConfigError(f"{name} = {shown} from {where}: {exc}") from None


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
) -> Settings:
    """Settings from flags (None means not given), environment, file and defaults."""
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    unknown = set(flags) - set(_NAMES)
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")

    settings = Settings()
    chosen: dict[str, tuple[Any, str]] = {}

    home_raw, home_src = None, "default"
    if "home" in flags:
        home_raw, home_src = flags["home"], "flag --data-dir"
    elif env.get("RAGSTREAM_HOME"):
        home_raw, home_src = env["RAGSTREAM_HOME"], "env RAGSTREAM_HOME"
    home = _convert("home", home_raw, home_src) if home_raw is not None else default_home()

    path = config_file or env.get("RAGSTREAM_CONFIG")
    file_src = "flag --config" if config_file else "env RAGSTREAM_CONFIG"
    if path is None:
        candidate = home / "config.toml"
        path, file_src = (candidate, "") if candidate.is_file() else (None, "")
    file_values: dict[str, Any] = {}
    if path is not None:
        file_values = _read_file(Path(path), file_src)

    for name in _NAMES:
        if name == "home":
            continue
        if name in flags:
            chosen[name] = (flags[name], f"flag --{name.replace('_', '-')}")
        elif env.get(f"RAGSTREAM_{name.upper()}") not in (None, ""):
            chosen[name] = (env[f"RAGSTREAM_{name.upper()}"], f"env RAGSTREAM_{name.upper()}")
        elif name in file_values:
            chosen[name] = (file_values[name], f"file {path}")

    settings.home = home
    settings.sources["home"] = home_src
    for name, (raw, where) in chosen.items():
        setattr(settings, name, _convert(name, raw, where))
        settings.sources[name] = where
    if settings.chunk_overlap >= settings.chunk_size:
        raise ConfigError(
            f"chunk_overlap ({settings.chunk_overlap}) must be smaller than "
            f"chunk_size ({settings.chunk_size})"
        )
    return settings


def _read_file(path: Path, how: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist ({how})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    table = data.get("ragstream", data)
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [ragstream] must be a table")
    unknown = set(table) - set(_NAMES) - {"ragstream"}
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown settings {', '.join(sorted(unknown))}; "
            f"known: {', '.join(_NAMES)}"
        )
    return {k: v for k, v in table.items() if k in _NAMES}
