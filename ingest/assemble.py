"""Assemble: turn every parsed file of every vault into the desired graph, resolving references.

Pure and deterministic: the same files give the same graph whatever order they were ingested in, because
the store always hands over every file it holds (the ones out of an ingest's scope from its cache).
"""

from __future__ import annotations

import mimetypes
import posixpath
import unicodedata
from dataclasses import dataclass, field

from ingest import summaries
from ingest.links import VaultIndex, is_note, looks_named, norm
from ingest.papers import clean_arxiv, clean_doi, merge_papers
from ingest.pipeline import SELF, ParsedFile
from ingest.records import EdgeRecord, FileError, FileWarning, NodeRecord, normalise_title

EdgeKey = tuple[str, str, str, str]


@dataclass
class Assembly:
    """The desired state of the graph."""

    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    edges: dict[EdgeKey, EdgeRecord] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)  # node id -> root ('' for derived nodes)
    edge_roots: dict[EdgeKey, str] = field(default_factory=dict)
    errors: list[FileError] = field(default_factory=list)
    warnings: list[FileWarning] = field(default_factory=list)


def note_ids(rels: list[str]) -> dict[str, str]:
    """The id of each note of one vault: its file name without `.md`, or its path where names clash.

    >>> note_ids(["a/Foo.md", "b/foo.md", "a_b.md", "a-b.md", "深度学习.md"])
    {'a/Foo.md': 'a/Foo', 'b/foo.md': 'b/foo', 'a_b.md': 'a_b', 'a-b.md': 'a-b', '深度学习.md': '深度学习'}
    """
    groups: dict[str, list[str]] = {}
    for rel in rels:
        groups.setdefault(norm(_stem(rel)), []).append(rel)
    out = {}
    for rel in rels:
        same = groups[norm(_stem(rel))]
        out[rel] = _nfc(_stem(rel) if len(same) == 1 else rel[: rel.rfind(".")])
    return out


def _stem(rel: str) -> str:
    name = posixpath.basename(rel)
    return name[: name.rfind(".")] if "." in name else name


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


@dataclass
class _Vault:
    index: VaultIndex
    ids: dict[str, str]  # note rel -> node id
    pdf_papers: dict[str, str] = field(default_factory=dict)  # pdf rel -> paper id


def assemble(files: list[ParsedFile], vault_files: dict[str, list[str]]) -> Assembly:
    """Resolve every reference across the parsed files and return the desired nodes and edges.

    `vault_files` lists every file of each root (attachments included), for the link resolver.
    """
    out = Assembly()
    files = sorted(files, key=lambda pf: (pf.source.root, pf.source.rel))
    vaults = _vaults(files, vault_files)
    owner: dict[str, str] = {}
    papers: list[tuple[NodeRecord, str, str]] = []  # (record, root, rel)
    paper_summaries: list[NodeRecord] = []
    pending: list[tuple[ParsedFile, EdgeRecord]] = []
    for pf in files:
        vault = vaults[pf.source.root]
        nid = vault.ids.get(pf.source.rel, SELF)
        for r in pf.records:
            if isinstance(r, FileError):
                out.errors.append(r)
            elif isinstance(r, FileWarning):
                out.warnings.append(r)
            elif isinstance(r, NodeRecord) and r.kind == summaries.KIND:
                r.path = pf.source.path
                paper_summaries.append(r)
            elif isinstance(r, NodeRecord):
                _take_node(_subst_node(r, nid), pf, out, owner, papers)
            else:
                pending.append((pf, _subst_edge(r, nid)))

    merged, alias = merge_papers([p for p, _root, _rel in papers])
    out.errors += summaries.apply_summaries(merged, paper_summaries)
    for p in merged:
        out.nodes[p.id] = p
        out.roots[p.id] = next(root for rec, root, _rel in papers if rec is p)
    for rec, root, rel in papers:
        if rel.lower().endswith(".pdf"):
            vaults[root].pdf_papers[rel] = alias.get(rec.id, rec.id)
    refs = _paper_refs(merged)
    resolver = _Resolver(out, vaults, refs, alias)
    for pf, e in pending:
        resolver.edge(pf, e)
    resolver.finish()
    _citation_contexts(out)
    return out


