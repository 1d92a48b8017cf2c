"""The `kg` command: help on every command, exit codes, and the --json shapes."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner
from conftest import KG, kg_env

from kg.cli import main

COMMANDS = sorted(main.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert main.commands[command].help and len(main.commands[command].help) > 20
    assert "Usage:" in result.output


def test_usage_error_exits_2(tmp_path):
    proc = subprocess.run([*KG, "ingest", str(tmp_path / "nope")], capture_output=True, text=True, env=kg_env())
    assert proc.returncode == 2 and "does not exist" in proc.stderr


def test_missing_db_is_a_clear_error(tmp_path):
    proc = subprocess.run([*KG, "stats", "--db", str(tmp_path / "none.db")], capture_output=True, text=True)
    assert proc.returncode == 1 and "kg ingest" in proc.stderr


def test_json_outputs(tmp_path, vault):
    db = str(tmp_path / "kg.db")

    def kg(*args):
        proc = subprocess.run([*KG, *args, "--db", db, "--json"], capture_output=True, text=True, env=kg_env())
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    report = kg("ingest", str(vault))
    assert set(report) == {
        "files",
        "added",
        "updated",
        "removed",
        "unchanged",
        "embedded",
        "errors",
        "warnings",
        "warnings_by_kind",
        "skipped",
        "skipped_by_reason",
        "seconds",
    }
    assert report["files"] == 11 and report["errors"] == []
    stats = kg("stats")
    assert set(stats) == {"nodes", "edges"}
    assert {"concept", "paper", "claim", "inquiry", "experiment", "tag"} <= set(stats["nodes"])
    hits = kg("search", "squares its input", "--kind", "claim")
    assert hits[0]["id"] == "claim:toy-square"
    assert set(hits[0]) == {"id", "kind", "title", "score", "snippet", "marks"} and hits[0]["marks"]
    assert "<" not in hits[0]["snippet"]  # the library returns text; pages add the markup
    rel = kg("related", "alpha", "--kind", "paper")
    assert rel and all(set(r) == {"id", "kind", "title", "score"} and r["kind"] == "paper" for r in rel)
    assert [r["score"] for r in rel] == sorted((r["score"] for r in rel), reverse=True)
    node = kg("show", "alpha")
    assert node["id"] == "alpha" and any(e["target"] == "beta" for e in node["edges_out"])


@pytest.mark.parametrize(
    "query", ['"unbalanced', "NEAR(a b)", "*", "a:b OR", "-x", "'; DROP TABLE nodes; --", "^", "()"]
)
def test_any_query_string_is_safe(vault_store, fake, query):
    from kg.search import search

    assert isinstance(search(vault_store, query, fake), list)


def test_export_graphml_and_json(tmp_path, vault):
    import networkx as nx

    db = str(tmp_path / "kg.db")
    subprocess.run([*KG, "ingest", str(vault), "--db", db], check=True, env=kg_env(), capture_output=True)
    out = tmp_path / "g.graphml"
    subprocess.run([*KG, "export", "--format", "graphml", "-o", str(out), "--db", db], check=True)
    G = nx.read_graphml(out)
    assert "alpha" in G and G.nodes["alpha"]["kind"] == "concept"
    proc = subprocess.run([*KG, "export", "--format", "json", "--db", db], capture_output=True, text=True, check=True)
    H = nx.node_link_graph(json.loads(proc.stdout), edges="links")
    assert H.number_of_nodes() == G.number_of_nodes()
