"""A small WSGI gateway that can be broken on purpose, one rule at a time.

    python3 broken_gateway.py --host HOST --port PORT [--break RULE]... MODULE:CALLABLE

Behind a proxy: ``--trust-proxy ADDR`` (``*`` for any peer) takes the
scheme, client address and host from the X-Forwarded-* headers of that peer,
``--prefix PATH`` mounts the application under PATH, and ``--tls-cert FILE
--tls-key FILE`` serves HTTPS.

Run it with the working directory holding MODULE. Without ``--break`` it is a
correct PEP 3333 gateway for what it supports (HTTP/1.0 and HTTP/1.1,
persistent HTTP/1.1 connections when the application gives a Content-Length,
Content-Length and chunked request bodies, ``wsgi.file_wrapper``). Each
``--break RULE`` breaks exactly one rule and nothing else, so the test suite
can show that wsgiprobe notices every one of them. Standard library only.
"""

import argparse
import base64
import email.utils
import importlib
import io
import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler

SOCKET_TIMEOUT = 30.0
MAX_LINE = 65536
DRAIN_LIMIT = 16 * 1024 * 1024
UNBOUNDED = 1 << 62

RULES = {
    "method-lowercase": "REQUEST_METHOD lowercased",
    "path-raw": "PATH_INFO left percent-encoded",
    "query-decoded": "QUERY_STRING percent-decoded",
    "query-missing": "QUERY_STRING omitted when the request has no query",
    "content-as-http": "CONTENT_TYPE/CONTENT_LENGTH given only as HTTP_CONTENT_TYPE/HTTP_CONTENT_LENGTH",
    "content-length-empty-body": "CONTENT_TYPE 'text/plain' and CONTENT_LENGTH '0' invented when absent",
    "header-utf8": "header values decoded as UTF-8 instead of ISO-8859-1",
    "path-utf8": "PATH_INFO bytes decoded as UTF-8 instead of ISO-8859-1",
    "header-dashes": "HTTP_ names keep their dashes",
    "repeat-header-last": "repeated headers keep only the last value",
    "environ-subclass": "environ is a dict subclass",
    "keyword-call": "the application is called with keyword arguments",
    "wsgi-version-list": "wsgi.version is a list",
    "no-url-scheme": "wsgi.url_scheme missing",
    "no-server-name": "SERVER_NAME missing",
    "server-port-int": "SERVER_PORT is an int",
    "bytes-path": "PATH_INFO is bytes",
    "no-errors": "wsgi.errors missing",
    "no-multithread": "wsgi.multithread missing",
    "multithread-false": "wsgi.multithread False although requests run in threads at the same time",
    "forking-multiprocess-false": "each connection served in a forked process, wsgi.multiprocess still False",
    "run-once-true": "wsgi.run_once True although the process serves request after request",
    "protocol-fixed": "SERVER_PROTOCOL always HTTP/1.1",
    "no-close": "close() never called on the response iterable",
    "no-write": "start_response returns None instead of write()",
    "method-fixed": "extension methods replaced by GET",
    "input-unbounded": "wsgi.input reads the socket past Content-Length (a read past the body waits)",
    "no-chunked": "chunked request bodies handed over undecoded, as the raw socket",
    "head-body": "responses to HEAD carry the body",
    "slash-kept-encoded": "PATH_INFO decoded except %2F, which stays encoded",
    "path-collapse": "repeated slashes in PATH_INFO collapsed into one",
    "script-name-overlap": "SCRIPT_NAME set to the first path segment, PATH_INFO still the whole path",
    "query-utf8": "QUERY_STRING bytes decoded as UTF-8 instead of ISO-8859-1",
    "chunked-length-zero": "CONTENT_LENGTH '0' for chunked request bodies",
    "underscore-merge": "header names with underscores mapped like dashes (joined with the dashed one)",
    "errors-ascii-only": "wsgi.errors raises on str that is not ASCII",
    "errors-bytes": "wsgi.errors is a binary stream (write(str) raises)",
    "read-zero-all": "wsgi.input.read(0) reads everything",
    "eof-raises": "reading an exhausted wsgi.input raises instead of returning b''",
    "no-continue": "no 100 Continue for Expect: 100-continue",
    "continue-http10": "100 Continue sent to HTTP/1.0 requests too",
    "underflow-keepalive": "a response shorter than its Content-Length leaves the connection open",
    "exc-info-append": "start_response with exc_info adds the new headers to the old ones",
    "exc-info-ignored": "start_response with exc_info after the headers were sent returns quietly",
    "exc-info-other-error": "start_response with exc_info after the headers were sent raises its own error",
    "start-twice-ok": "a second start_response without exc_info is accepted",
    "hop-by-hop-ok": "hop-by-hop headers from the application accepted and sent",
    "header-unchecked": "header names and values sent without checking for CR or LF",
    "status-unchecked": "the status sent as given, without checking its form",
    "header-utf8-out": "response headers encoded as UTF-8 instead of refusing non-Latin-1 values",
    "eager-headers": "headers sent when start_response is called",
    "sr-before-iter": "start_response required before iterating the response",
    "buffer-body": "the whole body collected before any of it is sent",
    "str-body-ok": "str blocks in the body encoded and sent",
    "no-truncate": "bytes past Content-Length sent",
    "iter-attrs": "the response iterable probed for a fileno attribute",
    "no-close-on-disconnect": "close() not called when the client disconnects",
    "wrapper-needs-fileno": "wsgi.file_wrapper fails on objects without fileno()",
    "wrapper-rewinds": "wsgi.file_wrapper sends the file from its start",
    "wrapper-ignores-length": "wsgi.file_wrapper sends the whole file whatever the Content-Length",
    "wrapper-no-close": "wsgi.file_wrapper's close() does not close the file",
    "wrapper-eager": "wsgi.file_wrapper sends the file as soon as it is called",
    # request parsing and connection handling (RFC 9110, RFC 9112, RFC 3875)
    "readline-size-ignored": "readline(size) returns the whole line whatever the size",
    "readline-own-buffer": "readline() reads ahead into a buffer read(), readlines() and iteration do not see",
    "iter-past-content-length": "iterating wsgi.input goes on reading the socket past Content-Length",
    "unread-body-kept": "a body the application left unread stays on the connection for the next request",
    "chunk-extension-refused": "a chunk size with an extension is a broken body",
    "length-and-chunked-by-length": "a request with Content-Length and Transfer-Encoding is read by its Content-Length, the connection kept",
    "coding-not-final-ok": "Transfer-Encoding: chunked, gzip read as chunked",
    "unknown-coding-ignored": "unknown transfer codings before chunked are ignored",
    "lenient-content-length": "an invalid Content-Length read by its leading digits",
    "http10-transfer-encoding-kept": "an HTTP/1.0 request with Transfer-Encoding and Content-Length is read by its Content-Length, the connection kept",
    "server-name-product": "SERVER_NAME is the server's product string",
    "dots-dropped": "the dots of dot-segments dropped from PATH_INFO",
    "path-lowercase": "PATH_INFO lowercased",
    "absolute-form-raw": "PATH_INFO keeps the scheme and authority of an absolute-form target",
    "long-target-400": "a request-target over 4096 bytes answered with 400",
    "target-space-joined": "a request-line with a space in the target served, the words joined",
    "empty-line-refused": "an empty line before the request-line ends the connection",
    "remote-addr-name": "REMOTE_ADDR is a host name",
    "remote-user-from-auth": "REMOTE_USER taken from an unchecked Authorization header",
    "host-unchecked": "requests without Host or with two Host lines served",
    "space-before-colon-ok": "whitespace between a field name and its colon stripped and the field kept",
    "obs-fold-kept": "obsolete line folding handed over as received",
    "nul-kept": "NUL in a field value handed over",
    "bare-cr-line-end": "a bare CR in a field value taken for a line end",
    "whitespace-line-kept": "a header line that starts with whitespace read as a field",
    "value-untrimmed": "spaces after a field value kept",
    "large-field-dropped": "a header line over 8192 bytes drops the connection without an answer",
    "eager-empty-headers": "headers sent at an empty block",
    "stored-status-after-error": "an iterable that raises before any body gets the stored status and an empty body",
    "no-truncate-sequence": "bytes past Content-Length sent when the application returns a list or tuple",
    "underflow-keepalive-sequence": "a list or tuple shorter than its Content-Length leaves the connection open",
    "te-plus-length": "the application's Transfer-Encoding sent together with a Content-Length the gateway adds",
    "own-date-server-added": "the gateway's Date and Server sent beside the application's own",
    "date-rfc850": "the Date header in the obsolete RFC 850 format",
    "framing-on-204": "Content-Length: 0 added to 204 responses",
    "body-on-204": "the application's body sent after a 204 or 304 head",
    "head-length-zero": "Content-Length: 0 in responses to HEAD",
    "head-drops-length": "no Content-Length in responses to HEAD",
    "silent-close": "the connection closed after every response without Connection: close",
    "close-ignored": "the client's Connection: close ignored",
    "close-sent-keeps-serving": "after sending Connection: close, further requests on the connection are served",
    "pipeline-skip-first": "of two pipelined requests only the second is answered",
    "wrapper-needs-blksize": "wsgi.file_wrapper requires the block size",
    "bad-header-dropped": "a header value with CR, LF or beyond ISO-8859-1 dropped and the response sent as 200",
    "str-body-late": "the head sent before body blocks are checked for type",
    "leading-slashes-collapsed": "leading slashes of PATH_INFO collapsed into one",
    "underscore-overwrite": "a header name with underscores overwrites the dashed one",
    "continue-in-http10-answer": "responses in HTTP/1.0, with a 100 Continue to HTTP/1.1 requests that expect it",
}

HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade",
))

STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")

SERVER_SOFTWARE = "broken_gateway/1"

_log_lock = threading.Lock()


def log(line):
    with _log_lock:
        try:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        except Exception:
            pass


class BadRequest(Exception):
    """A request the gateway refuses, with the status to answer."""

    def __init__(self, message, status=400):
        Exception.__init__(self, message)
        self.status = status


class EnvironDict(dict):
    """What the environ-subclass rule hands the application."""


# ---------------------------------------------------------------------------
# Request bodies


class LengthSource(object):
    """Exactly ``length`` bytes of the connection."""

    def __init__(self, rfile, length):
        self.rfile = rfile
        self.remaining = length

    def read_some(self, size):
        if self.remaining <= 0:
            return b""
        data = self.rfile.read1(min(size, self.remaining))
        if not data:
            self.remaining = 0  # the client went away early
            return b""
        self.remaining -= len(data)
        return data


class ChunkedSource(object):
    """The decoded data of a ``Transfer-Encoding: chunked`` body."""

    def __init__(self, rfile, rules=frozenset()):
        self.rfile = rfile
        self.left = 0  # bytes left in the current chunk
        self.done = False
        self.rules = rules

    def _line(self):
        line = self.rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise IOError("chunked body: line too long")
        if not line:
            raise IOError("chunked body: connection closed early")
        return line

    def read_some(self, size):
        if self.done:
            return b""
        if self.left == 0:
            text = self._line()
            if "chunk-extension-refused" not in self.rules:
                text = text.split(b";", 1)[0]
            text = text.strip()
            if not re.match(rb"\A[0-9A-Fa-f]+\Z", text):
                raise IOError("chunked body: bad chunk size %r" % (text,))
            self.left = int(text, 16)
            if self.left == 0:
                while self._line() not in (b"\r\n", b"\n"):
                    pass  # trailer fields
                self.done = True
                return b""
        data = self.rfile.read1(min(size, self.left))
        if not data:
            raise IOError("chunked body: connection closed early")
        self.left -= len(data)
        if self.left == 0 and self._line() not in (b"\r\n", b"\n"):
            raise IOError("chunked body: missing CRLF after chunk data")
        return data


