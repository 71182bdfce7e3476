"""A small Flask application, the workload of the classic-stack report.

    wsgiprobe bench --app app:app --app-dir examples/flaskapp --path /hello --server gunicorn
    wsgiprobe bench --app app:app --app-dir examples/flaskapp --path /io --server flask-dev

``/hello`` answers at once; ``/io`` waits 10 ms as if on a database or
another service (a sleep: the worker is blocked, the CPU is free), then
answers. Both bodies are fixed, so ``--expect-body`` can check them.
"""

import time

from flask import Flask

app = Flask(__name__)

# How long /io waits, in seconds.
IO_WAIT = 0.010


@app.get("/hello")
def hello():
    return "Hello, world!\n", 200, {"Content-Type": "text/plain"}


@app.get("/io")
def io():
    time.sleep(IO_WAIT)
    return "waited 10 ms\n", 200, {"Content-Type": "text/plain"}
