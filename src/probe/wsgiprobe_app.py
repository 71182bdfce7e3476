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

    def run():
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
                if limit is None:
                    call("read()", stream.read)
                else:
                    call("read(%d)" % limit, stream.read, limit)
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
            elif mode == "cl-readline":
                try:
                    length = int(env.get("CONTENT_LENGTH") or 0)
                except (ValueError, TypeError):
                    length = 0
                call("read(%d)" % max(length, 0), stream.read, max(length, 0))
                call("readline()", stream.readline)
                call("readline()", stream.readline)
            elif mode == "cl":
                try:
                    length = int(env.get("CONTENT_LENGTH") or 0)
                except (ValueError, TypeError):
                    length = 0
                length = max(length, 0)
                call("read(%d)" % length, stream.read, length)
                call("read(%d)" % n, stream.read, n)
            elif not _read_mixed(mode, stream, call, limit, consumed):
                raise ValueError("unknown read mode %r" % (mode,))
        except Exception as exc:
            record["error"] = _exc_text(exc)
    watch = _int_arg(args, "watch", 0)
    if watch > 0:
        _run_watched(run, record, min(watch, 10000))
    else:
        run()
    record["data"] = "".join(pieces)
    record["total"] = len(record["data"])
    lengths = [c["len"] for c in list(record["calls"]) if isinstance(c.get("len"), int)]
    record["max_call_len"] = max(lengths) if lengths else 0
    return record


# -- mixed reads and reads that may wait on the socket ------------------------


def _read_mixed(mode, stream, call, limit, consumed):
    """The read modes that start with readline() and go on with another
    method: ``mixed-read`` (then read() of what is left of CONTENT_LENGTH),
    ``mixed-iter`` (then iteration until CONTENT_LENGTH bytes have arrived)
    and ``mixed-readlines`` (then readlines()). False for any other mode."""
    if mode not in ("mixed-read", "mixed-iter", "mixed-readlines"):
        return False
    call("readline()", stream.readline)
    if mode == "mixed-read":
        left = max(0, (limit or 0) - consumed())
        call("read(%d)" % left, stream.read, left)
    elif mode == "mixed-readlines":
        call("readlines()", stream.readlines)
    else:
        iterator = iter(stream)
        for _ in range(MAX_CALLS):
            if limit is not None and consumed() >= limit:
                break
            try:
                call("next()", next, iterator)
            except StopIteration:
                break
    return True


def _run_watched(run, record, watch_ms):
    """Runs ``run`` in a thread and waits at most ``watch_ms`` for it. A
    read that is still waiting then (a stream handing over the socket, read
    past the body) is reported as ``blocked_ms`` with what it had read so
    far; the thread is left to end when the server closes the connection,
    so the answer does not wait on the client's patience."""
    done = threading.Event()

    def target():
        try:
            run()
        finally:
            done.set()

    thread = threading.Thread(target=target, name="wsgiprobe-watched-read", daemon=True)
    thread.start()
    if not done.wait(watch_ms / 1000.0):
        record["blocked_ms"] = watch_ms
        record["error"] = "still reading after %d ms" % watch_ms
        record["calls"] = list(record["calls"])


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


def _derived(env):
    """Values computed from several environ keys."""
    script = env.get("SCRIPT_NAME", "")
    path = env.get("PATH_INFO", "")
    out = {}
    if isinstance(script, str) and isinstance(path, str):
        out["script_plus_path"] = script + path
    return out


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
            "derived": _derived(self.env),
        }
        if self.environ_error is not None:
            obs["environ_error"] = self.environ_error
        return obs


def scenario_ping(ctx):
    if ctx.args.get("length") == "none":
        # No Content-Length: the server frames the body itself (chunked,
        # or closing the connection after it).
        ctx.start_response(
            "200 OK", [("Content-Type", "text/plain"), ("X-Wsgiprobe-Probe", "1")]
        )
        return [b"wsgiprobe ok"]
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

# -- wsgi.errors ------------------------------------------------------------

ERRORS_TEXT = {
    "ascii": ["wsgiprobe: wsgi.errors write(str)\n"],
    "wide": ["wsgiprobe: caf\u00e9 \u20ac \U0001f600 \u4e2d\n"],
}


