"""Experiments that attack the sandbox, one per escape, and the vault that registers them beside good ones.

Each attack reports what it managed as metrics; its claim predicts that it managed nothing, so `verified` means
the defence held. Host-side effects (a canary file, a process to kill, a unix socket) are checked by the tests.
"""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
from pathlib import Path

GOOD = '''"""A well-behaved experiment: it must still verify beside the attacks."""

PARAMS = {"seconds": 0}


def run(params, seed, outdir):
    with open(f"{outdir}/good.png", "wb") as f:
        f.write(b"\\x89PNG good")
    return {"value": 0.5}
'''

ATTACKS = {
    "environ": '''"""Reads every environment and command line it can see, hunting the server's secret; dumps them."""

import os


def run(params, seed, outdir):
    seen, readable = [], 0
    for pid in ["self", str(os.getppid()), *[p for p in os.listdir("/proc") if p.isdigit()]]:
        for part in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as f:
                    seen.append(f.read())
                readable += 1
            except OSError:
                pass
    seen.append(repr(dict(os.environ)).encode())
    with open(f"{outdir}/dump.txt", "wb") as f:
        f.write(b"\\n".join(seen))
    secret_named = sum(b"KG_SECRET_KEY" in s for s in seen)
    return {"readable": readable, "secret_named": secret_named}
''',
    "symlinks": '''"""Swaps its logs and a plot for symlinks to a file of the host's, hoping the server serves them."""

import os


def run(params, seed, outdir):
    print("before the swap")
    made = 0
    for name in ("stdout.log", "stderr.log", "evil.png"):
        path = os.path.join(outdir, name)
        try:
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink(params["canary"], path)
            made += 1
        except OSError:
            pass
    return {"made": made}
''',
    "touch_outside": '''"""Tries chmod, chown and utime on files outside its folder."""

import os
import sys


def run(params, seed, outdir):
    changed = 0
    for target in (params["canary"], sys.executable, "/usr/bin/env", "/etc/ld.so.cache"):
        for act in (lambda p: os.chmod(p, 0o777), lambda p: os.chown(p, os.getuid(), os.getgid()),
                    lambda p: os.utime(p, (0, 0))):
            try:
                act(target)
                changed += 1
            except OSError:
                pass
    return {"changed": changed}
''',
    "signal": '''"""Signals a process of the host's that it was told the pid of."""

import os
import signal


def run(params, seed, outdir):
    killed = 0
    for sig in (signal.SIGKILL, signal.SIGTERM):
        try:
            os.kill(params["pid"], sig)
            killed += 1
        except OSError:
            pass
    return {"killed": killed}
''',
    "unix_socket": '''"""Connects to a unix socket of the host's, by path and in the abstract namespace."""

import socket


def run(params, seed, outdir):
    connected = 0
    for address in (params["path"], "\\0" + params["abstract"]):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(address)
            s.sendall(b"escaped")
            s.close()
            connected += 1
        except OSError:
            pass
    return {"connected": connected}
''',
    "devshm": '''"""Writes to /dev/shm, where the host's processes would find it."""


def run(params, seed, outdir):
    with open("/dev/shm/" + params["name"], "w") as f:
        f.write("escaped")
    return {"wrote": 1}
''',
    "daemon": '''"""Leaves a daemon behind: a double fork into a new session that outlives the run."""

import os


def run(params, seed, outdir):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv("/usr/bin/sleep", ["sleep", params["seconds"]])
        os._exit(0)
    return {"started": 1}
''',
    "forkbomb": '''"""Forks 200 processes that each hold on for two seconds: the process cap must stop it."""

import os
import time


def run(params, seed, outdir):
    children = []
    for _ in range(200):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(2)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return {"forked": len(children)}
''',
    "pyc_plant": '''"""Innocent source; the vault also ships a planted __pycache__ .pyc that reports planted = 1."""


def run(params, seed, outdir):
    return {"planted": 0}
''',
    "fifo": '''"""Leaves a FIFO named metrics.json and exits cleanly: a reader that opens it would wait forever."""

import os


def run(params, seed, outdir):
    os.mkfifo(os.path.join(outdir, "metrics.json"))
    os._exit(0)
''',
    "bad_json": '''"""Writes a metrics.json that is not JSON and exits cleanly."""

import os


def run(params, seed, outdir):
    with open(os.path.join(outdir, "metrics.json"), "w") as f:
        f.write("{not json")
    os._exit(0)
''',
    "bad_types": '''"""Writes a metrics.json whose metric is a dict, not a number, and exits cleanly."""

import os


def run(params, seed, outdir):
    with open(os.path.join(outdir, "metrics.json"), "w") as f:
        f.write('{"metrics": {"x": {"nested": [1, 2]}}}')
    os._exit(0)
''',
}

