"""Real attacks on the experiment sandbox, in real subprocesses under `kg verify`: one experiment per escape.

Every attack's claim predicts that the attack managed nothing, and the host checks that nothing happened; a good
experiment (and the same one saved with CRLF line ends) runs beside them and must still verify.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import KG, kg_env
from hostile_experiments import GOOD, make_hostile_vault, shm_path

from kg import bwrap
from kg.embeddings import FakeEmbedder
from kg.runner import create_run, get_run, plan, recover_interrupted, run_claim
from kg.store import Store
from kg.trust import trust_folder
from kg.writer import ingest

# Every test here runs real experiments inside bubblewrap: the whole suite (`make test`) runs them, the quick
# one (`make test-fast`) leaves them out.
pytestmark = [
    pytest.mark.skipif(bwrap.probe() is not None, reason=f"no sandbox here: {bwrap.probe()}"),
    pytest.mark.slow,
]


class UnixServer:
    """A unix socket listening at a path and in the abstract namespace, recording every connection."""

    def __init__(self, path: Path, abstract: str) -> None:
        self.accepted: list[str] = []
        self.socks = []
        for address in (str(path), "\0" + abstract):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(address)
            s.listen(5)
            s.settimeout(0.2)
            self.socks.append(s)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            for s in self.socks:
                try:
                    conn, _ = s.accept()
                    self.accepted.append(conn.recv(100).decode(errors="replace"))
                    conn.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """Ingest the hostile vault, trust it with `kg trust`, run every claim with `kg verify`, and look around."""
    tmp = tmp_path_factory.mktemp("escapes")
    canary = tmp / "canary.txt"
    canary.write_text("CANARY-" + secrets.token_hex(8))
    canary.chmod(0o644)
    victim = subprocess.Popen(["sleep", "300"])
    abstract = "kg-test-" + secrets.token_hex(6)
    server = UnixServer(tmp / "host.sock", abstract)
    host = {"canary": str(canary), "pid": victim.pid, "socket": str(tmp / "host.sock"), "abstract": abstract,
            "shm": "kg-escape-" + secrets.token_hex(6), "seconds": f"4242.{secrets.randbelow(10**6)}"}  # fmt: skip
    vault = tmp / "vault"
    claims = make_hostile_vault(vault, host)
    db, runs = tmp / "kg.db", tmp / "runs"
    with Store(db) as s:
        report = ingest(s, [str(vault)], FakeEmbedder(), progress=False)
        assert report.errors == [], report.errors
    trusted = subprocess.run([*KG, "trust", str(vault / "experiments"), "--db", str(db), "--json"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert trusted.returncode == 0, trusted.stderr
    marker = "SECRET-" + secrets.token_hex(16)
    canary_stat = canary.stat()
    exe_stat = os.stat(os.path.realpath(sys.executable))
    proc = subprocess.run(
        [*KG, "verify", *claims, "--db", str(db), "--runs-dir", str(runs), "--jobs", "2", "--json"],
        capture_output=True, text=True, timeout=900, env=kg_env(KG_SECRET_KEY=marker),
    )  # fmt: skip
    time.sleep(0.5)
    out = {
        "proc": proc,
        "results": {r["claim"][6:]: r for r in json.loads(proc.stdout)} if proc.stdout.strip() else {},
        "db": db, "runs": runs, "marker": marker, "canary": canary, "canary_stat": canary_stat,
        "exe_stat": exe_stat, "victim_alive": victim.poll() is None, "accepted": list(server.accepted),
        "shm_left": os.path.exists(shm_path(str(host["shm"]))), "host": host,
        "daemons": subprocess.run(["pgrep", "-f", f"sleep {host['seconds']}"], capture_output=True, text=True).stdout,
    }  # fmt: skip
    server.close()
    victim.kill()
    victim.wait()
    if out["shm_left"]:
        os.remove(shm_path(str(host["shm"])))
    yield out


def result(attacked, claim: str) -> dict:
    """`kg verify --json`'s result for a claim, seen as its one run (each hostile claim runs one seed)."""
    assert claim in attacked["results"], (claim, attacked["proc"].stderr[-2000:])
    res = attacked["results"][claim]
    one = res["runs"][0] if res.get("runs") else {}
    return {**res, "metrics": one.get("metrics", {}), "run": one.get("id", "")}


def run_of(attacked, claim: str) -> dict:
    with Store(attacked["db"]) as s:
        return get_run(s, result(attacked, claim)["run"])


