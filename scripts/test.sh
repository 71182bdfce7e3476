#!/usr/bin/env bash
# Installs what the tests need, then runs the whole suite.
#
# - Python servers go into a project-local virtual environment (.venv, git-ignored,
#   reused on the next run).
# - nginx (for the proxied stacks) and Chromium (for the HTML reports) come
#   from apt-get when they are missing.
# - Then formatting, lints and every test: cargo's, then the Python
#   package (python/) built into .venv with maturin and its pytest tests
#   (tests/python/).
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
# The HTML reports are tested in headless Chromium.
if [ -z "${WSGIPROBE_CHROMIUM:-}" ] && ! command -v chromium >/dev/null \
    && ! command -v chromium-browser >/dev/null && ! command -v google-chrome >/dev/null; then
    if command -v apt-get >/dev/null; then
        echo "test.sh: installing chromium with apt-get (the HTML reports are tested in it)"
        apt_install chromium
    else
        echo "test.sh: Chromium is missing; install it with your package manager or set WSGIPROBE_CHROMIUM" >&2
        exit 2
    fi
fi
# apt starts a system nginx as a service; the tests run their own.
export WSGIPROBE_NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

# The --junit tests validate with xmllint against the Jenkins xUnit plugin's
# JUnit schema (junit-10.xsd), which pytest's source distribution ships in
# testing/example_scripts/ (pytest validates its own JUnit output with it).
if ! command -v xmllint >/dev/null; then
    if command -v apt-get >/dev/null; then
        echo "test.sh: installing xmllint (libxml2-utils) with apt-get"
        apt_install libxml2-utils
    else
        echo "test.sh: xmllint is missing; install libxml2 (libxml2-utils)" >&2
        exit 2
    fi
fi
JUNIT_XSD=.venv/share/junit-10.xsd
if [ ! -s "$JUNIT_XSD" ]; then
    echo "test.sh: fetching junit-10.xsd from the pytest 8.3.5 source distribution"
    sdist=$(mktemp -d)
    .venv/bin/python -m pip download --quiet --disable-pip-version-check --no-deps \
        --no-binary :all: pytest==8.3.5 -d "$sdist"
    mkdir -p "$(dirname "$JUNIT_XSD")"
    tar -xzf "$sdist"/pytest-8.3.5.tar.gz -O pytest-8.3.5/testing/example_scripts/junit-10.xsd >"$JUNIT_XSD.part"
    mv "$JUNIT_XSD.part" "$JUNIT_XSD"
    rm -rf "$sdist"
fi
export WSGIPROBE_JUNIT_XSD="$PWD/$JUNIT_XSD"

export WSGIPROBE_TEST_PYTHON="$PWD/.venv/bin/python"
cargo fmt --all --check
cargo clippy --all-targets --quiet -- -D warnings
# The extension crate is a workspace member outside the default one.
cargo clippy -p wsgiprobe-py --quiet -- -D warnings
cargo test --all-targets

# The Python package: a debug build (maturin develop) into .venv, sharing
# target/ with the cargo build above, then the tests of the Python API and
# the pytest plugin against real servers (bounded: a hung server fails the
# run instead of stalling it).
echo "test.sh: building the Python package into .venv (maturin develop)"
VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop --quiet
timeout 900 .venv/bin/python -m pytest -q -p no:cacheprovider tests/python
