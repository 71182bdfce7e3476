"""The ``wsgiprobe`` command of the Python package: the same command line
as the Rust binary, run by the extension module in this process."""

from __future__ import annotations

import signal
import sys

from . import _wsgiprobe


def main() -> None:
    """Runs ``wsgiprobe`` with this process's arguments and exits with its
    code."""
    # The command handles SIGINT itself, as the binary does (it stops the
    # servers, writes what it gathered and exits 130); Python's handler
    # would also raise KeyboardInterrupt once the command returned.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.exit(_wsgiprobe.main(["wsgiprobe"] + sys.argv[1:]))


if __name__ == "__main__":
    main()