def test_good_experiments_verify_beside_the_attacks(attacked):
    for claim in ("good", "crlf"):
        r = run_of(attacked, claim)
        assert r["verdict"] == "verified", (claim, r["error"], r["stderr"][-1000:])
        assert r["artefacts"] == ["good.png"]


def test_crlf_source_runs_as_the_hash_ingest_recorded(attacked):
    r = run_of(attacked, "crlf")
    copy = attacked["runs"] / r["id"] / "experiment.py"
    assert b"\r" not in copy.read_bytes()
    with Store(attacked["db"]) as s:
        assert r["code_hash"] == s.node("experiment:crlf")["meta"]["code_hash"]


def test_the_server_secret_never_reaches_an_experiment(attacked):
    assert result(attacked, "environ")["verdict"] == "verified"
    marker = attacked["marker"].encode()
    files = [p for p in attacked["runs"].rglob("*") if p.is_file() and not p.is_symlink()]
    assert any(p.name == "dump.txt" for p in files)  # the attack ran and wrote what it saw
    for p in files:
        assert marker not in p.read_bytes(), p
    with Store(attacked["db"]) as s:
        for row in s.conn.execute("SELECT * FROM runs"):
            assert attacked["marker"] not in json.dumps(row), row[0]


def test_symlinked_logs_and_plots_are_never_followed(attacked):
    r = run_of(attacked, "symlinks")
    assert r["verdict"] == "verified" and r["metrics"]["made"] == 3  # the swaps happened inside the sandbox
    secret = attacked["canary"].read_text()
    assert secret not in r["stdout"] + r["stderr"]
    assert "before the swap" in r["stdout"]  # the log was read from the runner's own descriptor
    assert "evil.png" not in r["artefacts"]


def test_nothing_outside_the_run_folder_changes(attacked):
    assert result(attacked, "touch-outside")["verdict"] == "verified"
    assert result(attacked, "touch-outside")["metrics"]["changed"] == 0
    before, now = attacked["canary_stat"], attacked["canary"].stat()
    assert (now.st_mode, now.st_uid, now.st_mtime) == (before.st_mode, before.st_uid, before.st_mtime)
    exe = os.stat(os.path.realpath(sys.executable))
    assert (exe.st_mode, exe.st_mtime) == (attacked["exe_stat"].st_mode, attacked["exe_stat"].st_mtime)


def test_unrelated_processes_cannot_be_signalled(attacked):
    assert result(attacked, "signal")["verdict"] == "verified"
    assert attacked["victim_alive"]


def test_unix_sockets_are_out_of_reach(attacked):
    assert result(attacked, "unix-socket")["verdict"] == "verified"
    assert attacked["accepted"] == []


def test_dev_shm_is_private(attacked):
    assert result(attacked, "devshm")["verdict"] == "verified"  # it wrote, to its own /dev/shm
    assert not attacked["shm_left"]


def test_no_daemon_outlives_its_run(attacked):
    assert result(attacked, "daemon")["verdict"] == "verified"
    assert attacked["daemons"].strip() == ""


def test_a_fork_bomb_hits_the_process_cap(attacked):
    r = result(attacked, "forkbomb")
    assert r["verdict"] == "verified", r
    assert r["metrics"]["forked"] < bwrap.NPROC


def test_a_planted_pyc_never_runs(attacked):
    r = result(attacked, "pyc-plant")
    assert r["verdict"] == "verified" and r["metrics"]["planted"] == 0


def test_a_fifo_named_metrics_json_ends_the_run(attacked):
    r = result(attacked, "fifo")
    assert r["verdict"] == "error" and "not a regular file" in r["error"]


def test_invalid_metrics_end_the_run_as_error(attacked):
    assert result(attacked, "bad-json")["verdict"] == "error"
    assert "not valid JSON" in result(attacked, "bad-json")["error"]
    assert result(attacked, "bad-types")["verdict"] == "error"
    assert "not a number" in result(attacked, "bad-types")["error"]


def test_params_over_128_kb_end_the_run_as_error(attacked):
    r = result(attacked, "huge-params")
    assert r["verdict"] == "error" and "128 KB" in r["error"]


def test_every_run_ends(attacked):
    assert attacked["proc"].returncode == 1  # some verdicts are errors on purpose
    with Store(attacked["db"]) as s:
        states = [r[0] for r in s.conn.execute("SELECT status FROM runs")]
    assert states and set(states) == {"done"}


def test_the_run_record_says_which_isolation_held(attacked):
    iso = run_of(attacked, "good")["environment"]["isolation"]
    assert iso["bwrap"] and iso["pid_ns"] and iso["net_ns"] and not iso["host_proc"]
    assert iso["nproc"] == bwrap.NPROC and "bubblewrap" in iso["summary"]


