#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-registryd: registrations survive a restart ($STATE_DIRECTORY or
# --state-directory, registry.json), and come back as "unknown".
import json
import os
import signal
import time

from grades_test import REGISTRY_FAST, Daemon, Suite, registration, registrations, sanitizer_slowdown

suite = Suite("registryd: persistence")
S = sanitizer_slowdown()
st = {}


def urls(reg):
    return [s["ServiceURL"] for s in registrations(reg.get_json("/services"))]


def state_file():
    return os.path.join(st["dir"], "registry.json")


def saved_urls():
    try:
        with open(state_file()) as f:
            return [s["ServiceURL"] for s in json.load(f)["Services"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


@suite.test("registrations are saved in $STATE_DIRECTORY/registry.json")
def _(t):
    st["dir"] = os.path.join(suite.tmpdir(), "state")
    st["peer"] = suite.peer()
    st["peer"].heartbeat_status = 200
    reg = suite.daemon("registryd", REGISTRY_FAST, state_dir=st["dir"], state_dir_via_env=True)
    st["reg"] = reg
    peer = st["peer"]
    st["regs"] = [
        registration("Logger", peer.url, heartbeat_url=peer.url + "/heartbeat"),
        registration("NoHeartbeat", "http://127.0.0.1:6101"),
        registration("Portal", "http://127.0.0.1:6102", ["Logger"], update_url=peer.url + "/portal"),
        registration("Gone", "http://127.0.0.1:6103"),
    ]
    for r in st["regs"]:
        t.status(reg.post_json("/services", r), 200, "register %s" % r["ServiceName"])
    t.status(reg.request("DELETE", "/services", body="http://127.0.0.1:6103"), 200, "deregister Gone")
    t.status(reg.post_json("/services", registration("NoHeartbeat", "http://127.0.0.1:6101")), 200, "re-register")
    # Re-registering replaces the entry, which moves it to the end.
    st["regs"] = [st["regs"][0], st["regs"][2], st["regs"][1]]
    expected = [r["ServiceURL"] for r in st["regs"][:3]]
    got = _wait(lambda: saved_urls() == expected and saved_urls(), 3 * S)
    t.eq(saved_urls(), expected, "ServiceURLs in %s" % state_file())
    with open(state_file()) as f:
        saved = json.load(f)
    t.eq(saved["Services"][1], st["regs"][1], "a saved registration")
    t.true(got, "saved")


def _wait(fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.02)
    return fn()


@suite.test("clean stop: exit status 0")
def _(t):
    t.clean_exit(st["reg"])
    t.eq(saved_urls(), [r["ServiceURL"] for r in st["regs"][:3]], "state file after the stop")


@suite.test("a restarted registry (--state-directory) lists them, as unknown, in the same order")
def _(t):
    peer = st["peer"]
    peer.heartbeat_status = None  # hold the first probe, so "unknown" can be seen
    reg = suite.daemon("registryd", ["--heartbeat-interval=300ms", "--heartbeat-timeout=2s",
                                     "--heartbeat-retry=100ms"], state_dir=st["dir"])
    st["reg"] = reg
    listing = registrations(reg.get_json("/services"))
    t.eq([s["ServiceURL"] for s in listing], [r["ServiceURL"] for r in st["regs"][:3]], "URLs")
    for s, r in zip(listing, st["regs"]):
        for k in r:
            t.eq(s[k], r[k], "%s of %s" % (k, r["ServiceName"]))
        t.eq(s["Status"], "unknown", "Status of %s" % r["ServiceName"])
        t.eq(s["LastCheck"], None, "LastCheck of %s" % r["ServiceName"])
        t.eq(s["Failures"], 0, "Failures of %s" % r["ServiceName"])
    t.eq([s["ServiceURL"] for s in reg.get_json("/services/Logger")], [peer.url],
         "unknown providers are discoverable")


@suite.test("the loaded provider is probed at once and becomes passing")
def _(t):
    peer = st["peer"]
    peer.heartbeat_status = 200
    peer.release.set()  # answer (well, drop) the held probe
    reg = st["reg"]

    def passing():
        s = [s for s in reg.get_json("/services") if s["ServiceURL"] == peer.url][0]
        return s["Status"] == "passing" and s
    s = _wait(passing, 3 * S)
    t.true(s, "Logger passing")
    t.true(isinstance(s["LastCheck"], str), "LastCheck set")
    nohb = [s for s in reg.get_json("/services") if s["ServiceURL"] == "http://127.0.0.1:6101"][0]
    t.eq(nohb["Status"], "unknown", "the one without HeartbeatURL stays unknown")
    peer.release.clear()


@suite.test("loaded dependents still get patches, and registering an existing URL replaces it")
def _(t):
    reg, peer = st["reg"], st["peer"]
    t.status(reg.post_json("/services", registration("Logger", "http://127.0.0.1:6104")), 200)
    got = peer.wait_for_patches("/portal", 2, 3 * S)
    t.true(got, "Portal got a patch after the restart")
    p = got[-1].json()
    t.eq((p["Added"], p["Removed"]), ([{"Name": "Logger", "URL": "http://127.0.0.1:6104"}], []), "patch")
    t.status(reg.post_json("/services", registration("Portal", "http://127.0.0.1:6102", ["Logger"],
                                                     update_url=peer.url + "/portal")), 200)
    t.eq(urls(reg).count("http://127.0.0.1:6102"), 1, "one Portal entry")
    t.status(reg.request("DELETE", "/services", body="http://127.0.0.1:6101"), 200, "deregister NoHeartbeat")
    t.clean_exit(reg)


@suite.test("the next start sees the changes made after the restart")
def _(t):
    reg = suite.daemon("registryd", REGISTRY_FAST, state_dir=st["dir"])
    st["reg"] = reg
    t.eq(sorted(urls(reg)), sorted([st["peer"].url, "http://127.0.0.1:6102", "http://127.0.0.1:6104"]), "URLs")


@suite.test("after SIGKILL the registrations saved so far survive (the file is never torn)")
def _(t):
    reg = st["reg"]
    t.status(reg.post_json("/services", registration("Late", "http://127.0.0.1:6105")), 200)
    t.true(_wait(lambda: "http://127.0.0.1:6105" in (saved_urls() or []), 3 * S), "saved")
    for i in range(20):  # keep the writer busy while the process dies
        reg.post_json("/services", registration("Burst%d" % i, "http://127.0.0.1:62%02d" % i))
    status, stderr = reg.stop(sig=signal.SIGKILL)
    t.eq(status, -signal.SIGKILL, "killed")
    with open(state_file()) as f:
        json.load(f)  # must parse
    reg2 = suite.daemon("registryd", REGISTRY_FAST, state_dir=st["dir"])
    st["reg"] = reg2
    got = urls(reg2)
    t.contains(got, "http://127.0.0.1:6105", "registered before the kill")
    t.clean_exit(reg2)


@suite.test("a damaged state file: the registry refuses to start and leaves the file alone")
def _(t):
    d = os.path.join(suite.tmpdir(), "state")
    os.makedirs(d)
    path = os.path.join(d, "registry.json")
    with open(path, "w") as f:
        f.write('{"Format": 1, "Services": [')
    reg = Daemon("registryd", state_dir=d, wait_ready=False)
    suite.on_cleanup(reg.kill)
    reg.start()
    try:
        reg.proc.wait(10 * S)
    except Exception:
        pass
    status, stderr = reg.stop()
    t.check_stderr(reg, stderr)
    t.true(status not in (0, None), "exit status is an error: %r" % status)
    t.contains(stderr, "registry.json", "stderr names the file")
    with open(path) as f:
        t.eq(f.read(), '{"Format": 1, "Services": [', "file content")


@suite.test("an unwritable state directory: the registry refuses to start")
def _(t):
    # A path under a regular file: not creatable even by root.
    base = suite.tmpdir()
    blocker = os.path.join(base, "file")
    with open(blocker, "w") as f:
        f.write("x")
    reg = Daemon("registryd", state_dir=os.path.join(blocker, "state"), wait_ready=False)
    suite.on_cleanup(reg.kill)
    reg.start()
    try:
        reg.proc.wait(10 * S)
    except Exception:
        pass
    status, stderr = reg.stop()
    t.check_stderr(reg, stderr)
    t.true(status not in (0, None), "exit status is an error: %r" % status)


suite.run()
