"""``python -m ragstream.cli``: the same as the ``ragstream`` command."""

from ragstream.cli import main

main(prog_name="ragstream")
