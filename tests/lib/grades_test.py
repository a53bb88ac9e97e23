# SPDX-License-Identifier: MIT
"""Harness for the grades integration tests (Python 3 standard library only).

A test file builds a Suite, registers test cases with @suite.test(...) and
calls suite.run(), which prints TAP ("1..N", "ok 1 - ...", "not ok 2 - ...",
diagnostics as "# ..." lines) and exits non-zero if any case failed.

    from grades_test import *

    suite = Suite("registryd: api")

    @suite.test("register and list")
    def _(t):
        reg = suite.daemon("registryd")       # started, ready, stopped at exit
        r = reg.post_json("/services", {...})
        t.eq(r.status, 200, "POST status")

Pieces:
  Suite / Case     TAP output, skips (raise Skip("why")), a watchdog that
                   bails out if the whole file runs too long, cleanup.
  free_port()      a free TCP port on 127.0.0.1 (bind port 0).
  Daemon           runs $GRADES_BUILDDIR/src/NAME/grades-NAME with a temporary
                   state directory, optional NOTIFY_SOCKET/WATCHDOG_USEC and
                   systemd-socket-activate; waits for readiness by polling;
                   .stop() returns (exit status, stderr).
  FakePeer         a ThreadingHTTPServer standing in for a service: records
                   every request (patches are the POSTs), answers heartbeats
                   with a settable status or hangs, can be stopped (closing
                   its keep-alive connections, like a killed process) and
                   restarted on the same port.
  NotifyReceiver   a fake NOTIFY_SOCKET (AF_UNIX SOCK_DGRAM) recording every
                   sd_notify() datagram.
  http()/raw_http  small HTTP clients with timeouts.
  registration()   a registration body as the seed's services send it;
  REGISTRY_FAST    registry options for short heartbeat timings.

Timing assertions should use sanitizer_slowdown() for their slack. Set
$GRADES_TEST_ONLY to a substring of a case's description to run only the
matching cases, and $GRADES_TEST_KEEP to keep the temporary directories.
"""

import atexit
import http.client as httpclient
import http.server as httpserver
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

__all__ = [
    "Suite", "Case", "Skip", "Failed", "free_port", "Daemon", "FakePeer", "NotifyReceiver",
    "Response", "http", "raw_http", "wait_until", "builddir", "srcdir", "sanitizer_slowdown",
    "SANITIZER_MARKERS", "registration", "REGISTRY_FAST",
]

# Heartbeat settings that keep registry tests short. With them a dead
# provider is out of discovery within 300 + 2*100 + 3*200 = 1100 ms.
REGISTRY_FAST = ["--heartbeat-interval=300ms", "--heartbeat-timeout=200ms", "--heartbeat-retry=100ms",
                 "--heartbeat-failures=3"]


def registration(name, url, required=(), update_url=None, heartbeat_url=None):
    """A registration as the seed's services send it (PascalCase keys)."""
    return {
        "ServiceName": name,
        "ServiceURL": url,
        "RequiredServices": list(required),
        "ServiceUpdateURL": update_url or "",
        "HeartbeatURL": heartbeat_url or "",
    }


SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error", "ThreadSanitizer")


# grades-registryd lists itself, in-process, under this name.
REGISTRY_SELF = "RegistryService"


def registrations(listing):
    """A GET /services listing without the registry's own entry (whose
    LastCheck moves on its own)."""
    return [s for s in listing if s.get("ServiceName") != REGISTRY_SELF]


def builddir():
    return os.environ.get("GRADES_BUILDDIR") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))


def srcdir():
    return os.environ.get("GRADES_SRCDIR") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))


