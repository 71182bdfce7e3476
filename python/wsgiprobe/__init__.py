"""wsgiprobe: checks WSGI gateway servers against PEP 3333 and drives load
through server and proxy stacks.

The functions here run the same commands as the ``wsgiprobe`` command line,
in this process (the work is done in Rust with the GIL released), and
return typed results::

    import wsgiprobe
    report = wsgiprobe.check(server="gunicorn", only=["environ"])
    assert report.summary["fail"] == 0, [c.id for c in report.failed()]

    result = wsgiprobe.bench(server="gunicorn", duration="3s", connections=8)
    print(result.throughput, result.percentiles["p99"])

Keyword arguments mirror the command line's flags (``worker_class`` is
``--worker-class``; a list repeats a flag; ``True`` sets a switch).
``python`` defaults to the interpreter running this code, so the servers
installed next to wsgiprobe are the ones checked. Errors raise
:class:`WsgiprobeError` (or :class:`UsageError`, :class:`ServerError`)
with the command line's message; Ctrl-C stops the servers, then raises
KeyboardInterrupt.
"""

from __future__ import annotations

import datetime
import json as _json
import os
import shutil
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _wsgiprobe
from ._results import (
    BenchResult,
    BenchSet,
    CaseResult,
    CheckReport,
    MatrixReport,
    StartFailure,
    SuiteReport,
)
from ._wsgiprobe import ServerError, UsageError, WsgiprobeError

__version__: str = _wsgiprobe.__version__

__all__ = [
    "check",
    "bench",
    "suite",
    "start_stack",
    "Stack",
    "CheckReport",
    "MatrixReport",
    "CaseResult",
    "StartFailure",
    "BenchResult",
    "BenchSet",
    "SuiteReport",
    "WsgiprobeError",
    "UsageError",
    "ServerError",
    "EXIT_CODES",
]

#: What each exit code of the command line (and ``.exit_code``) means.
EXIT_CODES: Dict[int, str] = {
    0: "no failure",
    1: "failures found (an unexpected fail or warn; a bench run not valid or over a threshold)",
    2: "the harness could not run or could not decide",
    130: "interrupted by SIGINT",
    143: "interrupted by SIGTERM",
}

Duration = Union[str, int, float, datetime.timedelta]
Names = Union[str, Sequence[str], None]


def _value(v: Any) -> str:
    if isinstance(v, datetime.timedelta):
        return f"{int(v.total_seconds() * 1000)}ms"
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    return str(v)


def _flags(**kw: Any) -> List[str]:
    """``worker_class="gthread"`` -> ``--worker-class gthread``; a list
    repeats the flag; True sets a switch; None and False leave it out."""
    argv: List[str] = []
    for name, v in kw.items():
        if v is None or v is False:
            continue
        flag = "--" + name.replace("_", "-")
        if v is True:
            argv.append(flag)
        elif isinstance(v, (list, tuple)):
            for item in v:
                argv += [flag, _value(item)]
        else:
            argv += [flag, _value(v)]
    return argv


def _listed(v: Names) -> Optional[List[str]]:
    if v is None:
        return None
    return [v] if isinstance(v, str) else list(v)


def _default_python(python: Optional[str]) -> Optional[str]:
    if python is not None:
        return python
    if os.environ.get("WSGIPROBE_PYTHON"):
        return None  # the command line reads it itself
    return sys.executable or None


def _output(quiet: bool) -> List[str]:
    return ["--quiet"] if quiet else []


def _run(argv: List[str]) -> int:
    return _wsgiprobe.run(argv)


