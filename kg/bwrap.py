"""Start an experiment inside bubblewrap: its own pid, net, ipc and uts namespaces, a read-only view of the
interpreter and its libraries, only the run folder writable, and limits on processes, memory, CPU and files.

`spawn` is the one place a run's process is started; `stop` ends it and everything it started.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import resource
import select
import shutil
import signal
import site
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

SANDBOX_PY = Path(__file__).resolve().with_name("sandbox.py")
INSIDE_PY = "/opt/kg/sandbox.py"
ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/alternatives", "/etc/fonts")
NPROC = 64
FSIZE_MB = 64
NOFILE = 256
TMPFS_BYTES = 64 * 1024 * 1024
# Per-run user ids when the server runs as root: far above any real account, so no two runs share one.
UID_BASE = 0x40000000
# Set by `--unsafe-no-sandbox` on `kg verify` and `kg serve`: run experiments without bubblewrap.
UNSAFE = False


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot start here; the message says what to do."""


@dataclass
class Limits:
    memory_mb: int = 2048
    cpu_seconds: float = 60.0
    nproc: int = NPROC
    fsize_mb: int = FSIZE_MB
    nofile: int = NOFILE


@dataclass
class Launch:
    """A started run: its process, the host pid of its namespace's init, and what isolation holds."""

    proc: subprocess.Popen
    isolation: dict[str, Any]
    ns_pid: int | None = None
    cgroup: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


PRIVATE = ("/tmp", "/dev/shm")


def _covered(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def readonly_paths() -> list[str]:
    """The interpreter, its standard library and site-packages, and /usr: everything an experiment may read."""
    wanted = ["/usr", sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    for sp in site.getsitepackages():
        wanted += [sp, os.path.realpath(sp)]
    out: list[str] = []
    for p in sorted({os.path.normpath(p) for p in wanted if p and os.path.isdir(p)}, key=len):
        if not _covered(p, out):
            out.append(p)
    return out


def _parents(paths: list[str], bound: list[str]) -> list[str]:
    """Directories to create (mode 0755) so bind targets are reachable by an unprivileged user."""
    dirs: set[str] = set()
    for p in paths:
        parent = os.path.dirname(p)
        while parent not in ("/", "") and not _covered(parent, bound):
            dirs.add(parent)
            parent = os.path.dirname(parent)
    return sorted(dirs, key=lambda d: (d.count("/"), d))


def bwrap_argv(outdir: Path, tail: list[str], *, as_root: bool) -> list[str]:
    """The bwrap command line for one run; `tail` is what runs inside, after the interpreter."""
    ro = readonly_paths()
    out = str(outdir)
    argv = ["bwrap", "--die-with-parent", "--new-session", "--clearenv"]
    if as_root:
        # Root is exempt from RLIMIT_NPROC, so the sandbox drops to a per-run uid; it keeps only the right to do so.
        argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-all"]
    # A venv under /tmp (a CI checkout, say) is bound after the private /tmp is mounted, which would hide it.
    late = [p for p in ro if _covered(p, list(PRIVATE))]
    early = [p for p in ro if p not in late]
    for d in _parents(early, early):
        argv += ["--perms", "0755", "--dir", d]
    for p in early:
        argv += ["--ro-bind", p, p]
    for link, target in (("/lib", "usr/lib"), ("/lib64", "usr/lib64"), ("/bin", "usr/bin"), ("/sbin", "usr/sbin")):
        if os.path.islink(link) or not os.path.exists(link):
            argv += ["--symlink", target, link]
        else:
            argv += ["--ro-bind", link, link]
    for p in ETC:
        if os.path.exists(p):
            argv += ["--ro-bind", p, p]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    for tmp in PRIVATE:  # private, small, and usable by the run's own uid
        argv += ["--perms", "1777", "--size", str(TMPFS_BYTES), "--tmpfs", tmp]
    for d in _parents(late, early):
        argv += ["--perms", "0755", "--dir", d]
    for p in late:
        argv += ["--ro-bind", p, p]
    for d in _parents([out, INSIDE_PY], ro):  # after the tmpfs mounts, which would hide them
        argv += ["--perms", "0755", "--dir", d]
    argv += ["--bind", out, out]
    # The code run is the code hashed: the copy and its params are read-only, even to the experiment.
    for name in ("experiment.py", "params.json"):
        argv += ["--ro-bind", str(outdir / name), f"{out}/{name}"]
    argv += ["--ro-bind", str(SANDBOX_PY), INSIDE_PY, "--chdir", out]
    return [*argv, "--", sys.executable, "-I", "-B", INSIDE_PY, *tail]


@functools.lru_cache(maxsize=1)
def probe() -> str | None:
    """None if bubblewrap can start a sandbox here, else why not."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap is not installed (`apt-get install bubblewrap`)"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        (out / "experiment.py").write_text("")
        (out / "params.json").write_text("{}")
        argv = bwrap_argv(out, ["--probe"], as_root=os.geteuid() == 0)
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=_outer_env())
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bubblewrap did not start ({exc})"
    if res.returncode != 0 or "probe ok" not in res.stdout:
        return f"bubblewrap cannot create a sandbox here: {(res.stderr or res.stdout).strip()[-300:]}"
    return None


def _outer_env() -> dict[str, str]:
    """bwrap's own environment: nothing from the server, since the sandbox's pid 1 is bwrap."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def make_cgroup(name: str, memory_mb: int, nproc: int) -> Path | None:
    """A cgroup v2 child of our own cgroup with memory.max and pids.max, where one is delegated to us; else None.

    Only a cgroup whose parent already enables the memory and pids controllers is used: the parent's settings
    are never changed."""
    try:
        own = next(line[3:].strip() for line in open("/proc/self/cgroup") if line.startswith("0::"))
        mount = next(
            line.split()[4] for line in open("/proc/self/mountinfo") if " - cgroup2 " in line
        )  # fmt: skip
        parent = Path(mount + own)
        enabled = (parent / "cgroup.subtree_control").read_text().split()
        if not {"memory", "pids"} <= set(enabled):
            return None
        cg = parent / name
        cg.mkdir()
        (cg / "memory.max").write_text(str(memory_mb * 1024 * 1024))
        (cg / "memory.swap.max").write_text("0")
        (cg / "pids.max").write_text(str(nproc))
        return cg
    except (OSError, StopIteration):
        return None


def _preexec(limits: Limits, cgroup: Path | None) -> Any:
    def apply() -> None:
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))
        try:  # die with the thread that started the run, so a crashed server leaves no orphan behind
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        mem = limits.memory_mb * 1024 * 1024
        cpu = int(limits.cpu_seconds) + 5
        fsize = limits.fsize_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.nofile, limits.nofile))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def run_uid(run_id: str) -> int:
    return UID_BASE + int(run_id[:7], 16)