def scenario_errors(ctx):
    """Writes str to wsgi.errors (arg text: ascii or wide, the latter with
    code points above U+00FF) with write(), writelines() and flush()."""
    record = {"calls": [], "error": None}
    lines = ERRORS_TEXT.get(ctx.args.get("text"), ERRORS_TEXT["ascii"])
    try:
        stream = ctx.env["wsgi.errors"]
        for name, call in (
            ("write", lambda: stream.write(lines[0])),
            ("writelines", lambda: stream.writelines(list(lines))),
            ("flush", lambda: stream.flush()),
        ):
            record["calls"].append(name)
            call()
    except Exception as exc:
        record["error"] = _exc_text(exc)
    obs = ctx.observation()
    obs["errors"] = record
    return respond_observation(ctx.start_response, obs)


# -- start_response: exc_info, repeated calls, header checks ---------------


def _plain(body, extra=()):
    return list(extra) + [
        ("Content-Type", "text/plain"),
        ("Content-Length", str(len(body))),
        ("X-Wsgiprobe-Probe", "1"),
    ]


def scenario_exc_info_replace(ctx):
    """start_response 200 with X-Case-First, then, before any body, an
    error response with exc_info: the second call's status and headers
    are the ones the client must see."""
    body = b"replaced\n"
    ctx.start_response("200 OK", _plain(b"first\n", [("X-Case-First", "1")]))
    try:
        raise RuntimeError("wsgiprobe exc-info-replace: deliberate error")
    except RuntimeError:
        ctx.start_response(
            "500 Internal Server Error", _plain(body, [("X-Case-Second", "1")]), sys.exc_info()
        )
    return [body]


def scenario_exc_info_sent(ctx):
    """Sends a first block, then calls start_response with exc_info: the
    headers are out, so it must raise (event sr-raised), ideally the very
    exception given (event sr-reraised-original)."""
    token = ctx.token
    start_response = ctx.start_response

    def body():
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Wsgiprobe-Probe", "1")])
        yield b"block-1\n"
        try:
            raise RuntimeError("wsgiprobe exc-info-sent: deliberate error")
        except RuntimeError as original:
            try:
                start_response(
                    "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
                )
            except BaseException as raised:
                record_event(token, "sr-raised", _exc_text(raised))
                if raised is original:
                    record_event(token, "sr-reraised-original", _exc_text(raised))
                raise
            record_event(token, "sr-returned", "start_response returned after headers were sent")
        yield b"not-raised\n"

    return body()


def scenario_start_twice(ctx):
    """Calls start_response twice without exc_info; the second call is a
    fatal error the server should raise on (event sr-second-raised)."""
    body = b"twice\n"
    ctx.start_response("200 OK", _plain(body))
    try:
        ctx.start_response("200 OK", _plain(body, [("X-Case-Twice", "1")]))
    except Exception as exc:
        record_event(ctx.token, "sr-second-raised", _exc_text(exc))
    else:
        record_event(ctx.token, "sr-second-accepted", "")
    return [body]


# Headers an application must never send; a server should refuse them.
BAD_HEADERS = {
    "hop": ("200 OK", [("Keep-Alive", "timeout=1234")]),
    "te": ("200 OK", [("Transfer-Encoding", "chunked")]),
    "crlf": ("200 OK", [("X-Case-Crlf", "a\r\nX-Injected: 1")]),
    "wide": ("200 OK", [("X-Case-Wide", "caf\u20ac")]),
    "status-crlf": ("200 OK\r\nX-Injected: 1", []),
    "status-bad": ("20O OK", []),
}


def scenario_bad_header(ctx):
    """Gives start_response what arg kind names (see BAD_HEADERS). If
    start_response raises, records sr-raised and answers 500 through
    exc_info; otherwise answers with body "sent\n"."""
    status, extra = BAD_HEADERS.get(ctx.args.get("kind"), BAD_HEADERS["hop"])
    body = b"sent\n"
    headers = list(extra) + [("Content-Type", "text/plain"), ("X-Wsgiprobe-Probe", "1")]
    if ctx.args.get("kind") != "te":
        headers.append(("Content-Length", str(len(body))))
    try:
        ctx.start_response(status, headers)
    except Exception as exc:
        record_event(ctx.token, "sr-raised", _exc_text(exc))
        refused = b"refused\n"
        ctx.start_response("500 Internal Server Error", _plain(refused), sys.exc_info())
        return [refused]
    return [body]


# -- when headers go out ----------------------------------------------------


