"""Serve wsgiprobe's probe application with the standard library's
wsgiref.simple_server.

    python wsgiprobe_wsgiref.py HOST PORT [MODULE:CALLABLE]

This is the reference host wsgiprobe can always fall back on: it needs nothing
but CPython 3.8 or later. It serves ``wsgiprobe_app.app`` from the same folder,
the probe callable named as the third argument (``validated_app``), or a
user's application (``app:app``) imported from the working directory.
"""

import importlib
import os
import signal
import socket
import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# The probe lives beside this script; make it importable whatever the
# working directory is.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wsgiprobe_app  # noqa: E402


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per connection. wsgiref's own WSGIServer handles one
    request at a time, so a single slow case (a client that sends its body
    slowly, a read that waits for bytes that never come) would block every
    other case queued behind it."""

    daemon_threads = True
    block_on_close = False


class ThreadingWSGIServer6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class ProbeRequestHandler(WSGIRequestHandler):
    """wsgiref's handler, logging each request to stderr."""

    def log_message(self, format, *args):
        WSGIRequestHandler.log_message(self, format, *args)
        try:
            sys.stderr.flush()
        except Exception:
            pass


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: python %s HOST PORT [wsgiprobe_app:CALLABLE]\n" % os.path.basename(argv[0]))
        return 2
    application = wsgiprobe_app.app
    if len(argv) == 4:
        module, _, name = argv[3].partition(":")
        if module == "wsgiprobe_app":
            if name not in ("app", "validated_app"):
                sys.stderr.write("wsgiprobe wsgiref: serves wsgiprobe_app:app or wsgiprobe_app:validated_app, not %r\n" % (argv[3],))
                return 2
            application = getattr(wsgiprobe_app, name)
        else:
            # The user's own application (bench --app), from the folder the
            # server runs in.
            sys.path.insert(0, os.getcwd())
            application = getattr(importlib.import_module(module), name)
    host = argv[1]
    try:
        port = int(argv[2])
    except ValueError:
        sys.stderr.write("wsgiprobe wsgiref: PORT must be a number, got %r\n" % (argv[2],))
        return 2

    server = make_server(
        host,
        port,
        application,
        server_class=ThreadingWSGIServer6 if ":" in host else ThreadingWSGIServer,
        handler_class=ProbeRequestHandler,
    )
    signal.signal(signal.SIGTERM, _terminate)
    bound_port = server.server_address[1]
    sys.stderr.write("wsgiprobe wsgiref listening on %s:%d\n" % (host, bound_port))
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
