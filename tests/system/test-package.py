#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The Debian package: what grades_*.deb holds (dpkg-deb -c, --info,
# conffiles), what lintian says of it, and its life in a Debian 12 container
# booted with systemd (tests/system/sandbox.py): apt-get install enables and
# starts grades.target's sockets and the portal answers; reinstalling, and
# upgrading to a rebuilt higher version, keep the data in /var/lib/grades
# and the edited /etc/grades/grades.conf; apt-get remove stops everything
# and keeps config and state; apt-get purge removes config, state and logs.
#
# The .deb is built once with DEB_BUILD_OPTIONS=nocheck tools/build-deb (and
# shared with test-system.py through tests/system/systest.py's cache): the
# unit and integration tests the package build would run are the ones this
# same make check has just run. The higher version is built from a
# temporary copy of the tree with a new debian/changelog entry on top.
#
# Needs root, git and the build dependencies (tools/build-deps); lintian for
# its case. Skips (1..0 # SKIP) when not root, in the package build itself
# (GRADES_PACKAGE_BUILD=1), in a sanitizer build, with GRADES_SYSTEM_TEST=0,
# or outside a git checkout.
#
# Alone: sudo make check TESTS=tests/system/test-package.py
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import sandbox  # next to this file
import systest
from grades_test import Skip, Suite, srcdir, wait_until

DAEMONS = ("registry", "log", "grading", "portal")
BINARIES = ["grades-%sd" % d for d in DAEMONS]
PORTS = {"registry": 3000, "log": 4000, "grading": 6000, "portal": 5005}
SOCKETS = ["grades-%s.socket" % d for d in DAEMONS]
SERVICES = ["grades-%s.service" % d for d in DAEMONS]
CONF = "/etc/grades/grades.conf"
PORTAL = "http://127.0.0.1:5005"
# What must be gone after apt-get purge (StateDirectory= and LogsDirectory=
# with DynamicUser= put the real directories under private/).
PURGED = ("/etc/grades", "/var/lib/grades", "/var/lib/private/grades", "/var/log/grades",
          "/var/log/private/grades", "/etc/logrotate.d/grades")


