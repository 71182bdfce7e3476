"""The wsgiprobe pytest plugin (loaded through the ``pytest11`` entry point).

With ``--wsgiprobe-server NAME``, ``--wsgiprobe-cmd TEMPLATE`` or
``--wsgiprobe-url URL``, every conformance case becomes a test item named by
its id (``wsgiprobe::environ.request-method.extension``): the stack is
checked once, when the first of them runs, and each item reports its case:

- ``fail`` fails with the requirement, what was expected and what was seen;
- ``warn`` (a broken SHOULD) passes with a warning, and fails under
  ``--wsgiprobe-strict``;
- ``skip`` is skipped, ``error`` fails as undecided;
- with ``--wsgiprobe-expectations FILE``, an outcome the file expects
  (``fail`` or ``warn``) is an expected failure (xfail).

The ``wsgiprobe_stack`` fixture starts stacks for your own tests::

    def test_my_app_behind_nginx(wsgiprobe_stack):
        stack = wsgiprobe_stack("gunicorn", proxy="nginx", app="app:app", app_dir="src")
        result = stack.bench(duration="2s", connections=4)
        assert result.percentiles["p99"] < 50
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import wsgiprobe

from . import _wsgiprobe


class WsgiprobeWarning(UserWarning):
    """A broken SHOULD, reported without --wsgiprobe-strict."""


class CaseFailed(Exception):
    """A case's outcome fails its test item."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wsgiprobe", "WSGI gateway conformance (wsgiprobe)")
    group.addoption(
        "--wsgiprobe-server",
        metavar="NAME[==VERSION]",
        help="check this server (gunicorn, waitress, uwsgi, ...): every case becomes a test",
    )
    group.addoption(
        "--wsgiprobe-cmd",
        metavar="TEMPLATE",
        help="check the server this command starts ({python} {host} {port} {app} ...)",
    )
    group.addoption(
        "--wsgiprobe-url", metavar="URL", help="check a running server that hosts the probe app"
    )
    group.addoption(
        "--wsgiprobe-expectations",
        metavar="FILE",
        help="outcomes this file expects (fail, warn) are expected failures (xfail)",
    )
    group.addoption(
        "--wsgiprobe-strict",
        action="store_true",
        default=False,
        help="a warn (a broken SHOULD) fails its test",
    )
    group.addoption(
        "--wsgiprobe-only",
        action="append",
        default=[],
        metavar="PREFIX",
        help="only the cases whose id starts with PREFIX (repeatable)",
    )
    group.addoption(
        "--wsgiprobe-skip",
        action="append",
        default=[],
        metavar="PREFIX",
        help="leave out the cases whose id starts with PREFIX (repeatable)",
    )
    group.addoption(
        "--wsgiprobe-python",
        metavar="PYTHON",
        help="the interpreter that runs the server (default: this one)",
    )
    group.addoption(
        "--wsgiprobe-proxy", metavar="KIND", help="put nginx in front (nginx, nginx-unix, nginx-uwsgi)"
    )


def _target(config: pytest.Config) -> Dict[str, Any]:
    return {
        "server": config.getoption("wsgiprobe_server"),
        "cmd": config.getoption("wsgiprobe_cmd"),
        "url": config.getoption("wsgiprobe_url"),
    }


def _checking(config: pytest.Config) -> bool:
    return any(v is not None for v in _target(config).values())


def pytest_report_header(config: pytest.Config) -> Optional[str]:
    if not _checking(config):
        return None
    what = ", ".join(f"{k} {v}" for k, v in _target(config).items() if v is not None)
    return f"wsgiprobe {wsgiprobe.__version__}: checking {what}"


