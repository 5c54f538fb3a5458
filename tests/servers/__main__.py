"""``python -m tests.servers --tokens 2000``: an OpenAI-compatible server on its own."""

from .openai_server import main

main()