def sanitizer_slowdown():
    """A factor for timing slack: sanitizer builds and loaded CI machines are
    slower. $GRADES_TEST_SLOWDOWN sets it; 3 when $ASAN_OPTIONS or
    $UBSAN_OPTIONS is set (make check-sanitizers), else 1."""
    default = "3" if (os.environ.get("ASAN_OPTIONS") or os.environ.get("UBSAN_OPTIONS")) else "1"
    try:
        f = float(os.environ.get("GRADES_TEST_SLOWDOWN", default))
    except ValueError:
        f = 1.0
    return max(f, 1.0)


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.01):
    """Polls predicate() until it returns something true; returns that value,
    or None after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# ---------------------------------------------------------------- TAP ----

class Skip(Exception):
    """Raise inside a test case to report it as skipped."""


class Failed(AssertionError):
    """A failed check; the message becomes a TAP diagnostic."""


class Case:
    """The object a test function receives: checks that raise Failed, and
    diag() for context. Checks stop the case at the first failure."""

    def __init__(self, suite, description):
        self.suite = suite
        self.description = description
        self.notes = []

    def diag(self, msg):
        for line in str(msg).splitlines() or [""]:
            self.notes.append(line)

    def fail(self, msg):
        raise Failed(msg)

    def true(self, cond, what):
        if not cond:
            raise Failed(what)
        return cond

    def eq(self, got, expected, what):
        if got != expected:
            raise Failed("%s: expected %s, got %s" % (what, _short(expected, 2000), _short(got, 2000)))
        return got

    def ne(self, got, unexpected, what):
        if got == unexpected:
            raise Failed("%s: did not expect %s" % (what, _short(got, 2000)))
        return got

    def le(self, got, limit, what):
        if not got <= limit:
            raise Failed("%s: %r is not <= %r" % (what, got, limit))
        return got

    def ge(self, got, limit, what):
        if not got >= limit:
            raise Failed("%s: %r is not >= %r" % (what, got, limit))
        return got

    def contains(self, container, item, what):
        if item not in container:
            raise Failed("%s: %r not in %r" % (what, item, _short(container)))
        return item

    def not_contains(self, container, item, what):
        if item in container:
            raise Failed("%s: %r unexpectedly in %r" % (what, item, _short(container)))

    def status(self, response, expected, what="status"):
        if response.status != expected:
            raise Failed("%s: expected HTTP %d, got %d %s; body %r" % (
                what, expected, response.status, response.reason, response.body[:300]))
        return response

    def json_error(self, response, expected_status, what="error response"):
        """expected_status, Content-Type application/json, body {"error": "..."}."""
        self.status(response, expected_status, what)
        ctype = (response.header("Content-Type") or "").split(";")[0].strip().lower()
        self.eq(ctype, "application/json", "%s: Content-Type" % what)
        try:
            obj = json.loads(response.body)
        except ValueError:
            raise Failed("%s: body is not JSON: %r" % (what, response.body[:300]))
        self.true(isinstance(obj, dict) and isinstance(obj.get("error"), str) and obj["error"],
                  "%s: body is not {\"error\": \"...\"}: %r" % (what, obj))
        return obj["error"]

    def clean_exit(self, daemon, sig=signal.SIGTERM, timeout=15):
        """Stops daemon, checks exit status 0 and no sanitizer report."""
        status, stderr = daemon.stop(sig=sig, timeout=timeout)
        self.check_stderr(daemon, stderr)
        if status != 0:
            self.diag("stderr of %s (tail):\n%s" % (daemon.name, stderr[-3000:]))
        self.eq(status, 0, "exit status of %s" % daemon.name)
        return stderr

    def check_stderr(self, daemon, stderr):
        for marker in SANITIZER_MARKERS:
            if marker in stderr:
                self.diag("stderr of %s:\n%s" % (daemon.name, stderr[-6000:]))
                raise Failed("%s reported %r" % (daemon.name, marker))


def _short(v, n=400):
    s = repr(v)
    return s if len(s) <= n else s[:n] + "..."


class Suite:
    """Collects test cases and runs them with TAP output.

    time_limit: after that many seconds the file bails out (and kills what it
    started), so a hung daemon cannot hang `make check`."""

    def __init__(self, name, time_limit=110):
        self.name = name
        self.cases = []
        self.failed = 0
        self.time_limit = time_limit
        self._cleanups = []
        self._tmpdirs = []
        self._lock = threading.Lock()
        self._out = sys.stdout
        atexit.register(self.cleanup)

    # --- registration
    def test(self, description):
        def wrap(fn):
            self.cases.append((description, fn))
            return fn
        return wrap

    # --- resources released at the end (or on bail out)
    def on_cleanup(self, fn):
        self._cleanups.append(fn)
        return fn

    def tmpdir(self, prefix="grades-test-"):
        """A temporary directory, removed at the end unless a case failed
        or $GRADES_TEST_KEEP is set."""
        d = tempfile.mkdtemp(prefix=prefix)
        self._tmpdirs.append(d)
        return d

    def cleanup(self):
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except Exception:
                pass
        keep = self.failed or os.environ.get("GRADES_TEST_KEEP")
        while self._tmpdirs:
            d = self._tmpdirs.pop()
            if keep:
                self.diag("kept %s" % d)
            else:
                shutil.rmtree(d, ignore_errors=True)

    def daemon(self, name, *args, **kwargs):
        """Starts a Daemon, waits until it is ready, stops it at cleanup."""
        d = Daemon(name, *args, **kwargs)
        self._tmpdirs.append(d.tmp)
        self.on_cleanup(d.kill)
        d.start()
        return d

    def peer(self, *args, **kwargs):
        """Starts a FakePeer, stopped at cleanup."""
        p = FakePeer(*args, **kwargs)
        self.on_cleanup(p.close)
        p.start()
        return p

    def notify_receiver(self):
        n = NotifyReceiver()
        self._tmpdirs.append(n.dir)
        self.on_cleanup(n.close)
        return n

    # --- output
    def emit(self, line):
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()

    def diag(self, msg):
        for line in str(msg).splitlines():
            self.emit("# " + line)

    def _bail(self):
        self.emit("Bail out! %s: still running after %d s (hung daemon?)" % (self.name, self.time_limit))
        self.cleanup()
        os._exit(99)

    def run(self):
        only = os.environ.get("GRADES_TEST_ONLY")  # substring of a description
        self.emit("1..%d" % len(self.cases))
        self.diag("%s (builddir %s)" % (self.name, builddir()))
        watchdog = threading.Timer(self.time_limit, self._bail)
        watchdog.daemon = True
        watchdog.start()
        for number, (description, fn) in enumerate(self.cases, 1):
            desc = description.replace("#", "\\#")
            if only and only not in description:
                self.emit("ok %d - %s # SKIP not selected by GRADES_TEST_ONLY" % (number, desc))
                continue
            case = Case(self, description)
            started = time.monotonic()
            try:
                fn(case)
            except Skip as e:
                self._flush_notes(case)
                self.emit("ok %d - %s # SKIP %s" % (number, desc, e))
                continue
            except Failed as e:
                self.failed += 1
                self.emit("not ok %d - %s" % (number, desc))
                self._flush_notes(case)
                self.diag("  %s" % e)
                continue
            except Exception:
                self.failed += 1
                self.emit("not ok %d - %s" % (number, desc))
                self._flush_notes(case)
                self.diag(traceback.format_exc())
                continue
            self.emit("ok %d - %s" % (number, desc))
            self._flush_notes(case)
            elapsed = time.monotonic() - started
            if elapsed > 5:
                self.diag("  (took %.1f s)" % elapsed)
        watchdog.cancel()
        self.cleanup()
        if self.failed:
            self.diag("%d of %d test cases failed" % (self.failed, len(self.cases)))
        sys.exit(1 if self.failed else 0)

    def _flush_notes(self, case):
        for line in case.notes:
            self.emit("#   " + line)


# --------------------------------------------------------------- HTTP ----

class Response:
    def __init__(self, status, reason, headers, body, received):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body        # bytes
        self.received = received  # time.monotonic() when the response was complete

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:200])


def http(base_url, method, path, body=None, headers=None, timeout=10, conn=None):
    """One request. body: bytes, str, or any other value sent as JSON (with
    Content-Type application/json unless headers name one). Pass conn (an
    httpclient.HTTPConnection) to reuse a keep-alive connection."""
    headers = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    if isinstance(body, str):
        body = body.encode("utf-8")
    own = conn is None
    if own:
        u = urllib.parse.urlsplit(base_url)
        conn = httpclient.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        data = res.read()
        return Response(res.status, res.reason, res.getheaders(), data, time.monotonic())
    except Exception:
        if not own:
            conn.close()
        raise
    finally:
        if own:
            conn.close()


def raw_http(host, port, data, timeout=10, send_body=None, wait_before_body=0.0):
    """Sends raw bytes and returns everything read until the server closes or
    a full response (by Content-Length) has arrived, as a Response (status 0
    when nothing parseable came back). With send_body, data is the head only:
    if the server answers within wait_before_body seconds the body is not sent
    at all (how a server refusing an oversized body is observed without the
    reset that writing into a closed socket provokes)."""
    s = socket.create_connection((host, port), timeout=timeout)
    buf = b""
    try:
        s.sendall(data)
        if send_body is not None:
            r, _, _ = select.select([s], [], [], wait_before_body)
            if not r:
                try:
                    s.sendall(send_body)
                except OSError:
                    pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            res = _parse_response(buf)
            if res is not None:
                return res
    finally:
        s.close()
    return _parse_response(buf, complete=True) or Response(0, "", [], buf, time.monotonic())


def _parse_response(buf, complete=False):
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    res = Response(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, body, time.monotonic())
    length = res.header("Content-Length")
    if length is not None and length.isdigit():
        if len(body) >= int(length):
            res.body = body[:int(length)]
            return res
        return None
    return res if complete else None


# ------------------------------------------------------------- Daemon ----

class Daemon:
    """One daemon process under test.

    name: "registryd" runs $GRADES_BUILDDIR/src/registryd/grades-registryd;
          an absolute path runs that binary.
    args: extra command-line arguments.
    listen: True picks a free port and passes --listen=127.0.0.1:PORT.
    state_dir: defaults to a fresh temporary directory (kept across restarts
          of this object); passed as --state-directory unless
          state_dir_via_env, which sets $STATE_DIRECTORY instead.
    notify_socket / watchdog_usec: set NOTIFY_SOCKET / WATCHDOG_USEC.
    socket_activate: run under systemd-socket-activate listening on the port
          (the daemon then gets --listen only if listen_arg is given).
    ready_path: polled with GET until any HTTP answer (not a connection error).
    """

    def __init__(self, name, args=(), env=None, state_dir=None, state_dir_via_env=False, listen=True,
                 notify_socket=None, watchdog_usec=None, socket_activate=False, listen_arg=None,
                 ready_path="/", ready_timeout=15, config="/dev/null", wait_ready=True):
        self.name = name
        if os.path.isabs(name):
            self.binary = name
            self.name = os.path.basename(name)
        else:
            self.binary = os.path.join(builddir(), "src", name, "grades-" + name)
        self.args = list(args)
        self.extra_env = dict(env or {})
        self.tmp = tempfile.mkdtemp(prefix="grades-%s-" % self.name)
        self.state_dir = state_dir or os.path.join(self.tmp, "state")
        self.state_dir_via_env = state_dir_via_env
        self.listen = listen
        self.port = None
        self.notify_socket = notify_socket
        self.watchdog_usec = watchdog_usec
        self.socket_activate = socket_activate
        self.listen_arg = listen_arg
        self.ready_path = ready_path
        self.ready_timeout = ready_timeout * sanitizer_slowdown()
        self.config = config
        self.wait_ready = wait_ready
        self.proc = None
        self.stderr_path = None
        self.returncode = None
        self.started = None
        self._runs = 0

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def command(self):
        cmd = [self.binary]
        if self.config is not None:
            cmd.append("--config=" + self.config)
        if self.socket_activate:
            if self.listen_arg:
                cmd.append("--listen=" + self.listen_arg)
        elif self.listen:
            cmd.append("--listen=127.0.0.1:%d" % self.port)
        if not self.state_dir_via_env:
            cmd.append("--state-directory=" + self.state_dir)
        cmd += self.args
        if self.socket_activate:
            sa = [_which("systemd-socket-activate"), "-l", "127.0.0.1:%d" % self.port]
            for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "STATE_DIRECTORY", "ASAN_OPTIONS",
                        "UBSAN_OPTIONS", "LSAN_OPTIONS"):
                sa += ["-E", var]
            for var in self.extra_env:
                sa += ["-E", var]
            cmd = sa + cmd
        return cmd

    def environment(self):
        env = dict(os.environ)
        for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                    "LISTEN_FDNAMES", "STATE_DIRECTORY", "LOGS_DIRECTORY", "JOURNAL_STREAM"):
            env.pop(var, None)
        if self.state_dir_via_env:
            env["STATE_DIRECTORY"] = self.state_dir
        if self.notify_socket:
            env["NOTIFY_SOCKET"] = self.notify_socket
        if self.watchdog_usec:
            env["WATCHDOG_USEC"] = str(self.watchdog_usec)
        env.update(self.extra_env)
        return env

    def start(self, attempts=3):
        """Starts the process (again, after stop(): same port and state
        directory) and waits until it is ready."""
        if not os.path.exists(self.binary):
            raise Skip("%s is not built" % self.binary)
        if self.socket_activate and not _which("systemd-socket-activate"):
            raise Skip("systemd-socket-activate is not installed")
        keep_port = self.port is not None
        for attempt in range(attempts):
            if not keep_port:
                self.port = free_port()
            self._runs += 1
            self.stderr_path = os.path.join(self.tmp, "stderr.%d" % self._runs)
            self.returncode = None
            with open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(self.command(), env=self.environment(), stdin=subprocess.DEVNULL,
                                             stdout=err, stderr=err, cwd=self.tmp)
            self.started = time.monotonic()
            if not self.wait_ready:
                return self
            try:
                self.wait_for_ready()
                return self
            except RuntimeError:
                stderr = self.stderr()
                if (not keep_port and self.proc.poll() is not None and "in use" in stderr
                        and attempt + 1 < attempts):
                    continue  # someone took the port between free_port() and bind()
                raise
        return self

    def wait_for_ready(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with status %s before it was ready; stderr:\n%s" % (
                    self.name, self.proc.returncode, self.stderr()[-3000:]))
            try:
                http(self.url, "GET", self.ready_path, timeout=2)
                return
            except (OSError, httpclient.HTTPException) as e:
                last = e
            time.sleep(0.02)
        raise RuntimeError("%s not ready after %.0f s (%s); stderr:\n%s" % (
            self.name, timeout or self.ready_timeout, last, self.stderr()[-3000:]))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        if not self.stderr_path:
            return ""
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def send_signal(self, sig):
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Sends sig and waits; returns (exit status, stderr). Exit status is
        negative for a death by signal (as in subprocess), and None if it had
        to be killed after timeout seconds."""
        if self.proc is None:
            return self.returncode, self.stderr()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * sanitizer_slowdown())
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = None
                self.proc = None
                return None, self.stderr() + "\n[test harness: killed after %d s]" % timeout
        self.returncode = self.proc.returncode
        self.proc = None
        return self.returncode, self.stderr()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    # --- requests to the daemon
    def request(self, method, path, body=None, headers=None, timeout=10):
        return http(self.url, method, path, body=body, headers=headers, timeout=timeout)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def get_json(self, path, **kw):
        r = self.get(path, **kw)
        if r.status != 200:
            raise Failed("GET %s: HTTP %d %r" % (path, r.status, r.body[:300]))
        return r.json()

    def post_json(self, path, obj, **kw):
        return self.request("POST", path, body=obj, **kw)


