# SPDX-License-Identifier: MIT
"""What the system tests share (Python 3 standard library only): skipping,
commands with a log, and the Debian package they install, built once per
source tree with tools/build-deb and cached.

    reason = systest.skip_reason()       # package build, sanitizers, not root
    pkg = systest.build_deb(log=out)     # grades_V_ARCH.deb (nocheck), cached
    up = systest.build_deb(version=systest.next_version(pkg.version))
    tool, r = systest.install_deb(box, "/tmp/grades-debs/" + pkg.name)

The .deb is built with DEB_BUILD_OPTIONS=nocheck: the unit and integration
tests it would run are the ones `make check` runs before the system tests
anyway. The cache, $GRADES_BUILDDIR/_system-deb/KEY/, is keyed by the files
tools/build-deb copies (git's tracked and untracked-but-not-ignored files,
their content as it is now): test-system.py and test-package.py in the same
make check share one build, and any edit makes a new one.
"""

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import sandbox  # next to this file
from grades_test import Skip, builddir, srcdir

# Where the .deb files go inside the container.
DEB_DIR_INSIDE = "/tmp/grades-debs"
# Build directories in the cache older than this (and not in use) are removed.
CACHE_MAX_AGE = 24 * 3600


def skip_all(reason):
    print("1..0 # SKIP %s" % reason, flush=True)
    sys.exit(0)


def bail_out(reason):
    for line in str(reason).splitlines()[1:]:
        print("# " + line, flush=True)
    print("Bail out! %s" % str(reason).splitlines()[0], flush=True)
    sys.exit(1)


def sanitizer_build():
    if os.environ.get("GRADES_SANITIZERS") == "1":
        return True
    try:
        with open(os.path.join(builddir(), "Makefile")) as f:
            return any(line.startswith("SANITIZE_CFLAGS = -fsanitize") for line in f)
    except OSError:
        return False


def skip_reason():
    """Why no system test may run here, or None. The package build (debian/
    rules runs make check with GRADES_PACKAGE_BUILD=1) has no container to
    boot and must not build a package inside a package build."""
    if os.environ.get("GRADES_PACKAGE_BUILD") == "1":
        return "package build (GRADES_PACKAGE_BUILD=1): no container in a package build"
    if os.environ.get("GRADES_SYSTEM_TEST") == "0":
        return "GRADES_SYSTEM_TEST=0"
    if sanitizer_build():
        return "sanitizer build: the system tests run in the normal build only"
    if os.geteuid() != 0:
        return "needs root (systemd-nspawn, debootstrap)"
    return None


def clean_env(**extra):
    """Our environment without what make check put there for the tests:
    the make that runs us passes its variables and jobserver in MAKEFLAGS,
    and GRADES_* and PYTHONPATH name this build tree. Not for a second one."""
    drop = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTHONPATH", "CMOCKA_MESSAGE_OUTPUT")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("GRADES_")}
    env.update(extra)
    return env


def run_logged(cmd, log, cwd=None, env=None):
    """Runs cmd with its output appended to log; raises RuntimeError with the
    log's tail."""
    with open(log, "a") as f:
        f.write("$ %s\n" % " ".join(cmd))
        f.flush()
        r = subprocess.run(cmd, cwd=cwd, env=env or clean_env(), stdin=subprocess.DEVNULL, stdout=f,
                           stderr=subprocess.STDOUT)
    if r.returncode != 0:
        with open(log, errors="replace") as f:
            raise RuntimeError("%s failed (exit %d); %s ends:\n%s" % (cmd[0], r.returncode, log, f.read()[-3000:]))


def archive_reachable():
    try:
        urllib.request.urlopen("%s/dists/%s/Release" % (sandbox.MIRROR, sandbox.SUITE), timeout=15).close()
        return True
    except OSError:
        return False


def artifacts_dir():
    for base in (srcdir(), builddir()):
        d = os.path.realpath(os.path.join(base, "tests", "artifacts"))
        try:
            os.makedirs(d, exist_ok=True)
            if os.access(d, os.W_OK):
                return d
        except OSError:
            pass
    return "."


# ------------------------------------------------------------ the .deb ----

