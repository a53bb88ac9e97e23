#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The system test: the installed daemons, data and units under a real
# systemd 252, in a Debian 12 container (tests/system/sandbox.py): socket
# activation, readiness, the journal and the central log, restarts after
# kill -9 and after a watchdog timeout, and a clean stop.
#
# Needs root (systemd-nspawn, debootstrap; both are apt-get installed if
# missing) and, the first time, Debian's archive: the root file system is
# cached in /var/tmp/grades-system-test/ (1 minute to make, 1 s to boot).
#
# What it tests is the Debian package by default: grades_*.deb, built with
# DEB_BUILD_OPTIONS=nocheck tools/build-deb (the unit and integration tests
# have run in this make check already) and cached in
# $GRADES_BUILDDIR/_system-deb/ (tests/system/systest.py; test-package.py
# uses the same build), installed with apt-get install ./grades_*.deb. With
# GRADES_SYSTEM_FROM=destdir (quicker while iterating, and the fallback
# outside a git checkout) it is make install DESTDIR= from a second build
# tree, $GRADES_BUILDDIR/_system-stage, configured with --prefix=/usr
# --sysconfdir=/etc --localstatedir=/var.
#
# Skips itself (1..0 # SKIP) when not root, when the tools cannot be had,
# when the archive cannot be reached for a first build, in the package build
# (GRADES_PACKAGE_BUILD=1), in a sanitizer build (GRADES_SANITIZERS=1 or
# configure --enable-sanitizers: one run is enough), or with
# GRADES_SYSTEM_TEST=0. Prints the times it measures at the end and saves
# the container's journal to tests/artifacts/system-journal.txt.
#
# Alone: sudo make check TESTS=tests/system/test-system.py
#        sudo make check TESTS=tests/system/test-system.py GRADES_SYSTEM_FROM=destdir
import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import sandbox  # next to this file
import systest
from grades_test import Skip, Suite, builddir, srcdir, wait_until
from systest import archive_reachable, artifacts_dir, bail_out, run_logged, skip_all

DAEMONS = ("registry", "log", "grading", "portal")
PORTS = {"registry": 3000, "log": 4000, "grading": 6000, "portal": 5005}
SERVICE_NAMES = {"registry": "RegistryService", "log": "LogService", "grading": "GradingService",
                 "portal": "PortalService"}
# Listed by the registry: the three that register over HTTP (and
# deregister when they stop), and the registry itself.
HTTP_REGISTRANTS = ("log", "grading", "portal")
REGISTRANTS = DAEMONS
SECURITY_LIMIT = 2.0


def service(d):
    return "grades-%s.service" % d


def socket_unit(d):
    return "grades-%s.socket" % d


def url(d, path=""):
    return "http://127.0.0.1:%d%s" % (PORTS[d], path)


def out(msg):
    print("# " + msg, flush=True)


# ------------------------------------------------------------- set-up ----

def install_stage():
    """make install DESTDIR= from a build configured for /usr, /etc and /var;
    returns the DESTDIR."""
    build = os.path.join(builddir(), "_system-stage")
    dest = os.path.join(build, "root")
    log = os.path.join(build, "build.log")
    os.makedirs(build, exist_ok=True)
    with open(log, "w"):
        pass
    src = srcdir()
    if os.path.exists(os.path.join(src, "config.status")):
        # The source tree is configured itself, so it cannot host another
        # (VPATH) build: build a fresh copy of what make dist would ship.
        src = os.path.join(build, "src")
        subprocess.run(["rm", "-rf", src], check=True)
        run_logged(["make", "-C", builddir(), "distdir", "distdir=" + src, "top_distdir=" + src], log)
        build = src
    if not os.path.exists(os.path.join(build, "Makefile")):
        run_logged([os.path.join(src, "configure"), "--prefix=/usr", "--sysconfdir=/etc",
                    "--localstatedir=/var"], log, cwd=build)
    run_logged(["make", "-j%d" % (os.cpu_count() or 2)], log, cwd=build)
    subprocess.run(["rm", "-rf", dest], check=True)
    run_logged(["make", "install", "DESTDIR=" + dest], log, cwd=build)
    return dest


