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
