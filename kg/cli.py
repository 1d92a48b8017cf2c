"""The `kg` command: a thin layer over the library. Every command takes --db and --json where it prints."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
import networkx as nx

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
def ingest(
    paths: tuple[str, ...],
    db: str,
    as_json: bool,
    similar_k: int | None,
    similar_threshold: float | None,
    progress: bool | None,
) -> None:
    """Ingest notes, papers and experiments under PATHS. Exits 1 if any file failed (they are listed)."""
    from kg.writer import IngestBusy
    from kg.writer import ingest as run_ingest

    store = _open(db, create=True)
    try:
        report = run_ingest(store, list(paths), k=similar_k, threshold=similar_threshold, progress=progress)
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
            f"{r.unchanged} unchanged; {r.embedded} embedded; {len(r.errors)} errors in {r.seconds:.1f}s"
        )
        for e in r.errors:
            where = f"{e['path']}:{e['line']}" if e.get("line") else e["path"]
            click.echo(f"  error: {where}: {e['error']}", err=True)
    sys.exit(1 if report.errors else 0)


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


KIND = click.Choice(["concept", "paper", "claim", "inquiry", "experiment", "tag"])


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
        snippet = h["snippet"].replace("<mark>", "\033[1m").replace("</mark>", "\033[0m")
        click.echo(f"{h['score']:.4f}  {h['kind']:<10} {h['id']}  {h['title']}\n            {_unescape(snippet)}")


def _unescape(s: str) -> str:
    import html

    return html.unescape(s)


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
def serve(db: str, host: str, port: int, threads: int, debug: bool) -> None:
    """Serve the web app: concept map, node pages, graph, search and reruns."""
    from web import create_app

    _open(db).close()
    app = create_app(db, preload=True)
    click.echo(f"Serving {db} on http://{host}:{port}/ (Ctrl-C to stop)")
    if debug:
        app.run(host=host, port=port, debug=True, use_reloader=False)
        return
    import waitress

    waitress.serve(app, host=host, port=port, threads=threads, ident="lmkg")


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
    db: str,
    as_json: bool,
) -> None:
    """Re-verify CLAIMS (or --all) over their seeds and sweeps. Exits 1 unless every verdict is verified."""
    from kg.verify import verify_claims

    if not claims and not run_all:
        raise click.UsageError("name one or more claims, or pass --all")
    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    overrides = dict(_setting(s) for s in settings)
    with _open(db) as store:
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


if __name__ == "__main__":
    main()