# What is installed: "package" (the default) or "destdir".
FROM = os.environ.get("GRADES_SYSTEM_FROM") or "package"


def prepare():
    """Everything before the first test case; skips or bails out. Returns the
    box and what to install: a systest.Package, or a DESTDIR."""
    global FROM
    why = systest.skip_reason()
    if why:
        skip_all(why)
    if FROM not in ("package", "destdir"):
        bail_out("GRADES_SYSTEM_FROM=%s: package (the default) or destdir" % FROM)
    try:
        sandbox.install_tools(out)
    except (sandbox.SandboxError, OSError) as e:
        skip_all("no systemd-nspawn or debootstrap, and apt-get could not install them: %s"
                 % str(e).splitlines()[0])
    if FROM == "package":
        why = systest.cannot_build_deb()
        if why:
            out("cannot build the .deb (%s): installing with make install DESTDIR= instead" % why)
            FROM = "destdir"
    started = time.monotonic()
    if FROM == "package":
        try:
            what = systest.build_deb(log=out)
        except (RuntimeError, subprocess.SubprocessError, OSError) as e:
            bail_out("building the .deb failed: %s" % e)
        out("%s: %s" % (what.path, "from the cache" if what.cached else "built in %.1f s" % what.seconds))
    else:
        try:
            what = install_stage()
        except RuntimeError as e:
            bail_out("make install DESTDIR= failed: %s" % e)
        out("make install DESTDIR=%s: %.1f s" % (what, time.monotonic() - started))
    try:
        if FROM == "package":
            packages = systest.runtime_packages(what.path)
        else:
            packages = sandbox.runtime_packages(sorted(glob.glob(what + "/usr/sbin/grades-*")))
    except (sandbox.SandboxError, subprocess.SubprocessError, OSError) as e:
        bail_out("cannot tell which Debian packages the daemons need: %s" % e)
    box = sandbox.Sandbox(packages, log=out)
    if not os.path.exists(os.path.join(box.rootfs, ".complete")) and not archive_reachable():
        skip_all("no cached Debian root and %s cannot be reached" % sandbox.MIRROR)
    started = time.monotonic()
    try:
        if box.build():
            out("debootstrap of %s: %.1f s" % (box.rootfs, time.monotonic() - started))
        else:
            out("cached Debian root %s" % box.rootfs)
    except (sandbox.SandboxError, subprocess.SubprocessError, OSError) as e:
        bail_out("cannot make the Debian root: %s" % e)
    return box, what


# -------------------------------------------------------------- helpers ----

box = None
stage = None  # what is installed: a systest.Package, or a DESTDIR (GRADES_SYSTEM_FROM=destdir)
measured = []  # (what, seconds) for the summary


def measure(what, seconds):
    measured.append((what, seconds))
    return seconds


def need_box():
    systest.need_up(box)


def inside(t, *argv, timeout=60):
    return systest.inside(box, t, *argv, timeout=timeout)


def show(unit, *props):
    return box.show(unit, *props)


def http(u, method="GET", body=None, ctype=None, timeout=30):
    return box.curl(u, method, body, ctype or "application/json", timeout=timeout)


def get_json(t, u):
    rc, status, text = http(u)
    if rc != 0 or status != 200:
        t.fail("GET %s: curl exit %d, HTTP %d: %s" % (u, rc, status, text[:300]))
    return json.loads(text)


def services(t):
    return {s["ServiceURL"]: s for s in get_json(t, url("registry", "/services"))}


def all_passing(t):
    listing = services(t)
    return all(listing.get(url(d), {}).get("Status") == "passing" for d in REGISTRANTS) and listing


def journal_cursor():
    r = box.run("journalctl", "--no-pager", "-n", "0", "--show-cursor")
    m = re.search(r"-- cursor: (\S+)", r.stdout)
    return m.group(1) if m else None


def journal(unit, after=None, fmt="cat"):
    """The unit's journal from the cursor on. Not --after-cursor: when the
    cursor's own entry is another unit's, journalctl then skips the first
    entry of this one too."""
    argv = ["journalctl", "--no-pager", "-o", fmt, "-u", unit]
    if after:
        argv.append("--cursor=" + after)
    return box.run(*argv).stdout


