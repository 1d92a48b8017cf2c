"""The `kg` command: a thin layer over the library. Every command takes --db and --json where it prints."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import networkx as nx

from kg.model import NODE_KINDS
from kg.store import Store, StoreError, default_db_path

db_option = click.option(
    "--db",
    default=default_db_path,
    show_default="data/kg.db or $KG_DB",
    help="The knowledge-graph SQLite file.",
    type=click.Path(dir_okay=False),
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _open(db: str, create: bool = False) -> Store:
    try:
        return Store(db, create=create)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lmkg")
def main() -> None:
    """A knowledge graph of learning mechanics: notes, papers and self-verifying claims."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@db_option
@json_option
@click.option("--similar-k", type=click.IntRange(0, 100), help="Neighbours kept per node for `similar` edges.")
@click.option("--similar-threshold", type=click.FloatRange(-1, 1), help="Minimum cosine for a `similar` edge.")
@click.option("--progress/--no-progress", default=None, help="Show progress bars (default: on a terminal).")
@click.option(
    "--executor",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Embed here, or in partitions on Dask workers (a LocalCluster unless --scheduler is given).",
)
@click.option("--scheduler", help="A Dask scheduler address, e.g. tcp://HOST:8786 (with --executor dask).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 1024), help="LocalCluster workers.")
def ingest(
    paths: tuple[str, ...],
    db: str,
    as_json: bool,
    similar_k: int | None,
    similar_threshold: float | None,
    progress: bool | None,
    executor: str,
    scheduler: str | None,
    workers: int,
) -> None:
    """Ingest notes, papers and experiments under PATHS. Exits 1 if any file failed (they are listed)."""
    from kg.writer import IngestBusy
    from kg.writer import ingest as run_ingest

    store = _open(db, create=True)
    try:
        embedder = None
        if executor == "dask":
            from kg.embed_dask import DaskEmbedder

            embedder = DaskEmbedder(workers, scheduler)
        elif scheduler:
            raise click.UsageError("--scheduler needs --executor dask")
        report = run_ingest(store, list(paths), embedder, k=similar_k, threshold=similar_threshold, progress=progress)
    except IngestBusy as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.close()
    if as_json:
        _emit(report.to_dict())
    else:
        r = report
        click.echo(
            f"{r.files} files: {r.added} added, {r.updated} updated, {r.removed} removed, "
            f"{r.unchanged} unchanged; {r.embedded} embedded; {len(r.errors)} errors, {len(r.warnings)} warnings, "
            f"{len(r.skipped)} skipped in {r.seconds:.1f}s"
        )
        _print_problems(r)
    sys.exit(1 if report.errors else 0)


def _print_problems(r: Any) -> None:
    """Errors in full; warnings and skipped paths counted by kind, with the first few of each."""
    for e in r.errors:
        where = f"{e['path']}:{e['line']}" if e.get("line") else e["path"]
        click.echo(f"  error: {where}: {e['error']}", err=True)
    for title, items, key, text in (
        ("warnings", r.warnings, "kind", "message"),
        ("skipped", r.skipped, "reason", "reason"),
    ):
        groups: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            groups.setdefault(item[key], []).append(item)
        for name, group in sorted(groups.items()):
            click.echo(f"  {title}: {len(group)} × {name}", err=True)
            for item in group[:3]:
                where = f"{item['path']}:{item['line']}" if item.get("line") else item["path"]
                click.echo(f"      {where}" + (f": {item[text]}" if text != key else ""), err=True)
            if len(group) > 3:
                click.echo(f"      … and {len(group) - 3} more (see --json)", err=True)


@main.command()
@db_option
@json_option
def stats(db: str, as_json: bool) -> None:
    """Count nodes and edges by kind."""
    with _open(db) as store:
        data = store.stats()
    if as_json:
        _emit(data)
        return
    for part in ("nodes", "edges"):
        click.echo(f"{part}: " + ", ".join(f"{k} {v}" for k, v in data[part].items()))


KIND = click.Choice(list(NODE_KINDS))


@main.command()
@click.argument("query")
@click.option("--kind", type=KIND, help="Only nodes of this kind.")
@click.option("--limit", default=10, type=click.IntRange(1, 200), show_default=True)
@db_option
@json_option
def search(query: str, kind: str | None, limit: int, db: str, as_json: bool) -> None:
    """Hybrid search (BM25 keywords + embedding cosine) for QUERY."""
    from kg.embeddings import default_embedder
    from kg.search import search as run_search

    with _open(db) as store:
        hits = run_search(store, query, default_embedder(), kind=kind, limit=limit)
    if as_json:
        _emit(hits)
        return
    for h in hits:
        snippet, last = "", 0
        for a, b in h.get("marks", []):
            snippet += h["snippet"][last:a] + "\033[1m" + h["snippet"][a:b] + "\033[0m"
            last = b
        snippet += h["snippet"][last:]
        click.echo(f"{h['score']:.4f}  {h['kind']:<10} {h['id']}  {h['title']}\n            {snippet}")


@main.command()
@click.argument("node_id")
@click.option("--kind", type=KIND, help="Only nodes of this kind, e.g. paper.")
@click.option("--limit", default=10, type=click.IntRange(1, 200), show_default=True)
@db_option
@json_option
def related(node_id: str, kind: str | None, limit: int, db: str, as_json: bool) -> None:
    """The nodes nearest to NODE_ID by embedding cosine."""
    from kg.search import related as run_related

    with _open(db) as store:
        if store.node(node_id) is None:
            raise click.ClickException(f"no node '{node_id}'; find ids with `kg search`")
        hits = run_related(store, node_id, kind=kind, limit=limit)
    if as_json:
        _emit(hits)
        return
    for h in hits:
        click.echo(f"{h['score']:.3f}  {h['kind']:<10} {h['id']}  {h['title']}")


@main.command()
@click.argument("node_id")
@db_option
@json_option
def show(node_id: str, db: str, as_json: bool) -> None:
    """Print a node with its edges in and out."""
    with _open(db) as store:
        node = store.node(node_id)
        if node is None:
            raise click.ClickException(f"no node '{node_id}'; find ids with `kg search`")
        node["edges_out"] = store.edges(node_id, "out")
        node["edges_in"] = store.edges(node_id, "in")
    if as_json:
        _emit(node)
        return
    click.echo(f"{node['title']}  [{node['kind']}] {node['id']}")
    if node["meta"].get("dek"):
        click.echo(node["meta"]["dek"])
    if node["path"]:
        click.echo(f"source: {node['path']}:{node['line']}")
    for e in node["edges_out"]:
        click.echo(f"  -> {e['kind']}{' (' + e['label'] + ')' if e['label'] else ''} {e['target']}")
    for e in node["edges_in"]:
        click.echo(f"  <- {e['kind']}{' (' + e['label'] + ')' if e['label'] else ''} {e['source']}")


@main.command()
@click.option("--format", "fmt", type=click.Choice(["graphml", "json"]), default="json", show_default=True)
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write (default: stdout).")
@click.option("--no-similar", is_flag=True, help="Leave out embedding `similar` edges.")
@db_option
def export(fmt: str, output: Any, no_similar: bool, db: str) -> None:
    """Write the graph as GraphML (Gephi) or node-link JSON (networkx)."""
    from kg.graph import build_graph, to_node_link

    with _open(db) as store:
        G = build_graph(store, similar=not no_similar)
    if fmt == "json":
        json.dump(to_node_link(G), output, ensure_ascii=False)
        output.write("\n")
    else:
        for line in nx.generate_graphml(G):
            output.write(line + "\n")


unsafe_option = click.option(
    "--unsafe-no-sandbox",
    is_flag=True,
    help="Run experiments without bubblewrap, where it cannot start. They can then read and change your files.",
)


@main.command()
@db_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; keep 127.0.0.1 unless you mean to share it.",
)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64), help="Worker threads (waitress).")
@click.option("--debug", is_flag=True, help="Flask's development server with the debugger. Never on a shared host.")
@click.option(
    "--allow-host",
    multiple=True,
    help="Another name the server may be reached by (Host header); 127.0.0.1, localhost, [::1] and --host always.",
)
@click.option(
    "--watch",
    "watch_paths",
    multiple=True,
    type=click.Path(exists=True),
    help="Re-ingest this folder whenever a file in it is saved (repeatable).",
)
@unsafe_option
def serve(
    db: str,
    host: str,
    port: int,
    threads: int,
    debug: bool,
    allow_host: tuple[str, ...],
    watch_paths: tuple[str, ...],
    unsafe_no_sandbox: bool,
) -> None:
    """Serve the web app: concept map, node pages, graph, search and reruns."""
    import importlib

    from kg import bwrap

    _open(db, create=bool(watch_paths)).close()
    if watch_paths:
        # The first ingest runs beside the server: pages, links and keyword search answer as soon as the graph
        # is written, and related items fill in as the vectors arrive (the pages show the progress).
        _start_watch(db, list(watch_paths), background=True)
    if not unsafe_no_sandbox and (why := bwrap.probe()):
        click.echo(f"warning: {why}; reruns will be refused (--unsafe-no-sandbox runs them unconfined)", err=True)
    # The web app sits above the library: loaded by name, so `kg` never imports `web`.
    create_app = importlib.import_module("web").create_app
    app = create_app(db, preload=True, ALLOWED_HOSTS=[host, *allow_host], UNSAFE_NO_SANDBOX=unsafe_no_sandbox)
    click.echo(f"Serving {db} on http://{host}:{port}/ (Ctrl-C to stop)")
    if debug:
        app.run(host=host, port=port, debug=True, use_reloader=False)
        return
    import waitress

    waitress.serve(app, host=host, port=port, threads=threads, ident="lmkg")


