#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# grades-portald end to end in a real headless browser: Debian's chromium
# driven by playwright-core (tests/portald/browser/e2e.js, run with node).
# Starts the whole system (registry, log, grading, portal), creates a
# student whose name holds HTML, runs e2e.js once and reports each of its
# steps as a test case. Screenshots go to tests/artifacts/ in the source
# tree (ignored by git). Skips, saying why, when chromium, node or
# node_modules (npm ci in tests/portald/browser) are missing, and in the
# package build (GRADES_PACKAGE_BUILD=1).
import json
import os
import shutil
import signal
import subprocess
import sys

from grades_test import Skip, Suite, srcdir
from portal_helpers import System, add_student, slack

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "e2e.js")
CHROMIUM = os.environ.get("GRADES_CHROMIUM", "/usr/bin/chromium")
HTML_NAME = ("<script>alert(1)</script>", "X")

# A package build (debian/rules runs make check with GRADES_PACKAGE_BUILD=1)
# has neither chromium nor node_modules, and must not use a developer's.
if os.environ.get("GRADES_PACKAGE_BUILD") == "1":
    print("1..0 # SKIP package build (GRADES_PACKAGE_BUILD=1): no browser test there", flush=True)
    sys.exit(0)

suite = Suite("portald: end to end in headless chromium", time_limit=150)
state = {"steps": {}, "ran": False}


def artifacts_dir():
    d = os.path.join(srcdir(), "tests", "artifacts")
    try:
        os.makedirs(d, exist_ok=True)
        if os.access(d, os.W_OK):
            return d
    except OSError:
        pass
    d = os.path.join(os.environ.get("GRADES_BUILDDIR", "."), "tests", "artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def missing():
    """Why the browser test cannot run here, or None."""
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        return "node is not installed (apt-get install nodejs npm)", None
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is not installed (apt-get install chromium)" % CHROMIUM, None
    if not os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core")):
        return "playwright-core is not installed (cd tests/portald/browser && npm ci)", None
    return None, node


@suite.test("the system starts: registry, log, grading and portal, discovery complete")
def _(t):
    why, node = missing()
    if why:
        raise Skip(why)
    state["system"] = s = System(suite).start()
    first, last = HTML_NAME
    state["html_student"] = add_student(s.grading.url, first, last)["ID"]
    state["node"] = node


def run_e2e(t):
    why, _ = missing()
    if why:
        raise Skip(why)
    if "system" not in state:
        t.fail("the system did not start")
    if state["ran"]:
        return
    state["ran"] = True
    s = state["system"]
    art = artifacts_dir()
    cmd = [state["node"], SCRIPT, "--portal=" + s.url, "--artifacts=" + art, "--student=1",
           "--html-student=%d" % state["html_student"], "--html-name=%s %s" % HTML_NAME, "--chromium=" + CHROMIUM,
           "--timeout-ms=%d" % int(slack(20) * 1000)]
    t.diag("running: %s" % " ".join(cmd[1:2] + cmd[2:3]))
    env = dict(os.environ)
    env.pop("NODE_OPTIONS", None)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=slack(100), env=env, cwd=HERE)
    except subprocess.TimeoutExpired as e:
        state["output"] = (e.stdout or b"").decode("utf-8", "replace")
        state["stderr"] = (e.stderr or b"").decode("utf-8", "replace")
        state["rc"] = None
    else:
        state["output"] = p.stdout.decode("utf-8", "replace")
        state["stderr"] = p.stderr.decode("utf-8", "replace")
        state["rc"] = p.returncode
    for line in state["output"].splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if "step" in o:
            state["steps"][o["step"]] = o
        if o.get("done"):
            state["done"] = True
    state["artifacts"] = art


def step_case(name, description):
    @suite.test(description)
    def _(t):
        run_e2e(t)
        o = state["steps"].get(name)
        if o is None:
            setup = state["steps"].get("setup")
            if setup and not setup["ok"]:
                t.fail("the browser did not start: %s" % setup["detail"])
            t.diag("node exit status %r; stderr (tail):\n%s" % (state.get("rc"), state.get("stderr", "")[-2000:]))
            t.fail("e2e.js reported nothing for step %r" % name)
        t.diag(o["detail"])
        t.true(o["ok"], "step %s failed" % name)


step_case("setup", "chromium starts headless (playwright-core, fresh --user-data-dir, no network)")
step_case("students", "browser: /students lists the students, styled by the stylesheet")
step_case("student", "browser: following a student link shows the grade table and the labelled form")
step_case("add-grade", "browser: adding a grade through the form (303) shows the new grade and average")
step_case("invalid-input", "browser: invalid input shows the form again with the message and the typed values")
step_case("html-name", "browser: a student named <script>alert(1)</script> shows as text, no dialog")
step_case("status", "browser: /status lists the services and the latest log lines")
step_case("phone", "browser: the pages fit a 360 px phone screen")
step_case("no-errors", "browser: no JavaScript dialogs or console errors on any page")


@suite.test("e2e.js runs to its end and saves the screenshots of the pages under tests/artifacts/")
def _(t):
    run_e2e(t)
    if not state.get("done"):
        t.diag("node exit status %r; stderr (tail):\n%s" % (state.get("rc"), state.get("stderr", "")[-2000:]))
        t.fail("e2e.js did not run to its end")
    # 0: every step passed; 1: a step failed (reported by its own case).
    t.true(state.get("rc") in (0, 1), "exit status of node e2e.js: %r" % state.get("rc"))
    for name in ("students.png", "student.png", "status.png", "student-html-name.png"):
        path = os.path.join(state["artifacts"], name)
        t.true(os.path.exists(path) and os.path.getsize(path) > 1000, "%s saved" % path)
        with open(path, "rb") as f:
            t.eq(f.read(8), b"\x89PNG\r\n\x1a\n", "%s is a PNG" % name)
        t.diag(path)


@suite.test("SIGTERM: every daemon exits with status 0, no sanitizer report")
def _(t):
    if "system" not in state:
        raise Skip(missing()[0] or "the system did not start")
    for d in state["system"].daemons():
        t.clean_exit(d, signal.SIGTERM)


suite.run()