def providers(t, d):
    """The providers a daemon holds, name -> [URL], from its GET /providers."""
    return get_json(t, url(d, "/providers"))["Providers"]


# Signals UNIT's main process from inside and waits until UNIT is active
# again under a new main PID. Meanwhile it sends one request to each URL every
# 50 ms (each in the background), then one more round to the new daemon.
# Prints "request EXIT HTTP-STATUS SECONDS SUBSTATE-WHEN-SENT URL" per request,
# then "restarted MICROSECONDS" (or "timeout") and the substates seen.
RESTART = r'''
unit=$1 sig=$2 timeout=$3; shift 3
now() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }
req() {
        local r
        r=$(curl -s -o /dev/null --max-time 30 -w '%{http_code} %{time_total}' "$1")
        echo "request $? $r $2 $1"
}
old=$(systemctl show -P MainPID "$unit")
t0=$(now)
systemctl kill --kill-who=main --signal="$sig" "$unit" || exit 1
seen= rounds=0
while :; do
        sub=$(systemctl show -P SubState "$unit")
        case " $seen " in *" $sub "*) ;; *) seen="$seen $sub" ;; esac
        if [ "$rounds" -lt 60 ]; then
                for u in "$@"; do req "$u" "$sub" & done
                rounds=$((rounds + 1))
        fi
        if [ "$(systemctl show -P ActiveState "$unit")" = active ]; then
                pid=$(systemctl show -P MainPID "$unit")
                if [ "$pid" != "$old" ] && [ "$pid" != 0 ]; then
                        echo "restarted $(($(now) - t0))"
                        break
                fi
        fi
        if [ $(($(now) - t0)) -gt $((timeout * 1000000)) ]; then
                echo timeout
                break
        fi
        sleep 0.05
done
for u in "$@"; do req "$u" after & done
wait
echo "substates$seen"
'''


class Restart:
    def __init__(self, output):
        self.requests = []  # (curl exit, HTTP status, seconds, substate when sent, URL)
        self.seconds = None
        self.substates = []
        for line in output.splitlines():
            f = line.split()
            if f[:1] == ["request"] and len(f) == 6:
                self.requests.append((int(f[1]), int(f[2]), float(f[3]), f[4], f[5]))
            elif f[:1] == ["restarted"]:
                self.seconds = int(f[1]) / 1e6
            elif f[:1] == ["substates"]:
                self.substates = f[1:]


def restart(t, d, sig, timeout, *urls):
    """Signals daemon d's main process (inside, by systemctl kill) and waits
    for its restart; returns a Restart."""
    before = int(show(service(d), "NRestarts")["NRestarts"])
    r = Restart(inside(t, "bash", "-c", RESTART, "restart", service(d), sig, str(timeout), *urls,
                       timeout=timeout + 40))
    t.diag("%s: substates seen after %s: %s" % (service(d), sig, " ".join(r.substates)))
    t.true(r.seconds is not None, "%s not active again under a new PID %d s after %s" % (service(d), timeout, sig))
    t.eq(int(show(service(d), "NRestarts")["NRestarts"]), before + 1, "NRestarts of %s" % service(d))
    return r


def check_requests(t, r, what):
    """No request got connection refused (curl exit 7); every one was answered 200."""
    during = [q for q in r.requests if q[3] != "running" and q[3] != "after"]
    t.diag("%d requests, %d of them sent while the daemon was down or starting; longest wait %.3f s"
           % (len(r.requests), len(during), max((q[2] for q in r.requests), default=0)))
    t.true(during, "no request was sent during the restart of %s" % what)
    refused = [q for q in r.requests if q[0] == 7]
    t.eq(refused, [], "requests refused (curl exit 7)")
    failed = [q for q in r.requests if q[0] != 0 or q[1] != 200]
    t.eq(failed, [], "requests that failed")


# ---------------------------------------------------------------- cases ----

suite = Suite("system: the installed units under systemd 252 in systemd-nspawn", time_limit=300)
state = {}


