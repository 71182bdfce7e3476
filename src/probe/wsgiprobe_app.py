"""wsgiprobe's probe: the WSGI application every gateway under test loads.

wsgiprobe checks WSGI gateways (servers) against PEP 3333 by sending HTTP
requests through them to this application (``wsgiprobe_app:app``) and reading
back what the application saw. The contract is docs/probe-protocol.md:

* ``X-Wsgiprobe-Scenario: NAME`` picks what the probe does (``environ`` when
  absent); ``X-Wsgiprobe-Args: k=v,k=v`` gives it arguments;
  ``X-Wsgiprobe-Token: TOKEN`` tags side-channel events.
* Most scenarios answer with an observation: a JSON report of how the gateway
  called the application, what ``start_response`` returned and every environ
  key with its Python type and value.
* Events that happen after the response has gone out (``close()`` called,
  an exception during iteration) are appended to ``EVENTS_DIR/TOKEN.jsonl``
  and read back with the ``events`` scenario.

Standard library only; runs on CPython 3.8 and later. Nothing taken from a
request is ever evaluated as code: scenario and mode names are looked up in
fixed tables and numbers are parsed with ``int()``.
"""

import json
import math
import os
import platform
import re
import sys
import threading
import time
import traceback

PROTOCOL = 1

CONTROL_PREFIX = "HTTP_X_WSGIPROBE_"
SCENARIO_KEY = CONTROL_PREFIX + "SCENARIO"
TOKEN_KEY = CONTROL_PREFIX + "TOKEN"
ARGS_KEY = CONTROL_PREFIX + "ARGS"

TOKEN_RE = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
SURROGATE_RE = re.compile("[\ud800-\udfff]")

METHOD_NAMES = (
    "read",
    "readline",
    "readlines",
    "__iter__",
    "write",
    "writelines",
    "flush",
    "close",
    "fileno",
)

DEFAULT_N = 5
DEFAULT_CHUNKS = 3
MAX_CHUNKS = 10000
MAX_CALLS = 10000
MAX_REPR = 10000

# The observation's "start_response" member is rendered into a fixed number of
# bytes, so the Content-Length given to start_response can be known before
# start_response has been called (and its result is part of the body).
START_RESPONSE_WIDTH = 512

EVENTS_ENV = "WSGIPROBE_EVENTS_DIR"
EVENTS_DEFAULT_NAME = ".wsgiprobe-events"


# ---------------------------------------------------------------------------
# Small helpers that never raise


def _exc_text(exc):
    """``"ExceptionType: message"`` for an exception, never raising."""
    try:
        name = type(exc).__name__
    except Exception:
        name = "Exception"
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable>"
    return "%s: %s" % (name, message)


def _safe_repr(value):
    try:
        text = repr(value)
    except Exception as exc:
        try:
            text = "<unrepresentable %s: %s>" % (type(value).__name__, _exc_text(exc))
        except Exception:
            text = "<unrepresentable>"
    if not isinstance(text, str):
        text = "<repr did not return str>"
    if len(text) > MAX_REPR:
        text = text[:MAX_REPR] + "...<truncated>"
    return text


def _has_surrogate(text):
    return SURROGATE_RE.search(text) is not None


def _is_latin1(text):
    try:
        str.encode(text, "latin-1")
        return True
    except UnicodeEncodeError:
        return False


