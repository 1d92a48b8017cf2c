// Math with KaTeX: body math arrives as .math spans holding TeX verbatim; titles, deks, snippets and previews
// carry $…$ in plain text, rendered by KaTeX's auto-render. Bad TeX shows its source, marked, never a broken page.
(function () {
  "use strict";
  const DELIMS = [
    { left: "$$", right: "$$", display: true },
    { left: "\\[", right: "\\]", display: true },
    { left: "\\(", right: "\\)", display: false },
    { left: "$", right: "$", display: false },
  ];

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
