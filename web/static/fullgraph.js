// The full graph in WebGL (sigma.js): stays fluid at thousands of nodes; filters come from the form.
(function () {
  "use strict";
  const container = document.getElementById("fullgraph");
  const status = document.getElementById("graph-status");
  const form = document.getElementById("filters");
  if (!container || !window.Sigma || !window.graphology) return;

  const params = new URLSearchParams(new FormData(form));
  fetch("/api/graph?" + params.toString())
    .then((r) => r.json())
    .then((data) => {
      const graph = new graphology.MultiGraph();
      data.nodes.forEach((n) => graph.addNode(n.id, { x: n.x, y: n.y, size: n.size, color: n.color, label: n.label, kind: n.kind }));
      data.edges.forEach((e) => {
        if (graph.hasNode(e.source) && graph.hasNode(e.target)) {
          graph.addEdge(e.source, e.target, { size: 0.5, color: e.kind === "similar" ? "#e2e2e2" : "#b9c4d6", kind: e.kind });
        }
      });
      const focus = container.dataset.focus;
      const renderer = new Sigma(graph, container, {
        labelRenderedSizeThreshold: 9,
        defaultEdgeType: "line",
        nodeReducer: (node, attrs) => (focus && node === focus ? { ...attrs, highlighted: true, size: attrs.size * 2 } : attrs),
      });
      renderer.on("clickNode", ({ node }) => {
        window.location.href = "/node/" + window.kgNodePath(node);
      });
      renderer.on("enterNode", ({ node, event }) => {
        const rect = container.getBoundingClientRect();
        window.kgPreview.show(node, rect.left + event.x, rect.top + event.y);
      });
      renderer.on("leaveNode", () => window.kgPreview.hide());
      if (focus && graph.hasNode(focus)) {
        const d = renderer.getNodeDisplayData(focus);
        if (d) renderer.getCamera().animate({ x: d.x, y: d.y, ratio: 0.3 }, { duration: 400 });
      }
      let text = "Showing " + data.shown.toLocaleString() + " nodes and " + data.edges.length.toLocaleString() + " edges";
      if (data.sampled) {
        text += " — sampled: the " + data.shown.toLocaleString() + " best-connected of " + data.total.toLocaleString() + " matching nodes. Narrow the filters to see the rest.";
      }
      status.textContent = text;
      container.dataset.state = "ready";
      window.kgFull = { renderer, graph, data };
    })
    .catch((err) => {
      status.textContent = "Could not load the graph: " + err;
    });
})();