def _is_native_scalar(value):
    """A value JSON carries as itself (strings with lone surrogates excluded,
    since they cannot be represented in interchangeable JSON)."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return not _has_surrogate(value)
    return False


def _methods(value):
    found = []
    for name in METHOD_NAMES:
        try:
            if hasattr(value, name):
                found.append(name)
        except Exception:
            pass
    return found


def _clean(obj):
    """Make a structure safe for strict JSON parsers: no lone surrogates in
    strings or keys, no NaN or infinities."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if not isinstance(key, str):
                key = _safe_repr(key)
            out[_clean(key)] = _clean(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [_clean(item) for item in obj]
    if isinstance(obj, str):
        if _has_surrogate(obj):
            return str.encode(obj, "utf-8", "backslashreplace").decode("utf-8")
        return obj
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    return obj


def _dumps(obj):
    return json.dumps(_clean(obj), ensure_ascii=True, allow_nan=False, default=_safe_repr)


# ---------------------------------------------------------------------------
# Describing environ values


def describe_value(value):
    """The report of one environ value (see "The observation" in the protocol)."""
    try:
        type_name = type(value).__name__
    except Exception:
        type_name = "?"
    try:
        out = {"type": type_name}
        if _is_native_scalar(value):
            out["value"] = value
        elif isinstance(value, (tuple, list)) and all(_is_native_scalar(item) for item in value):
            out["value"] = list(value)
        else:
            out["value"] = _safe_repr(value)
            out["repr"] = True
            if not isinstance(value, str):
                out["methods"] = _methods(value)
        if isinstance(value, str):
            out["latin1"] = _is_latin1(value)
        return out
    except Exception as exc:
        return {"type": type_name, "error": _exc_text(exc)}


def _normal_key(key):
    return key.upper().replace("-", "_")


def _is_control_key(key):
    """The probe's own control keys. A gateway that mangles header names
    (keeping dashes, changing case) still has them recognised and removed."""
    try:
        return isinstance(key, str) and _normal_key(key).startswith(CONTROL_PREFIX)
    except Exception:
        return False


def _copy_environ(environ):
    """A plain dict copy of environ (the gateway's object is never mutated),
    and an error text when environ could not be read as a mapping."""
    try:
        return dict(list(environ.items())), None
    except Exception as exc:
        try:
            return dict(environ), None
        except Exception:
            return {}, _exc_text(exc)


def report_environ(env):
    report = {}
    for key, value in list(env.items()):
        if _is_control_key(key):
            continue
        name = key if isinstance(key, str) else _safe_repr(key)
        report[name] = describe_value(value)
    return report


def _control(env, key):
    """The value of one control key, as a stripped str, or None."""
    value = env.get(key)
    if value is None:
        for other, other_value in env.items():
            try:
                if isinstance(other, str) and _normal_key(other) == key:
                    value = other_value
                    break
            except Exception:
                continue
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    if not isinstance(value, str):
        return None
    return value.strip()


def parse_args(text):
    """``k=v,k=v`` into a dict of strings; pieces without ``=`` or with an
    empty name are ignored."""
    args = {}
    if not text:
        return args
    for piece in text.split(","):
        if "=" not in piece:
            continue
        name, value = piece.split("=", 1)
        name = name.strip()
        if not name:
            continue
        args[name] = value.strip()
    return args


def _int_arg(args, name, default):
    try:
        return int(args[name])
    except (KeyError, ValueError, TypeError):
        return default


def valid_token(token):
    if isinstance(token, str) and TOKEN_RE.match(token):
        return token
    return None


# ---------------------------------------------------------------------------
# The side channel


def events_dir():
    configured = os.environ.get(EVENTS_ENV)
    if configured:
        return configured
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), EVENTS_DEFAULT_NAME)


def record_event(token, name, detail=""):
    """Append one event line to EVENTS_DIR/TOKEN.jsonl; never raises."""
    token = valid_token(token)
    if token is None:
        return
    try:
        event = {"name": name, "pid": os.getpid(), "time": time.time(), "detail": detail}
        line = _dumps(event) + "\n"
        directory = events_dir()
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, token + ".jsonl"), "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
    except Exception as exc:
        try:
            sys.stderr.write("wsgiprobe: could not record event %s: %s\n" % (name, _exc_text(exc)))
            sys.stderr.flush()
        except Exception:
            pass


def read_events(token):
    token = valid_token(token)
    if token is None:
        return []
    path = os.path.join(events_dir(), token + ".jsonl")
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return []
    events = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line still being written by another process
        if isinstance(event, dict):
            events.append(event)
    return events