class EmptySource(object):
    def read_some(self, size):
        return b""


class InputStream(object):
    """wsgi.input: read(n), read(), readline(n), readlines(hint), iteration.
    Reading past the end returns b""."""

    def __init__(self, source, rules=frozenset(), rfile=None):
        self._source = source
        self._buffer = bytearray()
        self._own = bytearray()  # readline's own read-ahead (readline-own-buffer)
        self._eof = False
        self._rules = rules
        self._rfile = rfile

    def _exhausted(self):
        if self._eof and not self._buffer and "eof-raises" in self._rules:
            raise EOFError("wsgi.input is exhausted")

    def _fill(self, size=8192):
        if self._eof:
            return False
        data = self._source.read_some(max(size, 1))
        if not data:
            self._eof = True
            return False
        self._buffer.extend(data)
        return True

    def _take(self, size):
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read(self, size=-1):
        if size == 0 and "read-zero-all" in self._rules:
            size = -1
        self._exhausted()
        if size is None or size < 0:
            while self._fill():
                pass
            return self._take(len(self._buffer))
        while len(self._buffer) < size and self._fill(size - len(self._buffer)):
            pass
        return self._take(size)

    def readline(self, size=-1):
        if "readline-size-ignored" in self._rules:
            size = -1
        if "readline-own-buffer" in self._rules:
            self._buffer, self._own = self._own, self._buffer
            try:
                return self._readline(size)
            finally:
                self._buffer, self._own = self._own, self._buffer
        return self._readline(size)

    def _readline(self, size=-1):
        self._exhausted()
        if size is None:
            size = -1
        start = 0
        while True:
            index = self._buffer.find(b"\n", start)
            if index >= 0 and (size < 0 or index < size):
                return self._take(index + 1)
            if size >= 0 and len(self._buffer) >= size:
                return self._take(size)
            start = len(self._buffer)
            if not self._fill():
                return self._take(len(self._buffer) if size < 0 else size)

    def readlines(self, hint=-1):
        if hint is None:
            hint = -1
        lines = []
        total = 0
        while True:
            line = self._readline()
            if not line:
                break
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self._readline()
        if not line and "iter-past-content-length" in self._rules and self._rfile is not None:
            line = self._rfile.readline()
        if not line:
            raise StopIteration
        return line


class FileWrapper(object):
    """wsgi.file_wrapper, after the PEP's example: iterates read(blksize)
    from the file's current position; close() closes the file."""

    def __init__(self, filelike, blksize=8192, rules=frozenset()):
        self.filelike = filelike
        self.blksize = blksize
        self.rules = rules

    def __iter__(self):
        if "wrapper-needs-fileno" in self.rules:
            self.filelike.fileno()
        if "wrapper-rewinds" in self.rules:
            self.filelike.seek(0)
        while True:
            data = self.filelike.read(self.blksize)
            if not data:
                return
            yield data

    def close(self):
        if "wrapper-no-close" not in self.rules and hasattr(self.filelike, "close"):
            self.filelike.close()


class AsciiErrors(object):
    """What the errors-ascii-only rule hands the application."""

    def write(self, text):
        text.encode("ascii")
        sys.stderr.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        sys.stderr.flush()


def _decode_path(raw_path, keep_slash):
    if not keep_slash:
        return urllib.parse.unquote_to_bytes(raw_path).decode("latin-1")
    pieces = re.split(rb"%2[Ff]", raw_path)
    return "%2F".join(urllib.parse.unquote_to_bytes(p).decode("latin-1") for p in pieces)


# ---------------------------------------------------------------------------
# The gateway


class GatewayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # lets parse_request answer Expect: 100-continue

    def more_buffered(self):
        """Whether bytes of another request are already waiting."""
        try:
            self.connection.settimeout(0.05)
            return bool(self.rfile.peek(1))
        except (socket.timeout, OSError):
            return False
        finally:
            self.connection.settimeout(SOCKET_TIMEOUT)
    server_version = SERVER_SOFTWARE
    timeout = SOCKET_TIMEOUT

    def log_message(self, format, *args):
        log("%s - %s" % (self.client_address[0], format % args))

    def setup(self):
        if self.server.tls:
            # The handshake happens here, in the connection's own thread,
            # not in the accept loop.
            self.request.do_handshake()
        BaseHTTPRequestHandler.setup(self)

    def handle(self):
        self.close_connection = True
        try:
            self.handle_one_request()
            while not self.close_connection:
                self.handle_one_request()
        except (socket.timeout, ConnectionError) as exc:
            log("%s - connection: %s" % (self.client_address[0], exc))

    def handle_expect_100(self):
        if "no-continue" in self.server.rules:
            return True
        if "continue-in-http10-answer" in self.server.rules:
            self.wfile.write(b"HTTP/1.0 100 Continue\r\n\r\n")
            self.wfile.flush()
            return True
        return BaseHTTPRequestHandler.handle_expect_100(self)

    def read_header_lines(self):
        """The raw header lines up to the blank line (line ends kept), or
        None when the client went away first."""
        lines = []
        while True:
            line = self.rfile.readline(MAX_LINE + 1)
            if not line:
                return None
            lines.append(line)
            if line in (b"\r\n", b"\n") or len(lines) > 200:
                return lines

    def check_header_lines(self, lines):
        """Refuses or repairs the header section as RFC 9110 5.5 and RFC 9112
        2.2, 3.2, 5.1 and 5.2 ask. Returns (bytes for the header parser,
        error status or None, error text), or raises ConnectionError to drop
        the connection."""
        rules = self.server.rules
        fields = []  # [name, value] pairs, value without the line end
        for i, line in enumerate(lines[:-1]):
            if len(line) > MAX_LINE:
                return None, 431, "header line too long"
            if len(line) > 8192 and "large-field-dropped" in rules:
                raise ConnectionError("header line over 8192 bytes: dropping the connection")
            text = line.rstrip(b"\r\n")
            if b"\r" in text:
                if "bare-cr-line-end" not in rules:
                    return None, 400, "bare CR in the header section"
                text = text.split(b"\r", 1)[0]
            if text[:1] in (b" ", b"\t"):
                if i == 0:
                    if "whitespace-line-kept" in rules:
                        text = text.lstrip(b" \t")
                    else:
                        return None, 400, "whitespace before the first header field"
                elif "obs-fold-kept" in rules:
                    fields[-1][1] += b"\r\n" + text
                    continue
                else:
                    fields[-1][1] += b" " + text.lstrip(b" \t")
                    continue
            name, colon, value = text.partition(b":")
            if not colon:
                return None, 400, "header line without a colon"
            if name != name.rstrip(b" \t"):
                if "space-before-colon-ok" not in rules:
                    return None, 400, "whitespace between a field name and its colon"
                name = name.rstrip(b" \t")
            if b"\x00" in value and "nul-kept" not in rules:
                value = value.replace(b"\x00", b" ")
            fields.append([name, value])
        hosts = [f for f in fields if f[0].lower() == b"host"]
        if "host-unchecked" not in rules:
            if len(hosts) > 1:
                return None, 400, "more than one Host header field"
            if not hosts and self.request_version_text() == "HTTP/1.1":
                return None, 400, "an HTTP/1.1 request without a Host header field"
        data = b"".join(name + b":" + value + b"\r\n" for name, value in fields) + b"\r\n"
        return data, None, None

    def request_version_text(self):
        words = self.raw_requestline.decode("latin-1").split()
        return words[-1] if words else ""

    def handle_one_request(self):
        self.close_connection = True
        rules = self.server.rules
        self.raw_requestline = self.rfile.readline(MAX_LINE + 1)
        if self.raw_requestline in (b"\r\n", b"\n") and "empty-line-refused" not in rules:
            # RFC 9112 2.2: ignore at least one empty line before the request-line.
            self.raw_requestline = self.rfile.readline(MAX_LINE + 1)
        if not self.raw_requestline:
            return
        if len(self.raw_requestline) > MAX_LINE:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        words = self.raw_requestline.decode("latin-1").split()
        if "target-space-joined" in rules and len(words) > 3:
            joined = "%s %s %s\r\n" % (words[0], "%20".join(words[1:-1]), words[-1])
            self.raw_requestline = joined.encode("latin-1")
        if "long-target-400" in rules and len(words) >= 2 and len(words[1]) > 4096:
            self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
            self.request_version = ""
            self.command = ""
            self.send_error(400, "target too long")
            return
        lines = self.read_header_lines()
        if lines is None:
            return
        cleaned, status, why = self.check_header_lines(lines)
        if status is not None:
            self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
            self.request_version = ""
            self.command = ""
            self.send_error(status, why)
            return
        # parse_request reads the header section from rfile: hand it the
        # checked one, then give the connection back.
        rfile, self.rfile = self.rfile, io.BufferedReader(io.BytesIO(cleaned))
        try:
            parsed = self.parse_request()
        finally:
            self.rfile = rfile
        if not parsed:
            return
        if "close-ignored" in rules:
            self.close_connection = False
        if "pipeline-skip-first" in rules and self.more_buffered():
            # Answers nothing for this request: the next one gets its place.
            self.close_connection = False
            return
        if self.request_version == "HTTP/0.9":
            self.send_error(505, "HTTP/0.9 is not supported")
            return
        if self.headers.defects or self.headers.get_payload():
            # The header parser stops at a malformed line and keeps the rest
            # as "payload"; refuse rather than silently drop header fields.
            self.send_error(400, "malformed header section")
            return
        if (
            "continue-http10" in self.server.rules
            and self.request_version == "HTTP/1.0"
            and (self.headers.get("Expect") or "").lower() == "100-continue"
        ):
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        self.run_wsgi()
        self.server.count_request()

    # -- environ ----------------------------------------------------------

    def _target(self):
        # The request target exactly as sent (parse_request may rewrite
        # self.path, e.g. collapse a leading "//").
        words = self.requestline.split()
        return words[1] if len(words) >= 2 else self.path

    def _body_source(self):
        rules = self.server.rules
        te = [v.strip().lower() for v in self.headers.get_all("Transfer-Encoding") or []]
        lengths = [v.strip() for v in self.headers.get_all("Content-Length") or []]
        if lengths and self.command == "GET" and "get-body-ignored" in rules:
            return EmptySource()
        by_length = lengths and (
            "length-and-chunked-by-length" in rules
            or (self.request_version == "HTTP/1.0" and "http10-transfer-encoding-kept" in rules)
        )
        if te and not by_length:
            # RFC 9112 6.3: refuse both framings (the error closes the connection).
            if lengths and "te-cl-keepalive" not in rules:
                raise BadRequest("both Transfer-Encoding and Content-Length")
            codings = [c.strip() for v in te for c in v.split(",") if c.strip()]
            if codings[-1:] != ["chunked"] and not ("coding-not-final-ok" in rules and "chunked" in codings):
                raise BadRequest("chunked is not the final transfer coding")
            if codings != ["chunked"] and "unknown-coding-ignored" not in rules and "coding-not-final-ok" not in rules:
                raise BadRequest("unsupported Transfer-Encoding %r" % ",".join(codings), 501)
            if "no-chunked" in rules:
                return LengthSource(self.rfile, UNBOUNDED)
            return ChunkedSource(self.rfile, rules)
        if lengths:
            if "lenient-content-length" in rules:
                lengths = [re.match(r"[0-9]*", v).group(0) or "0" for v in lengths]
            if len(set(lengths)) != 1 or not re.match(r"\A[0-9]{1,18}\Z", lengths[0]):
                raise BadRequest("bad Content-Length")
            if "input-unbounded" in self.server.rules:
                return LengthSource(self.rfile, UNBOUNDED)
            return LengthSource(self.rfile, int(lengths[0]))
        return EmptySource()

    def build_environ(self, source, stream):
        rules = self.server.rules
        environ = EnvironDict() if "environ-subclass" in rules else {}

        method = self.command
        if "method-lowercase" in rules:
            method = method.lower()
        if "method-fixed" in rules and method not in STANDARD_METHODS:
            method = "GET"
        environ["REQUEST_METHOD"] = method
        environ["SCRIPT_NAME"] = ""

        target = self._target()
        match = re.match(r"\A[A-Za-z][A-Za-z0-9+.-]*://[^/?]*", target)
        if match and "absolute-form-raw" not in rules:  # absolute-form
            target = target[match.end():] or "/"
        path, has_query, query = target.partition("?")
        raw_path = path.encode("latin-1")
        if "script-name-overlap" in rules and path.count("/") > 1:
            environ["SCRIPT_NAME"] = "/" + path.split("/")[1]
        if "path-raw" in rules:
            environ["PATH_INFO"] = path
        elif "path-utf8" in rules:
            environ["PATH_INFO"] = urllib.parse.unquote_to_bytes(raw_path).decode("utf-8", "replace")
        elif "bytes-path" in rules:
            environ["PATH_INFO"] = urllib.parse.unquote_to_bytes(raw_path)
        else:
            environ["PATH_INFO"] = _decode_path(raw_path, "slash-kept-encoded" in rules)
        if "path-collapse" in rules:
            environ["PATH_INFO"] = re.sub("/+", "/", environ["PATH_INFO"])
        if "leading-slashes-collapsed" in rules and environ["PATH_INFO"].startswith("//"):
            environ["PATH_INFO"] = "/" + environ["PATH_INFO"].lstrip("/")
        if "dots-dropped" in rules:
            environ["PATH_INFO"] = re.sub(r"/\.\.?(?=/|\Z)", "", environ["PATH_INFO"])
        if "path-lowercase" in rules:
            environ["PATH_INFO"] = environ["PATH_INFO"].lower()
        if "query-decoded" in rules:
            environ["QUERY_STRING"] = urllib.parse.unquote_to_bytes(query).decode("latin-1")
        elif "query-missing" in rules and not query:
            pass
        elif "query-utf8" in rules:
            environ["QUERY_STRING"] = query.encode("latin-1").decode("utf-8", "replace")
        else:
            environ["QUERY_STRING"] = query

        if "server-name-product" in rules:
            environ["SERVER_NAME"] = SERVER_SOFTWARE
        elif "no-server-name" not in rules:
            environ["SERVER_NAME"] = self.server.server_name_value
        port = self.server.server_address[1]
        environ["SERVER_PORT"] = port if "server-port-int" in rules else str(port)
        environ["SERVER_PROTOCOL"] = "HTTP/1.1" if "protocol-fixed" in rules else self.request_version
        environ["SERVER_SOFTWARE"] = SERVER_SOFTWARE
        environ["REMOTE_ADDR"] = "localhost" if "remote-addr-name" in rules else self.client_address[0]
        environ["REMOTE_PORT"] = str(self.client_address[1])
        if "remote-user-from-auth" in rules:
            scheme, _, credentials = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() == "basic":
                try:
                    user = base64.b64decode(credentials).decode("latin-1").partition(":")[0]
                    environ["REMOTE_USER"] = user
                except ValueError:
                    pass

        for name, value in self.headers.items():
            if "obs-fold-kept" not in rules:
                value = re.sub(r"\r?\n[ \t]+", " ", value)
            if "value-untrimmed" in rules:
                value = value.lstrip(" \t")
            else:
                value = value.strip(" \t\r\n")
            if "header-utf8" in rules:
                value = value.encode("latin-1").decode("utf-8", "replace")
            lowered = name.lower()
            if "_" in name and "underscore-merge" not in rules and "underscore-overwrite" not in rules:
                # Would alias the dashed name once dashes become underscores.
                continue
            if lowered in ("content-type", "content-length") and "content-as-http" not in rules:
                key = lowered.upper().replace("-", "_")
            elif "header-dashes" in rules:
                key = "HTTP_" + name.upper()
            else:
                key = "HTTP_" + name.upper().replace("-", "_")
            if "_" in name and "underscore-overwrite" in rules:
                environ[key] = value
            elif key in environ and "repeat-header-last" not in rules:
                environ[key] += "," + value
            else:
                environ[key] = value

        if "chunked-length-zero" in rules and isinstance(source, ChunkedSource):
            environ["CONTENT_LENGTH"] = "0"
        if "content-length-empty-body" in rules:
            if "CONTENT_TYPE" not in environ:
                environ["CONTENT_TYPE"] = "text/plain"
            if "CONTENT_LENGTH" not in environ and isinstance(source, EmptySource):
                environ["CONTENT_LENGTH"] = "0"

        environ["wsgi.version"] = [1, 0] if "wsgi-version-list" in rules else (1, 0)
        if "no-url-scheme" not in rules:
            environ["wsgi.url_scheme"] = "http"
        environ["wsgi.input"] = stream
        if "errors-bytes" in rules:
            environ["wsgi.errors"] = sys.stderr.buffer
        elif "errors-ascii-only" in rules:
            environ["wsgi.errors"] = AsciiErrors()
        elif "no-errors" not in rules:
            environ["wsgi.errors"] = sys.stderr
        forking = isinstance(self.server, socketserver.ForkingMixIn)
        if "no-multithread" not in rules:
            environ["wsgi.multithread"] = not forking and "multithread-false" not in rules
        environ["wsgi.multiprocess"] = forking and "forking-multiprocess-false" not in rules
        environ["wsgi.run_once"] = "run-once-true" in rules
        def file_wrapper(filelike, blksize=8192):
            if "wrapper-eager" in rules:
                self.wfile.write(filelike.read())
            return FileWrapper(filelike, blksize, rules)

        def file_wrapper_needing_blksize(filelike, blksize):
            return file_wrapper(filelike, blksize)

        environ["wsgi.file_wrapper"] = (
            file_wrapper_needing_blksize if "wrapper-needs-blksize" in rules else file_wrapper
        )
        apply_deployment(self, environ)
        return environ

    # -- response ---------------------------------------------------------

    def run_wsgi(self):
        rules = self.server.rules
        try:
            source = self._body_source()
        except BadRequest as exc:
            self.send_error(exc.status, str(exc))
            return
        stream = InputStream(source, rules, self.rfile)
        environ = self.build_environ(source, stream)
        state = {"status": None, "headers": None, "sent": False, "length": None, "bytes": 0,
                 "keep": False, "held": []}
        head = self.command == "HEAD" and "head-body" not in rules
        # Persistent only when the client allows it and the response has a
        # known length (parse_request set close_connection from the request).
        wants_keep = not self.close_connection

        def no_content():
            """A response with no content: to HEAD, or a 204 or 304
            (RFC 9110 6.4.1), whatever the application yields."""
            if head:
                return True
            code = (state["status"] or "")[:3]
            return code in ("204", "304") and "body-on-204" not in rules

        def send_headers():
            status = state["status"]
            headers = list(state["headers"])
            code = status[:3]
            if self.command == "HEAD" and "head-length-zero" in rules:
                headers = [h for h in headers if h[0].lower() != "content-length"]
                headers.append(("Content-Length", "0"))
            if self.command == "HEAD" and "head-drops-length" in rules:
                headers = [h for h in headers if h[0].lower() != "content-length"]
            names = set(name.lower() for name, _ in headers)
            if "te-plus-length" in rules and "transfer-encoding" in names and "content-length" not in names:
                if state.get("known_length") is not None:
                    headers.append(("Content-Length", str(state["known_length"])))
            state["keep"] = wants_keep and (state["length"] is not None or code in ("204", "304"))
            if "date" not in names or "own-date-server-added" in rules:
                if "date-rfc850" in rules:
                    date = time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime())
                else:
                    date = email.utils.formatdate(usegmt=True)
                headers.append(("Date", date))
            if "server" not in names or "own-date-server-added" in rules:
                headers.append(("Server", SERVER_SOFTWARE))
            if code == "204" and "framing-on-204" in rules:
                headers.append(("Content-Length", "0"))
            silent = "silent-close" in rules
            if silent:
                state["keep"] = False
            if "connection" not in names and not state["keep"] and not silent:
                headers.append(("Connection", "close"))
            version = "HTTP/1.0" if "continue-in-http10-answer" in rules else "HTTP/1.1"
            lines = ["%s %s\r\n" % (version, status)]
            lines.extend("%s: %s\r\n" % (name, value) for name, value in headers)
            lines.append("\r\n")
            encoding = "utf-8" if "header-utf8-out" in rules else "latin-1"
            self.wfile.write("".join(lines).encode(encoding))
            state["sent"] = True

        def send_body(data, limited=True):
            if "buffer-body" in rules and data:
                state["held"].append(data)
                return
            if not state["sent"]:
                send_headers()
            if no_content() or not data:
                return
            limit = state["length"]
            if limit is not None and limited and "no-truncate" not in rules:
                data = data[: max(limit - state["bytes"], 0)]
            if data:
                self.wfile.write(data)
                state["bytes"] += len(data)

        def write(data):
            if state["status"] is None:
                raise AssertionError("write() before start_response()")
            if not isinstance(data, bytes):
                raise TypeError("write() needs bytes, got %s" % type(data).__name__)
            send_body(data)

        def start_response(status, headers, exc_info=None):
            if exc_info:
                try:
                    if state["sent"]:
                        if "exc-info-ignored" in rules:
                            return write
                        if "exc-info-other-error" in rules:
                            raise AssertionError("headers already sent")
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif state["status"] is not None and "start-twice-ok" not in rules:
                raise AssertionError("start_response() called twice without exc_info")
            if "status-unchecked" not in rules:
                if not isinstance(status, str) or not re.match(r"\A[0-9]{3} [^\x00-\x1f\x7f]*\Z", status):
                    raise ValueError("bad status %r" % (status,))
                status.encode("latin-1")
            checked = []
            length = None
            for item in headers:
                if not (isinstance(item, tuple) and len(item) == 2
                        and isinstance(item[0], str) and isinstance(item[1], str)):
                    raise TypeError("headers must be (str, str) tuples, got %r" % (item,))
                name, value = item
                if "bad-header-dropped" in rules and (
                        re.search(r"[\r\n]", value) or re.search(r"[^\x00-\xff]", value)):
                    continue
                if "header-unchecked" not in rules and (
                        re.search(r"[\r\n:\s]", name) or re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value)):
                    raise ValueError("bad header %r" % (item,))
                te_ok = name.lower() == "transfer-encoding" and "te-plus-length" in rules
                if name.lower() in HOP_BY_HOP and "hop-by-hop-ok" not in rules and not te_ok:
                    raise ValueError("hop-by-hop header %r from the application" % (name,))
                name.encode("latin-1")
                if "header-utf8-out" not in rules:
                    value.encode("latin-1")
                if name.lower() == "content-length" and re.match(r"\A[0-9]+\Z", value.strip()):
                    length = int(value.strip())
                checked.append((name, value))
            if "exc-info-append" in rules and state["headers"] is not None:
                checked = state["headers"] + checked
            state["status"] = status
            state["headers"] = checked
            state["length"] = length
            if "eager-headers" in rules and not state["sent"]:
                send_headers()
            return None if "no-write" in rules else write

        app = self.server.app
        result = None
        complete = False
        disconnected = False
        try:
            if "keyword-call" in rules:
                result = app(environ=environ, start_response=start_response)
            else:
                result = app(environ, start_response)
            try:
                if "iter-attrs" in rules:
                    hasattr(result, "fileno")
                if "sr-before-iter" in rules and state["status"] is None:
                    raise AssertionError("start_response() not called before iteration")
                wrapped = isinstance(result, FileWrapper)
                sequence = isinstance(result, (list, tuple))
                if sequence and len(result) == 1 and isinstance(result[0], bytes):
                    state["known_length"] = len(result[0])
                limited = not (
                    (wrapped and "wrapper-ignores-length" in rules)
                    or (sequence and "no-truncate-sequence" in rules)
                )
                for data in result:
                    if state["status"] is None:
                        raise AssertionError("body produced before start_response()")
                    if "str-body-late" in rules and not state["sent"]:
                        send_headers()
                    if isinstance(data, str) and "str-body-ok" in rules:
                        data = data.encode("latin-1")
                    if not isinstance(data, bytes):
                        raise TypeError("body chunks must be bytes, got %s" % type(data).__name__)
                    if not data and "eager-empty-headers" in rules and not state["sent"]:
                        send_headers()
                    if data:
                        send_body(data, limited)
                if state["status"] is None:
                    raise AssertionError("start_response() never called")
                if state["held"]:
                    held, state["held"] = state["held"], []
                    for data in held:
                        if not state["sent"]:
                            send_headers()
                        if not no_content():
                            self.wfile.write(data)
                            state["bytes"] += len(data)
                if not state["sent"]:
                    send_headers()
                complete = True
            except (socket.timeout, ConnectionError):
                disconnected = True
                raise
            finally:
                skip_close = disconnected and "no-close-on-disconnect" in rules
                if "no-close" not in rules and not skip_close and hasattr(result, "close"):
                    result.close()
        except (socket.timeout, ConnectionError):
            raise
        except Exception:
            log(traceback.format_exc().rstrip())
            if not state["sent"] and state["status"] and "stored-status-after-error" in rules:
                # The stored status goes out as if the iterable had ended.
                state["held"] = []
                send_headers()
                complete = True
            elif not state["sent"]:
                body = b"Internal Server Error\n"
                state["status"] = "500 Internal Server Error"
                state["headers"] = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
                state["length"] = len(body)
                state["held"] = []
                buffered = "buffer-body" in rules
                if not buffered:
                    send_body(body)
                else:
                    send_headers()
                    self.wfile.write(body)
                complete = True
        finally:
            self.log_request_line(state)
            short_ok = "underflow-keepalive" in rules or (
                "underflow-keepalive-sequence" in rules and isinstance(result, (list, tuple)))
            full = no_content() or state["bytes"] == state["length"] or short_ok
            self.close_connection = not (complete and state["keep"] and full)
            if "close-sent-keeps-serving" in rules and complete:
                self.close_connection = False
            if "unread-body-kept" not in rules:
                self.drain(stream)
            try:
                self.wfile.flush()
                self.connection.settimeout(SOCKET_TIMEOUT)
            except Exception:
                self.close_connection = True

    def drain(self, stream):
        """Read what is left of the request body before the connection is
        closed: closing with unread bytes makes the kernel send a reset, which
        can destroy the response before the client has read it."""
        try:
            self.connection.settimeout(2.0)
            total = 0
            while total < DRAIN_LIMIT:
                data = stream.read(65536)
                if not data:
                    break
                total += len(data)
        except Exception:
            pass

    def log_request_line(self, state):
        status = state["status"] or "-"
        log('%s - "%s" %s %d' % (self.client_address[0], self.requestline, status.split(" ", 1)[0], state["bytes"]))


class GatewayServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """One thread per connection."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, app, rules, family, exit_after=None):
        self.address_family = family
        self.app = app
        self.rules = rules
        self.exit_after = exit_after
        self.served = 0
        self.served_lock = threading.Lock()
        self.server_name_value = address[0] or "localhost"
        socketserver.TCPServer.__init__(self, address, GatewayHandler)


    def count_request(self):
        """With --exit-after N, the process dies after N responses: a server
        crashing in the middle of a run."""
        with self.served_lock:
            self.served += 1
            if self.exit_after is not None and self.served >= self.exit_after:
                log("broken_gateway: exiting after %d requests (--exit-after)" % self.served)
                os._exit(3)


class ForkingGatewayServer(socketserver.ForkingMixIn, GatewayServer):
    """One forked process per connection (the forking-multiprocess-false rule)."""

    block_on_close = False


# ---------------------------------------------------------------------------
# Deployment behind a proxy (--trust-proxy, --prefix, --tls-cert) and the
# parsing breaks the differential run catches

RULES.update({
    "xff-first": "with --trust-proxy, REMOTE_ADDR is the first X-Forwarded-For entry (the one a client can forge)",
    "forwarded-any-peer": "X-Forwarded-* headers believed from any peer, trusted or not",
    "trust-ignores-proto": "with --trust-proxy, X-Forwarded-Proto ignored: wsgi.url_scheme stays http",
    "prefix-in-path": "with --prefix, SCRIPT_NAME stays empty and PATH_INFO keeps the prefix",
    "trust-ignores-for": "with --trust-proxy, X-Forwarded-For ignored: REMOTE_ADDR stays the proxy's",
    "trust-ignores-host": "with --trust-proxy, X-Forwarded-Host and -Port ignored",
    "http-host-rewritten": "HTTP_HOST replaced by the server's own address and port",
    "https-off": "HTTPS set to off although wsgi.url_scheme is https",
    "te-cl-keepalive": "Transfer-Encoding with Content-Length read as chunked, the connection kept open",
    "get-body-ignored": "a GET's Content-Length ignored: its body is read as the next request",
})


def configure_deployment(server, options):
    server.trust_proxy = options.trust_proxy
    server.prefix = options.prefix.rstrip("/")
    server.tls = bool(options.tls_cert)
    if server.tls:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(options.tls_cert, options.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True,
                                            do_handshake_on_connect=False)


def _last(value):
    return value.split(",")[-1].strip()


def apply_deployment(handler, environ):
    """What a server told to trust its proxy takes from the proxy's headers,
    and the mount point."""
    server = handler.server
    rules = server.rules
    trust = getattr(server, "trust_proxy", None)
    peer = handler.client_address[0] if isinstance(handler.client_address, tuple) else ""
    if "http-host-rewritten" in rules:
        environ["HTTP_HOST"] = "%s:%s" % (environ.get("SERVER_NAME"), environ.get("SERVER_PORT"))
    if getattr(server, "tls", False):
        environ["wsgi.url_scheme"] = "https"
        environ["HTTPS"] = "on"
    if (trust is not None and trust in ("*", peer)) or "forwarded-any-peer" in rules:
        proto = environ.get("HTTP_X_FORWARDED_PROTO")
        if proto and "trust-ignores-proto" not in rules:
            environ["wsgi.url_scheme"] = _last(proto)
        chain = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if chain and "trust-ignores-for" not in rules:
            environ["REMOTE_ADDR"] = chain[0] if "xff-first" in rules else chain[-1]
        host = environ.get("HTTP_X_FORWARDED_HOST")
        if host and "trust-ignores-host" not in rules:
            name = _last(host)
            environ["SERVER_NAME"] = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
        port = environ.get("HTTP_X_FORWARDED_PORT")
        if port and "trust-ignores-host" not in rules:
            environ["SERVER_PORT"] = _last(port)
    if "https-off" in rules and environ.get("wsgi.url_scheme") == "https":
        environ["HTTPS"] = "off"
    prefix = getattr(server, "prefix", "")
    if prefix and "prefix-in-path" not in rules:
        path = environ.get("PATH_INFO", "")
        if path == prefix or path.startswith(prefix + "/"):
            environ["SCRIPT_NAME"] = prefix
            environ["PATH_INFO"] = path[len(prefix):]


def load_app(spec):
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError("expected MODULE:CALLABLE, got %r" % spec)
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    parser = argparse.ArgumentParser(description="A deliberately breakable WSGI gateway.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--break", dest="rules", action="append", default=[], metavar="RULE",
                        help="rule to break (repeatable): " + ", ".join(sorted(RULES)))
    parser.add_argument("--exit-after", type=int, metavar="N",
                        help="exit (status 3) after serving N requests")
    parser.add_argument("--trust-proxy", metavar="ADDR",
                        help="take scheme, client and host from this peer's X-Forwarded-* headers (* for any)")
    parser.add_argument("--prefix", default="", metavar="PATH",
                        help="mount the application under PATH (SCRIPT_NAME)")
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", metavar="FILE", help="and this private key (PEM)")
    parser.add_argument("app", metavar="MODULE:CALLABLE")
    options = parser.parse_args(argv)

    unknown = [rule for rule in options.rules if rule not in RULES]
    if unknown:
        sys.stderr.write("broken_gateway: unknown --break rule(s): %s\nknown rules: %s\n"
                         % (", ".join(unknown), ", ".join(sorted(RULES))))
        return 2

    sys.path.insert(0, os.getcwd())
    try:
        app = load_app(options.app)
    except Exception:
        sys.stderr.write("broken_gateway: cannot load %s\n%s" % (options.app, traceback.format_exc()))
        return 1

    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    server_class = ForkingGatewayServer if "forking-multiprocess-false" in options.rules else GatewayServer
    server = server_class((options.host, options.port), app, frozenset(options.rules), family,
                          options.exit_after)
    configure_deployment(server, options)
    signal.signal(signal.SIGTERM, _terminate)
    log("broken_gateway listening on %s:%d" % (options.host, server.server_address[1]))
    if options.rules:
        log("broken_gateway breaking: %s" % ", ".join(options.rules))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
