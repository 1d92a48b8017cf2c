// A node's neighbourhood in vis-network: click a node to walk there, click the centre to open it.
(function () {
  "use strict";
  const el = document.getElementById("graph");
  if (!el || !window.vis) return;
  const depthSel = document.getElementById("depth");
  const openFull = document.getElementById("open-full");
  const nodes = new vis.DataSet();
  const edges = new vis.DataSet();
  let centre = el.dataset.centre;
  const network = new vis.Network(
    el,
    { nodes, edges },
    {
      nodes: { font: { size: 13, color: "#222" } },
      edges: { font: { size: 9, align: "middle", color: "#555" }, smooth: false, arrows: { to: { enabled: true, scaleFactor: 0.4 } } },
      physics: { stabilization: { iterations: 200 }, barnesHut: { gravitationalConstant: -5000, springLength: 130 } },
      interaction: { hover: true, tooltipDelay: 100000 },
    }
  );

  async function load(id) {
    el.dataset.state = "loading";
    const depth = depthSel ? depthSel.value : el.dataset.depth || "1";
    const r = await fetch("/api/graph/" + window.kgNodePath(id) + "?depth=" + encodeURIComponent(depth));
    if (!r.ok) {
      el.dataset.state = "error";
      return;
    }
    const data = await r.json();
    centre = id;
    el.dataset.centre = id;
    nodes.clear();
    edges.clear();
    // Titles go to our own text-only preview, never to vis-network's HTML tooltip.
    nodes.add(data.nodes.map((n) => ({ ...n, fulltitle: n.title, title: undefined })));
    edges.add(data.links.map((e, i) => ({ id: i, from: e.source, to: e.target, label: e.label, color: e.color, dashes: e.dashes, arrows: e.arrows })));
    if (openFull) openFull.href = "/graph?focus=" + encodeURIComponent(id);
    network.setOptions({ physics: { enabled: true } });
    network.once("stabilized", () => {
      // Freeze the layout once settled: nodes stay where the reader (or a click) expects them.
      network.setOptions({ physics: { enabled: false } });
      network.fit({ animation: false });
      el.dataset.state = "ready";
    });
    network.stabilize(200);
  }

  network.on("click", (p) => {
    if (!p.nodes.length) return;
    const id = p.nodes[0];
    if (id === centre) window.location.href = "/node/" + window.kgNodePath(id);
    else load(id);
  });
  network.on("hoverNode", (p) => {
    const pos = network.canvasToDOM(network.getPosition(p.node));
    const rect = el.getBoundingClientRect();
    window.kgPreview.show(p.node, rect.left + pos.x, rect.top + pos.y);
  });
  network.on("blurNode", () => window.kgPreview.hide());
  if (depthSel) depthSel.addEventListener("change", () => load(centre));
  window.kgGraph = {
    network,
    nodes,
    edges,
    get centre() {
      return centre;
    },
    domPosition(id) {
      const pos = network.canvasToDOM(network.getPosition(id));
      const rect = el.getBoundingClientRect();
      return { x: rect.left + pos.x, y: rect.top + pos.y };
    },
  };
  load(centre);
})();
