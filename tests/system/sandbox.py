# SPDX-License-Identifier: MIT
"""A real systemd 252 for the system test (Python 3 standard library only).

The test machines do not boot with systemd (PID 1 is something else, the
cgroups are hybrid, there is no machined and no system D-Bus), so the system
test makes its own: a Debian 12 root made once with debootstrap and cached,
booted with systemd-nspawn as an overlay that forgets everything at shutdown,
in a network namespace of its own (the grades ports never meet the host's).

    box = Sandbox(packages)      # BASE_PACKAGES plus these
    box.build()                  # debootstrap, unless cached (keyed by packages)
    box.up()                     # boots; returns when systemd says "running"
    box.copy_in("stage/root")    # a DESTDIR tree, unpacked over the container's /
    box.push(["x.deb"], "/tmp/d")  # files into a directory inside
    box.run("systemctl", "start", "grades.target")
    box.down()                   # halts it; the overlay is gone

What it takes, learnt the hard way (see also systemd-nspawn(1)):
  - --register=no --keep-unit: no machined or D-Bus on the host to register
    with or to ask for a scope. With --keep-unit nspawn nests its cgroups under
    the caller's, so the launcher first moves into a cgroup of its own
    (name=systemd and cgroup2 on a hybrid host), never the host's root.
  - SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1: the container gets a clean cgroup2.
  - nspawn runs in a session of its own, its output in a file (nothing for a
    test harness to wait on), under a shell that halts the container if the
    test dies, even by SIGKILL (LAUNCHER below). A run killed some other way
    leaves a cgroup behind, which the next run cleans up.
  - Commands run inside through nsenter into every namespace of the
    container's PID 1, with a clean environment. PIDs seen inside are the
    container's: processes in it are signalled from inside (systemctl kill),
    never by a PID on the host.
  - systemd's private socket must exist before `systemctl is-system-running
    --wait` can connect.
  - debootstrap copies the host's /etc/hostname; it is removed so that the
    machine name is the hostname. Timers that could fire during a test are
    masked.
  - Debian 12 has a merged /usr (/lib -> usr/lib): a DESTDIR tree with a
    lib/ directory must be unpacked with tar --keep-directory-symlink
    (cp -a would refuse to replace the symlink).
"""

import fcntl
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

CACHE_DIR = os.environ.get("GRADES_SYSTEM_CACHE", "/var/tmp/grades-system-test")
SUITE = "bookworm"
MIRROR = os.environ.get("GRADES_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# systemd as init, D-Bus for systemctl and systemd-analyze, curl to talk
# HTTP inside, man-db so that systemd-analyze verify checks Documentation=.
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "procps", "iproute2", "curl", "man-db")
# Changing how the root is made changes the cache key.
RECIPE = "1"
MASKED_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer", "dpkg-db-backup.timer", "e2scrub_all.timer",
                "e2scrub_reap.service", "fstrim.timer", "man-db.timer")
HOST_TOOLS = {"systemd-nspawn": "systemd-container", "debootstrap": "debootstrap"}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CGROUP_PREFIX = "grades-system-test-"

# nspawn runs under this shell, which first moves into our cgroups so that
# nspawn nests its own under them. A parent-death signal set on nspawn itself
# has no effect (tried), so the shell holds one (setpriv --pdeathsig TERM):
# if the test dies, or on down(),
# the shell gets SIGTERM and passes it on, which halts the container; if that
# takes more than 30 s (commands of ours still running inside), it kills our
# cgroups, and with the container's PID 1 everything in its PID namespace.
LAUNCHER = r'''
for cg in $GRADES_CGROUPS; do echo $$ >"$cg/cgroup.procs" || exit 1; done
halt() {
        kill -TERM "$nspawn"
        for _ in $(seq 300); do
                kill -0 "$nspawn" 2>/dev/null || return
                sleep 0.1
        done
        for cg in $GRADES_CGROUPS; do echo 1 >"$cg/cgroup.kill"; done 2>/dev/null
}
trap halt TERM
"$@" &
nspawn=$!
while kill -0 "$nspawn" 2>/dev/null; do wait "$nspawn"; done
'''


class SandboxError(Exception):
    pass


# ------------------------------------------------------------ host set-up --

def missing_tools():
    return [t for t in HOST_TOOLS if not shutil.which(t)]


def install_tools(log):
    """apt-get installs what missing_tools() names. Raises SandboxError."""
    packages = sorted({HOST_TOOLS[t] for t in missing_tools()})
    if not packages:
        return
    log("installing %s" % " ".join(packages))
    apt = ["apt-get", "-o", "DPkg::Lock::Timeout=300", "-q"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = apt + ["install", "-y", "--no-install-recommends"] + packages
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        # Maybe the package lists were never downloaded.
        subprocess.run(apt + ["update"], env=env, capture_output=True)
        r = subprocess.run(install, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise SandboxError("apt-get install %s failed:\n%s" % (" ".join(packages), r.stdout[-2000:] + r.stderr))
    if missing_tools():
        raise SandboxError("still missing after apt-get: %s" % " ".join(missing_tools()))


def runtime_packages(binaries):
    """The Debian packages that hold the shared libraries the binaries need
    (their DT_NEEDED entries, resolved by ldd, owned according to dpkg)."""
    packages = set()
    for binary in binaries:
        needed = set()
        for line in subprocess.run(["readelf", "-d", binary], capture_output=True, text=True,
                                   check=True).stdout.splitlines():
            if "(NEEDED)" in line and "[" in line:
                needed.add(line.split("[", 1)[1].rstrip("]"))
        for line in subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] in needed and parts[1] == "=>":
                packages.add(_owner(parts[2]))
                needed.discard(parts[0])
        if needed:
            raise SandboxError("%s: libraries not found: %s" % (binary, " ".join(sorted(needed))))
    return sorted(packages)


def _owner(path):
    # dpkg knows the path the package shipped; on a merged /usr that may be
    # the /lib or the /usr/lib spelling.
    real = os.path.realpath(path)
    for p in (path, real, "/usr" + real if not real.startswith("/usr/") else real[4:]):
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].strip()
    raise SandboxError("no Debian package owns %s" % path)


# ---------------------------------------------------------------- cgroups --

def _cgroup_roots():
    """Where our own cgroup goes: cgroup2 (pure or the hybrid 'unified'
    mount) and, on a hybrid host, the name=systemd hierarchy too."""
    if _fstype("/sys/fs/cgroup") == "cgroup2fs":
        return ["/sys/fs/cgroup"], True
    roots, unified = [], False
    if _fstype("/sys/fs/cgroup/unified") == "cgroup2fs":
        roots.append("/sys/fs/cgroup/unified")
        unified = True
    if os.path.isdir("/sys/fs/cgroup/systemd"):
        roots.append("/sys/fs/cgroup/systemd")
    return roots, unified


def _is_socket(path):
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _fstype(path):
    r = subprocess.run(["stat", "-fc", "%T", path], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def _cgroup_kill(path):
    """Kills every process in the cgroup at path (ours) and its children."""
    if os.path.exists(os.path.join(path, "cgroup.kill")):
        try:
            with open(os.path.join(path, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:
            pass
        return
    for top, _, files in os.walk(path):
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(top, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass


def _cgroup_remove(path):
    for top, _, _ in os.walk(path, topdown=False):
        try:
            os.rmdir(top)
        except OSError:
            pass


def _sweep_stale_cgroups(log):
    """Removes the cgroups of earlier runs whose test process is gone (killed
    with SIGKILL, say), killing what is left in them."""
    roots, _ = _cgroup_roots()
    for root in roots:
        for name in os.listdir(root):
            if not name.startswith(CGROUP_PREFIX):
                continue
            owner = name[len(CGROUP_PREFIX):]
            if owner.isdigit() and os.path.exists("/proc/%s" % owner):
                continue
            log("removing the stale cgroup %s/%s" % (root, name))
            _cgroup_kill(os.path.join(root, name))
            time.sleep(0.2)
            _cgroup_remove(os.path.join(root, name))


# ----------------------------------------------------------------- sandbox --

class Sandbox:
    def __init__(self, packages=(), log=print):
        self.packages = sorted(set(BASE_PACKAGES) | set(packages))
        key = hashlib.sha256(" ".join([RECIPE, SUITE, MIRROR] + self.packages).encode()).hexdigest()[:12]
        self.rootfs = os.path.join(CACHE_DIR, "rootfs-" + key)
        # One cgroup, machine name and hostname per test process.
        self.name = CGROUP_PREFIX + str(os.getpid())
        self.log = log
        self.launcher = None  # the shell that runs nspawn (LAUNCHER)
        self.nspawn = None    # host PIDs of nspawn and of the container's PID 1
        self.leader = None
        self.cgroups = []
        self.boot_log = None

    # --- the root file system, made once
    def build(self):
        """debootstraps the root unless it is cached; returns True if it did."""
        os.makedirs(CACHE_DIR, exist_ok=True)
        with open(os.path.join(CACHE_DIR, "lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be building it
            if os.path.exists(os.path.join(self.rootfs, ".complete")):
                return False
            tmp = self.rootfs + ".tmp"
            if os.path.isdir(tmp):
                self._check_no_mounts(tmp)
                shutil.rmtree(tmp)
            log_path = os.path.join(CACHE_DIR, "debootstrap.log")
            cmd = ["debootstrap", "--variant=minbase", "--include=" + ",".join(self.packages), SUITE, tmp, MIRROR]
            self.log(" ".join(cmd))
            for attempt in (1, 2):
                with open(log_path, "w") as out:
                    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                       timeout=900)
                if r.returncode == 0:
                    break
                with open(log_path) as f:
                    tail = f.read()[-3000:]
                if attempt == 2:
                    raise SandboxError("debootstrap failed (%s):\n%s" % (log_path, tail))
                self.log("debootstrap failed, trying once more")
                shutil.rmtree(tmp, ignore_errors=True)
            # debootstrap copies the host's hostname, which would win over
            # the machine name.
            if os.path.exists(os.path.join(tmp, "etc/hostname")):
                os.unlink(os.path.join(tmp, "etc/hostname"))
            subprocess.run(["systemctl", "--root=" + tmp, "mask", "--quiet"] + list(MASKED_UNITS), check=True)
            subprocess.run(["chroot", tmp, "apt-get", "clean"], check=True)
            open(os.path.join(tmp, ".complete"), "w").close()
            os.rename(tmp, self.rootfs)
            return True

    @staticmethod
    def _check_no_mounts(path):
        with open("/proc/self/mountinfo") as f:
            if any(line.split()[4].startswith(path) for line in f):
                raise SandboxError("something is mounted under %s; not deleting it" % path)

    # --- boot and halt
    def up(self, timeout=60):
        _sweep_stale_cgroups(self.log)
        roots, unified = _cgroup_roots()
        self.cgroups = [os.path.join(r, self.name) for r in roots]
        for cg in self.cgroups:
            os.makedirs(cg, exist_ok=True)
        cmd = ["systemd-nspawn", "-D", self.rootfs, "--machine=" + self.name, "--boot",
               # no machined, no D-Bus on the host: do not register, no scope
               "--register=no", "--keep-unit",
               # the root stays pristine; writes go to a tmpfs
               "--volatile=overlay",
               # only lo: the grades ports never collide with the host's
               "--private-network",
               "--link-journal=no", "--console=read-only"]
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1" if unified else "0", TERM="dumb",
                   GRADES_CGROUPS=" ".join(self.cgroups))
        self.boot_log = tempfile.NamedTemporaryFile(prefix="grades-nspawn-", suffix=".log")
        self.launcher = subprocess.Popen(["setpriv", "--pdeathsig", "TERM", "--", "sh", "-c", LAUNCHER, "sh"] + cmd,
                                         env=env, stdin=subprocess.DEVNULL, stdout=self.boot_log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.nspawn:
            self._check_alive(deadline)
            children = self._children(self.launcher.pid)
            if children:
                self.nspawn = children[0]
            else:
                time.sleep(0.02)
        # The container's PID 1 is the child of nspawn that is PID 1 in its
        # own namespace (the first child is a helper that goes away); systemctl
        # can only connect once systemd's private socket exists.
        while not self.leader:
            self._check_alive(deadline)
            for pid in self._children(self.nspawn):
                if self._ns_pid(pid) == 1 and _is_socket("/proc/%d/root/run/systemd/private" % pid):
                    self.leader = pid
                    break
            else:
                time.sleep(0.02)
        r = self.run("systemctl", "is-system-running", "--wait", timeout=max(1, deadline - time.monotonic()))
        state = r.stdout.strip()
        if state == "degraded":
            self.log("booted degraded; failed units:\n" + self.run("systemctl", "--failed", "--no-legend").stdout)
        elif state != "running":
            raise SandboxError("boot did not finish (state %r)\n%s" % (state, self.boot_messages()))

    @staticmethod
    def _children(pid):
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                return [int(c) for c in f.read().split()]
        except OSError:
            return []

    @staticmethod
    def _ns_pid(pid):
        """pid's PID in its own (innermost) namespace."""
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("NSpid:"):
                        return int(line.split()[-1])
        except (OSError, ValueError):
            pass
        return None

    def _check_alive(self, deadline):
        if self.launcher.poll() is not None:
            raise SandboxError("systemd-nspawn exited with %d\n%s" % (self.launcher.returncode, self.boot_messages()))
        if time.monotonic() > deadline:
            raise SandboxError("the container did not boot in time\n%s" % self.boot_messages())

    def boot_messages(self, n=3000):
        if not self.boot_log:
            return ""
        with open(self.boot_log.name, errors="replace") as f:
            return f.read()[-n:]

    def down(self, timeout=40):
        """Halts the container, or kills what is left in our cgroups; removes
        them. Safe to call twice."""
        if self.launcher and self.launcher.poll() is None:
            self.launcher.terminate()  # the launcher halts it (see LAUNCHER)
            try:
                self.launcher.wait(timeout)
            except subprocess.TimeoutExpired:
                self.log("the container did not halt in %d s; killing our cgroup" % timeout)
        for cg in self.cgroups:
            _cgroup_kill(cg)
        if self.launcher:
            try:
                self.launcher.wait(10)
            except subprocess.TimeoutExpired:
                pass
        for cg in self.cgroups:
            _cgroup_remove(cg)
        self.cgroups = []
        self.launcher = self.nspawn = self.leader = None
        if self.boot_log:
            self.boot_log.close()
            self.boot_log = None

    @property
    def is_up(self):
        return bool(self.launcher and self.launcher.poll() is None and self.leader)

    # --- inside
    def command(self, *argv):
        """argv run inside: every namespace, root and cwd of the container's
        PID 1, and none of our environment."""
        return ["nsenter", "--target", str(self.leader), "--all", "--root", "--wd",
                "env", "-i", "PATH=" + PATH, "TERM=dumb", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0",
                *argv]

    def run(self, *argv, input=None, timeout=60):
        """Runs argv inside; returns the CompletedProcess (text, both outputs)."""
        if not self.is_up:
            raise SandboxError("the container is not running")
        try:
            return subprocess.run(self.command(*argv), input=input, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise SandboxError("%r inside took more than %.0f s" % (" ".join(argv), timeout)) from e

    def show(self, unit, *props):
        """systemctl show UNIT --property=... as a dict."""
        r = self.run("systemctl", "show", unit, *("--property=" + p for p in props))
        return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)

    def curl(self, url, method="GET", body=None, ctype="application/json", timeout=30):
        """One request with curl inside; returns (curl exit status, HTTP status, body)."""
        argv = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--max-time", str(timeout), "-X", method]
        if body is not None:
            argv += ["--data-binary", body, "-H", "Content-Type: " + ctype]
        r = self.run(*argv, url, timeout=timeout + 10)
        text, _, code = r.stdout.rpartition("\n")
        return r.returncode, int(code or 0), text

    def sh(self, script, *args, timeout=60):
        """A bash script inside, with positional arguments."""
        return self.run("bash", "-c", script, "sh", *args, timeout=timeout)

    def copy_in(self, tree):
        """Unpacks the directory tree over the container's / (a DESTDIR)."""
        pack = subprocess.Popen(["tar", "-C", tree, "-cf", "-", "."], stdout=subprocess.PIPE)
        unpack = subprocess.run(self.command("tar", "-C", "/", "-xf", "-", "--keep-directory-symlink",
                                             "--no-overwrite-dir", "--no-same-owner"),
                                stdin=pack.stdout, capture_output=True, text=True, timeout=60)
        pack.stdout.close()
        if pack.wait() != 0 or unpack.returncode != 0:
            raise SandboxError("copying %s into the container failed: %s" % (tree, unpack.stderr))

    def push(self, files, directory):
        """Copies the files into directory inside (made if missing, mode
        0755; the files 0644), through copy_in; returns their paths inside."""
        with tempfile.TemporaryDirectory(prefix="grades-push-") as tree:
            target = os.path.join(tree, directory.strip("/"))
            os.makedirs(target)
            d = target
            while True:  # copy_in keeps existing directories as they are; new ones get these modes
                os.chmod(d, 0o755)
                if d == tree:
                    break
                d = os.path.dirname(d)
            for f in files:
                shutil.copyfile(f, os.path.join(target, os.path.basename(f)))
                os.chmod(os.path.join(target, os.path.basename(f)), 0o644)
            self.copy_in(tree)
        return [os.path.join(directory, os.path.basename(f)) for f in files]