def scenario_empty_then_raise(ctx):
    """start_response 200, then the iterable yields b"", waits arg ms
    (default 0, at most 5000) and raises: no body byte exists yet, so the
    headers must not have been sent and the client should get an error
    status, not 200. The wait lets a client see whether the head went out
    at the empty block or only after the error."""
    delay = min(max(_int_arg(ctx.args, "ms", 0), 0), 5000) / 1000.0
    ctx.start_response("200 OK", [("Content-Type", "text/plain"), ("X-Case-Early", "1")])

    def body():
        yield b""
        if delay:
            time.sleep(delay)
        raise RuntimeError("wsgiprobe empty-then-raise: deliberate error before any body")

    return body()


def scenario_lazy_start(ctx):
    """Returns a generator that calls start_response on its first iteration."""
    start_response = ctx.start_response

    def body():
        data = b"lazy\n"
        start_response("200 OK", _plain(data))
        yield data

    return body()


def scenario_slow_blocks(ctx):
    """Yields block-1, sleeps arg ms (default 1000), yields block-2."""
    delay = min(max(_int_arg(ctx.args, "ms", 1000), 0), 10000) / 1000.0
    blocks = [b"block-1\n", b"block-2\n"]
    ctx.start_response("200 OK", _plain(b"".join(blocks)))

    def body():
        yield blocks[0]
        time.sleep(delay)
        yield blocks[1]

    return body()


def scenario_str_body(ctx):
    """Returns a str where bytes are required."""
    ctx.start_response("200 OK", _plain(b"str-body\n"))
    return ["str-body\n"]


def _as_returned(ctx, blocks):
    """The blocks as arg ``as`` asks: ``list`` or ``tuple`` (servers take
    another path for sequences, often counting them), else an iterable
    whose close() is recorded."""
    kind = ctx.args.get("as")
    if kind == "list":
        return list(blocks)
    if kind == "tuple":
        return tuple(blocks)
    return ClosingBody(blocks, ctx.token)


def scenario_length_over(ctx):
    """Declares Content-Length 10 and yields 10 bytes, then 12 more."""
    ctx.start_response("200 OK", _plain(b"0123456789"))
    return _as_returned(ctx, [b"0123456789", b"EXTRA-BYTES\n"])


def scenario_length_under(ctx):
    """Declares Content-Length 100 and yields 6 bytes."""
    ctx.start_response("200 OK", _plain(b"x" * 100))
    return _as_returned(ctx, [b"short\n"])


class AttributeWatch(object):
    """A response iterable that records (event attr-used) any attribute the
    server looks up beyond iteration, len() and close()."""

    ALLOWED = ("close", "__iter__", "__len__", "__getitem__", "__next__")

    def __init__(self, blocks, token):
        self._blocks = blocks
        self._token = token

    def __iter__(self):
        return iter(self._blocks)

    def close(self):
        record_event(self._token, "close", "attribute watch")

    def __getattr__(self, name):
        if name not in AttributeWatch.ALLOWED and not name.startswith("_AttributeWatch"):
            record_event(self._token, "attr-used", name)
        raise AttributeError(name)


def scenario_attrs(ctx):
    body = b"attrs\n"
    ctx.start_response("200 OK", _plain(body))
    return AttributeWatch([body], ctx.token)


class SlowClosingBody(ClosingBody):
    """Like ClosingBody, with a pause before each block."""

    def __init__(self, blocks, token, delay):
        ClosingBody.__init__(self, blocks, token)
        self.delay = delay

    def __iter__(self):
        for block in self.blocks:
            self.consumed += 1
            yield block
            time.sleep(self.delay)


def scenario_close_slow(ctx):
    """Streams arg chunks (default 40) blocks of 8 KiB, 25 ms apart, with a
    recorded close(): long enough for a client to hang up in the middle."""
    count = min(max(_int_arg(ctx.args, "chunks", 40), 1), 400)
    blocks = [(b"%07d\n" % i) * 1024 for i in range(count)]
    ctx.start_response("200 OK", _plain(b"".join(blocks)))
    return SlowClosingBody(blocks, ctx.token, 0.025)


# -- concurrency ------------------------------------------------------------


def scenario_hold(ctx):
    """Holds the request for arg ms (default 500, at most 5000) and reports
    when, in which process and thread: concurrent requests show whether the
    gateway invokes the application simultaneously, as its wsgi.multithread
    and wsgi.multiprocess flags claim or deny."""
    delay = min(max(_int_arg(ctx.args, "ms", 500), 0), 5000) / 1000.0
    held_from = time.time()
    time.sleep(delay)
    obs = ctx.observation()
    obs["held"] = {"from": held_from, "until": time.time()}
    return respond_observation(ctx.start_response, obs)