@suite.test("the container boots; the build is installed (GRADES_SYSTEM_FROM=%s); grades.target and its 8 units "
            "load; it is enabled" % FROM)
def _(t):
    started = time.monotonic()
    try:
        box.up()
    except sandbox.SandboxError as e:
        box.down()
        t.fail(str(e))
    t.diag("booted in %.2f s (leader PID %d on the host)" % (time.monotonic() - started, box.leader))
    if FROM == "package":
        path = box.push([stage.path], systest.DEB_DIR_INSIDE)[0]
        started = time.monotonic()
        tool, r = systest.install_deb(box, path)
        t.diag("%s %s: exit %d, %.2f s" % (tool, path, r.returncode, time.monotonic() - started))
        if r.returncode != 0:
            t.fail("%s %s failed:\n%s%s" % (tool, path, r.stdout[-3000:], r.stderr[-2000:]))
        status = box.run("dpkg-query", "-W", "-f", "${Status} ${Version}", "grades").stdout
        t.eq(status, "install ok installed " + stage.version, "dpkg-query status of grades")
    else:
        box.copy_in(stage)
        inside(t, "systemctl", "daemon-reload")
    listed = inside(t, "systemctl", "list-unit-files", "--no-legend", "grades*")
    units = sorted(line.split()[0] for line in listed.splitlines() if line.strip())
    t.eq(units, sorted(["grades.target"] + [service(d) for d in DAEMONS] + [socket_unit(d) for d in DAEMONS]),
         "installed units")
    missing = inside(t, "sh", "-c", "ldd /usr/sbin/grades-* | grep 'not found' || true")
    t.eq(missing, "", "libraries the installed daemons cannot find")
    if FROM == "package":
        # The package enables grades.target and the sockets, and starts
        # them; the cases below start from a stopped grades.target (the cold
        # start they measure), as after a DESTDIR install.
        t.eq(box.run("systemctl", "is-enabled", "grades.target").stdout.strip(), "enabled", "grades.target")
        t.eq(box.run("systemctl", "is-active", "grades.target").stdout.strip(), "active",
             "grades.target after the install")
        inside(t, "systemctl", "stop", "grades.target")
        for d in DAEMONS:
            t.eq(show(socket_unit(d), "ActiveState")["ActiveState"], "inactive",
                 "%s after systemctl stop grades.target" % socket_unit(d))
    else:
        # As the Debian package does. It also keeps the units loaded once
        # they have stopped, so that systemctl show still has their Result
        # and exit.
        inside(t, "systemctl", "enable", "--quiet", "grades.target")


@suite.test("systemd-analyze verify is clean for every installed unit")
def _(t):
    files = ["/lib/systemd/system/grades.target"] + ["/lib/systemd/system/" + service(d) for d in DAEMONS] + \
            ["/lib/systemd/system/" + socket_unit(d) for d in DAEMONS]
    need_box()
    r = box.run("systemd-analyze", "verify", *files)
    if r.stdout.strip() or r.stderr.strip():
        t.diag(r.stdout + r.stderr)
    t.eq(r.returncode, 0, "exit status of systemd-analyze verify")
    t.eq((r.stdout + r.stderr).strip(), "", "what systemd-analyze verify says")


@suite.test("systemd-analyze security: every service scores %.1f or lower" % SECURITY_LIMIT)
def _(t):
    scores = {}
    for d in DAEMONS:
        text = inside(t, "systemd-analyze", "security", "--no-pager", service(d))
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", text)
        t.true(m, "no overall exposure level for %s in:\n%s" % (service(d), text[-500:]))
        scores[service(d)] = float(m.group(1))
    state["security"] = scores
    t.diag(", ".join("%s %.1f" % kv for kv in scores.items()))
    t.eq({u: s for u, s in scores.items() if s > SECURITY_LIMIT}, {}, "services above %.1f" % SECURITY_LIMIT)
    # For the kill tests only: no start limit (added after verify and security).
    for d in DAEMONS:
        box.sh('mkdir -p "/etc/systemd/system/$1.d" && printf "[Unit]\\nStartLimitIntervalSec=0\\n" '
               '>"/etc/systemd/system/$1.d/50-system-test.conf"', service(d))
    inside(t, "systemctl", "daemon-reload")


