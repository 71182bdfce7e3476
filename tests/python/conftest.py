"""Shared helpers for the Python package's tests: they run real servers
(gunicorn from this interpreter's environment, the repository's broken
gateway) through the installed package."""

import os
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
BROKEN_GATEWAY = ROOT / "tests" / "gateways" / "broken_gateway.py"


def broken_cmd(*rules: str) -> str:
    """A --cmd template for the broken gateway, breaking these rules."""
    breaks = "".join(f" --break {r}" for r in rules)
    return f"{{python}} {BROKEN_GATEWAY} --host {{host}} --port {{port}}{breaks} {{app}}"


@pytest.fixture
def hello_app(tmp_path: Path) -> Path:
    """A folder with app.py: a WSGI app that answers 'hello from app'."""
    (tmp_path / "app.py").write_text(
        "def app(environ, start_response):\n"
        "    body = b'hello from app ' + environ['PATH_INFO'].encode('latin-1')\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain'),\n"
        "                              ('Content-Length', str(len(body)))])\n"
        "    return [body]\n"
    )
    return tmp_path


def children_of(pid: int):
    """The live processes whose parent is pid (zombies left out)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def pytest_configure(config):
    # The servers run with this interpreter (the API's default); nginx as
    # scripts/test.sh found it.
    os.environ.setdefault("WSGIPROBE_NGINX", "nginx")
    assert sys.executable
