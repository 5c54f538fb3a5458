"""Document loaders: web pages and local files (text, Markdown, HTML, PDF).

Every loader has the same four ways to load, sync and async twins:
``load()``/``aload()`` return a list, ``lazy_load()``/``alazy_load()`` yield
documents as they come. A source that fails does not stop the others: the
loader tries them all, then raises ``LoadError`` (a ``SourceError``) holding
each failure and, from ``load``/``aload``, the documents that did load.

>>> from ragstream.loaders import WebBaseLoader, FileLoader
>>> docs = WebBaseLoader("https://example.org/").load()
>>> docs += FileLoader("notes/", glob="**/*.md").load()
"""

from ragstream.loaders._base import BaseLoader
from ragstream.loaders._errors import LoadError
from ragstream.loaders._files import DirectoryLoader, FileLoader
from ragstream.loaders._guard import AddressGuard, PublicOnlyGuard, URLGuard, public_only_guard
from ragstream.loaders._web import WebBaseLoader

__all__ = [
    "AddressGuard",
    "BaseLoader",
    "DirectoryLoader",
    "FileLoader",
    "LoadError",
    "PublicOnlyGuard",
    "URLGuard",
    "WebBaseLoader",
    "public_only_guard",
]