# ---------------------------------------------------------------------------
# Responses


def _call_start_response(start_response, status, headers):
    """Call start_response and describe what happened."""
    info = {"type": None, "callable": None, "exception": None}
    result = None
    try:
        result = start_response(status, headers)
    except Exception as exc:
        info["exception"] = _exc_text(exc)
        return info, None
    try:
        info["type"] = type(result).__name__
    except Exception:
        info["type"] = "?"
    try:
        info["callable"] = bool(callable(result))
    except Exception:
        info["callable"] = False
    return info, result


def _shorten(text, budget):
    """The longest prefix of ``text`` whose JSON form (quotes included) takes
    at most ``budget`` characters, followed by ``...``."""
    used = 2
    end = 0
    for char in text:
        size = len(_dumps(char)) - 2
        if used + size > budget:
            break
        used += size
        end += 1
    return text[:end] + "..."


def _fixed_width_json(info, width):
    """``info`` as a JSON object of exactly ``width`` ASCII characters
    (long strings shortened, spaces before the closing brace)."""
    info = dict(info)
    for _ in range(64):
        text = _dumps(info)
        if len(text) <= width:
            return text[:-1] + " " * (width - len(text)) + "}"
        over = len(text) - width
        longest = None
        for key, value in info.items():
            if isinstance(value, str) and (longest is None or len(value) > len(info[longest])):
                longest = key
        if longest is None:
            break
        info[longest] = _shorten(info[longest], len(_dumps(info[longest])) - over - 3)
    text = '{"type": null, "callable": null, "exception": "unreportable"}'
    return text[:-1] + " " * (width - len(text)) + "}"


def _text_headers(length, content_type="text/plain"):
    return [
        ("Content-Type", content_type),
        ("Content-Length", str(length)),
        ("X-Wsgiprobe-Probe", "1"),
    ]


def respond_text(start_response, status, text):
    body = text.encode("ascii", "backslashreplace")
    start_response(status, _text_headers(len(body)))
    return [body]


def respond_observation(start_response, obs):
    """Answer 200 with the observation; its "start_response" member reports
    the start_response call made for this very answer."""
    placeholder = "\x00wsgiprobe-start-response-%s\x00" % os.urandom(8).hex()
    obs["start_response"] = placeholder
    text = _dumps(obs)
    head, tail = text.split(json.dumps(placeholder), 1)
    length = len(head) + START_RESPONSE_WIDTH + len(tail)
    info, _ = _call_start_response(
        start_response, "200 OK", _text_headers(length, "application/json")
    )
    body = head + _fixed_width_json(info, START_RESPONSE_WIDTH) + tail
    return [body.encode("ascii")]


def respond_json(start_response, obj):
    body = _dumps(obj).encode("ascii")
    start_response("200 OK", _text_headers(len(body), "application/json"))
    return [body]


# ---------------------------------------------------------------------------
# Reading wsgi.input


def _as_text(result):
    """Data returned by a read call, as text with one code point a byte."""
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result).decode("latin-1")
    if isinstance(result, str):
        return result
    return ""


def _len_of(result):
    try:
        return len(result)
    except Exception:
        return None