# -- runs outside the shared campaign ---------------------------------------------------------------


@pytest.fixture
def good_vault(tmp_path: Path):
    vault = tmp_path / "vault"
    (vault / "experiments").mkdir(parents=True)
    (vault / "experiments" / "good.py").write_text(GOOD)
    front = {"title": "Good", "claims": [{"id": "good", "title": "Good", "experiment": "good", "timeout": 30,
             "prediction": [{"metric": "value", "op": "between", "value": [0.4, 0.6]}]}]}  # fmt: skip
    (vault / "good.md").write_text(f"---\n{json.dumps(front)}\n---\nA good claim.\n")
    db = tmp_path / "kg.db"
    with Store(db) as s:
        assert ingest(s, [str(vault)], FakeEmbedder(), progress=False).errors == []
    return vault, db


def test_a_file_swapped_between_hash_and_run_never_runs(good_vault, tmp_path):
    """Another process flips the file between good and evil source while runs start: whatever runs is the copy
    that was hashed, so evil code never runs under the registered hash."""
    vault, db = good_vault
    path = vault / "experiments" / "good.py"
    evil = GOOD.replace('{"value": 0.5}', '{"value": 0.55}')  # still inside the prediction, so only which tells
    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            for text in (evil, GOOD):
                tmp = path.with_suffix(".tmp")
                tmp.write_text(text)
                os.replace(tmp, path)

    with Store(db) as s:
        trust_folder(s, vault / "experiments")
        registered = s.node("experiment:good")["meta"]["code_hash"]
        flipper = threading.Thread(target=flip, daemon=True)
        flipper.start()
        try:
            runs = [run_claim(s, "good", tmp_path / "runs") for _ in range(4)]
        finally:
            stop.set()
            flipper.join()
    for r in runs:
        copy = (tmp_path / "runs" / r["id"] / "experiment.py").read_text()
        if r["verdict"] == "verified":
            assert r["metrics"]["value"] == 0.5 and copy == GOOD and r["code_hash"] == registered
        else:
            assert r["verdict"] == "error" and "changed since it was registered" in r["error"]


