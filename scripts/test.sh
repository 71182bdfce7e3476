#!/usr/bin/env bash
# Installs what the tests need, then runs the whole suite.
#
# - Python servers go into a project-local virtual environment (.venv, git-ignored,
#   reused on the next run).
# - nginx (for the proxied stacks) comes from apt-get when it is missing.
# - Then formatting, lints and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_UPDATED=
apt_install() {
    if [ -z "$APT_UPDATED" ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null; then
    echo "test.sh: $PYTHON not found; install Python 3.8+ or set PYTHON=/path/to/python3" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    echo "test.sh: creating .venv with $PYTHON"
    if ! "$PYTHON" -m venv .venv; then
        # Debian splits venv out of the interpreter package.
        if command -v apt-get >/dev/null; then
            apt_install python3-venv
            rm -rf .venv && "$PYTHON" -m venv .venv
        else
            echo "test.sh: '$PYTHON -m venv' failed; install the venv module" >&2
            exit 2
        fi
    fi
fi
# bjoern builds a C extension against libev.
if [ ! -e /usr/include/ev.h ] && command -v apt-get >/dev/null; then
    echo "test.sh: installing libev-dev with apt-get (bjoern builds against it)"
    apt_install libev-dev
fi
echo "test.sh: installing test servers into .venv (tests/requirements.txt)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    if command -v apt-get >/dev/null; then
        echo "test.sh: installing nginx with apt-get"
        apt_install nginx-light
    else
        echo "test.sh: nginx is missing; install it with your package manager" >&2
        exit 2
    fi
fi
# apt starts a system nginx as a service; the tests run their own.
export WSGIPROBE_NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

export WSGIPROBE_TEST_PYTHON="$PWD/.venv/bin/python"
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