def _citation_contexts(out: Assembly, limit: int = 20) -> None:
    """Each paper keeps the sentences that cite it, for keyword search."""
    contexts: dict[str, set[str]] = {}
    for e in out.edges.values():
        if e.kind == "cites" and e.context:
            contexts.setdefault(e.target, set()).add(e.context)
    for pid, sentences in contexts.items():
        node = out.nodes.get(pid)
        if node is not None and node.kind == "paper":
            node.meta["cited_in"] = sorted(sentences)[:limit]


def _vaults(files: list[ParsedFile], vault_files: dict[str, list[str]]) -> dict[str, _Vault]:
    vaults: dict[str, _Vault] = {}
    for root in {pf.source.root for pf in files} | set(vault_files):
        rels = set(vault_files.get(root, [])) | {pf.source.rel for pf in files if pf.source.root == root}
        index = VaultIndex.of(sorted(rels))
        notes = sorted(r for r in rels if is_note(r))
        vaults[root] = _Vault(index, note_ids(notes))
    for pf in files:
        if pf.source.fmt != "markdown":
            continue
        node = next((r for r in pf.records if isinstance(r, NodeRecord) and r.id == SELF), None)
        if node is not None:
            index = vaults[pf.source.root].index
            for name in [node.title, *(node.meta.get("aliases") or [])]:
                index.add_title(pf.source.rel, str(name))
    return vaults


def _take_node(
    r: NodeRecord, pf: ParsedFile, out: Assembly, owner: dict[str, str], papers: list[tuple[NodeRecord, str, str]]
) -> None:
    if r.kind == "paper":
        papers.append((r, pf.source.root, pf.source.rel))
    elif r.id in out.nodes and not out.nodes[r.id].meta.get("stub"):
        if not r.meta.get("stub"):
            msg = f"id '{r.id}' is already defined in {owner[r.id]}; rename one of them"
            out.errors.append(FileError(pf.source.path, r.line or None, msg))
    else:
        out.nodes[r.id] = r
        out.roots[r.id] = "" if r.meta.get("stub") else pf.source.root
        owner[r.id] = pf.source.path


def _subst_node(r: NodeRecord, nid: str) -> NodeRecord:
    if r.id == SELF:
        r.id = nid
    if r.meta.get("note") == SELF:
        r.meta["note"] = nid
    return r


def _subst_edge(e: EdgeRecord, nid: str) -> EdgeRecord:
    if e.source == SELF:
        e.source = nid
    if e.target == SELF:
        e.target = nid
    return e


def _paper_refs(papers: list[NodeRecord]) -> dict[str, str]:
    refs: dict[str, str] = {}
    for p in papers:
        refs[p.id.lower()] = p.id
        ids = p.meta.get("ids") or {}
        for key in [*p.meta.get("keys", []), *(ids.get("keys") or [])]:
            refs.setdefault("key:" + key.lower(), p.id)
        for a in [p.meta.get("arxiv"), *(ids.get("arxiv") or [])]:
            if a:
                refs["arxiv:" + str(a).lower()] = p.id
        for d in [p.meta.get("doi"), *(ids.get("doi") or [])]:
            if d:
                refs["doi:" + str(d).lower()] = p.id
        refs.setdefault("title:" + normalise_title(p.title), p.id)
    return refs


def paper_lookup(ref: str, refs: dict[str, str]) -> str | None:
    """The paper a citation names: by id, key, arXiv id, DOI or exact title.

    >>> paper_lookup("key:Saxe2013", {"key:saxe2013": "arxiv:1312.6120"})
    'arxiv:1312.6120'
    """
    low = ref.strip().lower()
    if low in refs:
        return refs[low]
    bare = low.removeprefix("key:").removeprefix("@")
    if "key:" + bare in refs:
        return refs["key:" + bare]
    a = clean_arxiv(bare.removeprefix("arxiv:")) if bare.startswith("arxiv:") or clean_arxiv(bare) == bare else None
    if a and "arxiv:" + a.lower() in refs:
        return refs["arxiv:" + a.lower()]
    d = clean_doi(bare.removeprefix("doi:")) if "10." in bare else None
    if d and d.startswith("10.48550/arxiv."):
        return refs.get("arxiv:" + d.removeprefix("10.48550/arxiv."))
    if d and "doi:" + d in refs:
        return refs["doi:" + d]
    return refs.get("title:" + normalise_title(bare))