@suite.test("systemctl start grades.target: four sockets listening, no daemon running")
def _(t):
    need_box()
    started = time.monotonic()
    inside(t, "systemctl", "start", "grades.target")
    state["start"] = measure("systemctl start grades.target", time.monotonic() - started)
    for d in DAEMONS:
        t.eq(show(socket_unit(d), "ActiveState", "SubState"), {"ActiveState": "active", "SubState": "listening"},
             socket_unit(d))
        t.eq(show(service(d), "ActiveState")["ActiveState"], "inactive", service(d))
    listening = inside(t, "ss", "-Hltn")
    for d in DAEMONS:
        t.true(re.search(r":%d\s" % PORTS[d], listening), "nothing listens on port %d:\n%s" % (PORTS[d], listening))
    t.eq(inside(t, "sh", "-c", "pgrep -l grades- || true"), "", "grades processes")


@suite.test("a request to the portal answers with the students page (cold start through four activations)")
def _(t):
    need_box()
    started = time.monotonic()
    rc, status, body = http(url("portal", "/students"))
    first = time.monotonic() - started
    t.eq((rc, status), (0, 200), "curl exit and HTTP status of GET /students")
    t.contains(body, "All students and their average score", "the students page")
    t.contains(body, "Carter", "a student from students.json")
    measure("first portal request (socket activation, students page)", first)
    cold = measure("cold start: systemctl start grades.target + first portal request", state["start"] + first)
    t.diag("cold start %.2f s (systemctl start %.2f s + first request %.2f s)" % (cold, state["start"], first))


@suite.test("then all four daemons are active and READY (Type=notify), each with its status text")
def _(t):
    need_box()

    def ready():
        return all(show(service(d), "ActiveState")["ActiveState"] == "active" for d in DAEMONS)

    wait_until(ready, 15, 0.1)
    for d in DAEMONS:
        s = show(service(d), "ActiveState", "SubState", "StatusText", "Type", "MainPID")
        t.diag("%s: %s" % (service(d), s))
        t.eq((s["Type"], s["ActiveState"], s["SubState"]), ("notify", "active", "running"), service(d))
        t.true(s["StatusText"], "%s has no status text (STATUS= with READY=1)" % service(d))


@suite.test("the registry lists all four (itself, LogService, GradingService, PortalService) as passing")
def _(t):
    need_box()
    listing = wait_until(lambda: all_passing(t), 15, 0.2) or services(t)
    for d in REGISTRANTS:
        s = listing.get(url(d))
        t.true(s, "%s at %s is not registered: %s" % (SERVICE_NAMES[d], url(d), list(listing)))
        t.eq((s["ServiceName"], s["Status"]), (SERVICE_NAMES[d], "passing"), url(d))
    status = show(service("registry"), "StatusText")["StatusText"]
    t.diag("registry: %s" % status)
    t.contains(status, "4 passing", "the registry's status text")


@suite.test("journalctl -u grades-grading.service shows the daemon's lines with their priorities")
def _(t):
    need_box()
    lines = [json.loads(line) for line in journal(service("grading"), fmt="json").splitlines()]
    own = [e for e in lines if e.get("_COMM") == "grades-gradingd"]
    t.true(own, "no lines from grades-gradingd in the journal")
    for e in own:
        t.diag("<%s> %s" % (e.get("PRIORITY"), e.get("MESSAGE")))
    by_text = {e["MESSAGE"]: e for e in own}
    ready = [m for m in by_text if m.startswith("Ready: serving at http://127.0.0.1:6000, registering as "
                                                "GradingService")]
    t.true(ready, "no 'Ready: serving at ...' line")
    t.eq(by_text[ready[0]]["PRIORITY"], "6", "priority of the Ready line (info)")
    t.eq([m for m in by_text if re.match(r"<\d>", m)], [], "lines whose <N> prefix journald did not take")
    t.eq([e["MESSAGE"] for e in own if e["PRIORITY"] not in "0123456"], [],
         "lines above the configured level (info)")
    t.eq(sorted({e.get("SYSLOG_IDENTIFIER") for e in own}), ["grades-gradingd"], "SYSLOG_IDENTIFIER")
    # journald filters by those priorities
    t.contains(journal(service("grading")), ready[0], "journalctl -u")
    notice = box.run("journalctl", "--no-pager", "-o", "cat", "-p", "notice", "-u", service("grading")).stdout
    t.not_contains(notice, ready[0], "journalctl -p notice (info lines filtered out)")


