"""How the sources of retrieved documents are shown to clients.

Documents loaded from local files carry the absolute path they were read
from (``/home/ana/notes/guide/install.md``); a client needs to know which
file, not where the server keeps it. ``SourceLabels`` shows a file source
relative to the folder that holds all of a collection's files, starting with
that folder's name (``notes/guide/install.md``), and any other absolute path
as its folder and name. URLs, and paths that are already relative, are shown
as they are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import PurePath, PurePosixPath

__all__ = ["SourceLabels"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _file_path(source: str) -> PurePath | None:
    if not source or _URL.match(source):
        return None
    path = PurePath(source)
    return path if path.is_absolute() else None


def _common_folder(files: list[PurePath]) -> PurePath | None:
    if not files:
        return None
    try:
        common = PurePath(os.path.commonpath([str(f.parent) for f in files]))
    except ValueError:  # different drives
        return None
    # the filesystem root says nothing about where the data came from
    return None if common == common.parent else common


class SourceLabels:
    """Labels for sources, given every source of the collection.

    >>> labels = SourceLabels(["/srv/data/notes/a.md", "/srv/data/notes/guide/b.md"])
    >>> labels("/srv/data/notes/guide/b.md"), labels("https://example.org/page")
    ('notes/guide/b.md', 'https://example.org/page')
    >>> labels("/elsewhere/c.md")
    'elsewhere/c.md'
    """

    def __init__(self, sources: Iterable[str] = ()) -> None:
        files = [path for path in map(_file_path, sources) if path is not None]
        self.base = _common_folder(files)

    def __repr__(self) -> str:
        return f"SourceLabels(base={str(self.base) if self.base else None!r})"

    def __call__(self, source: str) -> str:
        path = _file_path(source)
        if path is None:
            return source
        base = self.base
        if base is not None and path.is_relative_to(base):
            return str(PurePosixPath(base.name, *path.relative_to(base).parts))
        return str(PurePosixPath(*path.parts[1:][-2:]))