def _with_json(command: List[str], json: Optional[Union[str, os.PathLike]]) -> tuple:
    """Runs ``command`` writing its JSON to ``json`` (or to a temporary
    file), returns (exit code, document)."""
    if json is not None and os.fspath(json) != "-":
        path = os.fspath(json)
        code = _run(command + ["--json", path])
        with open(path, encoding="utf-8") as f:
            return code, _json.load(f)
    folder = tempfile.mkdtemp(prefix="wsgiprobe-")
    try:
        path = os.path.join(folder, "report.json")
        code = _run(command + ["--json", path])
        if not os.path.exists(path):
            raise WsgiprobeError(f"the run ended with exit code {code} and wrote no report")
        with open(path, encoding="utf-8") as f:
            return code, _json.load(f)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def check(
    server: Names = None,
    *,
    stack: Names = None,
    cmd: Optional[str] = None,
    url: Optional[str] = None,
    python: Optional[str] = None,
    workers: Optional[int] = None,
    threads: Optional[int] = None,
    worker_class: Optional[str] = None,
    proxy: Optional[str] = None,
    proxy_keepalive: bool = False,
    unix: bool = False,
    recipes: Optional[str] = None,
    no_install: bool = False,
    nginx: Optional[str] = None,
    start_timeout: Optional[Duration] = None,
    only: Names = None,
    skip: Names = None,
    specs: Optional[str] = None,
    strict: bool = False,
    expectations: Optional[str] = None,
    update_expectations: Optional[str] = None,
    strict_expectations: bool = False,
    quirks: Optional[str] = None,
    jobs: Optional[int] = None,
    max_body: Optional[int] = None,
    timeout: Optional[Duration] = None,
    fail_fast: bool = False,
    validate: bool = False,
    json: Optional[str] = None,
    markdown: Optional[str] = None,
    html: Optional[str] = None,
    junit: Optional[str] = None,
    quiet: bool = True,
) -> Union[CheckReport, MatrixReport]:
    """Checks one stack (a CheckReport) or several (a MatrixReport) against
    the conformance cases, as ``wsgiprobe check`` does.

    ``server`` is a name (``"gunicorn"``, ``"waitress==3.0.2"``) or a list
    of names (a matrix); ``stack`` takes ``--stack`` specs; ``cmd`` starts
    any server; ``url`` checks one already running. ``json``, ``markdown``,
    ``html`` and ``junit`` also write those files. ``quiet=False`` shows
    progress on standard error. The result's ``exit_code`` is what the
    command line would exit with.
    """
    argv = ["check"] + _output(quiet) + _flags(
        server=_listed(server),
        stack=_listed(stack),
        cmd=cmd,
        url=url,
        python=_default_python(python),
        workers=workers,
        threads=threads,
        worker_class=worker_class,
        proxy=proxy,
        proxy_keepalive=proxy_keepalive,
        unix=unix,
        recipes=recipes,
        no_install=no_install,
        nginx=nginx,
        start_timeout=start_timeout,
        only=_listed(only),
        skip=_listed(skip),
        specs=specs,
        strict=strict,
        expectations=expectations,
        update_expectations=update_expectations,
        strict_expectations=strict_expectations,
        quirks=quirks,
        jobs=jobs,
        max_body=max_body,
        timeout=timeout,
        fail_fast=fail_fast,
        validate=validate,
        markdown=markdown,
        html=html,
        junit=junit,
    )
    code, doc = _with_json(argv, json)
    if doc.get("kind") == "matrix":
        return MatrixReport(doc, code)
    return CheckReport(doc, code)


def bench(
    server: Names = None,
    *,
    stack: Names = None,
    cmd: Optional[str] = None,
    url: Optional[str] = None,
    python: Optional[str] = None,
    workers: Optional[int] = None,
    threads: Optional[int] = None,
    worker_class: Optional[str] = None,
    proxy: Optional[str] = None,
    proxy_keepalive: bool = False,
    unix: bool = False,
    recipes: Optional[str] = None,
    no_install: bool = False,
    nginx: Optional[str] = None,
    start_timeout: Optional[Duration] = None,
    workload: Optional[str] = None,
    size: Optional[int] = None,
    chunks: Optional[int] = None,
    ms: Optional[Duration] = None,
    connections: Optional[int] = None,
    rate: Optional[float] = None,
    duration: Optional[Duration] = None,
    requests: Optional[int] = None,
    warmup: Optional[Duration] = None,
    timeout: Optional[Duration] = None,
    load_threads: Optional[int] = None,
    allow_errors: Optional[int] = None,
    fail_if: Names = None,
    sample_bodies: Optional[int] = None,
    max_body: Optional[int] = None,
    app: Optional[str] = None,
    app_dir: Optional[str] = None,
    path: Optional[str] = None,
    expect_status: Optional[int] = None,
    expect_body: Optional[str] = None,
    method: Optional[str] = None,
    header: Names = None,
    body: Optional[str] = None,
    body_file: Optional[str] = None,
    json: Optional[str] = None,
    markdown: Optional[str] = None,
    html: Optional[str] = None,
    quiet: bool = True,
) -> Union[BenchResult, BenchSet]:
    """Drives load through one stack (a BenchResult) or several one after
    another (a BenchSet), as ``wsgiprobe bench`` does.

    Durations take ``"3s"``, ``"500ms"``, a number of seconds or a
    timedelta. ``app="module:callable"`` (with ``app_dir``) hosts your own
    app; ``url`` measures a running server. ``fail_if`` thresholds
    (``"p99<50ms"``, what the run must meet) end up in ``result.thresholds`` and the exit code.
    """
    argv = ["bench"] + _output(quiet) + _flags(
        server=_listed(server),
        stack=_listed(stack),
        cmd=cmd,
        url=url,
        python=_default_python(python),
        workers=workers,
        threads=threads,
        worker_class=worker_class,
        proxy=proxy,
        proxy_keepalive=proxy_keepalive,
        unix=unix,
        recipes=recipes,
        no_install=no_install,
        nginx=nginx,
        start_timeout=start_timeout,
        workload=workload,
        size=size,
        chunks=chunks,
        ms=ms,
        connections=connections,
        rate=rate,
        duration=duration,
        requests=requests,
        warmup=warmup,
        timeout=timeout,
        load_threads=load_threads,
        allow_errors=allow_errors,
        fail_if=_listed(fail_if),
        sample_bodies=sample_bodies,
        max_body=max_body,
        app=app,
        app_dir=app_dir,
        path=path,
        expect_status=expect_status,
        expect_body=expect_body,
        method=method,
        header=_listed(header),
        body=body,
        body_file=body_file,
        markdown=markdown,
        html=html,
    )
    code, doc = _with_json(argv, json)
    if doc.get("kind") == "bench-set":
        return BenchSet(doc, code)
    return BenchResult(doc, code)


