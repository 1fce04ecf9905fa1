"""Start the child (``child.py``) for one exercise run, in a bubblewrap sandbox.

What the child sees with ``bwrap`` (the default):

- read-only: /usr (and the /bin, /lib... links to it), the Python installation
  (its site-packages masked by an empty folder), NumPy (only NumPy, at /site), and
  the three files of the child (/grader: child.py, wire.py, mlpcore's _call.py);
- a private tmpfs at /tmp (its working folder and HOME), capped at 16 MiB;
- a fresh /proc and a minimal /dev;
- new user, PID, network, IPC, UTS and cgroup namespaces: uid 65534 inside, no
  network interface but loopback, no process of the host visible, and every
  process of the sandbox killed when it ends (``--die-with-parent``);
- an empty environment but HOME, TMPDIR, LANG and one-thread BLAS settings.

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
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import mlpcore.exercises._call as _call_module
from mlpgrader import child as _child_module
from mlpgrader import wire as _wire_module

MODES = ("bwrap", "none", "inprocess")
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
            "_call.py": _call_module.__file__}


def _numpy_dirs() -> list[Path]:
    site = Path(np.__file__).resolve().parent.parent
    return [site / name for name in ("numpy", "numpy.libs") if (site / name).is_dir()]


def _bwrap_command(interpreter: str) -> list[str]:
    command = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns",
               "--die-with-parent", "--new-session", "--clearenv",
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
                "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp", "--chdir", "/tmp"]
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
    job = {"function": "f", "params": [], "may_modify": [], "preamble": "",
           "source": "def f():\n    return 1\n", "cases": [_wire_module.encode(())],
           "limits": LIMITS, "no_processes": True}
    run = run_child(json.dumps(job).encode(), "bwrap", timeout=60)
    try:
        reply = json.loads(run.reply)
        ok = reply["cases"][0]["output"] == 1
    except (ValueError, KeyError, IndexError, TypeError):
        ok = False
    if not ok:
        detail = run.stderr.strip().splitlines()[-1:] or [f"exit code {run.returncode}"]
        raise SandboxUnavailable(f"bubblewrap cannot start a sandbox here ({detail[0][:300]}); "
                                 f"in a container it needs user namespaces")


def run_child(job: bytes, mode: str, timeout: float, reply_limit: int = 96 * 2 ** 20) -> ChildRun:
    """Run the child on ``job`` (a JSON message) and collect its reply, capped in size
    and time; the child and everything it started are gone when this returns."""
    if mode == "inprocess":
        reply = _wire_module.dumps(_child_module.run_job(json.loads(job)))
        return ChildRun(reply, 0, "")
    with tempfile.TemporaryDirectory(prefix="mlpgrader-") as home:
        if mode == "bwrap":
            command, env, cwd = _bwrap_command(_interpreter()), {}, home
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


def _communicate(command, env, cwd, job, timeout, reply_limit) -> ChildRun:
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env, cwd=cwd,
                               start_new_session=True)
    chunks: dict[str, list] = {"out": [], "err": []}
    overflow = threading.Event()

    def drain(stream, key: str, limit: int) -> None:
        size = 0
        while True:
            block = stream.read(65536)
            if not block:
                return
            if size < limit:
                chunks[key].append(block[:limit - size])
            size += len(block)
            if key == "out" and size > limit:
                overflow.set()
                _kill(process)

    readers = [threading.Thread(target=drain, args=(process.stdout, "out", reply_limit)),
               threading.Thread(target=drain, args=(process.stderr, "err", STDERR_LIMIT))]
    for reader in readers:
        reader.start()
    try:
        process.stdin.write(job)
        process.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    timed_out = False
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill(process)
    for reader in readers:
        reader.join(timeout=10)
    stderr = b"".join(chunks["err"]).decode("utf-8", "replace")
    return ChildRun(b"".join(chunks["out"]), process.returncode, stderr, timed_out,
                    overflow.is_set())


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