# What each attack's claim predicts: the attack managed nothing.
PREDICTIONS = {
    "environ": [{"metric": "secret_named", "op": "==", "value": 0}],
    "symlinks": [{"metric": "made", "op": ">=", "value": 0}],
    "touch_outside": [{"metric": "changed", "op": "==", "value": 0}],
    "signal": [{"metric": "killed", "op": "==", "value": 0}],
    "unix_socket": [{"metric": "connected", "op": "==", "value": 0}],
    "devshm": [{"metric": "wrote", "op": "==", "value": 1}],
    "daemon": [{"metric": "started", "op": "==", "value": 1}],
    "forkbomb": [{"metric": "forked", "op": "<", "value": 200}],
    "pyc_plant": [{"metric": "planted", "op": "==", "value": 0}],
    "fifo": [{"metric": "x", "op": "<", "value": 1}],
    "bad_json": [{"metric": "x", "op": "<", "value": 1}],
    "bad_types": [{"metric": "x", "op": "<", "value": 1}],
}


def plant_pyc(experiments: Path, name: str) -> Path:
    """A .pyc for `name`.py that the import system would accept (source mtime and size match) but that runs
    other code: it reports planted = 1."""
    src = experiments / f"{name}.py"
    st = src.stat()
    code = compile('def run(params, seed, outdir):\n    return {"planted": 1}\n', str(src), "exec")
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
    header += (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
    cache = Path(importlib.util.cache_from_source(str(src)))
    cache.parent.mkdir(exist_ok=True)
    cache.write_bytes(header + marshal.dumps(code))
    return cache


def make_hostile_vault(root: Path, host: dict[str, object]) -> list[str]:
    """Write the vault: attacks, good experiments (one saved with CRLF), and their claims. Returns claim ids.

    `host` holds what the attacks are aimed at: canary, pid, socket path, abstract name, shm name, seconds."""
    exp = root / "experiments"
    exp.mkdir(parents=True)
    (exp / "good.py").write_text(GOOD)
    (exp / "crlf.py").write_bytes(GOOD.replace("\n", "\r\n").encode())
    for name, src in ATTACKS.items():
        (exp / f"{name}.py").write_text(src)
    plant_pyc(exp, "pyc_plant")
    claims: list[dict[str, object]] = [
        {"id": "good", "experiment": "good", "prediction": [{"metric": "value", "op": "between", "value": [0.4, 0.6]}]},
        {"id": "crlf", "experiment": "crlf", "prediction": [{"metric": "value", "op": "between", "value": [0.4, 0.6]}]},
        {"id": "huge-params", "experiment": "good", "params": {"blob": "x" * 200_000},
         "prediction": [{"metric": "value", "op": "<", "value": 1}]},
    ]  # fmt: skip
    params = {
        "symlinks": {"canary": host["canary"]},
        "touch_outside": {"canary": host["canary"]},
        "signal": {"pid": host["pid"]},
        "unix_socket": {"path": host["socket"], "abstract": host["abstract"]},
        "devshm": {"name": host["shm"]},
        "daemon": {"seconds": host["seconds"]},
    }
    for name in ATTACKS:
        claims.append({"id": name.replace("_", "-"), "experiment": name, "params": params.get(name, {}),
                       "prediction": PREDICTIONS[name], "timeout": 30})  # fmt: skip
    for c in claims:
        c["title"] = f"The sandbox holds: {c['id']}"
        c.setdefault("timeout", 30)
    front = json.dumps({"title": "Hostile experiments", "dek": "Each one tries an escape.", "claims": claims})
    (root / "hostile.md").write_text(f"---\n{front}\n---\nExperiments that attack the sandbox.\n")
    return [str(c["id"]) for c in claims]


def shm_path(name: str) -> str:
    return os.path.join("/dev/shm", name)
