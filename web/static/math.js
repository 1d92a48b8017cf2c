// Math with KaTeX: body math arrives as .math spans holding TeX verbatim; titles, deks, snippets and previews
// carry $…$ in plain text, rendered by KaTeX's auto-render. Bad TeX shows its source, marked, never a broken page.
(function () {
  "use strict";
  const DELIMS = [
    { left: "$$", right: "$$", display: true },
    { left: "\\[", right: "\\]", display: true },
    { left: "\\(", right: "\\)", display: false },
  ];
  // Single-dollar math as Obsidian (and Pandoc) reads it: the opening `$` is followed by a non-space, the
  // closing one follows a non-space and is not followed by a digit, so "costs $5 and $10" stays text.
  // KaTeX's auto-render has no such rule, so these spans are found here and rendered like body math.
  const INLINE = /(^|[^\\$])\$(?=[^\s$])((?:\\.|[^$\\\n])*?[^\s\\])\$(?![\d$])/g;
  const SKIP = "script,noscript,style,textarea,pre,code,option,input,title,.nomath,.math,.katex";

  function markDollars(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode(n) {
        const p = n.parentElement;
        if (!n.nodeValue.includes("$") || !p || p.closest(SKIP)) return NodeFilter.FILTER_REJECT;
        return NodeFilter.FILTER_ACCEPT;
      },
    });
    const found = [];
    while (walker.nextNode()) found.push(walker.currentNode);
    found.forEach((n) => {
      const text = n.nodeValue;
      const frag = document.createDocumentFragment();
      let last = 0;
      INLINE.lastIndex = 0;
      for (let m = INLINE.exec(text); m; m = INLINE.exec(text)) {
        const start = m.index + m[1].length;
        frag.append(text.slice(last, start));
        const span = document.createElement("span");
        span.className = "math inline";
        span.textContent = m[2];
        frag.append(span);
        last = INLINE.lastIndex;
      }
      if (last === 0) return;
      frag.append(text.slice(last));
      n.replaceWith(frag);
    });
  }

  function renderSpan(el) {
    const tex = el.textContent;
    const display = el.classList.contains("display");
    try {
      window.katex.render(tex, el, { displayMode: display, throwOnError: true, strict: "ignore", trust: false });
    } catch (err) {
      el.textContent = tex;
      el.classList.add("math-error");
      el.title = "TeX error: " + (err && err.message ? err.message : err);
    }
    el.dataset.rendered = "1";
  }

  function renderMath(root) {
    if (!window.katex) return;
    markDollars(root);
    root.querySelectorAll(".math:not([data-rendered])").forEach(renderSpan);
    if (window.renderMathInElement) {
      window.renderMathInElement(root, {
        delimiters: DELIMS,
        throwOnError: false,
        ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option", "input", "title"],
        ignoredClasses: ["nomath", "math", "katex"],
        errorCallback: function () {},
      });
      root.querySelectorAll(".katex-error").forEach((e) => {
        e.classList.add("math-error");
        e.textContent = e.textContent.replace(/^\$+|\$+$/g, "");
      });
    }
  }
  window.kgMath = renderMath;
  renderMath(document.body);
})();
