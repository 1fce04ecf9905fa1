"""Start the child (``child.py``) for one exercise run, in a bubblewrap sandbox.

What the child sees with ``bwrap`` (the default):

- read-only: everything (``/`` itself, /dev and /dev/shm included), namely /usr
  (and the /bin, /lib... links to it), the Python installation (its site-packages
  masked by an empty folder), NumPy (only NumPy, at /site), and the three files of
  the child (/grader: child.py, wire.py, mlpcore's calling.py);
- writable: only a private tmpfs at /tmp (its working folder and HOME), capped at
  16 MiB, and the device nodes /dev/null, /dev/zero...;
- a fresh /proc and a minimal /dev;
- new user, PID, network, IPC, UTS and cgroup namespaces: uid 65534 inside, no
  network interface but loopback, no process of the host visible. The child is the
  PID namespace's init itself (``--as-pid-1``): there is no bubblewrap process inside
  the sandbox to trace or signal, and when the child ends the kernel kills whatever
  else is left in the namespace. ``--die-with-parent`` kills it when the bubblewrap
  process outside (which the grader kills on a timeout) ends;
- an empty environment but HOME, TMPDIR, LANG and one-thread BLAS settings.

The grader reads the reply and stderr with a deadline (one clock for running and
answering: a child that keeps a pipe open or answers slowly is timed out and killed
with its whole process group, never waited for).

Not in view: mlpcore, the book, the submissions, the report, the grader's own
code, the instructor's environment. ``mode="none"`` (``--no-sandbox``) runs the same
child as a plain process with the same limits, clean environment and seccomp filter,
but the whole file system in view; the table and the report then carry a warning.
``mode="inprocess"`` (tests only) runs ``child.run_job`` in this process.
"""
from __future__ import annotations

import functools
import glob
import json
import os
import platform
import select
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import mlpcore.exercises.calling as _calling_module
from mlpgrader import child as _child_module
from mlpgrader import wire as _wire_module

MODES = ("bwrap", "none", "inprocess")
DEFAULT_TIMEOUT = 10.0
TMPFS_BYTES = 16 * 2 ** 20
STDERR_LIMIT = 64 * 2 ** 10
LIMITS = {"RLIMIT_AS": 2 * 2 ** 30,       # address space: a runaway allocation fails fast
          "RLIMIT_FSIZE": 16 * 2 ** 20,   # any file the exercise writes
          "RLIMIT_NOFILE": 64, "RLIMIT_CORE": 0}
UNSANDBOXED_WARNING = ("graded WITHOUT a sandbox (--no-sandbox): the submissions' code "
                       "could read and write this machine's files as the grader's user")
_SANDBOX_UID = "65534"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot start here."""


@dataclass
class ChildRun:
    reply: bytes
    returncode: int | None
    stderr: str
    timed_out: bool = False
    overflow: bool = False


def _child_files() -> dict[str, str]:
    return {"child.py": _child_module.__file__, "wire.py": _wire_module.__file__,
            "calling.py": _calling_module.__file__}


def _numpy_dirs() -> list[Path]:
    site = Path(np.__file__).resolve().parent.parent
    return [site / name for name in ("numpy", "numpy.libs") if (site / name).is_dir()]


def _bwrap_command(interpreter: str, info_fd: int) -> list[str]:
    command = ["bwrap", "--info-fd", str(info_fd), "--unshare-all", "--unshare-user", "--disable-userns",
               "--die-with-parent", "--as-pid-1", "--new-session", "--clearenv",
               "--uid", _SANDBOX_UID, "--gid", _SANDBOX_UID, "--hostname", "sandbox",
               "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            command += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            command += ["--ro-bind", top, top]
    prefix = os.path.realpath(sys.base_prefix)
    if not prefix.startswith("/usr/"):
        command += ["--ro-bind", prefix, prefix]
    for site in _installed_packages(prefix):  # hidden: only NumPy is given, at /site
        command += ["--tmpfs", site, "--remount-ro", site]
    for folder in _numpy_dirs():
        command += ["--ro-bind", str(folder), f"/site/{folder.name}"]
    for name, path in _child_files().items():
        command += ["--ro-bind", path, f"/grader/{name}"]
    command += ["--proc", "/proc", "--dev", "/dev",
                "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp", "--chdir", "/tmp",
                # last, once every mount is made: /dev (and the /dev/shm folder on it)
                # and the root become read-only; /tmp is a mount of its own and stays
                "--remount-ro", "/dev", "--remount-ro", "/"]
    for key, value in _environment("/tmp").items():
        command += ["--setenv", key, value]
    return command + ["--", interpreter, "-I", "-S", "-B", "/grader/child.py", "/grader", "/site"]


def _installed_packages(prefix: str) -> list[str]:
    """The package folders of the Python installation and of the system (Debian's
    dist-packages) that would otherwise be readable inside the sandbox."""
    paths = sysconfig.get_paths(vars={"base": prefix, "platbase": prefix})
    found = {os.path.realpath(paths[key]) for key in ("purelib", "platlib")}
    found |= {os.path.realpath(p) for pattern in ("/usr/lib/python3*/dist-packages",
                                                  "/usr/lib/python3*/site-packages",
                                                  "/usr/local/lib/python3*/dist-packages",
                                                  "/usr/local/lib/python3*/site-packages")
              for p in glob.glob(pattern)}
    return sorted(path for path in found if os.path.isdir(path)
                  and (path.startswith(prefix + os.sep) or path.startswith("/usr/")))


def _environment(home: str) -> dict[str, str]:
    return {"HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _interpreter() -> str:
    return os.path.realpath(sys.executable)


def seccomp_supported() -> bool:
    return sys.platform.startswith("linux") and platform.machine() in ("x86_64", "aarch64")


@functools.lru_cache(maxsize=None)
def check_sandbox() -> None:
    """Raise SandboxUnavailable (with the reason) unless a bubblewrap sandbox starts
    here and can import NumPy inside."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable("bubblewrap (`bwrap`) is not installed; on Debian/Ubuntu: "
                                 "apt-get install bubblewrap")
    if not seccomp_supported():
        raise SandboxUnavailable(f"the sandbox needs Linux on x86-64 or aarch64, not "
                                 f"{sys.platform}/{platform.machine()}")
    job = _wire_module.job_message("f", [], [], "", "def f():\n    return 1\n",
                                   [_wire_module.encode(())], LIMITS, True)
    run = run_child(job, "bwrap", timeout=60)
    try:
        reply = _wire_module.loads(run.reply)
        ok = reply["cases"][0]["output"] == 1
    except (ValueError, KeyError, IndexError, TypeError):
        ok = False
    if not ok:
        detail = run.stderr.strip().splitlines()[-1:] or [f"exit code {run.returncode}"]
        raise SandboxUnavailable(f"bubblewrap cannot start a sandbox here ({detail[0][:300]}); "
                                 f"in a container it needs user namespaces")


def run_child(job: bytes, mode: str, timeout: float,
              reply_limit: int = _wire_module.REPLY_LIMIT) -> ChildRun:
    """Run the child on ``job`` (a JSON message) and collect its reply, capped in size
    and time; the child and everything it started are gone when this returns."""
    if mode == "inprocess":
        reply = _wire_module.dumps(_child_module.run_job(_wire_module.read_job(job)))
        return ChildRun(reply, 0, "")
    with tempfile.TemporaryDirectory(prefix="mlpgrader-") as home:
        if mode == "bwrap":
            return _run_bwrap(job, home, timeout, reply_limit)
        elif mode == "none":
            folder = Path(home) / "grader"
            folder.mkdir()
            for name, path in _child_files().items():
                shutil.copyfile(path, folder / name)
            work = Path(home) / "work"
            work.mkdir()
            command = [_interpreter(), "-I", "-S", "-B", str(folder / "child.py"), str(folder),
                       str(_numpy_dirs()[0].parent)]
            env, cwd = _environment(str(work)), str(work)
        else:
            raise ValueError(f"unknown sandbox mode {mode!r}; one of {MODES}")
        return _communicate(command, env, cwd, job, timeout, reply_limit)


def _run_bwrap(job: bytes, home: str, timeout: float, reply_limit: int) -> ChildRun:
    """Run the child in bubblewrap. bwrap tells the sandboxed process's PID (as seen
    from here) on its info pipe; a pidfd on it lets the end of the run wait until that
    process, the sandbox's init, is really gone, and with it the whole sandbox."""
    info_read, info_write = os.pipe()  # _communicate closes info_write once bwrap has it
    try:
        return _communicate(_bwrap_command(_interpreter(), info_write), {}, home, job,
                            timeout, reply_limit, info=(info_read, info_write))
    finally:
        os.close(info_read)