def _start_watch(db: str, paths: list[str], background: bool = False) -> Any:
    from kg.watch import Watcher

    def say(r: Any) -> None:
        changed = r.added + r.updated + r.removed
        if changed or r.errors:
            click.echo(f"watch: {changed} nodes changed, {len(r.errors)} errors, {len(r.warnings)} warnings", err=True)
            _print_problems(r)

    watcher = Watcher(db, paths, on_report=say)
    if not background:
        watcher.run_once()
    return watcher.start(initial=background)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@db_option
def watch(paths: tuple[str, ...], db: str) -> None:
    """Ingest PATHS, then re-ingest them each time a file is saved, until Ctrl-C."""
    import time

    watcher = _start_watch(db, list(paths))
    click.echo(f"Watching {', '.join(paths)} for {db} (Ctrl-C to stop)", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        watcher.stop()


def _setting(text: str) -> tuple[str, object]:
    """`key=value` with a YAML value (a list sweeps the param): width=256, lr=1e-3, widths=[64, 256]."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"'{text}' is not key=value, such as width=256")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise click.BadParameter(f"the value in '{text}' is not a number, word or [list]") from None


@main.command()
@click.argument("claims", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Run every claim that has an experiment.")
@click.option("--jobs", "-j", default=2, show_default=True, type=click.IntRange(1, 256),
              help="Runs in parallel (local threads, or LocalCluster workers with --executor dask).")  # fmt: skip
@click.option("--seed", default=0, show_default=True, type=int, help="First seed; a claim's seeds run from here up.")
@click.option("--seeds", type=click.IntRange(1, 1000), help="How many seeds (overrides the claim's `seeds`).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a param (repeatable); a [list] value sweeps it.")  # fmt: skip
@click.option("--grid", type=click.Choice(["declared", "web", "mechanism_off"]), default="declared",
              show_default=True, help="Full grid, web sweep, or the mechanism switched off.")  # fmt: skip
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Run on this machine, or on a Dask cluster.")  # fmt: skip
@click.option("--scheduler", metavar="ADDRESS",
              help="Dask scheduler, such as tcp://HOST:8786 (default: start a LocalCluster).")  # fmt: skip
@click.option(
    "--runs-dir", type=click.Path(file_okay=False), help="Where run folders go (default: runs/ beside the db)."
)
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@unsafe_option
@db_option
@json_option
def verify(
    claims: tuple[str, ...],
    run_all: bool,
    jobs: int,
    seed: int,
    seeds: int | None,
    settings: tuple[str, ...],
    grid: str,
    executor: str,
    scheduler: str | None,
    runs_dir: str | None,
    progress: bool | None,
    unsafe_no_sandbox: bool,
    db: str,
    as_json: bool,
) -> None:
    """Re-verify CLAIMS (or --all) over their seeds and sweeps. Exits 1 unless every verdict is verified.

    Only experiments in trusted folders run (see `kg trust`), inside bubblewrap."""
    from kg import bwrap
    from kg.verify import verify_claims

    if not claims and not run_all:
        raise click.UsageError("name one or more claims, or pass --all")
    bwrap.UNSAFE = unsafe_no_sandbox
    if not unsafe_no_sandbox and (why := bwrap.probe()):
        raise click.ClickException(f"{why}; no experiment runs without a sandbox (or pass --unsafe-no-sandbox)")

    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    overrides = dict(_setting(s) for s in settings)
    with _open(db) as store:
        _refuse_untrusted(store, list(claims), run_all)
        try:
            results = verify_claims(
                store, list(claims), run_all, jobs=jobs, seed=seed, seeds=seeds, overrides=overrides, grid=grid,
                executor=executor, scheduler=scheduler, runs_dir=runs_dir, progress=progress,
            )  # fmt: skip
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        _emit(results)
    else:
        for r in results:
            lo, hi = r["interval"]
            click.echo(f"{r['headline']:<44} [{lo:.2f}, {hi:.2f}]  {r['seconds']:5.1f}s/run  {r['claim']}")
        n_ok = sum(r["verdict"] == "verified" for r in results)
        click.echo(f"{n_ok}/{len(results)} verified")
    sys.exit(0 if results and all(r["verdict"] == "verified" for r in results) else 1)


def _refuse_untrusted(store: Store, claims: list[str], run_all: bool) -> None:
    """Stop before running anything if a named claim's experiment is not trusted, and say how to trust it.
    With --all, warn and go on: the runner refuses each untrusted one as an error."""
    from kg import trust
    from kg.runner import RunError, normalise_claim_id, plan
    from kg.verify import runnable_claims

    problems = []
    for cid in runnable_claims(store) if run_all else [normalise_claim_id(c) for c in claims]:
        try:
            trust.check(store, plan(store, cid).file)
        except RunError:
            continue  # verify_claims reports it
        except trust.NotTrusted as exc:
            problems.append(f"{cid}: {exc}")
    if problems and not run_all:
        raise click.ClickException("not trusted:\n  " + "\n  ".join(dict.fromkeys(problems)))
    for line in problems:  # with --all the trusted claims still run; these end as errors with the same message
        click.echo(f"not trusted: {line}", err=True)


@main.command("trust")
@click.argument("path", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--list", "show", is_flag=True, help="List the trusted folders.")
@click.option("--revoke", is_flag=True, help="Stop trusting PATH.")
@db_option
@json_option
def trust_cmd(path: str | None, show: bool, revoke: bool, db: str, as_json: bool) -> None:
    """Trust the experiments in folder PATH: `kg verify` and Rerun may then run them.

    Each Python file under PATH is recorded with its hash; a file changed later must be trusted again. The
    project's own data/experiments is trusted by default. Read the code first: trusted code runs on this machine.
    """
    from kg import trust

    if not show and not path:
        raise click.UsageError("name a folder to trust, or pass --list")
    with _open(db, create=True) as store:
        if revoke:
            if not path:
                raise click.UsageError("--revoke needs the folder to stop trusting")
            data: Any = {"folder": str(path), "revoked": trust.revoke(store, path)}
        elif path:
            data = trust.trust_folder(store, path)
        else:
            data = trust.folders(store)
    if as_json:
        _emit(data)
    elif show and not path:
        for f in data:
            what = "project default" if f["default"] else f"{f['files']} files, trusted {f['trusted_at']}"
            click.echo(f"{f['folder']}  ({what})")
    elif revoke:
        click.echo(f"{'no longer trusted' if data['revoked'] else 'was not trusted'}: {data['folder']}")
    else:
        click.echo(f"trusted {data['folder']}: {data['files']} Python files recorded with their hashes")
        for line in data["skipped"]:
            click.echo(f"  skipped {line}", err=True)


@main.group()
def runs() -> None:
    """The run log: prune old runs."""


@runs.command("prune")
@click.option("--keep", default=20, show_default=True, type=click.IntRange(0, 100000), help="Runs kept per claim.")
@click.option(
    "--runs-dir", type=click.Path(file_okay=False), help="Where run folders are (default: runs/ beside the db)."
)
@click.option("--dry-run", is_flag=True, help="Count what would go, remove nothing.")
@db_option
@json_option
def runs_prune(keep: int, runs_dir: str | None, dry_run: bool, db: str, as_json: bool) -> None:
    """Remove old runs: keep the newest KEEP of each claim and every run that is a claim's latest verdict."""
    from kg.runlog import prune

    with _open(db) as store:
        data = prune(store, runs_dir, keep=keep, dry_run=dry_run)
    if as_json:
        _emit(data)
    else:
        verb = "would remove" if dry_run else "removed"
        click.echo(f"{verb} {data['removed']} runs ({data['folders']} folders); {data['kept']} runs kept")


if __name__ == "__main__":
    main()
