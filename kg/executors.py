"""Where runs execute: threads on this machine, or a Dask cluster. Both only call `run_one`; none touch the store.

An executor takes run specs and yields (index, RunRecord) as runs finish, in any order; the caller writes the
records. A run whose Dask worker dies is sent once more, and if that attempt is lost too it ends as `error`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Protocol

from kg.runner import RunRecord, RunSpec, environment, now, run_one

EXECUTORS = ("local", "dask")


class Executor(Protocol):
    name: str

    def run(self, specs: list[RunSpec]) -> Iterator[tuple[int, RunRecord]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Runs in a thread pool on this machine, each in its own sandboxed subprocess."""

    name = "local"

    def __init__(self, jobs: int = 2) -> None:
        self.jobs = jobs

    def run(self, specs: list[RunSpec]) -> Iterator[tuple[int, RunRecord]]:
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="kg-run") as pool:
            futures = {pool.submit(run_one, spec): i for i, spec in enumerate(specs)}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()

    def close(self) -> None:
        pass


def lost_record(spec: RunSpec, why: str, attempts: int) -> RunRecord:
    """The record of a run that never came back from the cluster."""
    t = now()
    env = {**environment(), "host": socket.gethostname()}
    return RunRecord("error", {}, [], "", "", why, "", env, t, t, 0.0, attempts=attempts)


class DaskExecutor:
    """Runs on a Dask cluster: an existing scheduler (`tcp://HOST:8786`) or, without one, a LocalCluster.

    Each worker thread runs one experiment at a time (experiments are single-threaded), so a LocalCluster gets
    `workers` processes of one thread each. The scheduler is told to give up on a task at the first lost worker
    (`allowed-failures: 0`) so that the retry policy is ours: one more attempt, then `error`.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int = 2, retries: int = 1) -> None:
        import dask
        from distributed import Client, LocalCluster

        self.retries = retries
        self.cluster = None
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            if scheduler:
                self.client = Client(scheduler, timeout="30s")
            else:
                self.cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
                self.client = Client(self.cluster)

    def run(self, specs: list[RunSpec]) -> Iterator[tuple[int, RunRecord]]:
        from distributed import as_completed as dask_completed

        # Workers run in a temporary folder and send artefacts back as bytes: they may share no disk with us.
        remote = [_detach(spec) for spec in specs]
        attempts = dict.fromkeys(range(len(specs)), 1)
        index: dict[Any, int] = {}
        for i, spec in enumerate(remote):
            index[self.client.submit(run_one, spec, pure=False, key=f"run-{spec.claim[6:]}-{i}-1")] = i
        done = dask_completed(list(index), with_results=False)
        for fut in done:
            i = index.pop(fut)
            try:
                rec = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker (KilledWorker, closed comm) or a crash
                if attempts[i] <= self.retries:
                    attempts[i] += 1
                    key = f"run-{remote[i].claim[6:]}-{i}-{attempts[i]}"
                    new = self.client.submit(run_one, remote[i], pure=False, key=key)
                    index[new] = i
                    done.add(new)
                    continue
                rec = lost_record(specs[i], f"lost on the cluster after {attempts[i]} attempts: {exc!r}", attempts[i])
            rec.attempts = attempts[i]
            yield i, rec

    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(kind: str = "local", *, jobs: int = 2, scheduler: str | None = None) -> Executor:
    """The executor named by `kg verify --executor`."""
    if kind == "local":
        return LocalExecutor(jobs)
    if kind == "dask":
        return DaskExecutor(scheduler, workers=jobs)
    raise ValueError(f"unknown executor '{kind}'; choose one of {', '.join(EXECUTORS)}")


def _detach(spec: RunSpec) -> RunSpec:
    from dataclasses import replace

    return replace(spec, outdir=None)
