// The full graph in WebGL (sigma.js): positions come precomputed from the server (ForceAtlas2, cached per ingest),
// colours are Louvain communities. A search box focuses and zooms to a node; strand and verdict filters act at
// once; hovering a node lights up its neighbours.
(function () {
  "use strict";
  const container = document.getElementById("fullgraph");
  const status = document.getElementById("graph-status");
  const form = document.getElementById("filters");
  const find = document.getElementById("find");
  const hits = document.getElementById("find-hits");
  if (!container || !window.Sigma || !window.graphology) return;

  const params = new URLSearchParams(new FormData(form));
  params.delete("strand");
  params.delete("verdict");
  const state = { hovered: null, neighbours: new Set(), focused: container.dataset.focus || null, strand: "", verdict: "" };

  fetch("/api/graph?" + params.toString())
    .then((r) => r.json())
    .then((data) => {
      performance.mark("kg-data");
      const graph = new graphology.Graph({ multi: false, type: "undirected" });
      const ids = data.nodes.map((n) => n.id);
      // This sigma build sizes nodes in graph units: turn the server's pixel sizes into units of the layout.
      const xs = data.nodes.map((n) => n.x);
      const ys = data.nodes.map((n) => n.y);
      const span = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys), 1);
      const unit = span / Math.max(200, Math.min(container.clientWidth, container.clientHeight));
      data.nodes.forEach((n) =>
        graph.addNode(n.id, { x: n.x, y: n.y, size: n.size * unit, color: n.color, label: n.label, kind: n.kind, strand: n.strand, verdict: n.verdict })
      );
      // Nodes paint first; the edges (ten times as many) follow in the next frame.
      function addEdges() {
        data.edges.forEach(([a, b, k]) => {
          const s = ids[a];
          const t = ids[b];
          if (!graph.hasEdge(s, t)) graph.addEdge(s, t, { size: 0.12 * unit * 4, color: data.edge_kinds[k] === "similar" ? "#e6e6e6" : "#c3cbd8" });
        });
        container.dataset.edges = "ready";
      }
      performance.mark("kg-built");
      function hiddenByFilter(attrs) {
        if (state.strand && attrs.strand !== state.strand) return true;
        if (state.verdict && attrs.verdict !== state.verdict) return true;
        return false;
      }
      const renderer = new Sigma(graph, container, {
        labelRenderedSizeThreshold: 12,
        labelDensity: 0.25,
        labelGridCellSize: 150,
        defaultEdgeType: "line",
        hideEdgesOnMove: true,
        nodeReducer: (node, attrs) => {
          const res = { ...attrs };
          if (hiddenByFilter(attrs)) res.hidden = true;
          if (state.hovered && node !== state.hovered && !state.neighbours.has(node)) {
            res.color = "#e4e4e4";
            res.label = "";
          }
          if (node === state.focused) {
            res.highlighted = true;
            res.forceLabel = true;
            res.size = attrs.size * 2;
          }
          if (state.hovered && (node === state.hovered || state.neighbours.has(node))) res.forceLabel = true;
          return res;
        },
        edgeReducer: (edge, attrs) => {
          if (state.hovered && !graph.hasExtremity(edge, state.hovered)) return { ...attrs, hidden: true };
          if (state.hovered) return { ...attrs, color: "#7a8699", size: 1 };
          return attrs;
        },
      });
      performance.mark("kg-sigma");
      // The constructor draws the first frame; the next animation frame is when it reaches the screen.
      requestAnimationFrame(() => {
        container.dataset.state = "ready";
        window.kgPaint = performance.now();
        setTimeout(addEdges, 0);
      });
      renderer.on("clickNode", ({ node }) => {
        window.location.href = "/node/" + window.kgNodePath(node);
      });
      renderer.on("enterNode", ({ node, event }) => {
        state.hovered = node;
        state.neighbours = new Set(graph.neighbors(node));
        renderer.refresh({ skipIndexation: true });
        const rect = container.getBoundingClientRect();
        window.kgPreview.show(node, rect.left + event.x, rect.top + event.y);
      });
      renderer.on("leaveNode", () => {
        state.hovered = null;
        state.neighbours = new Set();
        renderer.refresh({ skipIndexation: true });
        window.kgPreview.hide();
      });

      function focusNode(id) {
        if (!graph.hasNode(id)) return false;
        state.focused = id;
        container.dataset.focused = id;
        const d = renderer.getNodeDisplayData(id);
        if (d) renderer.getCamera().animate({ x: d.x, y: d.y, ratio: 0.3 }, { duration: 400 });
        renderer.refresh({ skipIndexation: true });
        return true;
      }
      function matches(q) {
        q = q.trim().toLowerCase();
        if (!q) return [];
        const out = [];
        graph.forEachNode((id, a) => {
          const label = (a.label || "").toLowerCase();
          const at = label.indexOf(q);
          if (at >= 0 || id.toLowerCase() === q) out.push([at === 0 ? 0 : 1, label.length, id, a.label]);
        });
        return out.sort((x, y) => x[0] - y[0] || x[1] - y[1]).slice(0, 8);
      }
      if (find) {
        find.addEventListener("input", () => {
          hits.replaceChildren();
          matches(find.value).forEach(([, , id, label]) => {
            const b = document.createElement("button");
            b.type = "button";
            b.className = "more";
            b.textContent = label;
            b.addEventListener("click", () => focusNode(id));
            hits.append(b);
          });
        });
        find.addEventListener("keydown", (ev) => {
          if (ev.key !== "Enter") return;
          ev.preventDefault();
          const m = matches(find.value);
          if (m.length) focusNode(m[0][2]);
        });
      }
      ["strand", "verdict"].forEach((name) => {
        const sel = form.elements[name];
        if (!sel) return;
        state[name] = sel.value;
        sel.addEventListener("change", () => {
          state[name] = sel.value;
          renderer.refresh({ skipIndexation: true });
        });
      });
      if (state.focused) focusNode(state.focused);
      let text = "Showing " + data.shown.toLocaleString() + " nodes and " + data.edges.length.toLocaleString() + " edges, coloured by community";
      if (data.sampled) {
        text += " — sampled: the " + data.shown.toLocaleString() + " best-connected of " + data.total.toLocaleString() + " matching nodes. Narrow the filters to see the rest.";
      }
      status.textContent = text;
      window.kgFull = { renderer, graph, data, focusNode };
    })
    .catch((err) => {
      status.textContent = "Could not load the graph: " + err;
    });
})();
