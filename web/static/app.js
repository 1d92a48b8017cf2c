// Hover previews: hovering a link or a graph node shows its target's title and dek.
(function () {
  "use strict";
  const box = document.getElementById("preview");
  const cache = new Map();
  let timer = null;

  function nodePath(id) {
    return id.split("/").map(encodeURIComponent).join("/");
  }
  window.kgNodePath = nodePath;

  async function fetchPreview(id) {
    if (!cache.has(id)) {
      cache.set(id, fetch("/api/preview/" + nodePath(id)).then((r) => (r.ok ? r.json() : null)));
    }
    return cache.get(id);
  }

  function place(x, y) {
    const w = box.offsetWidth || 320;
    box.style.left = Math.max(8, Math.min(x + 12, window.innerWidth - w - 8)) + "px";
    box.style.top = y + 16 + window.scrollY + "px";
  }

  async function show(id, x, y) {
    const data = await fetchPreview(id);
    if (!data) return;
    box.replaceChildren();
    const kind = document.createElement("span");
    kind.className = "kind kind-" + data.kind;
    kind.textContent = data.kind;
    const title = document.createElement("strong");
    title.textContent = data.title;
    box.append(kind, " ", title);
    if (data.dek) {
      const dek = document.createElement("p");
      dek.textContent = data.dek;
      box.append(dek);
    }
    box.dataset.for = id;
    box.hidden = false;
    if (window.kgMath) window.kgMath(box);
    place(x, y);
  }

  function hide() {
    clearTimeout(timer);
    box.hidden = true;
  }
  window.kgPreview = { show, hide };

  document.addEventListener("mouseover", (ev) => {
    const a = ev.target.closest && ev.target.closest("[data-preview]");
    if (!a) return;
    clearTimeout(timer);
    timer = setTimeout(() => show(a.dataset.preview, ev.clientX, ev.clientY), 200);
  });
  document.addEventListener("mouseout", (ev) => {
    if (ev.target.closest && ev.target.closest("[data-preview]")) hide();
  });
})();

// While an ingest writes to the store, the banner under the header follows it; when it ends, offer a reload
// (related items and the map's similarity edges are complete then).
(function () {
  const el = document.getElementById("ingest-status");
  if (!el || el.dataset.running !== "1") return;
  async function poll() {
    let state = null;
    try {
      const r = await fetch("/api/status", { cache: "no-store" });
      state = r.ok ? (await r.json()).ingest : null;
    } catch (e) {
      setTimeout(poll, 4000);
      return;
    }
    if (state) {
      const count = state.total > 1 ? " " + state.done + " of " + state.total : "";
      el.textContent = "Ingest running: " + state.stage + count +
        ". Pages, links and keyword search work now; related items fill in as vectors arrive.";
      setTimeout(poll, 2000);
      return;
    }
    el.dataset.running = "0";
    el.textContent = "Ingest finished. ";
    const a = document.createElement("a");
    a.href = window.location.href;
    a.textContent = "Reload for every related item";
    el.append(a);
  }
  setTimeout(poll, 2000);
})();
