"""Start `kg serve` on a free loopback port and wait until it answers: shared by the load, crash and browser runs."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

KG = [sys.executable, "-m", "kg.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    db: Path, env: dict[str, str], port: int | None = None, timeout: float = 30.0, extra: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str]:
    """(process, base URL) of a server that has answered /api/stats; raises with its log if it never does.

    The log goes to a file, not a pipe: under load waitress logs queue warnings, and a full pipe would stall it.
    """
    port = port or free_port()
    log = tempfile.TemporaryFile()
    argv = [*KG, "serve", "--db", str(db), "--port", str(port), *extra]
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/api/stats", timeout=1)
            return proc, base
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    log.seek(0)
    raise RuntimeError("server did not start: " + log.read().decode(errors="replace")[-2000:])