@suite.test("the central log /var/log/grades/central.log has lines from all four daemons")
def _(t):
    need_box()

    def complete():
        text = box.run("cat", "/var/log/grades/central.log").stdout
        return all("[%s]" % SERVICE_NAMES[d] in text for d in DAEMONS) and text

    text = wait_until(complete, 15, 0.2) or box.run("cat", "/var/log/grades/central.log").stdout
    for d in DAEMONS:
        mine = [line for line in text.splitlines() if "[%s]" % SERVICE_NAMES[d] in line]
        t.true(mine, "no line from %s in central.log:\n%s" % (SERVICE_NAMES[d], text[-1500:]))
        t.diag(mine[0])


@suite.test("kill -9 of grading: systemd restarts it; requests during the restart wait, none is refused")
def _(t):
    need_box()
    state["grading-cursor"] = journal_cursor()
    r = restart(t, "grading", "SIGKILL", 20, url("grading", "/students"), url("portal", "/students"))
    measure("restart after kill -9 of grading", r.seconds)
    t.diag("active again %.3f s after the kill" % r.seconds)
    t.eq(show(socket_unit("grading"), "ActiveState")["ActiveState"], "active", "grades-grading.socket")
    check_requests(t, r, service("grading"))
    result = journal(service("grading"), state["grading-cursor"])
    t.contains(result, "Main process exited, code=killed, status=9/KILL", "journal of grading")


@suite.test("the restarted grading daemon registers again and is passing")
def _(t):
    need_box()
    text = wait_until(lambda: "Re-registered GradingService at %s." % url("grading") in
                      journal(service("registry"), state.get("grading-cursor")), 10, 0.1)
    t.true(text, "the registry did not log 'Re-registered GradingService at %s.'" % url("grading"))
    t.true(wait_until(lambda: all_passing(t), 15, 0.2), "not all passing: %s" % services(t))


@suite.test("SIGSTOP of the portal: the watchdog kills it, the journal shows the timeout, it is restarted")
def _(t):
    need_box()
    cursor = journal_cursor()
    limit = show(service("portal"), "WatchdogUSec")["WatchdogUSec"]
    r = restart(t, "portal", "SIGSTOP", 60)
    measure("restart of the hung portal (SIGSTOP, WatchdogSec=%s)" % limit, r.seconds)
    t.diag("active again %.3f s after SIGSTOP (WatchdogSec=%s)" % (r.seconds, limit))
    text = journal(service("portal"), cursor)
    t.diag("\n".join(line for line in text.splitlines() if "atchdog" in line or "signal" in line))
    t.true(re.search(r"Watchdog timeout \(limit %s\)!" % re.escape(limit), text),
           "no 'Watchdog timeout (limit %s)!' in the journal" % limit)
    t.contains(text, "Failed with result 'watchdog'.", "journal of the portal")
    rc, status, body = http(url("portal", "/students"))
    t.eq((rc, status), (0, 200), "GET /students from the restarted portal")
    t.true(wait_until(lambda: all_passing(t), 15, 0.2), "not all passing again: %s" % services(t))