def _which(prog):
    for d in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) + ["/usr/bin", "/bin"]:
        p = os.path.join(d, prog)
        if os.access(p, os.X_OK):
            return p
    return None


# ----------------------------------------------------------- FakePeer ----

class Request:
    """One request a FakePeer received."""

    def __init__(self, method, path, headers, body, received):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.received = received  # time.monotonic() once the body was read

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%s %s %r>" % (self.method, self.path, self.body[:200])


class _PeerServer(httpserver.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, peer, address):
        self.peer = peer
        self.connections = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _PeerHandler)

    def process_request(self, request, client_address):
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self):
        with self.conn_lock:
            conns = list(self.connections)
            self.connections.clear()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass


class _PeerHandler(httpserver.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real services

    def log_message(self, *args):
        pass

    def _handle(self):
        peer = self.server.peer
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        req = Request(self.command, self.path, self.headers, body, time.monotonic())
        with peer.cond:
            peer.requests.append(req)
            peer.cond.notify_all()
        status, headers, out = peer.respond(req)
        if status is None:  # hang: never answer this one
            peer.release.wait(peer.hang_seconds)
            self.close_connection = True
            return
        try:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)
        except OSError:
            self.close_connection = True

    def _read_chunked(self):
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


class FakePeer:
    """A stand-in for a service: a threaded HTTP server on 127.0.0.1.

    GET/HEAD on a path starting with /heartbeat answers heartbeat_status
    (200 by default; None makes the probe hang until stop()). POST records a
    patch and answers patch_status after patch_delay seconds. Other requests
    answer 404, unless handlers[(METHOD, PATH)] = fn(request) -> (status,
    headers, body) says otherwise. Everything is recorded in .requests.

    stop() closes the listener and every open connection, like a killed
    process; start() listens again on the same port."""

    def __init__(self, port=None, heartbeat_status=200):
        self.port = port or free_port()
        self.heartbeat_status = heartbeat_status
        self.patch_status = 200
        self.patch_delay = 0.0
        self.hang_seconds = 30
        self.handlers = {}
        self.requests = []
        self.cond = threading.Condition()
        self.release = threading.Event()
        self.server = None
        self.thread = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        if self.server:
            return self
        self.release.clear()
        deadline = time.monotonic() + 5
        while True:
            try:
                self.server = _PeerServer(self, ("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if not self.server:
            return
        self.server.shutdown()
        self.server.server_close()
        self.server.drop_connections()
        self.release.set()
        self.thread.join(5)
        self.server = None

    close = stop

    def running(self):
        return self.server is not None

    def respond(self, req):
        h = self.handlers.get((req.method, req.path.split("?")[0]))
        if h:
            return h(req)
        if req.method in ("GET", "HEAD") and req.path.startswith("/heartbeat"):
            if self.heartbeat_status is None:
                return None, [], b""
            return self.heartbeat_status, [], b""
        if req.method == "POST":
            if self.patch_status is None:
                return None, [], b""
            if self.patch_delay:
                time.sleep(self.patch_delay)
            return self.patch_status, [], b""
        return 404, [("Content-Type", "application/json")], b'{"error":"not found"}'

    # --- what it received
    def patches(self, path=None):
        """POSTs (the patches), optionally only those to path."""
        with self.cond:
            return [r for r in self.requests if r.method == "POST" and (path is None or r.path == path)]

    def heartbeats(self):
        with self.cond:
            return [r for r in self.requests if r.method in ("GET", "HEAD") and r.path.startswith("/heartbeat")]

    def wait_for(self, predicate, timeout):
        """Waits until predicate(list of requests) is true; returns its value or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = predicate(list(self.requests))
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def wait_for_patches(self, path, count, timeout):
        """Waits until at least count patches arrived at path; returns them all (or None)."""
        def enough(reqs):
            p = [r for r in reqs if r.method == "POST" and r.path == path]
            return p if len(p) >= count else None
        return self.wait_for(enough, timeout)


# ----------------------------------------------------- NotifyReceiver ----

class NotifyReceiver:
    """A fake $NOTIFY_SOCKET: an AF_UNIX datagram socket in a temporary
    directory. Every datagram is kept as (time.monotonic(), {field: value})."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="grades-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages = []
        self.cond = threading.Condition()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = {}
            for line in data.decode("utf-8", "replace").split("\n"):
                if "=" in line:
                    k, _, v = line.partition("=")
                    fields[k] = v
            with self.cond:
                self.messages.append((time.monotonic(), fields))
                self.cond.notify_all()

    def wait_for(self, key, value=None, timeout=10, since=0.0):
        """Waits for a datagram with key (=value) received after `since`;
        returns (time, fields) or None."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for t, f in self.messages:
                    if t >= since and key in f and (value is None or f[key] == value):
                        return t, f
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def find(self, key, value=None, since=0.0, until=float("inf")):
        with self.cond:
            return [(t, f) for t, f in self.messages
                    if since <= t <= until and key in f and (value is None or f[key] == value)]

    def close(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            os.unlink(self.path)
        except OSError:
            pass
