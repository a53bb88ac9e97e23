# SPDX-License-Identifier: MIT
"""Helpers for the grades-logd tests, on top of grades_test.

    from grades_test import *
    from logd_helpers import *

    logs = suite.tmpdir()
    logd = start_logd(suite, logs, registry=reg.url)
    central = CentralLog(logs)
    central.wait_for(lambda lines: ..., timeout)

Pieces:
  CentralLog        reads LOGS_DIRECTORY/central.log as bytes, parses each
                    line into (time, service, priority, message).
  start_logd()      a grades-logd on a free port, its logs directory given,
                    and a registry URL (a dead port unless one is given, so
                    that it never talks to a registry on the default port).
  start_registry()  a grades-registryd with the fast heartbeat settings.
  shipped_lines()   the lines a daemon logged at info and above, from its
                    stderr, in the order it logged them: what it ships.
  FsizeDaemon       a Daemon whose process runs with RLIMIT_FSIZE set and
                    SIGXFSZ ignored, so writes past the limit fail (EFBIG);
                    start_daemon(suite, d) starts one with cleanup.
"""

import os
import re
import shutil
import sys
import time

from grades_test import REGISTRY_FAST, Daemon, free_port, sanitizer_slowdown

__all__ = [
    "CentralLog", "LINE_RE", "start_logd", "start_registry", "shipped_lines", "FsizeDaemon", "start_daemon",
    "slack", "dead_url", "wait_registered", "log_service_url",
]

# "2026-11-25T12:21:08.123Z [GradingService] info: message"
LINE_RE = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) \[([^\]]*)\] "
                     rb"(emerg|alert|crit|err|warning|notice|info|debug): (.*)$")


def slack(seconds):
    """A timeout with room for a loaded machine and sanitizer builds."""
    return seconds * sanitizer_slowdown()


def dead_url():
    """A URL nobody listens on (for --registry when no registry is wanted)."""
    return "http://127.0.0.1:%d" % free_port()


class Line:
    def __init__(self, raw):
        self.raw = raw
        m = LINE_RE.match(raw)
        self.ok = m is not None
        if m:
            self.time, self.service, self.priority, self.message = (
                m.group(1).decode(), m.group(2).decode("utf-8", "surrogateescape"), m.group(3).decode(),
                m.group(4).decode("utf-8", "surrogateescape"))
        else:
            self.time = self.service = self.priority = self.message = None

    def __repr__(self):
        return "<Line %r>" % self.raw[:200]


class CentralLog:
    """The central log file of a logd. Lines are split on b"\\n" only (the
    file's record separator), never on other line breaks."""

    def __init__(self, logs_dir, name="central.log"):
        self.path = os.path.join(logs_dir, name)

    def data(self):
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def raw_lines(self):
        """Every complete line (without its newline); a partial last line is
        left out."""
        data = self.data()
        if not data:
            return []
        parts = data.split(b"\n")
        return parts[:-1]

    def lines(self, service=None):
        out = [Line(r) for r in self.raw_lines()]
        if service is not None:
            out = [l for l in out if l.service == service]
        return out

    def messages(self, service):
        return [l.message for l in self.lines(service)]

    def wait_for(self, predicate, timeout):
        """Polls predicate(list of Line) until true; returns its value or None."""
        deadline = time.monotonic() + slack(timeout)
        while True:
            v = predicate(self.lines())
            if v:
                return v
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def wait_for_message(self, service, message, timeout):
        return self.wait_for(lambda ls: [l for l in ls if l.service == service and l.message == message], timeout)

    def wait_for_count(self, service, pred, count, timeout):
        """Waits until at least count lines of service satisfy pred(message)."""
        def enough(ls):
            m = [l for l in ls if l.service == service and pred(l.message)]
            return m if len(m) >= count else None
        return self.wait_for(enough, timeout)


def start_logd(suite, logs_dir, registry=None, args=(), **kw):
    """A grades-logd writing to logs_dir/central.log, registering with
    registry (a dead URL if None)."""
    a = ["--logs-directory=" + logs_dir, "--registry=" + (registry or dead_url())] + list(args)
    return suite.daemon("logd", a, **kw)


def start_registry(suite, args=(), **kw):
    return suite.daemon("registryd", REGISTRY_FAST + list(args), ready_path="/services", **kw)


_STDERR_RE = re.compile(r"^<([0-7])>([^:]+): (.*)$")


def shipped_lines(daemon, program=None, max_level=6):
    """(priority, message) of every line daemon logged at max_level or more
    severe, as its stderr shows them, in order. Lines a shipper printed
    itself (with the service name instead of the program name) are left
    out: they are not queued."""
    program = program or ("grades-" + daemon.name.replace("grades-", ""))
    out = []
    for line in daemon.stderr().split("\n"):
        m = _STDERR_RE.match(line)
        if m and m.group(2) == program and int(m.group(1)) <= max_level:
            out.append((int(m.group(1)), m.group(3)))
    return out


def log_service_url(reg):
    return [s["ServiceURL"] for s in reg.get_json("/services/LogService")]


def wait_registered(reg, url, timeout=10):
    deadline = time.monotonic() + slack(timeout)
    while time.monotonic() < deadline:
        if url in log_service_url(reg):
            return True
        time.sleep(0.02)
    return False


def start_daemon(suite, d):
    """Starts a Daemon object built here (such as an FsizeDaemon) the way
    suite.daemon() does: its directory removed and the process killed at
    cleanup."""
    suite.on_cleanup(lambda: shutil.rmtree(d.tmp, ignore_errors=True) if not suite.failed else None)
    suite.on_cleanup(d.kill)
    d.start()
    return d


class FsizeDaemon(Daemon):
    """A Daemon started through a small Python wrapper that sets
    RLIMIT_FSIZE to fsize bytes and ignores SIGXFSZ (both survive exec), so a
    write that would grow a file beyond fsize is cut short or fails with
    EFBIG instead of killing the process."""

    def __init__(self, name, args=(), fsize=65536, **kw):
        super().__init__(name, args, **kw)
        self.fsize = fsize

    def command(self):
        cmd = super().command()
        wrapper = ("import os, resource, signal, sys\n"
                   "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                   "resource.setrlimit(resource.RLIMIT_FSIZE, (%d, %d))\n"
                   "os.execv(sys.argv[1], sys.argv[1:])\n" % (self.fsize, self.fsize))
        return [sys.executable, "-c", wrapper] + cmd