class Package:
    """A built .deb: path, name (file name), version, the .changes next to
    it, and how long the build took (0 when it came from the cache)."""

    def __init__(self, path, version, seconds, cached):
        self.path = path
        self.name = os.path.basename(path)
        self.dir = os.path.dirname(path)
        self.version = version
        self.seconds = seconds
        self.cached = cached
        self.changes = os.path.join(self.dir, self.name.replace(".deb", ".changes"))
        self.log = os.path.join(self.dir, "build.log")


def cannot_build_deb(src=None):
    """Why tools/build-deb cannot run on this source tree, or None."""
    src = src or srcdir()
    if not os.path.exists(os.path.join(src, "tools", "build-deb")):
        return "%s has no tools/build-deb" % src
    if subprocess.run(["git", "-C", src, "rev-parse", "--git-dir"], capture_output=True).returncode != 0:
        return "%s is not a git checkout (tools/build-deb copies what git lists)" % src
    for tool in ("dpkg-buildpackage", "dpkg-parsechangelog", "dh"):
        if not shutil.which(tool):
            return "%s is not installed (tools/build-deps installs what is needed)" % tool
    return None


def source_files(src):
    """What tools/build-deb copies: tracked files and new ones not ignored."""
    r = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=src,
                       capture_output=True, check=True)
    return sorted(set(p for p in r.stdout.decode("utf-8", "surrogateescape").split("\0") if p))


def tree_key(src):
    """A hash of the files tools/build-deb would copy, as they are now."""
    h = hashlib.sha256()
    for rel in source_files(src):
        path = os.path.join(src, rel)
        h.update(rel.encode("utf-8", "surrogateescape") + b"\0")
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            h.update(b"missing\0")  # deleted, not yet committed
            continue
        if os.path.islink(path):
            h.update(b"link\0" + os.readlink(path).encode("utf-8", "surrogateescape"))
        elif os.path.isfile(path):
            h.update(b"exec\0" if st.st_mode & 0o111 else b"file\0")
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        h.update(b"\0")
    return h.hexdigest()[:16]


def changelog_version(src):
    return subprocess.run(["dpkg-parsechangelog", "-l", os.path.join(src, "debian", "changelog"), "-S", "Version"],
                          capture_output=True, text=True, check=True).stdout.strip()


def version_gt(a, b):
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


def next_version(version):
    """A version dpkg sorts after version: 0.1.0 -> 0.1.1 (else VERSION+1)."""
    m = re.fullmatch(r"(.*\.)(\d+)", version)
    new = "%s%d" % (m.group(1), int(m.group(2)) + 1) if m else version + "+1"
    if not version_gt(new, version):
        new = version + "+1"
    return new


def _prune(cache, keep):
    now = time.time()
    for name in os.listdir(cache):
        path = os.path.join(cache, name)
        if name in keep or not os.path.isdir(path):
            continue
        try:
            if now - os.stat(path).st_mtime > CACHE_MAX_AGE:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _copy_tree(src, dest):
    """Copies what tools/build-deb would copy from src into dest, and makes
    dest a git work tree with those files in its index (never committed),
    so that dest's own tools/build-deb finds the same files."""
    os.makedirs(dest)
    files = [f for f in source_files(src) if os.path.lexists(os.path.join(src, f))]
    subprocess.run(["cp", "--parents", "-P", "-t", dest] + files, cwd=src, check=True)
    env = clean_env(GIT_CONFIG_NOSYSTEM="1", HOME=dest)
    subprocess.run(["git", "init", "-q"], cwd=dest, env=env, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, env=env, check=True)


def _prepend_changelog(path, package, version, text):
    with open(path) as f:
        old = f.read()
    maintainer = re.search(r"^ -- (.+?>)", old, re.M).group(1)
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    with open(path, "w") as f:
        f.write("%s (%s) unstable; urgency=medium\n\n  * %s\n\n -- %s  %s\n\n" % (package, version, text, maintainer,
                                                                                 date))
        f.write(old)