def _communicate(command, env, cwd, job: bytes, timeout: float, reply_limit: int,
                 info: tuple | None = None) -> ChildRun:
    """Send the job, read the reply and stderr until both end or the deadline passes
    (one clock for running and answering), then kill the process group (and wait for
    the sandbox's init, when ``info`` is bwrap's info pipe): nothing the child
    started, and no pipe it holds open, outlives this call."""
    deadline = time.monotonic() + timeout
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env, cwd=cwd,
                                   start_new_session=True, pass_fds=info[1:] if info else ())
    finally:
        if info:  # exactly once: another thread may reuse the number right after
            os.close(info[1])
    sandboxed = _SandboxedProcess(info[0]) if info else None
    chunks = {"out": [], "err": []}
    sizes = {"out": 0, "err": 0}
    limits = {"out": reply_limit, "err": STDERR_LIMIT}
    pending = memoryview(job)
    timed_out = overflow = False
    selector = selectors.DefaultSelector()
    try:
        for stream, key in ((process.stdout, "out"), (process.stderr, "err")):
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ, key)
        os.set_blocking(process.stdin.fileno(), False)
        selector.register(process.stdin, selectors.EVENT_WRITE, "in")
        if sandboxed is not None:
            os.set_blocking(sandboxed.info_fd, False)
            selector.register(sandboxed.info_fd, selectors.EVENT_READ, "info")
        while any(key in ("out", "err") for key in (k.data for k in selector.get_map().values())):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for selected, _ in selector.select(min(remaining, 1.0)):
                key = selected.data
                if key == "in":
                    pending = _write_some(process.stdin, pending)
                    if not pending:
                        selector.unregister(process.stdin)
                        _close(process.stdin)
                    continue
                if key == "info":
                    if not sandboxed.read_info():
                        selector.unregister(sandboxed.info_fd)
                    continue
                block = _read_some(selected.fileobj)
                if block is None:
                    continue
                if not block:
                    selector.unregister(selected.fileobj)
                    continue
                if sizes[key] < limits[key]:
                    chunks[key].append(block[:limits[key] - sizes[key]])
                sizes[key] += len(block)
                if key == "out" and sizes[key] > reply_limit:
                    overflow = True
            if overflow:
                break
        if not timed_out and not overflow:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        selector.close()
        if sandboxed is not None:
            sandboxed.read_info()  # it came first, unless bwrap failed to start
        _kill(process)
        if sandboxed is not None:
            sandboxed.end()
        for stream in (process.stdin, process.stdout, process.stderr):
            _close(stream)
    stderr = b"".join(chunks["err"]).decode("utf-8", "replace")
    return ChildRun(b"".join(chunks["out"]), process.returncode, stderr, timed_out, overflow)


class _SandboxedProcess:
    """The process bwrap runs in the sandbox (its PID namespace's init), known from
    bwrap's info pipe as ``{"child-pid": N}`` and held by a pidfd as soon as known."""

    def __init__(self, info_fd: int) -> None:
        self.info_fd = info_fd
        self.text = b""
        self.pidfd: int | None = None

    def read_info(self) -> bool:
        """Read from the info pipe; False at its end."""
        block = _read_some_fd(self.info_fd)
        if block is None:
            return True
        self.text += block[:4096]
        if self.pidfd is None and b"}" in self.text:
            try:
                pid = int(json.loads(self.text[:self.text.index(b"}") + 1])["child-pid"])
                self.pidfd = os.pidfd_open(pid)
            except (ValueError, KeyError, TypeError, OSError, AttributeError):
                pass
        return bool(block)

    def end(self, wait: float = 5.0) -> None:
        """SIGKILL it (if bwrap's --die-with-parent has not already) and wait until it
        has died: the kernel then kills whatever else was in its namespace."""
        if self.pidfd is None:
            return
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        poller.poll(int(wait * 1000))  # readable once the process has exited
        os.close(self.pidfd)
        self.pidfd = None


def _read_some_fd(fd: int):
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _write_some(stream, pending: memoryview) -> memoryview:
    try:
        written = os.write(stream.fileno(), pending[:65536])
    except BlockingIOError:
        return pending
    except OSError:  # the child stopped reading (it ended): nothing more to send
        return pending[:0]
    return pending[written:]


def _read_some(stream):
    try:
        return os.read(stream.fileno(), 65536)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _close(stream) -> None:
    try:
        stream.close()
    except OSError:
        pass


def _kill(process: subprocess.Popen) -> None:
    """SIGKILL the child's whole process group (it is the group's leader), then reap
    it. Inside bubblewrap the sandboxed process dies with it (--die-with-parent), and
    with that PID namespace's init gone the kernel kills the rest of the namespace."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
