// A node's neighbourhood map in vis-network: about 30 nodes chosen by the server, with "show more" for the rest.
// Click a node to walk there, click the centre to open it. The wheel scrolls the page until the map is clicked;
// then it zooms, until Escape or a click outside lets go.
(function () {
  "use strict";
  const el = document.getElementById("graph");
  if (!el || !window.vis) return;
  const depthSel = document.getElementById("depth");
  const openFull = document.getElementById("open-full");
  const statusEl = document.getElementById("map-status");
  const moreEl = document.getElementById("map-more");
  const nodes = new vis.DataSet();
  const edges = new vis.DataSet();
  let centre = el.dataset.centre;
  let budget = 30;
  let more = [];
  const network = new vis.Network(
    el,
    { nodes, edges },
    {
      nodes: { font: { size: 17, color: "#222", strokeWidth: 4, strokeColor: "#fff" } },
      edges: { font: { size: 12, align: "middle", color: "#555", strokeWidth: 3, strokeColor: "#fff" }, smooth: false, arrows: { to: { enabled: true, scaleFactor: 0.4 } } },
      physics: { stabilization: { iterations: 150 }, barnesHut: { gravitationalConstant: -6000, springLength: 150, avoidOverlap: 0.4 } },
      interaction: { hover: true, tooltipDelay: 100000, zoomView: false, dragView: true },
    }
  );

  function setFocused(on) {
    el.classList.toggle("focused", on);
    el.dataset.focused = on ? "1" : "";
    network.setOptions({ interaction: { zoomView: on } });
  }
  // Capture phase: vis-network handles the pointer itself, and our flag must flip whatever it does with the event.
  document.addEventListener(
    "pointerdown",
    (ev) => {
      setFocused(el.contains(ev.target));
    },
    true
  );
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") setFocused(false);
  });

  // Labels sit on the main nodes; any that would overlap a more important one are hidden (shown on hover).
  function declutter() {
    const placed = [];
    const order = nodes.get().sort((a, b) => (b.main - a.main) || (b.size - a.size));
    const updates = [];
    order.forEach((n) => {
      if (!n.main) {
        updates.push({ id: n.id, label: "" });
        return;
      }
      const p = network.canvasToDOM(network.getPosition(n.id));
      const scale = network.getScale();
      const w = (Math.min(n.name.length, 42) * 8.6 + 10) * scale;
      const top = p.y + n.size * scale;
      const box = { x0: p.x - w / 2, x1: p.x + w / 2, y0: top, y1: top + 22 * scale };
      const hit = placed.some((q) => box.x0 < q.x1 && q.x0 < box.x1 && box.y0 < q.y1 && q.y0 < box.y1);
      if (hit && n.id !== centre) {
        updates.push({ id: n.id, label: "" });
      } else {
        placed.push(box);
        updates.push({ id: n.id, label: n.name });
      }
    });
    nodes.update(updates);
  }

  function describe(graph) {
    const shown = graph.shown;
    const left = graph.left_out || {};
    const parts = Object.entries(left).map(([k, v]) => v + " " + k);
    statusEl.textContent = "Showing " + shown + " nodes" + (parts.length ? "; not shown: " + parts.join(", ") + "." : ".");
    moreEl.replaceChildren();
    Object.entries(left).forEach(([k, v]) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "more";
      b.textContent = "+" + v + " " + k;
      b.addEventListener("click", () => {
        more.push(k.startsWith("hop") ? "hops" : k);
        load(centre);
      });
      moreEl.append(b);
    });
    if (Object.keys(left).length) {
      const b = document.createElement("button");
      b.type = "button";
      b.id = "show-more";
      b.className = "more";
      b.textContent = "Show more";
      b.addEventListener("click", () => {
        budget += 30;
        load(centre);
      });
      moreEl.prepend(b);
    }
  }

  async function load(id) {
    el.dataset.state = "loading";
    const depth = depthSel ? depthSel.value : el.dataset.depth || "1";
    const q = new URLSearchParams({ depth: depth, max: String(budget) });
    more.forEach((m) => q.append("more", m));
    const r = await fetch("/api/graph/" + window.kgNodePath(id) + "?" + q.toString());
    if (!r.ok) {
      el.dataset.state = "error";
      return;
    }
    const data = await r.json();
    if (id !== centre) {
      budget = 30;
      more = [];
    }
    centre = id;
    el.dataset.centre = id;
    el.dataset.count = data.nodes.length;
    nodes.clear();
    edges.clear();
    // Titles go to our own text-only preview, never to vis-network's HTML tooltip.
    nodes.add(data.nodes.map((n) => ({ ...n, name: n.label, label: n.main ? n.label : undefined, fulltitle: n.title, title: undefined })));
    edges.add(data.links.map((e, i) => ({ id: i, from: e.source, to: e.target, label: e.label, color: e.color, dashes: e.dashes, arrows: e.arrows })));
    if (openFull) openFull.href = "/graph?focus=" + encodeURIComponent(id);
    describe(data.graph);
    network.setOptions({ physics: { enabled: true } });
    // "stabilizationIterationsDone" fires once per stabilize() call, whether or not the layout
    // converged; "stabilized" may never come on a busy machine, or come early from the
    // simulation that stabilize() stops, so it cannot mark the map ready.
    network.once("stabilizationIterationsDone", () => {
      // Freeze the layout once settled: nodes stay where the reader (or a click) expects them.
      network.setOptions({ physics: { enabled: false } });
      network.fit({ animation: false });
      declutter();
      el.dataset.state = "ready";
    });
    network.stabilize(150);
  }

  network.on("click", (p) => {
    if (!p.nodes.length) return;
    const id = p.nodes[0];
    if (id === centre) window.location.href = "/node/" + window.kgNodePath(id);
    else load(id);
  });
  network.on("zoom", declutter);
  network.on("dragEnd", declutter);
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
    labelled() {
      return nodes.get().filter((n) => n.label && n.label.trim()).map((n) => n.id);
    },
  };
  load(centre);
})();