def build_deb(version=None, src=None, log=print):
    """The .deb of the source tree, built with DEB_BUILD_OPTIONS=nocheck by
    tools/build-deb and cached; with version, the same tree with a new
    debian/changelog entry for it on top (built from a temporary copy, by the
    copy's tools/build-deb). Returns a Package; raises RuntimeError."""
    src = src or srcdir()
    why = cannot_build_deb(src)
    if why:
        raise RuntimeError(why)
    cache = os.path.join(builddir(), "_system-deb")
    os.makedirs(cache, exist_ok=True)
    base = changelog_version(src)
    key = tree_key(src) + "-" + (version or base)
    out = os.path.join(cache, key)
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    deb = os.path.join(out, "grades_%s_%s.deb" % (version or base, arch))
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other system test may be building it
        _prune(cache, {key})
        if os.path.exists(os.path.join(out, ".complete")) and os.path.exists(deb):
            os.utime(out)
            return Package(deb, version or base, 0.0, True)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        env = clean_env(DEB_BUILD_OPTIONS=" ".join(
            [o for o in os.environ.get("DEB_BUILD_OPTIONS", "").split() if o != "nocheck"] + ["nocheck"]))
        build_log = os.path.join(out, "build-deb.log")
        started = time.monotonic()
        if version is None:
            log("DEB_BUILD_OPTIONS=nocheck tools/build-deb %s" % out)
            run_logged([os.path.join(src, "tools", "build-deb"), out], build_log, env=env)
        else:
            with tempfile.TemporaryDirectory(prefix="grades-deb-copy-") as tmp:
                copy = os.path.join(tmp, "grades")
                _copy_tree(src, copy)
                _prepend_changelog(os.path.join(copy, "debian", "changelog"), "grades", version,
                                   "Rebuilt by the system test to check upgrades from %s." % base)
                log("DEB_BUILD_OPTIONS=nocheck tools/build-deb %s (a copy with version %s)" % (out, version))
                run_logged([os.path.join(copy, "tools", "build-deb"), out], build_log, env=env)
        if not os.path.exists(deb):
            raise RuntimeError("tools/build-deb made no %s (%s)" % (deb, build_log))
        open(os.path.join(out, ".complete"), "w").close()
        return Package(deb, version or base, time.monotonic() - started, False)


def extract(deb, dest):
    """dpkg-deb -x: the package's files under dest."""
    subprocess.run(["dpkg-deb", "-x", deb, dest], check=True, capture_output=True)
    return dest


def runtime_packages(deb):
    """The Debian packages holding the libraries the package's daemons need
    (sandbox.runtime_packages on its binaries): what the container's root has
    besides sandbox.BASE_PACKAGES, so that installing the .deb in it needs
    no network."""
    with tempfile.TemporaryDirectory(prefix="grades-deb-x-") as tmp:
        extract(deb, tmp)
        binaries = sorted(os.path.join(tmp, "usr/sbin", b) for b in os.listdir(os.path.join(tmp, "usr/sbin"))
                          if b.startswith("grades-"))
        return sandbox.runtime_packages(binaries)


# ------------------------------------------------------ in the container ----

def apt_env():
    return ["env", "DEBIAN_FRONTEND=noninteractive"]


def install_deb(box, path, reinstall=False, timeout=300):
    """Installs the .deb at path inside the container with apt-get install
    ./FILE, which resolves its dependencies from the cached root's package
    lists (all installed already: no download). Only if apt-get fails before
    it ran dpkg (no network, say) does it fall back to dpkg -i. Returns the
    command used and its CompletedProcess."""
    argv = apt_env() + ["apt-get", "install", "-y", "-q", "--no-install-recommends", "-o",
                        "DPkg::Lock::Timeout=60"] + (["--reinstall"] if reinstall else []) + [path]
    r = box.run(*argv, timeout=timeout)
    if r.returncode == 0 or "Unpacking grades" in r.stdout:
        return "apt-get install" + (" --reinstall" if reinstall else ""), r
    r2 = box.run(*apt_env(), "dpkg", "-i", path, timeout=timeout)
    r2.stdout = "apt-get failed before dpkg ran (exit %d):\n%s%s\n--- dpkg -i:\n%s" % (
        r.returncode, r.stdout[-1500:], r.stderr[-1500:], r2.stdout)
    return "dpkg -i", r2


def need_up(box):
    """Skips the case unless the container runs."""
    if not box or not box.is_up:
        raise Skip("the container is not running")


def inside(box, t, *argv, timeout=60):
    """argv inside the container; fails the case unless it exits 0."""
    need_up(box)
    r = box.run(*argv, timeout=timeout)
    if r.returncode != 0:
        t.fail("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout

