"""Run by the shutdown test in a subprocess: a slow streaming app under
``ragstream.server.serve``. Prints its URL, then serves until SIGTERM."""

from __future__ import annotations

import socket

from ragstream.server import create_app, serve
from ragstream.testing import FakeChatModel


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    app = create_app(FakeChatModel(" ".join(["token"] * 2000), delay=0.05), path="/slow")
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    serve(app, sock=sock, log_level="warning")


if __name__ == "__main__":
    main()
