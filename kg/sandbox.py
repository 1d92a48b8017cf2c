"""The child side of an experiment run: load the registered module, call run(), write metrics.json.

Started by `kg.bwrap.spawn` as `python -I -B sandbox.py OUTDIR SEED [--uid U] [--nproc N] [--landlock]`, inside
bubblewrap, with OUTDIR holding the hashed copy of the experiment (experiment.py) and its params (params.json).
It uses the standard library only: under `-I` nothing but the interpreter's own paths can be imported. The runner,
not this process, decides the verdict.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import sys
import traceback
import types
from typing import Any

CLONE_NEWNET = 0x40000000


def isolate_network() -> bool:
    """Move into an empty network namespace where the platform allows it. Returns True if it did."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(CLONE_NEWNET) == 0
    except (OSError, AttributeError):
        return False


# Landlock (Linux ≥ 5.13): an unprivileged process can give up rights for itself and its children.
_SYS_CREATE, _SYS_ADD_RULE, _SYS_RESTRICT = 444, 445, 446
_PR_SET_NO_NEW_PRIVS = 38
_WRITE_FILE, _REMOVE_DIR, _REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
_MAKE = sum(1 << b for b in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_REFER, _TRUNCATE = 1 << 13, 1 << 14
_NET_BIND, _NET_CONNECT = 1 << 0, 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 where there is none."""
    try:
        return max(0, int(ctypes.CDLL(None, use_errno=True).syscall(_SYS_CREATE, None, 0, 1)))
    except (OSError, AttributeError):
        return 0


def restrict_writes(outdir: str) -> dict[str, bool]:
    """Allow writes only beneath `outdir` (reads stay open), and no TCP, where Landlock is available.

    Returns what was enforced: {"filesystem": bool, "tcp": bool}.
    """
    done = {"filesystem": False, "tcp": False}
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        abi = libc.syscall(_SYS_CREATE, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    except (OSError, AttributeError):
        return done
    if abi < 1:
        return done
    writes = _WRITE_FILE | _REMOVE_DIR | _REMOVE_FILE | _MAKE
    if abi >= 2:
        writes |= _REFER
    if abi >= 3:
        writes |= _TRUNCATE
    attr = _RulesetAttr(writes, (_NET_BIND | _NET_CONNECT) if abi >= 4 else 0)
    size = ctypes.sizeof(attr) if abi >= 4 else 8
    fd = libc.syscall(_SYS_CREATE, ctypes.byref(attr), size, 0)
    if fd < 0:
        return done
    try:
        for path, allowed in ((outdir, writes), ("/dev/null", _WRITE_FILE), ("/dev/shm", writes)):
            if not os.path.exists(path):
                continue
            pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                mask = allowed if os.path.isdir(path) else allowed & (_WRITE_FILE | (_TRUNCATE if abi >= 3 else 0))
                rule = _PathBeneath(mask, pfd)
                if libc.syscall(_SYS_ADD_RULE, fd, 1, ctypes.byref(rule), 0) != 0:
                    return done
            finally:
                os.close(pfd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or libc.syscall(_SYS_RESTRICT, fd, 0) != 0:
            return done
    finally:
        os.close(fd)
    return {"filesystem": True, "tcp": abi >= 4}


def clean_metrics(raw: Any) -> dict[str, float | int | bool]:
    if not isinstance(raw, dict):
        raise TypeError(f"run() must return a dict of metrics, not {type(raw).__name__}")
    out: dict[str, float | int | bool] = {}
    for k, v in raw.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, bool):
            out[str(k)] = v
        elif isinstance(v, (int, float)):
            out[str(k)] = v if math.isfinite(v) else str(v)  # type: ignore[assignment]
        else:
            raise TypeError(f"metric '{k}' must be a number, not {type(v).__name__}")
    return out


def drop_privileges(uid: int | None, nproc: int) -> dict[str, Any]:
    """Become the run's own unprivileged user (when started as root), forbid gaining privileges, cap processes.

    RLIMIT_NPROC is set here, inside the sandbox: root is exempt from it, and set outside a user namespace it
    would count every process of the user on the machine."""
    import resource

    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    libc = ctypes.CDLL(None, use_errno=True)
    no_new_privs = libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    return {"uid": os.getuid(), "no_new_privs": no_new_privs, "nproc": nproc}


def load(path: str) -> types.ModuleType:
    """Compile the experiment from its source bytes: no bytecode cache is read, so a planted .pyc never runs."""
    with open(path, "rb") as f:
        source = f.read()
    module = types.ModuleType("experiment")
    module.__file__ = path
    sys.modules["experiment"] = module
    exec(compile(source, path, "exec", dont_inherit=True), module.__dict__)
    return module


def main(argv: list[str]) -> int:
    if argv == ["--probe"]:
        print("probe ok")
        return 0
    outdir, seed = argv[0], int(argv[1])
    opts = dict(zip(argv[2::2], argv[3::2], strict=False))
    os.chdir(outdir)
    held: dict[str, Any] = {}
    if "--landlock" in argv:  # no bubblewrap (--unsafe-no-sandbox): the best this process can do for itself
        held = {**restrict_writes(outdir), "network_namespace": isolate_network()}
    uid = int(opts["--uid"]) if "--uid" in opts else None
    held.update(drop_privileges(uid, int(opts.get("--nproc", 64))))
    try:
        with open(os.path.join(outdir, "params.json")) as f:
            given = json.load(f)
        module = load(os.path.join(outdir, "experiment.py"))
        params = {**getattr(module, "PARAMS", {}), **given}
        metrics = clean_metrics(module.run(params, seed, outdir))
    except MemoryError:
        print("MemoryError: the experiment went over its memory limit", file=sys.stderr)
        return 3
    except BaseException:  # the experiment's own failure, reported as its log
        traceback.print_exc()
        return 1
    tmp = os.path.join(outdir, ".metrics.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"metrics": metrics, "params": params, "sandbox": held}, f, default=str)
    os.replace(tmp, os.path.join(outdir, "metrics.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