class _Run:
    """The one check of the session, run when the first case item runs."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.report: Optional[wsgiprobe.CheckReport] = None
        self.error: Optional[BaseException] = None
        self.done = False

    def result(self, session: pytest.Session, case_id: str) -> Optional[wsgiprobe.CaseResult]:
        if not self.done:
            self.done = True
            ids = [i.name for i in session.items if isinstance(i, CaseItem)]
            try:
                self.report = self._check(ids)
            except wsgiprobe.WsgiprobeError as e:
                self.error = e
        if self.error is not None:
            raise CaseFailed(f"the stack could not be checked: {self.error}")
        assert self.report is not None
        try:
            return self.report.case(case_id)
        except KeyError:
            return None

    def _check(self, ids: List[str]) -> wsgiprobe.CheckReport:
        c = self.config
        report = wsgiprobe.check(
            **_target(c),
            python=c.getoption("wsgiprobe_python"),
            proxy=c.getoption("wsgiprobe_proxy"),
            # Only what was collected (after -k and friends); an id is a
            # prefix of itself.
            only=ids,
            expectations=c.getoption("wsgiprobe_expectations"),
            strict=c.getoption("wsgiprobe_strict"),
        )
        if isinstance(report, wsgiprobe.MatrixReport):
            raise wsgiprobe.UsageError("the plugin checks one stack")
        return report


_RUN = pytest.StashKey[_Run]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: List[pytest.Item]
) -> None:
    # First, so -k and -m deselect among the cases too.
    if not _checking(config):
        return
    try:
        ids = _wsgiprobe.case_ids(
            config.getoption("wsgiprobe_only"), config.getoption("wsgiprobe_skip"), None
        )
    except wsgiprobe.WsgiprobeError as e:
        raise pytest.UsageError(f"wsgiprobe: {e}") from None
    config.stash[_RUN] = _Run(config)
    for case_id in ids:
        items.append(CaseItem.from_parent(session, name=case_id, nodeid=f"wsgiprobe::{case_id}"))


class CaseItem(pytest.Item):
    """One conformance case of the checked stack."""

    def runtest(self) -> None:
        run = self.config.stash[_RUN]
        case = run.result(self.session, self.name)
        if case is None:
            pytest.skip("not run (the check was cut short)")
        strict = self.config.getoption("wsgiprobe_strict")
        expected = case.expected_by_file
        if case.outcome in ("pass", "quirk"):
            return
        if case.outcome == "skip":
            pytest.skip(f"not applicable: {case.actual}")
        if case.outcome == "fail" or (case.outcome == "warn" and strict):
            if expected:
                pytest.xfail(f"{case.outcome}, as the expectations file says: {case.actual}")
            raise CaseFailed(self._explain(case))
        if case.outcome == "warn":
            warnings.warn(WsgiprobeWarning(f"{case.id}: {case.actual}"))
            return
        # error: the case could not be decided.
        raise CaseFailed(f"could not be decided: {case.actual}\n" + self._explain(case))

    @staticmethod
    def _explain(case: wsgiprobe.CaseResult) -> str:
        return (
            f"{case.id} ({case.level.upper()}, {case.outcome})\n"
            f"  requirement: {case.requirement}\n"
            f"  source:      {case.source}\n"
            f"  expected:    {case.expected}\n"
            f"  actual:      {case.actual}"
        )

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> Any:
        return "wsgiprobe", None, f"wsgiprobe: {self.name}"


@pytest.fixture
def wsgiprobe_stack(request: pytest.FixtureRequest) -> Iterator[Callable[..., wsgiprobe.Stack]]:
    """Starts stacks for the test and stops them after it: call it as
    ``wsgiprobe.start_stack`` (server, cmd, proxy, workers, app, app_dir,
    path, ...). With no server or cmd, the one given with
    ``--wsgiprobe-server`` or ``--wsgiprobe-cmd`` (default: wsgiref)."""
    started: List[wsgiprobe.Stack] = []

    def start(server: Optional[str] = None, **options: Any) -> wsgiprobe.Stack:
        if server is None and "cmd" not in options:
            cmd = request.config.getoption("wsgiprobe_cmd")
            if cmd is not None:
                options["cmd"] = cmd
            else:
                server = request.config.getoption("wsgiprobe_server") or "wsgiref"
        options.setdefault("python", request.config.getoption("wsgiprobe_python"))
        stack = wsgiprobe.start_stack(server, **options)
        started.append(stack)
        return stack

    yield start
    for stack in started:
        stack.stop()