# -- wsgi.file_wrapper ------------------------------------------------------

FILE_DATA = b"line-1\nline-2\nline-3\nline-4\n"


class WatchedFile(object):
    """A file-like object whose close() is recorded (event file-close).
    With a real file it exposes fileno(), so sendfile() paths are taken."""

    def __init__(self, raw, token, real):
        self._raw = raw
        self._token = token
        if real:
            self.fileno = raw.fileno

    def read(self, size=-1):
        return self._raw.read(size)

    def seek(self, *args):
        return self._raw.seek(*args)

    def tell(self):
        return self._raw.tell()

    def close(self):
        record_event(self._token, "file-close", "")
        self._raw.close()


def _open_data(token, real):
    if not real:
        import io

        return io.BytesIO(FILE_DATA)
    directory = os.path.join(events_dir(), "files")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "%s-%d-%d.dat" % (token or "anon", os.getpid(), threading.get_ident()))
    with open(path, "wb") as fh:
        fh.write(FILE_DATA)
    raw = open(path, "rb", buffering=0)
    try:
        os.unlink(path)
    except OSError:
        pass
    return raw


def scenario_file_wrapper(ctx):
    """Returns wsgi.file_wrapper(file) for arg src (file: a real file with
    fileno(); bytesio: an object without one), after seeking to arg skip,
    with Content-Length arg cl (default: what is left); with discard=1 the
    wrapper is made but a plain body returned instead. Header
    X-Wsgiprobe-File-Wrapper says whether the server offers a wrapper."""
    wrapper = ctx.environ.get("wsgi.file_wrapper")
    if wrapper is None:
        body = b"no wsgi.file_wrapper\n"
        ctx.start_response(
            "200 OK", _plain(body, [("X-Wsgiprobe-File-Wrapper", "absent")])
        )
        return [body]
    skip = min(max(_int_arg(ctx.args, "skip", 0), 0), len(FILE_DATA))
    length = _int_arg(ctx.args, "cl", len(FILE_DATA) - skip)
    raw = _open_data(ctx.token, ctx.args.get("src", "file") == "file")
    raw.seek(skip)
    filelike = WatchedFile(raw, ctx.token, ctx.args.get("src", "file") == "file")
    headers = [
        ("Content-Type", "text/plain"),
        ("Content-Length", str(length)),
        ("X-Wsgiprobe-Probe", "1"),
        ("X-Wsgiprobe-File-Wrapper", "present"),
    ]
    if ctx.args.get("discard") == "1":
        # A wrapper the application makes and then does not return must
        # not have sent anything.
        wrapper(filelike, 8)
        body = b"not the file\n"
        ctx.start_response("200 OK", _plain(body, [("X-Wsgiprobe-File-Wrapper", "present")]))
        return [body]
    ctx.start_response("200 OK", headers)
    if ctx.args.get("blksize") == "none":
        # The block size is optional: a wrapper must take the file alone.
        return wrapper(filelike)
    return wrapper(filelike, 8)



# -- the application's own framing and identity headers ---------------------

APP_SERVER = "wsgiprobe-app/1"
APP_DATE = "Sat, 01 Jan 2000 00:00:00 GMT"


def scenario_app_headers(ctx):
    """Gives start_response its own Server and Date headers (a Date long
    past, so a replaced one shows): a gateway keeps them or replaces them,
    but must not send a second Server or Date line beside them."""
    body = b"app-headers\n"
    ctx.start_response("200 OK", _plain(body, [("Server", APP_SERVER), ("Date", APP_DATE)]))
    return [body]


def scenario_status(ctx):
    """Answers with the status arg code names (204 or 304, the statuses
    whose responses never carry content) and no Content-Length; with arg
    body=1 the application yields bytes anyway, which the gateway must not
    put on the wire."""
    statuses = {"204": "204 No Content", "304": "304 Not Modified"}
    status = statuses.get(ctx.args.get("code"), statuses["204"])
    ctx.start_response(status, [("X-Wsgiprobe-Probe", "1")])
    if ctx.args.get("body") == "1":
        return [b"unexpected content\n"]
    return [b""]