def out(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


# ------------------------------------------------------------- set-up ----

def prepare():
    """Builds the two .debs and the container's root; skips or bails out."""
    why = systest.skip_reason()
    if why:
        systest.skip_all(why)
    why = systest.cannot_build_deb()
    if why:
        systest.skip_all("cannot build the .deb: %s" % why)
    try:
        sandbox.install_tools(out)
    except (sandbox.SandboxError, OSError) as e:
        systest.skip_all("no systemd-nspawn or debootstrap, and apt-get could not install them: %s"
                         % str(e).splitlines()[0])
    try:
        pkg = systest.build_deb(log=out)
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        systest.bail_out("building the .deb failed: %s" % e)
    out("%s: %s" % (pkg.path, "from the cache" if pkg.cached else "built in %.1f s" % pkg.seconds))
    state["pkg"] = pkg
    try:
        up = systest.build_deb(version=systest.next_version(pkg.version), log=out)
        out("%s: %s" % (up.path, "from the cache" if up.cached else "built in %.1f s" % up.seconds))
        state["upgrade"] = up
    except (RuntimeError, subprocess.SubprocessError, OSError) as e:
        state["upgrade-error"] = str(e)
        out("building the higher version failed: %s" % e)
    try:
        packages = systest.runtime_packages(pkg.path)
    except (sandbox.SandboxError, subprocess.SubprocessError, OSError) as e:
        systest.bail_out("cannot tell which Debian packages the daemons need: %s" % e)
    box = sandbox.Sandbox(packages, log=out)
    if not os.path.exists(os.path.join(box.rootfs, ".complete")) and not systest.archive_reachable():
        systest.skip_all("no cached Debian root and %s cannot be reached" % sandbox.MIRROR)
    started = time.monotonic()
    try:
        if box.build():
            out("debootstrap of %s: %.1f s" % (box.rootfs, time.monotonic() - started))
        else:
            out("cached Debian root %s" % box.rootfs)
    except (sandbox.SandboxError, subprocess.SubprocessError, OSError) as e:
        systest.bail_out("cannot make the Debian root: %s" % e)
    state["runtime-packages"] = packages
    return box


# -------------------------------------------------------------- helpers ----

box = None
state = {}


def dpkg_deb(*args):
    return subprocess.run(["dpkg-deb", *args], capture_output=True, text=True, check=True).stdout


def need_box():
    systest.need_up(box)


def need(key):
    need_box()
    if not state.get(key):
        raise Skip("an earlier case failed (no %s)" % key)


def inside(t, *argv, timeout=60):
    return systest.inside(box, t, *argv, timeout=timeout)


def show(unit, *props):
    return box.show(unit, *props)


def http(url, method="GET", body=None, timeout=30):
    return box.curl(url, method, body, timeout=timeout)


def exists(path):
    return box.run("test", "-e", path).returncode == 0 or box.run("test", "-L", path).returncode == 0


def package_status():
    r = box.run("dpkg-query", "-W", "-f", "${Status} ${Version}", "grades")
    return r.stdout.strip() if r.returncode == 0 else ""


def install(t, deb, reinstall=False):
    """apt-get install ./DEB inside (dpkg -i only if apt-get cannot run)."""
    need_box()
    path = box.push([deb.path], systest.DEB_DIR_INSIDE)[0]
    tool, r = systest.install_deb(box, path, reinstall=reinstall)
    t.diag("%s %s: exit %d" % (tool, path, r.returncode))
    if r.returncode != 0:
        t.fail("%s %s failed:\n%s%s" % (tool, path, r.stdout[-3000:], r.stderr[-2000:]))
    for line in (r.stdout + r.stderr).splitlines():
        if re.search(r"grades|warning|error|^[WE]:", line, re.I):
            t.diag("  " + line)
    state.setdefault("tools", []).append(tool)
    return tool


def check_serving(t, what):
    """grades.target active, four sockets listening, the portal answering
    /students, then all four daemons active (socket activation)."""
    t.eq(inside(t, "systemctl", "is-active", "grades.target").strip(), "active", "grades.target (%s)" % what)
    for s in SOCKETS:
        t.eq(show(s, "ActiveState", "SubState"), {"ActiveState": "active", "SubState": "listening"}, "%s (%s)"
             % (s, what))
    listening = inside(t, "ss", "-Hltn")
    for d in DAEMONS:
        t.true(re.search(r":%d\s" % PORTS[d], listening), "nothing listens on port %d (%s):\n%s"
               % (PORTS[d], what, listening))
    rc, status, body = http(PORTAL + "/students")
    t.eq((rc, status), (0, 200), "curl exit and HTTP status of GET /students (%s)" % what)
    t.contains(body, "All students and their average score", "the students page (%s)" % what)
    up = wait_until(lambda: all(show(s, "ActiveState")["ActiveState"] == "active" for s in SERVICES), 20, 0.2)
    t.true(up, "not all four daemons active (%s): %s" % (what, {s: show(s, "ActiveState", "SubState")
                                                                for s in SERVICES}))


def check_kept(t, what):
    """The grade added before and the edited config are still there."""
    t.eq(inside(t, "cat", CONF), state["conf"], "%s after %s" % (CONF, what))
    left = inside(t, "sh", "-c", "ls -A /etc/grades")
    t.eq(left.split(), ["grades.conf"], "files in /etc/grades after %s (no .dpkg-new, .dpkg-dist)" % what)
    rc, status, body = http(PORTAL + "/api/students/%d" % state["student"])
    t.eq((rc, status), (0, 200), "GET /api/students/%d after %s: %s" % (state["student"], what, body[:300]))
    grades = {g["ID"]: g for g in json.loads(body)["Grades"]}
    t.eq(grades.get(state["grade"]["ID"]), state["grade"], "the grade added before %s" % what)


def main_pids():
    return {s: show(s, "MainPID")["MainPID"] for s in SERVICES}


def check_restarted(t, before, what):
    """Every daemon runs under a new PID, from the installed binary: none
    was left running (or started again while stopping) with the old one."""
    after = main_pids()
    t.eq([s for s in SERVICES if after[s] == before[s]], [], "daemons not restarted by %s (same PID)" % what)
    for s in SERVICES:
        exe = box.run("readlink", "/proc/%s/exe" % after[s]).stdout.strip()
        t.eq(exe, "/usr/sbin/grades-%sd" % s[len("grades-"):-len(".service")],
             "%s's executable after %s (\"(deleted)\": the old binary still runs)" % (s, what))


# ---------------------------------------------------------------- cases ----

suite = Suite("package: grades_*.deb, lintian, and apt-get install/upgrade/remove/purge under systemd 252",
              time_limit=600)


@suite.test("dpkg-deb -c: binaries in /usr/sbin, units in /lib/systemd/system, data in /usr/share/grades, "
            "man pages, /etc/grades/grades.conf, /etc/logrotate.d/grades")
def _(t):
    pkg = state["pkg"]
    entries = {}
    for line in dpkg_deb("-c", pkg.path).splitlines():
        f = line.split(None, 5)
        path = f[5].split(" -> ")[0]
        entries[path[1:].rstrip("/") or "/"] = (f[0], f[1])
    files = {p: e for p, e in entries.items() if not e[0].startswith("d")}
    t.diag("%d files in %s" % (len(files), pkg.name))
    src = srcdir()
    data = sorted("/usr/share/grades/" + os.path.relpath(p, os.path.join(src, "data"))
                  for pattern in ("students.json", "schema/*", "templates/*", "static/*")
                  for p in glob.glob(os.path.join(src, "data", pattern)))
    expected = sorted(
        ["/usr/sbin/" + b for b in BINARIES]
        + ["/lib/systemd/system/" + u for u in ["grades.target"] + SOCKETS + SERVICES]
        + data
        + ["/usr/share/man/man8/%s.8.gz" % b for b in BINARIES] + ["/usr/share/man/man5/grades.conf.5.gz"]
        + [CONF, "/etc/logrotate.d/grades"]
        + ["/usr/share/doc/grades/copyright", "/usr/share/doc/grades/changelog.gz"]
        + ["/usr/share/lintian/overrides/grades"])
    t.eq(sorted(set(files) - set(expected)), [], "files in the package that are not expected")
    t.eq(sorted(set(expected) - set(files)), [], "expected files missing from the package")
    for b in BINARIES:
        t.eq(files["/usr/sbin/" + b], ("-rwxr-xr-x", "root/root"), "mode and owner of /usr/sbin/" + b)
    wrong = {p: e for p, e in files.items() if not p.startswith("/usr/sbin/") and e != ("-rw-r--r--", "root/root")}
    t.eq(wrong, {}, "files not 0644 root/root")
    t.eq(sorted(p for p in files if "/usr/lib/systemd" in p or p.startswith("/etc/systemd")), [],
         "units outside /lib/systemd/system")


@suite.test("dpkg-deb --info: name, version, architecture, section; Depends names every library the daemons need")
def _(t):
    pkg = state["pkg"]
    fields = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", dpkg_deb("-f", pkg.path), re.M))
    for line in dpkg_deb("--info", pkg.path).splitlines():
        t.diag(line)
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    t.eq((fields.get("Package"), fields.get("Version"), fields.get("Architecture")),
         ("grades", pkg.version, arch), "Package, Version, Architecture")
    t.eq((fields.get("Section"), fields.get("Priority")), ("web", "optional"), "Section, Priority")
    t.true(fields.get("Maintainer"), "no Maintainer")
    t.true(fields.get("Description", "").strip(), "no Description")
    size = int(fields["Installed-Size"])
    state["installed-size"] = size
    t.diag("Installed-Size: %d KiB" % size)
    depends = {d.split()[0] for d in fields.get("Depends", "").replace("|", ",").split(",") if d.strip()}
    t.eq(sorted(set(state["runtime-packages"]) - depends), [],
         "packages holding the daemons' libraries not in Depends (%s)" % fields.get("Depends"))


@suite.test("the control files: conffiles lists /etc/grades/grades.conf; maintainer scripts present")
def _(t):
    pkg = state["pkg"]
    tmp = suite.tmpdir()
    subprocess.run(["dpkg-deb", "-e", pkg.path, tmp], check=True)
    with open(os.path.join(tmp, "conffiles")) as f:
        conffiles = f.read().split()
    t.diag("conffiles: %s" % " ".join(conffiles))
    t.contains(conffiles, CONF, "conffiles")
    t.contains(conffiles, "/etc/logrotate.d/grades", "conffiles")
    for script in ("postinst", "prerm", "postrm"):
        t.true(os.path.exists(os.path.join(tmp, script)), "no %s" % script)
    with open(os.path.join(tmp, "postrm")) as f:
        postrm = f.read()
    t.contains(postrm, "/var/lib/private/grades", "postrm (purge removes the state)")


@suite.test("lintian on the .changes: no error, no warning")
def _(t):
    pkg = state["pkg"]
    if not shutil.which("lintian"):
        raise Skip("lintian is not installed (tools/build-deps installs it)")
    argv = ["lintian", "--display-info", "--pedantic", "--show-overrides", pkg.changes]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    t.diag("%s: exit %d" % (" ".join(argv[:-1] + [os.path.basename(pkg.changes)]), r.returncode))
    t.diag(r.stdout.rstrip() or "(no output)")
    if r.stderr.strip():
        t.diag("stderr: " + r.stderr.strip())
    tags = [line for line in r.stdout.splitlines() if re.match(r"[EW]: ", line)]
    t.eq(tags, [], "lintian's errors and warnings")
    t.true(r.stdout.strip() or r.returncode == 0, "lintian failed: %s" % r.stderr)


@suite.test("the container boots; apt-get install ./grades_*.deb installs the package")
def _(t):
    started = time.monotonic()
    try:
        box.up()
    except sandbox.SandboxError as e:
        box.down()
        t.fail(str(e))
    t.diag("booted in %.2f s (leader PID %d on the host)" % (time.monotonic() - started, box.leader))
    started = time.monotonic()
    install(t, state["pkg"])
    t.diag("installed in %.2f s" % (time.monotonic() - started))
    t.eq(package_status(), "install ok installed %s" % state["pkg"].version, "dpkg-query status")
    missing = inside(t, "sh", "-c", "ldd /usr/sbin/grades-* | grep 'not found' || true")
    t.eq(missing, "", "libraries the installed daemons cannot find")
    state["installed"] = True


@suite.test("the installed grades.conf documents every option of every daemon (--help); man pages installed")
def _(t):
    need("installed")
    conf = inside(t, "cat", CONF)
    keys = set(re.findall(r"^#?([a-z][a-z-]*) =", conf, re.M))
    for b in BINARIES:
        text = inside(t, "/usr/sbin/" + b, "--help")
        options = set(re.findall(r"--([a-z][a-z-]*)", text)) - {"help", "version", "config"}
        t.true(options, "no options in %s --help:\n%s" % (b, text))
        t.eq(sorted(options - keys), [], "options of %s not in %s" % (b, CONF))
    for page in BINARIES + ["grades.conf"]:
        r = box.run("man", "-w", page)
        t.eq(r.returncode, 0, "man -w %s: %s" % (page, r.stderr.strip()))


@suite.test("grades.target and its four sockets are enabled and started: listening, no daemon running yet")
def _(t):
    need("installed")
    for unit in ["grades.target"] + SOCKETS:
        t.eq(box.run("systemctl", "is-enabled", unit).stdout.strip(), "enabled", "systemctl is-enabled " + unit)
    t.eq(inside(t, "systemctl", "is-active", "grades.target").strip(), "active", "grades.target")
    for s in SOCKETS:
        t.eq(show(s, "ActiveState", "SubState"), {"ActiveState": "active", "SubState": "listening"}, s)
    listening = inside(t, "ss", "-Hltn")
    for d in DAEMONS:
        t.true(re.search(r":%d\s" % PORTS[d], listening), "nothing listens on port %d:\n%s" % (PORTS[d], listening))
    t.eq(inside(t, "sh", "-c", "pgrep -l grades- || true"), "", "grades processes (the services wait for a "
         "connection)")


@suite.test("the portal answers GET /students; then all four daemons run")
def _(t):
    need("installed")
    check_serving(t, "after apt-get install")
    state["serving"] = True


@suite.test("systemctl status grades.target is healthy: active, no failed unit")
def _(t):
    need("serving")
    r = box.run("systemctl", "status", "--no-pager", "--lines=0", "grades.target")
    t.diag(r.stdout.rstrip())
    t.eq(r.returncode, 0, "exit status of systemctl status grades.target")
    t.contains(r.stdout, "Active: active", "systemctl status grades.target")
    failed = inside(t, "systemctl", "list-units", "--failed", "--no-legend", "--plain")
    t.eq([line for line in failed.splitlines() if "grades" in line], [], "failed grades units")
    for s in SERVICES:
        st = show(s, "ActiveState", "SubState", "NRestarts", "Result")
        t.eq(st, {"ActiveState": "active", "SubState": "running", "NRestarts": "0", "Result": "success"}, s)


@suite.test("edit /etc/grades/grades.conf; add a grade through the portal's API (/api/students/1/grades)")
def _(t):
    need("serving")
    # The default spelled out, and a comment: the daemons read it the same.
    inside(t, "sed", "-i", "-e", "s/^#log-level = info$/log-level = info/", "-e",
           "$a # Edited by tests/system/test-package.py: must survive reinstall and upgrade.", CONF)
    conf = inside(t, "cat", CONF)
    t.contains(conf.splitlines(), "log-level = info", CONF)
    state["conf"] = conf
    body = json.dumps({"Title": "Packaged quiz", "Type": "Quiz", "Score": 77})
    rc, status, text = http(PORTAL + "/api/students/1/grades", "POST", body)
    t.eq((rc, status), (0, 201), "POST /api/students/1/grades: %s" % text[:300])
    grade = json.loads(text)
    t.diag("added grade %s" % grade)
    state["student"], state["grade"] = 1, grade
    t.true(exists("/var/lib/grades/grades.db"), "no /var/lib/grades/grades.db")
    check_kept(t, "the edit")
    state["edited"] = True


@suite.test("reinstalling the same .deb keeps the grade and the edited config; the daemons serve again")
def _(t):
    need("edited")
    before = main_pids()
    install(t, state["pkg"], reinstall=True)
    t.eq(package_status(), "install ok installed %s" % state["pkg"].version, "dpkg-query status")
    check_serving(t, "after the reinstall")
    check_restarted(t, before, "the reinstall")
    check_kept(t, "the reinstall")


@suite.test("upgrading to a rebuilt higher version keeps the grade and the edited config; the daemons serve again")
def _(t):
    need("edited")
    if "upgrade" not in state:
        t.fail("building the higher version failed: %s" % state.get("upgrade-error"))
    up = state["upgrade"]
    before = main_pids()
    install(t, up)
    t.eq(package_status(), "install ok installed %s" % up.version, "dpkg-query status after the upgrade")
    check_serving(t, "after the upgrade to %s" % up.version)
    check_restarted(t, before, "the upgrade")
    check_kept(t, "the upgrade to %s" % up.version)


@suite.test("apt-get remove stops everything (no process, sockets inactive, ports closed), keeps config and state")
def _(t):
    need("edited")
    t.true(all(show(s, "ActiveState")["ActiveState"] == "active" for s in SERVICES), "the daemons are not running")
    r = box.run(*systest.apt_env(), "apt-get", "remove", "-y", "-q", "grades", timeout=300)
    t.diag("apt-get remove grades: exit %d" % r.returncode)
    t.eq(r.returncode, 0, "apt-get remove grades:\n%s%s" % (r.stdout[-2000:], r.stderr[-2000:]))
    t.true(package_status().startswith("deinstall ok config-files"), "dpkg-query status: %r" % package_status())
    t.eq(inside(t, "sh", "-c", "pgrep -l grades- || true"), "", "grades processes")
    for unit in ["grades.target"] + SOCKETS + SERVICES:
        t.eq(show(unit, "ActiveState")["ActiveState"], "inactive", unit)
    listening = inside(t, "ss", "-Hltn")
    for d in DAEMONS:
        t.true(not re.search(r":%d\s" % PORTS[d], listening), "port %d still open:\n%s" % (PORTS[d], listening))
    rc, _, _ = http(PORTAL + "/students", timeout=5)
    t.eq(rc, 7, "curl's exit status for the portal (7: connection refused)")
    t.eq(inside(t, "sh", "-c", "ls /usr/sbin/grades-* /lib/systemd/system/grades* 2>/dev/null || true"), "",
         "binaries and units left")
    t.eq(inside(t, "cat", CONF), state["conf"], "%s after apt-get remove" % CONF)
    for path in ("/var/lib/grades/grades.db", "/var/lib/grades/registry.json", "/var/log/grades/central.log"):
        t.true(exists(path), "%s is gone after apt-get remove" % path)
    state["removed"] = True


@suite.test("apt-get purge removes /etc/grades, /var/lib/grades and /var/log/grades (and their private/ homes)")
def _(t):
    need("removed")
    r = box.run(*systest.apt_env(), "apt-get", "purge", "-y", "-q", "grades", timeout=300)
    t.diag("apt-get purge grades: exit %d" % r.returncode)
    t.eq(r.returncode, 0, "apt-get purge grades:\n%s%s" % (r.stdout[-2000:], r.stderr[-2000:]))
    t.eq(package_status(), "", "dpkg-query status after the purge")
    t.eq([p for p in PURGED if exists(p)], [], "left after apt-get purge")
    left = inside(t, "sh", "-c", "find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled "
                  "/var/lib/systemd/deb-systemd-helper-masked -name '*grades*' 2>/dev/null || true")
    t.eq(left, "", "unit symlinks and deb-systemd-helper state left")


# ------------------------------------------------------------- teardown ----

def summary():
    if "installed-size" in state:
        out("Installed-Size of %s: %d KiB" % (state["pkg"].name, state["installed-size"]))
    if state.get("tools"):
        out("installed with: %s" % ", ".join(state["tools"]))


def save_journal():
    if not box or not box.is_up:
        return
    path = os.path.join(systest.artifacts_dir(), "package-journal.txt")
    r = box.run("journalctl", "--no-pager", "-o", "short-precise", timeout=60)
    with open(path, "w") as f:
        f.write(r.stdout)
    out("the container's journal: %s" % path)


def main():
    global box
    box = prepare()
    # Cleanups run last first: journal, then halt, then the summary.
    suite.on_cleanup(summary)
    suite.on_cleanup(box.down)
    suite.on_cleanup(save_journal)
    # SIGTERM (make interrupted) ends the run through the cleanups too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    suite.run()


if __name__ == "__main__":
    main()
