"""The sync plan on its own: a change set from an assembly and a store's index, with no database."""

from __future__ import annotations

from ingest.assemble import Assembly
from ingest.records import EdgeRecord, NodeRecord
from kg.sync.plan import Stored, edge_id, plan


def _assembly(edges: list[EdgeRecord]) -> Assembly:
    nodes = {n: NodeRecord(n, "concept", n.upper(), f"text of {n}", path="/v/x.md") for n in ("a", "b", "c")}
    asm = Assembly(nodes=nodes, roots=dict.fromkeys(nodes, "/v"))
    for e in edges:
        asm.edges[e.key()] = e
        asm.edge_roots[e.key()] = "/v"
    return asm


def _row(e: EdgeRecord, root: str = "/v") -> tuple:
    return (root, e.path, e.weight, e.origin, e.context, e.line, e.ref)


def test_edges_new_changed_kept_and_removed() -> None:
    same = EdgeRecord("a", "b", "links_to", context="a to b", path="/v/x.md", line=3)
    moved = EdgeRecord("a", "c", "links_to", context="a to c", path="/v/x.md", line=4)
    new = EdgeRecord("b", "c", "links_to", path="/v/x.md", line=5)
    gone = EdgeRecord("c", "a", "links_to", path="/v/x.md", line=6)
    kept_file = EdgeRecord("c", "b", "links_to", path="/v/kept.md", line=1)
    stored = Stored(
        edges={
            edge_id(same): _row(same),
            edge_id(moved): _row(EdgeRecord("a", "c", "links_to", context="old words", path="/v/x.md", line=4)),
            edge_id(gone): _row(gone),
            edge_id(kept_file): _row(kept_file),
        },
        preserve={("/v", "/v/kept.md")},  # a refused file's rows stay
    )
    cs = plan(_assembly([same, moved, new]), stored, "fake")
    written = list(cs.edge_upserts())
    assert [(eid, e) for eid, e, _root in written] == [(edge_id(moved), moved), (edge_id(new), new)]
    assert {root for _eid, _e, root in written} == {"/v"}
    assert cs.edge_removed == [edge_id(gone)]
    assert not cs.empty()


def test_a_first_plan_writes_every_edge_and_removes_none() -> None:
    edges = [EdgeRecord("a", t, "links_to", path="/v/x.md", line=i) for i, t in enumerate("bc")]
    cs = plan(_assembly(edges), Stored(), "fake")
    assert [e for _eid, e, _r in cs.edge_upserts()] == edges
    assert cs.edge_removed == [] and cs.added == 3 and not cs.removed


def test_an_unchanged_graph_plans_nothing() -> None:
    edges = [EdgeRecord("a", "b", "links_to", path="/v/x.md", line=1)]
    asm = _assembly(edges)
    first = plan(asm, Stored(), "fake")
    stored = Stored(
        nodes={n.id: (h, "/v", n.path, k) for n, h, k in first.upserts},
        edges={eid: _row(e) for eid, e, _r in first.edge_upserts()},
    )
    again = plan(asm, stored, "fake")
    assert again.empty() and again.unchanged == 3 and not again.embed_needed.keys() - first.embed_needed.keys()
