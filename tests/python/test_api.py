"""wsgiprobe.check/bench/suite/start_stack against real servers."""

import json
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import wsgiprobe
from conftest import ROOT, broken_cmd, children_of

WSGIPROBE = str(Path(sys.executable).with_name("wsgiprobe"))


def test_check_returns_every_selected_case_typed():
    report = wsgiprobe.check(server="gunicorn", only=["environ.request-method"])
    assert isinstance(report, wsgiprobe.CheckReport)
    assert report.stack["gateway"] == "gunicorn"
    ids = [c.id for c in report.cases]
    assert ids and all(i.startswith("environ.request-method") for i in ids)
    assert report.summary["total"] == len(ids)
    for c in report.cases:
        assert c.level in ("must", "should", "may")
        assert c.requirement and c.expected and c.actual
    # The same document the command line writes with --json.
    assert json.loads(report.to_json()) == report.data
    assert report.ok == (report.summary["fail"] == 0 and report.summary["error"] == 0)


def test_a_broken_rule_is_a_failing_case():
    report = wsgiprobe.check(
        cmd=broken_cmd("method-lowercase"), only=["environ.request-method.get"]
    )
    case = report.case("environ.request-method.get")
    assert case.outcome == "fail", case
    assert case.level == "must"
    assert "get" in case.actual, case.actual
    assert [c.id for c in report.failed()] == ["environ.request-method.get"]
    assert report.exit_code == 1
    # The same gateway, not broken, passes it.
    fixed = wsgiprobe.check(cmd=broken_cmd(), only=["environ.request-method.get"])
    assert fixed.case("environ.request-method.get").outcome == "pass"
    assert fixed.exit_code == 0


def test_a_matrix_gives_a_report_per_stack_and_the_start_failures():
    matrix = wsgiprobe.check(server=["gunicorn", "nosuch"], only=["environ.request-method.get"])
    assert isinstance(matrix, wsgiprobe.MatrixReport)
    labels = [r.label for r in matrix.runs]
    assert labels == ["gunicorn", "nosuch"], labels
    assert isinstance(matrix.runs[0], wsgiprobe.CheckReport)
    assert isinstance(matrix.runs[1], wsgiprobe.StartFailure)
    assert "unknown server" in matrix.runs[1].error


@pytest.mark.parametrize(
    "options, error, args",
    [
        ({"server": "nosuch"}, wsgiprobe.ServerError, ["check", "--server", "nosuch"]),
        ({"server": "gunicorn", "only": ["nosuch."]}, wsgiprobe.WsgiprobeError, ["check", "--server", "gunicorn", "--only", "nosuch."]),
        ({"server": "gunicorn", "jobs": 0}, wsgiprobe.UsageError, ["check", "--server", "gunicorn", "--jobs", "0"]),
    ],
)
def test_errors_carry_the_command_lines_message(options, error, args):
    with pytest.raises(error) as raised:
        wsgiprobe.check(**options)
    cli = subprocess.run([WSGIPROBE] + args, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2
    message = str(raised.value)
    assert message.splitlines()[0] in cli.stderr, (message, cli.stderr)
    assert message.splitlines()[-1].strip() in cli.stderr, (message, cli.stderr)


def test_bench_gives_throughput_percentiles_and_the_histogram():
    result = wsgiprobe.bench(server="gunicorn", duration="1s", warmup="200ms", connections=2)
    assert isinstance(result, wsgiprobe.BenchResult)
    assert result.valid, result.errors
    assert result.throughput > 0 and result.requests > 0
    p = result.percentiles
    assert 0 < p["p50"] <= p["p99"] <= p["max"]
    steps = result.histogram
    assert steps and steps[0][0] <= steps[-1][0]
    latencies = [latency for _, latency, _ in steps]
    assert latencies == sorted(latencies) and steps[-1][0] == 100.0
    assert result.hdr_histogram["corrected"]
    assert result.exit_code == 0
    # A threshold it cannot meet: the command line's exit code says so.
    slow = wsgiprobe.bench(
        server="gunicorn", duration="500ms", warmup="0s", connections=1, fail_if="p50<1us"
    )
    assert slow.exit_code == 1
    assert slow.thresholds and not all(t["held"] for t in slow.thresholds)


def test_the_gil_is_released_while_a_run_works():
    ticks = 0
    stop = threading.Event()

    def count():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.01)

    counter = threading.Thread(target=count)
    counter.start()
    started = time.monotonic()
    try:
        wsgiprobe.bench(server="gunicorn", duration="1s", warmup="0s", connections=1)
    finally:
        stop.set()
        counter.join()
    elapsed = time.monotonic() - started
    # The counter ran all along (about one tick per 10 ms of the run).
    assert ticks > elapsed * 100 / 4, (ticks, elapsed)