def patch_flows(t, when):
    """A second LogService provider (the same log daemon under 127.0.0.2)
    registers: grading and the portal are patched; it leaves: patched again."""
    extra = "http://127.0.0.2:4000"
    body = json.dumps({"ServiceName": "LogService", "ServiceURL": extra, "RequiredServices": [],
                       "ServiceUpdateURL": "", "HeartbeatURL": extra + "/heartbeat"})
    started = time.monotonic()
    rc, status, text = http(url("registry", "/services"), "POST", body, "application/json")
    t.eq((rc, status), (0, 200), "registering %s: %s" % (extra, text))
    for d in ("grading", "portal"):
        t.true(wait_until(lambda: extra in providers(t, d).get("LogService", []), 10, 0.05),
               "%s: %s not added: %s (%s)" % (d, extra, providers(t, d), when))
    added = time.monotonic() - started
    started = time.monotonic()
    rc, status, text = http(url("registry", "/services"), "DELETE", extra, "text/plain")
    t.eq((rc, status), (0, 200), "deregistering %s: %s" % (extra, text))
    for d in ("grading", "portal"):
        t.true(wait_until(lambda: extra not in providers(t, d).get("LogService", []), 10, 0.05),
               "%s: %s not removed: %s (%s)" % (d, extra, providers(t, d), when))
    t.diag("%s: Added patches within %.2f s, Removed within %.2f s" % (when, added, time.monotonic() - started))


@suite.test("patches flow: a new LogService provider reaches grading and the portal, and its removal too")
def _(t):
    need_box()
    patch_flows(t, "before the registry's restart")


@suite.test("kill -9 of the registry: it comes back with its registrations; requests meanwhile wait")
def _(t):
    need_box()
    before = services(t)
    cursor = journal_cursor()
    r = restart(t, "registry", "SIGKILL", 20, url("registry", "/services"))
    measure("restart after kill -9 of the registry", r.seconds)
    t.diag("active again %.3f s after the kill" % r.seconds)
    check_requests(t, r, service("registry"))
    # Its own entry is not saved: it is made anew at each start.
    line = "Loaded %d registrations from /var/lib/grades/registry.json." % len(HTTP_REGISTRANTS)
    text = wait_until(lambda: line in journal(service("registry"), cursor), 10, 0.2)
    t.contains(journal(service("registry"), cursor), line, "journal of the registry")
    t.eq(sorted(services(t)), sorted(before), "registrations after the restart")
    t.true(wait_until(lambda: all_passing(t), 15, 0.2), "not all passing again: %s" % services(t))


@suite.test("patches flow as before after the registry's restart")
def _(t):
    need_box()
    patch_flows(t, "after the registry's restart")


def stopped(d):
    return show(service(d), "ActiveState")["ActiveState"] in ("inactive", "failed")


@suite.test("systemctl stop grades.target returns once every daemon has stopped (its stop job ends after theirs)")
def _(t):
    need_box()
    state["stop-cursor"] = journal_cursor()
    # At debug level the manager logs every sd_notify message it receives,
    # and every job that finishes.
    inside(t, "systemd-analyze", "log-level", "debug")
    try:
        started = time.monotonic()
        inside(t, "systemctl", "stop", "grades.target", timeout=90)
        returned = measure("systemctl stop grades.target (until it returns)", time.monotonic() - started)
        running = [service(d) for d in DAEMONS if not stopped(d)]
        t.diag("systemctl stop returned after %.2f s; still stopping then: %s" % (returned, running or "none"))
        everything = wait_until(lambda: all(stopped(d) for d in DAEMONS), 60, 0.05)
        measure("systemctl stop grades.target (until every daemon has stopped)", time.monotonic() - started)
    finally:
        box.run("systemd-analyze", "log-level", "info")
    t.true(everything, "still running 60 s after the stop: %s" % [d for d in DAEMONS if not stopped(d)])
    # systemctl waits for the target's job only: unless that job is ordered
    # after the daemons' stop jobs, it returns while they still run. The
    # order of the jobs says so whatever the timing.
    lines = box.run("journalctl", "--no-pager", "-o", "cat", "_PID=1", "--cursor=" + state["stop-cursor"]).stdout
    done = [m.group(1) for m in re.finditer(r"^\S+: Job \d+ (\S+)/stop finished", lines, re.M)]
    t.diag("stop jobs finished in this order: %s" % ", ".join(done))
    t.contains(done, "grades.target", "stop jobs")
    early = [service(d) for d in DAEMONS if service(d) not in done[:done.index("grades.target")]]
    t.eq(early, [], "daemons whose stop job had not finished when grades.target's did")
    t.eq(running, [], "daemons still running when systemctl stop grades.target returned")