SCENARIOS = {
    "ping": scenario_ping,
    "environ": scenario_environ,
    "read": scenario_read,
    "close": scenario_close,
    "close-raise": scenario_close_raise,
    "write": scenario_write,
    "events": scenario_events,
    "errors": scenario_errors,
    "exc-info-replace": scenario_exc_info_replace,
    "exc-info-sent": scenario_exc_info_sent,
    "start-twice": scenario_start_twice,
    "bad-header": scenario_bad_header,
    "empty-then-raise": scenario_empty_then_raise,
    "lazy-start": scenario_lazy_start,
    "slow-blocks": scenario_slow_blocks,
    "str-body": scenario_str_body,
    "length-over": scenario_length_over,
    "length-under": scenario_length_under,
    "attrs": scenario_attrs,
    "close-slow": scenario_close_slow,
    "file-wrapper": scenario_file_wrapper,
    "hold": scenario_hold,
    "app-headers": scenario_app_headers,
    "status": scenario_status,
    "validate-findings": None,  # filled in below, with the validator
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



# ---------------------------------------------------------------------------
# wsgiref.validate as a second opinion (``wsgiprobe_app:validated_app``)
#
# The standard library's validator raises AssertionError where it finds a
# fault, which would change what the gateway sees (an application error where
# there was none). ``validated_app`` runs the validator's own checks and
# wrappers, loaded from a private copy of the module whose ``assert_`` records
# a finding instead of raising, and appends every finding, one JSON line, to
# EVENTS_DIR/validate.jsonl. Requests without a token record nothing.

VALIDATE_FILE = "validate.jsonl"
MAX_FINDING_TEXT = 1000
MAX_FINDINGS_ANSWERED = 20000

_validate_local = threading.local()
_validate_module = None
_validate_lock = threading.Lock()


class _Findings(object):
    """The findings of one request: where they go and what asked for them."""

    def __init__(self, token, scenario):
        self.token = token
        self.scenario = scenario

    def add(self, kind, check, message):
        if self.token is None:
            return
        try:
            message = _safe_text(message)
            # The environ check quotes the whole environ; the finding is the
            # same whatever the request was.
            cut = message.find(" (environment: ")
            if cut >= 0:
                message = message[:cut]
            finding = {
                "token": self.token,
                "scenario": self.scenario,
                "kind": kind,
                "check": check,
                "message": message[:MAX_FINDING_TEXT],
                "pid": os.getpid(),
            }
            line = _dumps(finding) + "\n"
            directory = events_dir()
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, VALIDATE_FILE), "a", encoding="utf-8") as fh:
                fh.write(line)
        except Exception as exc:
            try:
                sys.stderr.write("wsgiprobe: could not record a finding: %s\n" % _exc_text(exc))
            except Exception:
                pass


def _safe_text(value):
    if isinstance(value, str):
        return value
    return _safe_repr(value)


class _Active(object):
    """Makes ``findings`` the collector of the validator's checks while a
    block runs (the validator's functions only know a module-global assert_)."""

    def __init__(self, findings):
        self.findings = findings

    def __enter__(self):
        self.previous = getattr(_validate_local, "findings", None)
        _validate_local.findings = self.findings
        return self.findings

    def __exit__(self, *exc):
        _validate_local.findings = self.previous
        return False


def _where(frame):
    """``Class.method`` or ``function`` of a validator frame."""
    name = frame.f_code.co_name
    owner = frame.f_locals.get("self")
    if owner is not None:
        return "%s.%s" % (type(owner).__name__, name)
    return name


def _soft_assert(cond, *args):
    if cond:
        return
    frame = sys._getframe(1)
    if args:
        message = args[0] if len(args) == 1 else " ".join(_safe_text(a) for a in args)
    else:
        # Some of the validator's assertions carry no message: the source
        # line says what was checked.
        import linecache

        message = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    findings = getattr(_validate_local, "findings", None)
    if findings is not None:
        findings.add("assert", _where(frame), message)


def _soft_check_string_type(value, title):
    if type(value) is not str:
        _soft_assert(False, "{0} must be of type str (got {1})".format(title, repr(value)))
    return value


class _WarningsShim(object):
    """Stands in for the ``warnings`` module inside the validator copy."""

    @staticmethod
    def warn(message, category=None, stacklevel=1):
        findings = getattr(_validate_local, "findings", None)
        if findings is not None:
            findings.add("warning", _where(sys._getframe(1)), _safe_text(message))


