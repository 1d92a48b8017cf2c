// Rerun a claim's experiment: POST with the CSRF token, then follow the run's status until it is done.
(function () {
  "use strict";
  const button = document.getElementById("rerun");
  const status = document.getElementById("run-status");
  const verdict = document.getElementById("verdict");
  if (!button) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;

  function badge(v) {
    const s = document.createElement("span");
    s.className = "badge verdict-" + (v || "unverified");
    s.textContent = v || "not yet run";
    return s;
  }

  async function follow(runId) {
    for (;;) {
      const r = await fetch("/api/runs/" + encodeURIComponent(runId));
      if (!r.ok) {
        status.textContent = "lost track of the run";
        break;
      }
      const run = await r.json();
      status.textContent = run.status === "done" ? "done: " + run.verdict + " in " + (run.seconds || 0).toFixed(1) + " s" : run.status;
      status.dataset.status = run.status;
      if (run.status === "done") {
        verdict.replaceChildren(badge(run.verdict));
        verdict.dataset.verdict = run.verdict;
        button.disabled = false;
        break;
      }
      await new Promise((ok) => setTimeout(ok, 700));
    }
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    status.textContent = "queued";
    const r = await fetch(button.dataset.url, { method: "POST", headers: { "X-CSRF-Token": token } });
    if (!r.ok) {
      status.textContent = "could not start the run (" + r.status + ")";
      button.disabled = false;
      return;
    }
    const run = await r.json();
    follow(run.id);
  });
  if (status.textContent.trim() === "queued" || status.textContent.trim() === "running") {
    fetch("/api/claims/" + window.kgNodePath(document.getElementById("claim").dataset.claim) + "/active")
      .then((r) => (r.ok ? r.json() : null))
      .then((run) => run && run.id && follow(run.id));
  }
})();
