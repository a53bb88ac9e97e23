#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-registryd under systemd: sd_notify (READY, STATUS, WATCHDOG,
# STOPPING) to a fake $NOTIFY_SOCKET, and socket activation through
# systemd-socket-activate.
import json
import os
import socket
import time

from grades_test import Daemon, Suite, free_port, registration, registrations, sanitizer_slowdown

suite = Suite("registryd: systemd")
S = sanitizer_slowdown()
WATCHDOG_USEC = 400000  # pings expected every 200 ms
st = {}


def start_notified(t, notify, **kw):
    """Starts a registry that reports to notify and waits for READY=1."""
    reg = Daemon("registryd", notify_socket=notify.path, wait_ready=False, **kw)
    suite.on_cleanup(reg.kill)
    reg.start()
    got = notify.wait_for("READY", "1", timeout=10 * S, since=reg.started)
    if not got:
        t.fail("no READY=1 within %.0f s; stderr:\n%s" % (10 * S, reg.stderr()[-2000:]))
    return reg, got


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


@suite.test("READY=1 (with a STATUS=) comes once the saved registrations are loaded")
def _(t):
    notify = suite.notify_receiver()
    st["notify"] = notify
    d = os.path.join(suite.tmpdir(), "state")
    os.makedirs(d)
    saved = [registration("Logger", "http://127.0.0.1:6301"), registration("Other", "http://127.0.0.1:6302")]
    with open(os.path.join(d, "registry.json"), "w") as f:
        json.dump({"Format": 1, "Services": saved}, f)
    reg, (when, fields) = start_notified(t, notify, state_dir=d, watchdog_usec=WATCHDOG_USEC)
    st["reg"] = reg
    # Right after READY=1 the API must answer, with the saved state.
    listing = registrations(reg.get_json("/services"))
    t.eq([s["ServiceURL"] for s in listing], ["http://127.0.0.1:6301", "http://127.0.0.1:6302"], "listing")
    t.true(fields.get("STATUS"), "READY=1 comes with a STATUS=: %r" % fields)
    t.eq(len(notify.find("READY", "1")), 1, "READY=1 sent once")


@suite.test("STATUS= follows the registrations")
def _(t):
    reg, notify = st["reg"], st["notify"]
    since = time.monotonic()
    t.status(reg.post_json("/services", registration("Third", "http://127.0.0.1:6303")), 200)
    got = notify.wait_for("STATUS", timeout=3 * S, since=since)
    t.true(got, "a STATUS= after the registration")
    t.diag("STATUS=%s" % got[1]["STATUS"])
    t.contains(got[1]["STATUS"], "3", "STATUS mentions the 3 services")


@suite.test("WATCHDOG=1 every WATCHDOG_USEC/2 (several per second with 400 ms)")
def _(t):
    notify = st["notify"]
    start = time.monotonic()
    time.sleep(1.5)
    pings = notify.find("WATCHDOG", "1", since=start)
    times = [p[0] for p in pings]
    gaps = [b - a for a, b in zip(times, times[1:])]
    t.diag("%d pings in 1.5 s; largest gap %.3f s" % (len(pings), max(gaps) if gaps else -1))
    t.ge(len(pings), 4, "pings in 1.5 s")
    t.le(len(pings), 12, "pings in 1.5 s")
    t.le(max(gaps), WATCHDOG_USEC / 1e6 * 0.75 * S, "largest gap between pings (s)")


@suite.test("the watchdog keeps pinging while requests keep the loop busy")
def _(t):
    reg, notify = st["reg"], st["notify"]
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < 1.2:
        reg.post_json("/services", registration("Busy%d" % (n % 20), "http://127.0.0.1:64%02d" % (n % 20)))
        reg.get("/services")
        n += 1
    pings = notify.find("WATCHDOG", "1", since=start)
    t.diag("%d requests, %d pings in 1.2 s" % (2 * n, len(pings)))
    t.ge(len(pings), 3, "pings while busy")


@suite.test("SIGTERM: STOPPING=1, then exit status 0")
def _(t):
    reg, notify = st["reg"], st["notify"]
    since = time.monotonic()
    t.clean_exit(reg)
    got = notify.wait_for("STOPPING", "1", timeout=2, since=since)
    t.true(got, "STOPPING=1 received")


@suite.test("WATCHDOG_PID naming another process: no WATCHDOG=1")
def _(t):
    notify = suite.notify_receiver()
    reg, _ = start_notified(t, notify, watchdog_usec=WATCHDOG_USEC, env={"WATCHDOG_PID": "1"})
    start = time.monotonic()
    time.sleep(0.8)
    t.eq(notify.find("WATCHDOG", "1", since=start), [], "pings")
    t.clean_exit(reg)


@suite.test("without NOTIFY_SOCKET or WATCHDOG_USEC it runs as usual")
def _(t):
    reg = suite.daemon("registryd")
    t.status(reg.post_json("/services", registration("Plain", "http://127.0.0.1:6304")), 200)
    t.clean_exit(reg)


@suite.test("socket activation: it serves on the socket from systemd-socket-activate, not on --listen")
def _(t):
    notify = suite.notify_receiver()
    other = free_port()
    reg = Daemon("registryd", socket_activate=True, listen_arg="127.0.0.1:%d" % other, notify_socket=notify.path,
                 watchdog_usec=WATCHDOG_USEC, ready_path="/services")
    suite.on_cleanup(reg.kill)
    reg.start()  # the first connection makes systemd-socket-activate start it
    st["sa"] = reg
    t.diag("activation socket %d, --listen port %d" % (reg.port, other))
    t.true(notify.wait_for("READY", "1", timeout=5 * S), "READY=1 through the passed NOTIFY_SOCKET")
    t.status(reg.post_json("/services", registration("Activated", "http://127.0.0.1:6305")), 200)
    t.eq([s["ServiceName"] for s in registrations(reg.get_json("/services"))], ["Activated"], "listing")
    t.true(refused(other), "nothing listens on the --listen port %d" % other)
    start = time.monotonic()
    time.sleep(0.6)
    t.ge(len(notify.find("WATCHDOG", "1", since=start)), 2, "watchdog pings under socket activation")
    since = time.monotonic()
    t.clean_exit(reg)
    t.true(notify.wait_for("STOPPING", "1", timeout=2, since=since), "STOPPING=1")


@suite.test("socket activation: the state survives an activation cycle")
def _(t):
    reg = st["sa"]
    reg.start()  # same port and state directory
    t.eq([s["ServiceName"] for s in registrations(reg.get_json("/services"))], ["Activated"],
         "listing after re-activation")
    t.clean_exit(reg)


suite.run()