def spawn(
    outdir: Path,
    run_id: str,
    seed: int,
    env: dict[str, str],
    limits: Limits,
    stdout: IO[bytes],
    stderr: IO[bytes],
    *,
    unsafe: bool = False,
) -> Launch:
    """Start the run's process: in bubblewrap, or (only with `unsafe`) as a plain subprocess.

    `outdir` must hold experiment.py and params.json. Raises SandboxUnavailable if bubblewrap cannot start."""
    why = None if unsafe else probe()
    if why:
        raise SandboxUnavailable(f"{why}; runs need a sandbox (or `--unsafe-no-sandbox`, which runs code unconfined)")
    cgroup = None if unsafe else make_cgroup(f"kg-run-{run_id}", limits.memory_mb, limits.nproc)
    tail = [str(outdir), str(seed), "--nproc", str(limits.nproc)]
    if unsafe:
        argv = [sys.executable, "-I", "-B", str(SANDBOX_PY), *tail, "--landlock"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env, cwd=outdir,
                                start_new_session=True, preexec_fn=_preexec(limits, None))  # fmt: skip
        return Launch(proc, {"bwrap": False, "unsafe_no_sandbox": True, "summary": "no sandbox (--unsafe-no-sandbox)"})
    as_root = os.geteuid() == 0
    if as_root:
        uid = run_uid(run_id)
        os.chown(outdir, uid, uid)
        tail += ["--uid", str(uid)]
    argv = bwrap_argv(outdir, tail, as_root=as_root)
    i = argv.index("--")
    argv[i:i] = [x for k, v in env.items() for x in ("--setenv", k, v)]
    info_r, info_w = os.pipe()
    argv[1:1] = ["--info-fd", str(info_w)]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=_outer_env(),
                                cwd=outdir, start_new_session=True, pass_fds=(info_w,),
                                preexec_fn=_preexec(limits, cgroup))  # fmt: skip
    finally:
        os.close(info_w)
    ns_pid = _read_info(info_r)
    isolation = {
        "bwrap": True, "pid_ns": True, "net_ns": True, "ipc_ns": True, "uts_ns": True, "user_ns": not as_root,
        "uid": run_uid(run_id) if as_root else os.geteuid(), "readonly_root": True, "private_tmp": True,
        "host_proc": False, "clearenv": True, "cgroup": cgroup is not None,
        "memory": f"{limits.memory_mb} MB " + ("in all (cgroup)" if cgroup else "per process"),
        "nproc": limits.nproc, "fsize_mb": limits.fsize_mb, "nofile": limits.nofile,
    }  # fmt: skip
    isolation["summary"] = (
        f"bubblewrap: own pid, net, ipc and uts namespaces; read-only system; only the run folder writable; "
        f"at most {limits.nproc} processes, {isolation['memory']}"
    )
    return Launch(proc, isolation, ns_pid, cgroup)


def _read_info(fd: int) -> int | None:
    """The host pid of the sandbox's init, which bwrap writes to --info-fd once the namespace exists."""
    data = b""
    try:
        while len(data) < 65536 and select.select([fd], [], [], 10)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    try:
        return int(json.loads(data)["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None


def stop(launch: Launch) -> None:
    """Kill the run's namespace (its init's death ends every process in it) and its process group, then reap."""
    if launch.ns_pid and launch.proc.poll() is None:
        try:
            os.kill(launch.ns_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.killpg(launch.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    launch.proc.wait()
    if launch.cgroup is not None:
        try:
            (launch.cgroup / "cgroup.kill").write_text("1")
            launch.cgroup.rmdir()
        except OSError:
            pass