def _validator():
    """A private copy of wsgiref.validate with recording assertions."""
    global _validate_module
    with _validate_lock:
        if _validate_module is None:
            import importlib.util

            spec = importlib.util.find_spec("wsgiref.validate")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.assert_ = _soft_assert
            module.check_string_type = _soft_check_string_type
            module.warnings = _WarningsShim()
            # The copy's iterator check at garbage collection runs in no
            # request's context; _ValidatedBody records it instead.
            module.IteratorWrapper.__del__ = lambda self: None
            _validate_module = module
        return _validate_module


def _run_check(findings, check, *args):
    """One of the validator's check functions; an exception it raises
    (a KeyError for a missing environ key) is a finding too."""
    try:
        check(*args)
    except Exception as exc:
        findings.add("error", check.__name__, _exc_text(exc))


class _ValidatedBody(object):
    """The validator's IteratorWrapper, made as transparent as a wrapper can
    be: attribute lookups the gateway makes reach the application's own
    iterable, and an iterable that is not closed is recorded when collected."""

    def __init__(self, inner, original, findings):
        self._inner = inner
        self._original = original
        self._findings = findings

    def __iter__(self):
        return self

    def __next__(self):
        with _Active(self._findings):
            return self._inner.__next__()

    def close(self):
        with _Active(self._findings):
            self._inner.close()

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._original, name)

    def __del__(self):
        try:
            if not self._inner.closed:
                self._findings.add(
                    "assert", "IteratorWrapper.__del__", "Iterator garbage collected without being closed"
                )
        except Exception:
            pass


class _ValidatedSizedBody(_ValidatedBody):
    def __len__(self):
        return len(self._original)


def _is_file_wrapper(environ, result):
    wrapper = environ.get("wsgi.file_wrapper") if isinstance(environ, dict) else None
    return isinstance(wrapper, type) and isinstance(result, wrapper)


def validated_app(*args, **kwargs):
    """``app`` behind the standard library's wsgiref.validate checks, which
    record findings (see docs/probe-protocol.md) instead of raising."""
    try:
        environ, start_response = _unpack_call(args, kwargs)
        env, _ = _copy_environ(environ)
    except Exception:
        return app(*args, **kwargs)
    findings = _Findings(
        valid_token(_control(env, TOKEN_KEY)), _control(env, SCENARIO_KEY) or "environ"
    )
    if findings.token is None:
        return app(*args, **kwargs)
    v = _validator()
    if len(args) != 2 or kwargs:
        # The validator cannot go on from here: the application is called
        # exactly as the gateway called it, unchecked.
        if len(args) != 2:
            findings.add("assert", "lint_app", "Two arguments required")
        if kwargs:
            findings.add("assert", "lint_app", "No keyword arguments allowed")
        return app(*args, **kwargs)

    started = []
    with _Active(findings):
        _run_check(findings, v.check_environ, environ)
        if isinstance(environ, dict):
            if "wsgi.input" in environ:
                environ["wsgi.input"] = v.InputWrapper(environ["wsgi.input"])
            if "wsgi.errors" in environ:
                environ["wsgi.errors"] = v.ErrorWrapper(environ["wsgi.errors"])

    def checked_start_response(*sr_args, **sr_kwargs):
        with _Active(findings):
            _soft_assert(len(sr_args) in (2, 3), "Invalid number of arguments: %s" % (sr_args,))
            _soft_assert(not sr_kwargs, "No keyword arguments allowed")
            if len(sr_args) >= 2:
                _run_check(findings, v.check_status, sr_args[0])
                _run_check(findings, v.check_headers, sr_args[1])
                _run_check(findings, v.check_content_type, sr_args[0], sr_args[1])
            if len(sr_args) == 3:
                _run_check(findings, v.check_exc_info, sr_args[2])
        started.append(None)
        # Whatever the gateway does (raise, return) reaches the application
        # unchanged; only a callable write() is wrapped.
        write = start_response(*sr_args, **sr_kwargs)
        if callable(write):
            return v.WriteWrapper(write)
        return write

    with _Active(findings):
        result = app(environ, checked_start_response)
        _soft_assert(
            result is not None and result is not False,
            "The application must return an iterator, if only an empty list",
        )
        _run_check(findings, v.check_iterator, result)
        if result is None or _is_file_wrapper(environ, result):
            # Gateways recognise their own file wrapper by its type.
            return result
        try:
            inner = v.IteratorWrapper(result, started)
        except Exception as exc:
            findings.add("error", "IteratorWrapper", _exc_text(exc))
            return result
    kind = _ValidatedSizedBody if hasattr(result, "__len__") else _ValidatedBody
    return kind(inner, result, findings)