@suite.test("on the stop each daemon sends STOPPING=1 and exits 0")
def _(t):
    need_box()
    for d in DAEMONS:
        s = show(service(d), "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
        # ExecMainCode 1 is CLD_EXITED
        t.eq(s, {"ActiveState": "inactive", "Result": "success", "ExecMainCode": "1", "ExecMainStatus": "0"},
             service(d))
        text = journal(service(d), state["stop-cursor"])
        t.true(re.search(r"Got notification message from PID \d+ \(STOPPING=1", text),
               "%s: no STOPPING=1 in:\n%s" % (service(d), text[-1500:]))


@suite.test("each daemon stops at once, not at its shutdown deadline with work unfinished")
def _(t):
    need_box()
    slow = []
    for d in DAEMONS:
        s = show(service(d), "ActiveExitTimestampMonotonic", "InactiveEnterTimestampMonotonic")
        seconds = (int(s["InactiveEnterTimestampMonotonic"]) - int(s["ActiveExitTimestampMonotonic"])) / 1e6
        t.diag("%s stopped in %.3f s" % (service(d), seconds))
        if seconds > 3:
            slow.append(service(d))
    unfinished = [line for d in DAEMONS for line in journal(service(d), state["stop-cursor"], "short").splitlines()
                  if "work unfinished" in line]
    t.eq(unfinished, [], "lines about unfinished work")
    t.eq(slow, [], "daemons that took more than 3 s to stop")


@suite.test("the registry logged each deregistration before it stopped, and keeps no registration")
def _(t):
    need_box()
    lines = [line for line in journal(service("registry"), state["stop-cursor"]).splitlines()
             if not line.startswith(service("registry"))]  # the manager's own lines
    t.diag("\n".join(line for line in lines if "Deregistered" in line or "Shutting down" in line))
    t.contains(lines, "Shutting down.", "the registry's lines")
    end = lines.index("Shutting down.")
    for d in HTTP_REGISTRANTS:
        line = "Deregistered %s at %s." % (SERVICE_NAMES[d], url(d))
        t.contains(lines, line, "the registry's lines")
        t.true(lines.index(line) < end, "%r after 'Shutting down.'" % line)
    saved = json.loads(inside(t, "cat", "/var/lib/grades/registry.json"))
    t.eq(saved.get("Services"), [], "registrations in /var/lib/grades/registry.json")


@suite.test("after the stop: sockets closed, ports free, no grades process left")
def _(t):
    need_box()
    for d in DAEMONS:
        t.eq(show(socket_unit(d), "ActiveState")["ActiveState"], "inactive", socket_unit(d))
    listening = inside(t, "ss", "-Hltn")
    for d in DAEMONS:
        t.true(not re.search(r":%d\s" % PORTS[d], listening), "port %d still open:\n%s" % (PORTS[d], listening))
    t.eq(inside(t, "sh", "-c", "pgrep -l grades- || true"), "", "grades processes")
    failed = inside(t, "systemctl", "list-units", "--failed", "--no-legend", "grades*")
    t.eq(failed.strip(), "", "failed grades units")


# ------------------------------------------------------------- teardown ----

def summary():
    if measured:
        out("measured:")
        for what, seconds in measured:
            out("  %-72s %6.2f s" % (what, seconds))
    if state.get("security"):
        out("systemd-analyze security: " + ", ".join("%s %.1f" % kv for kv in state["security"].items()))


def save_journal():
    if not box or not box.is_up:
        return
    path = os.path.join(artifacts_dir(), "system-journal.txt")
    r = box.run("journalctl", "--no-pager", "-o", "short-precise", timeout=60)
    with open(path, "w") as f:
        f.write(r.stdout)
    out("the container's journal: %s" % path)


def main():
    global box, stage
    box, stage = prepare()
    # Cleanups run last first: journal, then halt, then the summary.
    suite.on_cleanup(summary)
    suite.on_cleanup(box.down)
    suite.on_cleanup(save_journal)
    # SIGTERM (make interrupted) ends the run through the cleanups too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    suite.run()


if __name__ == "__main__":
    main()
