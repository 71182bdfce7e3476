"""``python -m wsgiprobe``: the ``wsgiprobe`` command."""

from ._cli import main

main()