def read_input(env, args):
    mode = args.get("mode", "all")
    n = _int_arg(args, "n", DEFAULT_N)
    record = {"mode": mode, "calls": [], "data": "", "total": 0, "error": None}
    pieces = []

    def call(text, func, *call_args):
        entry = {"call": text, "len": None, "type": None, "elapsed_ms": None}
        record["calls"].append(entry)
        started = time.perf_counter()
        try:
            result = func(*call_args)
        except BaseException as exc:
            entry["elapsed_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
            if not isinstance(exc, StopIteration):
                entry["error"] = _exc_text(exc)
            raise
        entry["elapsed_ms"] = round((time.perf_counter() - started) * 1000.0, 3)
        entry["type"] = type(result).__name__
        if isinstance(result, list):
            entry["items"] = len(result)
            total = 0
            for item in result:
                pieces.append(_as_text(item))
                size = _len_of(item)
                total += size or 0
            entry["len"] = total
        else:
            pieces.append(_as_text(result))
            entry["len"] = _len_of(result)
        return result

    # With bounded=1 the loops stop once CONTENT_LENGTH bytes have arrived,
    # as PEP 3333 tells applications to do, so a case can check a method's
    # results without depending on the end-of-file simulation (a should
    # that has cases of its own).
    limit = None
    if args.get("bounded") == "1":
        try:
            limit = int(env.get("CONTENT_LENGTH") or "")
        except (ValueError, TypeError):
            limit = None

    def consumed():
        return sum(len(p) for p in pieces)

    def done():
        return limit is not None and consumed() >= limit

    try:
        if "wsgi.input" not in env:
            raise KeyError("wsgi.input")
        stream = env["wsgi.input"]
        if mode == "all":
            call("read()", stream.read)
        elif mode == "size":
            for _ in range(MAX_CALLS):
                if done():
                    break
                # A bounded reader never asks for more than is left, as a
                # careful application does: read(n) on a raw socket file
                # blocks until n bytes arrive.
                size = n if limit is None else max(0, min(n, limit - consumed()))
                if not call("read(%d)" % size, stream.read, size):
                    break
        elif mode == "zero":
            call("read(0)", stream.read, 0)
            call("read()", stream.read)
        elif mode == "readline":
            for _ in range(MAX_CALLS):
                if done() or not call("readline()", stream.readline):
                    break
        elif mode == "readline-size":
            for _ in range(MAX_CALLS):
                if done() or not call("readline(%d)" % n, stream.readline, n):
                    break
        elif mode == "readlines":
            call("readlines()", stream.readlines)
        elif mode == "readlines-hint":
            call("readlines(%d)" % n, stream.readlines, n)
        elif mode == "iter":
            iterator = iter(stream)
            for _ in range(MAX_CALLS):
                if done():
                    break
                try:
                    call("next()", next, iterator)
                except StopIteration:
                    entry = record["calls"][-1]
                    entry["type"] = "StopIteration"
                    entry["len"] = 0
                    break
        elif mode == "cl":
            try:
                length = int(env.get("CONTENT_LENGTH") or 0)
            except (ValueError, TypeError):
                length = 0
            length = max(length, 0)
            call("read(%d)" % length, stream.read, length)
            call("read(%d)" % n, stream.read, n)
        else:
            raise ValueError("unknown read mode %r" % (mode,))
    except Exception as exc:
        record["error"] = _exc_text(exc)
    record["data"] = "".join(pieces)
    record["total"] = len(record["data"])
    return record


# ---------------------------------------------------------------------------
# Iterables whose close() is observed


def _blocks(count):
    return [("chunk-%d\n" % (i + 1)).encode("ascii") for i in range(count)]


class ClosingBody(object):
    """A response iterable (deliberately not a list) that records when the
    gateway starts iterating it and when it calls close()."""

    def __init__(self, blocks, token, raise_after_first=False):
        self.blocks = blocks
        self.token = token
        self.raise_after_first = raise_after_first
        self.consumed = 0

    def __iter__(self):
        record_event(self.token, "iter-start", "%d blocks" % len(self.blocks))
        for block in self.blocks:
            self.consumed += 1
            yield block
            if self.raise_after_first:
                break
        if self.raise_after_first:
            record_event(self.token, "iter-raise", "after %d block(s)" % self.consumed)
            raise RuntimeError(
                "wsgiprobe close-raise: deliberate error after %d block(s)" % self.consumed
            )

    def close(self):
        record_event(
            self.token, "close", "consumed %d of %d blocks" % (self.consumed, len(self.blocks))
        )


# ---------------------------------------------------------------------------
# Scenarios


class Context(object):
    def __init__(self, environ, start_response, args, kwargs):
        self.environ = environ
        self.start_response = start_response
        self.env, self.environ_error = _copy_environ(environ)
        self.call_positional = len(args)
        self.call_keywords = sorted(str(k) for k in kwargs)
        self.scenario = _control(self.env, SCENARIO_KEY) or "environ"
        self.token = valid_token(_control(self.env, TOKEN_KEY))
        self.args = parse_args(_control(self.env, ARGS_KEY))

    def observation(self):
        try:
            environ_type = type(self.environ).__name__
        except Exception:
            environ_type = "?"
        obs = {
            "probe": "wsgiprobe",
            "protocol": PROTOCOL,
            "scenario": self.scenario,
            "args": dict(self.args),
            "pid": os.getpid(),
            "thread": threading.get_ident(),
            "python": platform.python_version(),
            "call": {
                "positional": self.call_positional,
                "keywords": list(self.call_keywords),
                "environ_type": environ_type,
                "environ_is_dict": type(self.environ) is dict,
            },
            "start_response": None,
            "environ": report_environ(self.env),
        }
        if self.environ_error is not None:
            obs["environ_error"] = self.environ_error
        return obs


def scenario_ping(ctx):
    return respond_text(ctx.start_response, "200 OK", "wsgiprobe ok")


def scenario_environ(ctx):
    return respond_observation(ctx.start_response, ctx.observation())


def scenario_read(ctx):
    record = read_input(ctx.env, ctx.args)
    obs = ctx.observation()
    obs["input"] = record
    return respond_observation(ctx.start_response, obs)


def _closing(ctx, raise_after_first):
    count = min(max(_int_arg(ctx.args, "chunks", DEFAULT_CHUNKS), 0), MAX_CHUNKS)
    blocks = _blocks(count)
    length = sum(len(block) for block in blocks)
    ctx.start_response("200 OK", _text_headers(length))
    return ClosingBody(blocks, ctx.token, raise_after_first)


def scenario_close(ctx):
    return _closing(ctx, False)


def scenario_close_raise(ctx):
    return _closing(ctx, True)


def scenario_write(ctx):
    written = b"write-1\n"
    returned = b"iter-1\n"
    write = ctx.start_response("200 OK", _text_headers(len(written) + len(returned)))
    # Should write() be unusable the same number of bytes stands in its
    # place, so the Content-Length given above stays true.
    if not callable(write):
        record_event(ctx.token, "write-missing", "start_response returned %s" % type(write).__name__)
        return [b"nowrite\n", returned]
    try:
        write(written)
    except Exception as exc:
        record_event(ctx.token, "write-error", _exc_text(exc))
        return [b"writerr\n", returned]
    return [returned]


def scenario_events(ctx):
    of = ctx.args.get("of")
    return respond_json(ctx.start_response, {"token": of, "events": read_events(of)})


SCENARIOS = {
    "ping": scenario_ping,
    "environ": scenario_environ,
    "read": scenario_read,
    "close": scenario_close,
    "close-raise": scenario_close_raise,
    "write": scenario_write,
    "events": scenario_events,
}


# ---------------------------------------------------------------------------
# The WSGI callable


class _TrackedStartResponse(object):
    """Calls the gateway's start_response, noting that the response has
    started, and returns exactly what the gateway returned."""

    def __init__(self, start_response, state):
        self._start_response = start_response
        self._state = state

    def __call__(self, *args, **kwargs):
        result = self._start_response(*args, **kwargs)
        self._state["started"] = True
        return result


def _unpack_call(args, kwargs):
    environ = args[0] if len(args) >= 1 else kwargs.get("environ")
    start_response = args[1] if len(args) >= 2 else kwargs.get("start_response")
    if environ is None or start_response is None:
        raise TypeError(
            "app() needs environ and start_response; got %d positional argument(s) "
            "and keywords %r" % (len(args), sorted(str(k) for k in kwargs))
        )
    return environ, start_response


# ---------------------------------------------------------------------------
# Bench workloads
#
# `wsgiprobe bench` drives load at paths under /_bench/ (docs/bench.md). These
# skip the scenario machinery entirely, so the probe adds as little as it can
# to what is measured. Numbers in the path are parsed with int() and bounded.

BENCH_PREFIX = "/_bench/"
BENCH_PATTERN = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-\n"
BENCH_HELLO = b"Hello, world!\n"
BENCH_OK = b"ok\n"
BENCH_MAX_SIZE = 64 * 1024 * 1024
BENCH_MAX_CHUNKS = 100000
BENCH_MAX_MS = 60000
_bench_bodies = {}


def _bench_body(size):
    body = _bench_bodies.get(size)
    if body is None:
        reps = size // len(BENCH_PATTERN) + 1
        body = (BENCH_PATTERN * reps)[:size]
        if len(_bench_bodies) < 64:
            _bench_bodies[size] = body
    return body


def _bench_int(parts, index, limit):
    value = int(parts[index])
    if value < 0 or value > limit:
        raise ValueError("out of range")
    return value


def _bench_fixed(start_response, body):
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]