def suite(
    path: Union[str, os.PathLike],
    out: Union[str, os.PathLike],
    *,
    python: Optional[str] = None,
    recipes: Optional[str] = None,
    no_install: bool = False,
    nginx: Optional[str] = None,
    start_timeout: Optional[Duration] = None,
    quiet: bool = True,
) -> SuiteReport:
    """Runs a suite file (``wsgiprobe suite FILE --out OUT``) and returns
    its report; report.json, report.md and report.html are in ``out``."""
    argv = ["suite", os.fspath(path)] + _output(quiet) + _flags(
        out=os.fspath(out),
        python=_default_python(python),
        recipes=recipes,
        no_install=no_install,
        nginx=nginx,
        start_timeout=start_timeout,
    )
    code = _run(argv)
    report = os.path.join(os.fspath(out), "report.json")
    if not os.path.exists(report):
        raise WsgiprobeError(f"the suite ended with exit code {code} and wrote no {report}")
    with open(report, encoding="utf-8") as f:
        return SuiteReport(_json.load(f), os.fspath(out), code)


class Stack:
    """A running stack: a server hosting the probe app or your own app,
    with nginx in front when asked. Use it as a context manager, or call
    :meth:`stop`. ``url`` is where it answers."""

    def __init__(self, running: Any, options: Dict[str, Any]) -> None:
        self._running = running
        self._options = options

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/`` (or ``unix:/path.sock``)."""
        return self._running.url

    @property
    def label(self) -> str:
        """The stack's short name (``gunicorn+nginx``)."""
        return self._running.label

    @property
    def command(self) -> Optional[str]:
        """The server's command line."""
        return self._running.command

    def alive(self) -> bool:
        """Whether it is up (not stopped, the server has not exited)."""
        return self._running.alive()

    def bench(self, **options: Any) -> BenchResult:
        """Drives load at this stack's URL (``bench(url=stack.url, ...)``);
        with your own app, requests go to its ``path``."""
        if "url" not in options and self._options.get("path"):
            options["url"] = self.url.rstrip("/") + self._options["path"]
        result = bench(**{"url": self.url, **options})
        assert isinstance(result, BenchResult)
        return result

    def check(self, **options: Any) -> CheckReport:
        """Checks this stack through its URL (it must host the probe app,
        the default when no ``app`` was given)."""
        report = check(url=self.url, **options)
        assert isinstance(report, CheckReport)
        return report

    def stop(self) -> None:
        """Stops the proxy and the server; a second call does nothing."""
        self._running.stop()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Stack {self.label} at {self.url}>"


def start_stack(
    server: Optional[str] = None,
    *,
    cmd: Optional[str] = None,
    python: Optional[str] = None,
    workers: Optional[int] = None,
    threads: Optional[int] = None,
    worker_class: Optional[str] = None,
    proxy: Optional[str] = None,
    proxy_keepalive: bool = False,
    unix: bool = False,
    recipes: Optional[str] = None,
    no_install: bool = False,
    nginx: Optional[str] = None,
    start_timeout: Optional[Duration] = None,
    app: Optional[str] = None,
    app_dir: Optional[Union[str, os.PathLike]] = None,
    path: Optional[str] = None,
    quiet: bool = True,
) -> Stack:
    """Starts one stack and returns it once it answers: ``server`` (or
    ``cmd``), its tuning, ``proxy="nginx"`` in front, and your own
    ``app="module:callable"`` from ``app_dir`` instead of the probe app."""
    argv = ["bench"] + _output(quiet) + _flags(
        server=server,
        cmd=cmd,
        python=_default_python(python),
        workers=workers,
        threads=threads,
        worker_class=worker_class,
        proxy=proxy,
        proxy_keepalive=proxy_keepalive,
        unix=unix,
        recipes=recipes,
        no_install=no_install,
        nginx=nginx,
        start_timeout=start_timeout,
        app=app,
        app_dir=os.fspath(app_dir) if app_dir is not None else None,
        path=path,
    )
    return Stack(_wsgiprobe.start_stack(argv), {"app": app, "path": path})
