#!/usr/bin/env bash
# Regenerates the published conformance matrix, reports/conformance-matrix.md,
# from the servers pinned in tests/requirements.txt and the machine's nginx;
# the full JSON (every request and response head) goes to
# target/conformance-matrix.json. Run scripts/test.sh once first: it makes .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
export WSGIPROBE_PYTHON="${WSGIPROBE_PYTHON:-$PWD/.venv/bin/python}"
cargo build --release --quiet
status=0
target/release/wsgiprobe check --no-color \
    --stack 'wsgiref' \
    --stack 'gunicorn' \
    --stack 'gunicorn --worker-class gthread --threads 4' \
    --stack 'uwsgi' \
    --stack 'waitress' \
    --stack 'granian' \
    --stack 'cheroot' \
    --stack 'bjoern' \
    --stack 'gunicorn --proxy nginx' \
    --stack 'gunicorn --worker-class gthread --threads 4 --proxy nginx-unix --proxy-keepalive' \
    --stack 'uwsgi --proxy nginx-uwsgi' \
    --stack 'gunicorn --proxy nginx-tls' \
    --stack 'waitress --proxy nginx-tls --trust-proxy' \
    --markdown reports/conformance-matrix.md \
    --json target/conformance-matrix.json "$@" || status=$?
# 1 means some stack failed a case, which is what the matrix is for.
[ "$status" -le 1 ] || exit "$status"
echo "wrote reports/conformance-matrix.md and target/conformance-matrix.json"
