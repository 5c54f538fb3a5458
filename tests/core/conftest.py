from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared"


@pytest.fixture(scope="session")
def reference() -> Callable[[str], Any]:
    """Loads a dump of what the reference framework emits for the guide's chains."""
    folder = SHARED / "reference"
    if not folder.is_dir():
        pytest.fail(f"the reference dumps are missing: {folder}")

    def load(name: str) -> Any:
        return json.loads((folder / name).read_text())

    return load