def stub_paper_id(ref: str) -> str:
    """The id of a paper known only by a citation: later metadata with the same id fills it."""
    low = ref.strip().lower()
    bare = low.removeprefix("key:").removeprefix("@")
    if bare.startswith("arxiv:") and clean_arxiv(bare):
        return f"arxiv:{clean_arxiv(bare)}"
    if bare.startswith("doi:") and clean_doi(bare[4:]):
        return f"doi:{clean_doi(bare[4:])}"
    return "key:" + ref.strip().removeprefix("key:").removeprefix("@")


class _Resolver:
    """Resolves edge references, creating stubs, attachments, tags and probable links as it goes."""

    def __init__(self, out: Assembly, vaults: dict[str, _Vault], refs: dict[str, str], alias: dict[str, str]) -> None:
        self.out, self.vaults, self.refs, self.alias = out, vaults, refs, alias
        self.stubs: dict[str, list[tuple[EdgeRecord, str]]] = {}  # norm(target) -> edges waiting for a stub id
        self.links: dict[str, dict[str, str]] = {}  # note id -> {norm(ref): target id}

    def add(self, e: EdgeRecord, root: str) -> None:
        if e.target == e.source:
            return
        key = e.key()
        if key not in self.out.edges:
            self.out.edges[key] = e
            self.out.edge_roots[key] = root

    def edge(self, pf: ParsedFile, e: EdgeRecord) -> None:
        root = pf.source.root
        e.source = self.alias.get(e.source, e.source)
        t = e.target
        if t.startswith("link:"):
            self._link(pf, e, t[5:])
        elif t.startswith("cite:"):
            known = paper_lookup(t[5:], self.refs)
            if known is None and e.origin == "pandoc" and not any(ch.isdigit() for ch in t):
                return  # `[@floating-ui/react]`, `[@someone]`: a handle, not a citation key (those carry a year)
            e.target = known or self._paper(t[5:])
            self._remember(e, e.ref or t[5:])
            self.add(e, root)
        elif t.startswith("tag:"):
            _add_tag(t[4:], self.out)
            self.add(e, root)
        elif t.startswith("experiment:") or e.source.startswith("experiment:"):
            exp = e.source if e.source.startswith("experiment:") else t
            if exp not in self.out.nodes:
                name = exp.removeprefix("experiment:")
                msg = f"claim names experiment '{name}' but there is no experiments/{name}.py; add it or fix the name"
                self.out.errors.append(FileError(pf.source.path, e.line or None, msg))
                return
            self.add(e, root)
        else:
            e.target = self.alias.get(t, t)
            self.add(e, root)

    def _link(self, pf: ParsedFile, e: EdgeRecord, target: str) -> None:
        vault = self.vaults[pf.source.root]
        rel = vault.index.resolve(target, pf.source.rel)
        if rel is not None:
            tid = self._file_node(pf.source.root, rel, vault)
            if tid is not None:
                e.target = tid
                self._remember(e, target)
                if rel in vault.pdf_papers and e.kind in ("links_to", "embeds"):
                    # A link to a paper's PDF cites the paper; an embed shows it and cites it too.
                    cite = EdgeRecord(e.source, tid, "cites", "wikilink", 1.0, "", e.context, e.path, e.line)
                    cite.ref = e.ref
                    self.add(cite, pf.source.root)
                    if e.kind == "links_to":
                        return
                self.add(e, pf.source.root)
                return
        paper = paper_lookup(target, self.refs) if e.kind in ("links_to", "embeds") else None
        if paper is not None:
            e.target, e.kind, e.label = paper, "cites", ""
            self._remember(e, target)
            self.add(e, pf.source.root)
            return
        probable = vault.index.probable(target) if rel is None else None
        if probable is not None and e.kind in ("related", "draws_on"):
            # Our own front-matter fields may name a note by its title or alias; wikilinks may not.
            e.target = vault.ids[probable]
            self._remember(e, target)
            self.add(e, pf.source.root)
            return
        if probable is not None and e.kind in ("links_to", "embeds"):
            p = EdgeRecord(
                e.source, vault.ids[probable], "probable", "title", 0.5, "", e.context, e.path, e.line, target
            )
            self.add(p, pf.source.root)
        if rel is None and posixpath.splitext(target)[1].lower() not in ("", ".md", ".markdown"):
            if not looks_named(target):
                msg = f"links to '{target}', which is not in the vault; add the file or fix the link"
                self.out.warnings.append(FileWarning(pf.source.path, e.line or None, "missing-attachment", msg))
                return
        self.stubs.setdefault(norm(target), []).append((e, pf.source.root))

    def _file_node(self, root: str, rel: str, vault: _Vault) -> str | None:
        if rel in vault.ids:
            return vault.ids[rel]
        if rel in vault.pdf_papers:
            return vault.pdf_papers[rel]
        aid = "file:" + _nfc(rel)
        if aid not in self.out.nodes:
            mime = mimetypes.guess_type(rel)[0] or "application/octet-stream"
            node = NodeRecord(aid, "attachment", posixpath.basename(rel), "", rel, 0, {"mime": mime})
            self.out.nodes[aid] = node
            self.out.roots[aid] = root
        return aid

    def _paper(self, ref: str) -> str:
        pid = paper_lookup(ref, self.refs)
        if pid:
            return pid
        sid = stub_paper_id(ref)
        if sid not in self.out.nodes:
            title = ref.strip().removeprefix("key:")
            self.out.nodes[sid] = NodeRecord(sid, "paper", title, "", "", 0, {"stub": True, "authors": [], "year": ""})
            self.out.roots[sid] = ""
        return sid

    def _remember(self, e: EdgeRecord, ref: str) -> None:
        if e.kind in ("links_to", "embeds", "cites", "related", "draws_on"):
            self.links.setdefault(e.source, {}).setdefault(norm(ref.strip()).removesuffix(".md"), e.target)

    def finish(self) -> None:
        """Give unresolved links their stubs (one per name, ignoring case) and notes their link maps."""
        for key in sorted(self.stubs):
            group = self.stubs[key]
            name = min(_nfc(e.target[5:].strip()) for e, _root in group)
            sid = (
                name if name not in self.out.nodes or self.out.nodes[name].meta.get("stub") else f"{name} (unresolved)"
            )
            if sid not in self.out.nodes:
                self.out.nodes[sid] = NodeRecord(sid, "concept", name, "", "", 0, {"stub": True, "dek": ""})
                self.out.roots[sid] = ""
            for e, root in group:
                e.target = sid
                self._remember(e, e.ref or name)
                self.add(e, root)
        for nid, links in self.links.items():
            node = self.out.nodes.get(nid)
            if node is not None and node.kind in ("concept", "inquiry"):
                node.meta["links"] = dict(sorted(links.items()))


def _add_tag(tag: str, out: Assembly) -> None:
    """Add a tag node and its ancestors, each nested tag linked to its parent by `broader`."""
    parts = tag.split("/")
    for i in range(len(parts), 0, -1):
        name = "/".join(parts[:i])
        tid = "tag:" + name
        if tid not in out.nodes:
            out.nodes[tid] = NodeRecord(tid, "tag", "#" + name, "", "", 0, {})
            out.roots[tid] = ""
        if i > 1:
            e = EdgeRecord(tid, "tag:" + "/".join(parts[: i - 1]), "broader", origin="derived")
            out.edges.setdefault(e.key(), e)
            out.edge_roots.setdefault(e.key(), "")
