"""The pytest plugin, run by pytester in this process against real servers."""

import pytest

import wsgiprobe
from wsgiprobe import _wsgiprobe
from conftest import broken_cmd

GET = "environ.request-method.get"
EMPTY_QUERY = "environ.query-string.present-when-empty"


def test_every_case_is_an_item_and_a_fail_fails_with_the_rule(pytester):
    ids = _wsgiprobe.case_ids(["environ.request-method"])
    cmd = broken_cmd("method-lowercase")
    failing = len(wsgiprobe.check(cmd=cmd, only=["environ.request-method"]).failed())
    assert failing >= 1
    result = pytester.runpytest("--wsgiprobe-cmd", cmd, "--wsgiprobe-only", "environ.request-method", "-rf")
    result.assert_outcomes(failed=failing, passed=len(ids) - failing)
    result.stdout.fnmatch_lines([
        f"*{GET} (MUST, fail)*",
        "*requirement: The HTTP request method*",
        "*expected: *",
        "*actual: *get*",
        f"FAILED wsgiprobe::{GET}*",
    ])


def test_k_selects_among_the_cases(pytester):
    result = pytester.runpytest(
        "--wsgiprobe-cmd", broken_cmd("method-lowercase"),
        "--wsgiprobe-only", "environ.request-method", "-k", "get",
    )
    result.assert_outcomes(failed=1, deselected=len(_wsgiprobe.case_ids(["environ.request-method"])) - 1)


def test_a_warn_passes_with_a_warning_and_fails_under_strict(pytester):
    args = ["--wsgiprobe-cmd", broken_cmd("query-missing"), "--wsgiprobe-only", EMPTY_QUERY]
    pytester.runpytest(*args).assert_outcomes(passed=1, warnings=1)
    pytester.runpytest(*args, "--wsgiprobe-strict").assert_outcomes(failed=1)


def test_what_the_expectations_expect_is_xfail(pytester):
    cmd = broken_cmd("method-lowercase", "query-missing")
    expect = pytester.path / "expect.toml"
    wsgiprobe.check(cmd=cmd, only=[GET, EMPTY_QUERY], update_expectations=str(expect))
    assert '"fail"' in expect.read_text()
    result = pytester.runpytest(
        "--wsgiprobe-cmd", cmd, "--wsgiprobe-only", GET, "--wsgiprobe-only", EMPTY_QUERY,
        "--wsgiprobe-expectations", str(expect), "--wsgiprobe-strict",
    )
    result.assert_outcomes(xfailed=2)
    # Fixed since: the expected failure passes.
    result = pytester.runpytest(
        "--wsgiprobe-cmd", broken_cmd(), "--wsgiprobe-only", GET,
        "--wsgiprobe-expectations", str(expect),
    )
    result.assert_outcomes(passed=1)


def test_a_skip_is_skipped(pytester):
    case = "input.keep-alive.body-boundary"
    outcome = wsgiprobe.check(server="gunicorn", only=[case]).case(case).outcome
    assert outcome == "skip"  # gunicorn answers a pipelined body with a close
    # -p wsgiprobe names the plugin the entry point already loaded.
    result = pytester.runpytest("-p", "wsgiprobe", "--wsgiprobe-server", "gunicorn", "--wsgiprobe-only", case, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*not applicable:*"])


def test_a_stack_that_does_not_start_errors_every_item(pytester):
    result = pytester.runpytest("--wsgiprobe-server", "nosuch", "--wsgiprobe-only", "environ.request-method")
    result.assert_outcomes(failed=len(_wsgiprobe.case_ids(["environ.request-method"])))
    result.stdout.fnmatch_lines(["*could not be checked: could not start nosuch*"])


def test_without_a_target_the_plugin_adds_nothing(pytester):
    pytester.makepyfile("def test_one():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_stack_fixture_hosts_the_users_app(pytester, hello_app):
    pytester.makepyfile(
        f"""
        import urllib.request

        def test_behind_nginx(wsgiprobe_stack):
            stack = wsgiprobe_stack("gunicorn", proxy="nginx", app="app:app", app_dir={str(hello_app)!r})
            with urllib.request.urlopen(stack.url + "x", timeout=10) as r:
                assert r.read() == b"hello from app /x"
            result = stack.bench(duration="500ms", warmup="0s", connections=1, fail_if="p99<5s")
            assert result.exit_code == 0 and result.ok == result.requests > 0

        def test_defaults_to_the_command_line_server(wsgiprobe_stack):
            stack = wsgiprobe_stack()
            assert stack.label == "gunicorn"
            assert stack.check(only=["{GET}"]).case("{GET}").outcome == "pass"
        """
    )
    # The fixture's default is --wsgiprobe-server; --wsgiprobe-only with a
    # prefix of no collected test keeps the case items to the one given.
    result = pytester.runpytest("--wsgiprobe-server", "gunicorn", "--wsgiprobe-only", GET, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