def test_untrusted_experiments_never_run_and_verify_says_how_to_trust(good_vault):
    vault, db = good_vault
    refused = subprocess.run([*KG, "verify", "good", "--db", str(db)], capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "not in a trusted folder" in refused.stderr
    cmd = refused.stderr.split("run `", 1)[1].split("`", 1)[0]
    assert cmd.startswith("kg trust ")
    with Store(db) as s:
        assert s.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    args = shlex.split(cmd)[2:]
    assert subprocess.run([*KG, "trust", *args], capture_output=True, timeout=60).returncode == 0
    ok = subprocess.run([*KG, "verify", "good", "--db", str(db)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # A changed file needs trust again, even once ingest has registered the change.
    (vault / "experiments" / "good.py").write_text(GOOD + "\n# changed\n")
    with Store(db) as s:
        assert ingest(s, [str(vault)], FakeEmbedder(), progress=False).errors == []
    again = subprocess.run([*KG, "verify", "good", "--db", str(db)], capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "changed since it was trusted" in again.stderr and "kg trust" in again.stderr


def test_trust_list_and_revoke(good_vault):
    vault, db = good_vault
    folder = str((vault / "experiments").resolve())
    subprocess.run([*KG, "trust", folder, "--db", str(db)], check=True, capture_output=True, timeout=60)
    listed = json.loads(subprocess.run([*KG, "trust", "--list", "--json", "--db", str(db)], capture_output=True,
                                       text=True, timeout=60, check=True).stdout)  # fmt: skip
    assert listed[0]["default"] is True and listed[0]["folder"].endswith("data/experiments")
    mine = next(f for f in listed if f["folder"] == folder)
    assert mine["files"] == 1 and mine["default"] is False
    subprocess.run([*KG, "trust", "--revoke", folder, "--db", str(db)], check=True, capture_output=True, timeout=60)
    listed = json.loads(subprocess.run([*KG, "trust", "--list", "--json", "--db", str(db)], capture_output=True,
                                       text=True, timeout=60, check=True).stdout)  # fmt: skip
    assert [f["folder"] for f in listed if not f["default"]] == []


def test_without_bubblewrap_runs_are_refused_unless_unsafe(good_vault, tmp_path):
    vault, db = good_vault
    with Store(db) as s:
        trust_folder(s, vault / "experiments")
    empty = tmp_path / "bin"
    empty.mkdir()
    env = kg_env(PATH=str(empty))
    refused = subprocess.run([*KG, "verify", "good", "--db", str(db)], capture_output=True, text=True, env=env,
                             timeout=120)  # fmt: skip
    assert refused.returncode != 0 and "bubblewrap is not installed" in refused.stderr
    unsafe = subprocess.run([*KG, "verify", "good", "--db", str(db), "--unsafe-no-sandbox", "--json"],
                            capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert unsafe.returncode == 0, unsafe.stderr
    with Store(db) as s:
        iso = get_run(s, json.loads(unsafe.stdout)[0]["runs"][0]["id"])["environment"]["isolation"]
    assert iso["bwrap"] is False and iso["unsafe_no_sandbox"] is True


def test_runs_of_a_dead_owner_are_finished_at_start_even_if_its_pid_came_back(good_vault):
    """A restarted server often gets its old pid back (containers): a run older than the process is not its."""
    vault, db = good_vault
    with Store(db) as s:
        trust_folder(s, vault / "experiments")
        p = plan(s, "good")
        old = create_run(s, p, 0, status="running")
        s.conn.execute("UPDATE runs SET pid = ?, created_at = '2000-01-01T00:00:00+00:00' WHERE id = ?",
                       (os.getpid(), old))  # fmt: skip
        mine = create_run(s, p, 0, status="running")
        assert recover_interrupted(s) == 1
        assert get_run(s, old)["verdict"] == "error" and get_run(s, mine)["status"] == "running"


def test_the_bwrap_command_line_holds_the_promised_isolation(tmp_path):
    (tmp_path / "experiment.py").write_text("")
    (tmp_path / "params.json").write_text("{}")
    argv = bwrap.bwrap_argv(tmp_path, [], as_root=os.geteuid() == 0)
    joined = " ".join(argv)
    for flag in ("--die-with-parent", "--new-session", "--clearenv", "--proc /proc", "--dev /dev",
                 "--tmpfs /tmp", "--tmpfs /dev/shm", f"--bind {tmp_path} {tmp_path}"):  # fmt: skip
        assert flag in joined, flag
    assert "--unshare-all" in argv or {"--unshare-pid", "--unshare-net", "--unshare-ipc"} <= set(argv)
    writable = [argv[i + 1] for i, a in enumerate(argv) if a == "--bind"]
    assert writable == [str(tmp_path)]
    i = argv.index("--")
    assert argv[i + 2 : i + 5] == ["-I", "-B", bwrap.INSIDE_PY]
    assert shutil.which("bwrap")


def test_verify_all_refuses_each_untrusted_experiment_as_an_error(good_vault):
    _vault, db = good_vault
    proc = subprocess.run([*KG, "verify", "--all", "--db", str(db), "--json"], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 1 and "not trusted" in proc.stderr
    (r,) = json.loads(proc.stdout)
    assert r["verdict"] == "error" and "kg trust" in r["error"]
    with Store(db) as s:
        assert not (Path(s.path).parent / "runs" / r["runs"][0]["id"] / "metrics.json").exists()  # nothing ran


def test_a_timeout_kills_the_whole_namespace(tmp_path):
    """An experiment that leaves a daemon and then hangs: at the time limit, both are gone."""
    marker = f"4141.{secrets.randbelow(10**6)}"
    vault = tmp_path / "vault"
    (vault / "experiments").mkdir(parents=True)
    (vault / "experiments" / "hang_daemon.py").write_text(
        "import os\n\n\ndef run(params, seed, outdir):\n    if os.fork() == 0:\n        os.setsid()\n"
        f"        os.execv('/usr/bin/sleep', ['sleep', '{marker}'])\n    while True:\n        pass\n"
    )
    front = {"title": "Hang", "claims": [{"id": "hang-daemon", "title": "Hangs", "experiment": "hang_daemon",
             "timeout": 3, "prediction": [{"metric": "x", "op": "<", "value": 1}]}]}  # fmt: skip
    (vault / "hang.md").write_text(f"---\n{json.dumps(front)}\n---\nHangs.\n")
    with Store(tmp_path / "kg.db") as s:
        assert ingest(s, [str(vault)], FakeEmbedder(), progress=False).errors == []
        trust_folder(s, vault / "experiments")
        run = run_claim(s, "hang-daemon", tmp_path / "runs")
    assert run["verdict"] == "timeout"
    time.sleep(0.3)
    assert subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout == ""