def test_a_stack_serves_the_users_app_and_stops(hello_app):
    with wsgiprobe.start_stack("gunicorn", app="app:app", app_dir=hello_app) as stack:
        assert stack.alive()
        with urllib.request.urlopen(stack.url + "ping", timeout=10) as r:
            assert r.read() == b"hello from app /ping"
        result = stack.bench(duration="500ms", warmup="0s", connections=1)
        assert result.ok > 0 and result.ok == result.requests
    assert not stack.alive()
    with pytest.raises(OSError):
        urllib.request.urlopen(stack.url, timeout=2)


def test_a_stack_behind_nginx():
    stack = wsgiprobe.start_stack("gunicorn", proxy="nginx")
    try:
        assert "nginx" in stack.label
        report = stack.check(only=["environ.request-method.get"])
        assert report.case("environ.request-method.get").outcome == "pass"
    finally:
        stack.stop()


def test_suite_writes_its_report(tmp_path):
    suite = tmp_path / "tiny.toml"
    suite.write_text(
        textwrap.dedent(
            """
            title = "tiny"
            stacks = ["gunicorn"]
            [[workload]]
            name = "hello"
            args = "--workload hello"
            [load]
            connections = [1]
            duration = "500ms"
            warmup = "0s"
            repeats = 1
            """
        )
    )
    out = tmp_path / "out"
    report = wsgiprobe.suite(suite, out)
    assert report.title == "tiny"
    assert report.results, report.data
    assert (out / "report.json").exists() and (out / "report.html").exists()


def test_the_command_is_the_full_cli():
    version = subprocess.run([WSGIPROBE, "--version"], capture_output=True, text=True, timeout=30)
    assert version.stdout.strip() == f"wsgiprobe {wsgiprobe.__version__}"
    run = subprocess.run(
        [WSGIPROBE, "check", "--cmd", broken_cmd("method-lowercase"),
         "--only", "environ.request-method.get", "--json", "-"],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert doc["cases"][0]["outcome"] == "fail"


def test_the_command_stops_its_servers_on_ctrl_c_and_exits_130():
    child = subprocess.Popen(
        [WSGIPROBE, "bench", "--server", "gunicorn", "-d", "60s", "--warmup", "0s", "-c", "1",
         "--python", sys.executable, "--json", "-"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # Once the load runs (the line comes when the server is ready).
        seen = []
        while True:
            line = child.stderr.readline()
            seen.append(line)
            assert line, "".join(seen)
            if "load on" in line:
                break
        time.sleep(0.5)
        child.send_signal(2)
        out, err = child.communicate(timeout=30)
        err = "".join(seen) + err
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 130, err
    assert "interrupted by SIGINT" in err
    report = json.loads(out)
    assert report["interrupted"] == "SIGINT"
    host, port = report["stack"]["target"].rsplit(":", 1)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{host}:{port}/", timeout=2)


CTRL_C = """
import os, sys, time
import wsgiprobe
sys.path.insert(0, {tests!r})
from conftest import children_of
print("ready", flush=True)
try:
    wsgiprobe.bench(server="gunicorn", duration="60s", warmup="0s", connections=1)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted children=%d" % len(children_of(os.getpid())), flush=True)
try:
    time.sleep(30)
    print("slept", flush=True)
except KeyboardInterrupt:
    print("second interrupt", flush=True)
"""


def test_ctrl_c_stops_the_servers_then_raises_keyboard_interrupt():
    script = CTRL_C.format(tests=str(ROOT / "tests" / "python"))
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        # Until the server is up (its process is a child of the script).
        deadline = time.monotonic() + 30
        while not children_of(child.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert children_of(child.pid), "the server never started"
        time.sleep(1)
        child.send_signal(2)
        line = child.stdout.readline().strip()
        assert line == "interrupted children=0", (line, child.stderr.read())
        # Python's own SIGINT handling is still in place.
        time.sleep(0.5)
        child.send_signal(2)
        assert child.stdout.readline().strip() == "second interrupt"
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
