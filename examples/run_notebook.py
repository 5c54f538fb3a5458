"""Run a notebook-style Python file: top-level ``await`` and ``async for`` allowed.

    python examples/run_notebook.py examples/guide_streaming.py
"""

from __future__ import annotations

import ast
import asyncio
import sys
import types
from pathlib import Path
from typing import Any


def run_notebook(source: str, filename: str = "<notebook>") -> dict[str, Any]:
    """Execute ``source`` as one notebook cell and return its namespace."""
    code = compile(source, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": filename}
    result = eval(code, namespace)  # a coroutine when the cell awaits at top level
    if isinstance(result, types.CoroutineType):
        asyncio.run(result)
    return namespace


if __name__ == "__main__":
    path = Path(sys.argv[1])
    run_notebook(path.read_text(encoding="utf-8"), str(path))
