"""The compiled half of the wsgiprobe package (Rust, pyo3)."""

from typing import List, Optional

__version__: str

class WsgiprobeError(Exception):
    """A run could not be done; the message is the command line's."""

class UsageError(WsgiprobeError):
    """Bad arguments: an unknown option, a value out of range, a
    combination that does not work."""

class ServerError(WsgiprobeError):
    """A server, proxy or stack could not be planned or started."""

class RunningStack:
    """A running stack; stopped by stop() or when collected."""

    @property
    def url(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def command(self) -> Optional[str]: ...
    def stop(self) -> None: ...
    def alive(self) -> bool: ...

def main(argv: List[str]) -> int:
    """Runs the command line ``argv`` (program name first) as the binary
    does and returns the exit code."""

def run(argv: List[str]) -> int:
    """Runs one command line (no program name) in this process without the
    terminal table; returns the exit code. Releases the GIL; a Python signal
    handler's exception (KeyboardInterrupt) is raised after the servers are
    stopped."""

def start_stack(argv: List[str]) -> RunningStack:
    """Starts the stack a ``bench`` command line describes."""

def case_ids(only: List[str] = ..., skip: List[str] = ..., specs: Optional[str] = ...) -> List[str]:
    """The ids of the cases a check with this selection runs."""