def scenario_validate_findings(ctx):
    """The findings validated_app recorded for tokens starting with arg
    ``run``, and whether this very request went through validated_app."""
    prefix = ctx.args.get("run") or ""
    found = []
    try:
        with open(os.path.join(events_dir(), VALIDATE_FILE), "r", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    finding = json.loads(line)
                except ValueError:
                    continue
                token = finding.get("token") if isinstance(finding, dict) else None
                if isinstance(token, str) and token.startswith(prefix):
                    found.append(finding)
                    if len(found) >= MAX_FINDINGS_ANSWERED:
                        break
    except OSError:
        pass
    validating = getattr(_validate_local, "findings", None) is not None
    return respond_json(ctx.start_response, {"validating": validating, "findings": found})


SCENARIOS["validate-findings"] = scenario_validate_findings


# ---------------------------------------------------------------------------
# Deployment and request parsing: streaming behind a proxy, and what the
# application saw of a request (the differential run)

DIFFERENTIAL_BODY_LIMIT = 1 << 20
DIFFERENTIAL_BODY_SHOWN = 4096


def scenario_stream(ctx):
    """A streamed response without Content-Length: block-1, a pause of arg
    ms (default 1000), block-2. With arg accel=no it sends
    ``X-Accel-Buffering: no``, which asks nginx not to buffer it."""
    delay = min(max(_int_arg(ctx.args, "ms", 1000), 0), 10000) / 1000.0
    headers = [("Content-Type", "text/plain"), ("X-Wsgiprobe-Probe", "1")]
    if ctx.args.get("accel") == "no":
        headers.append(("X-Accel-Buffering", "no"))
    ctx.start_response("200 OK", headers)

    def body():
        yield b"block-1\n"
        time.sleep(delay)
        yield b"block-2\n"

    return body()


def _differential_body(env):
    """The body as the gateway framed it: CONTENT_LENGTH bytes when it is
    a plain number, else everything when the gateway says the input ends
    by itself (wsgi.input_terminated), else nothing."""
    stream = env.get("wsgi.input")
    length = env.get("CONTENT_LENGTH")
    try:
        if isinstance(length, str) and length.strip().isdigit():
            size = int(length.strip())
            data = stream.read(min(size, DIFFERENTIAL_BODY_LIMIT)) if size else b""
        elif env.get("wsgi.input_terminated"):
            data = stream.read(DIFFERENTIAL_BODY_LIMIT)
        else:
            data = b""
    except Exception as exc:
        return None, _exc_text(exc)
    if isinstance(data, (bytes, bytearray)):
        return bytes(data), None
    return None, "read returned %s" % type(data).__name__


def scenario_differential(ctx):
    """Records what the application saw of the request (event ``seen``:
    method, path, query, the HTTP_* and CONTENT_* variables, the body) and
    answers it as JSON, so requests parsed differently by different stacks
    can be compared, and a request the client never sent can be noticed."""
    env = ctx.env
    body, error = _differential_body(env)
    fields = {}
    for key, value in env.items():
        if not isinstance(key, str) or _is_control_key(key):
            continue
        if key.startswith("HTTP_") or key in ("CONTENT_LENGTH", "CONTENT_TYPE"):
            fields[key] = value if isinstance(value, str) else _safe_repr(value)
    seen = {
        "method": env.get("REQUEST_METHOD"),
        "script": env.get("SCRIPT_NAME"),
        "path": env.get("PATH_INFO"),
        "query": env.get("QUERY_STRING"),
        "protocol": env.get("SERVER_PROTOCOL"),
        "fields": fields,
        "body": None if body is None else body[:DIFFERENTIAL_BODY_SHOWN].decode("latin-1"),
        "body_length": None if body is None else len(body),
        "body_error": error,
    }
    seen = {k: (v if v is None or isinstance(v, (str, int, dict)) else _safe_repr(v))
            for k, v in seen.items()}
    record_event(ctx.token, "seen", seen)
    return respond_json(ctx.start_response, {"probe": "wsgiprobe", "seen": seen})


SCENARIOS["stream"] = scenario_stream
SCENARIOS["differential"] = scenario_differential