def bench_app(environ, start_response):
    """hello, payload/SIZE, stream/CHUNKS/SIZE, echo, sleep/MS, cpu/MS."""
    parts = environ["PATH_INFO"][len(BENCH_PREFIX):].split("/")
    name = parts[0]
    try:
        if name == "hello":
            return _bench_fixed(start_response, BENCH_HELLO)
        if name == "payload":
            size = _bench_int(parts, 1, BENCH_MAX_SIZE)
            return _bench_fixed(start_response, _bench_body(size))
        if name == "stream":
            chunks = _bench_int(parts, 1, BENCH_MAX_CHUNKS)
            chunk = _bench_body(_bench_int(parts, 2, BENCH_MAX_SIZE))
            start_response("200 OK", [("Content-Type", "text/plain")])
            return (chunk for _ in range(chunks))
        if name == "echo":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            if length < 0 or length > BENCH_MAX_SIZE:
                raise ValueError("bad length")
            body = environ["wsgi.input"].read(length) if length else b""
            return _bench_fixed(start_response, body)
        if name == "sleep":
            time.sleep(_bench_int(parts, 1, BENCH_MAX_MS) / 1000.0)
            return _bench_fixed(start_response, BENCH_OK)
        if name == "cpu":
            until = time.perf_counter() + _bench_int(parts, 1, BENCH_MAX_MS) / 1000.0
            spins = 0
            while time.perf_counter() < until:
                spins += 1
            return _bench_fixed(start_response, BENCH_OK)
    except (ValueError, IndexError):
        body = b"bad bench arguments\n"
        start_response(
            "400 Bad Request",
            [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
        )
        return [body]
    body = b"unknown bench workload\n"
    start_response(
        "404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]


# End of bench workloads
# ---------------------------------------------------------------------------


def app(*args, **kwargs):
    """The WSGI application. Takes ``*args, **kwargs`` so that the observation
    can tell how the gateway called it; ``app(environ, start_response)``."""
    if (
        len(args) == 2
        and type(args[0]) is dict
        and str(args[0].get("PATH_INFO", "")).startswith(BENCH_PREFIX)
    ):
        return bench_app(args[0], args[1])
    environ, start_response = _unpack_call(args, kwargs)
    state = {"started": False}
    try:
        ctx = Context(environ, _TrackedStartResponse(start_response, state), args, kwargs)
        handler = SCENARIOS.get(ctx.scenario)
        if handler is None:
            return respond_text(ctx.start_response, "400 Bad Request", "unknown scenario")
        return handler(ctx)
    except Exception:
        text = traceback.format_exc()
        body = text.encode("ascii", "backslashreplace")
        headers = [
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(body))),
            ("X-Wsgiprobe-Probe", "1"),
        ]
        if state["started"]:
            # Headers were given but not sent yet (nothing has been returned
            # to the gateway); PEP 3333 lets them be replaced with exc_info.
            start_response("500 Internal Server Error", headers, sys.exc_info())
        else:
            start_response("500 Internal Server Error", headers)
        return [body]

