// Rerun a claim's experiment: POST with the CSRF token, follow the run's progress, then swap in the claim
// section as the server now renders it (verdict, predicted beside measured, plot, run history): no reload.
(function () {
  "use strict";
  const token = document.querySelector('meta[name="csrf-token"]').content;

  function wire() {
    const button = document.getElementById("rerun");
    const status = document.getElementById("run-status");
    if (!button) return;

    async function refresh() {
      const r = await fetch(button.dataset.page, { headers: { Accept: "text/html" }, cache: "no-store" });
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById("claim");
      const old = document.getElementById("claim");
      if (fresh && old) {
        const note = old.querySelector("#run-status").textContent;
        old.replaceWith(document.adoptNode(fresh));
        document.getElementById("run-status").textContent = note;
        if (window.kgMath) window.kgMath(fresh);
        wire();
      }
    }

    // A Rerun starts the claim's web sweep: follow it run by run until its verdict is in.
    async function followSweep(sweepId) {
      const t0 = Date.now();
      for (;;) {
        const r = await fetch("/api/sweeps/" + encodeURIComponent(sweepId));
        if (!r.ok) {
          status.textContent = "lost track of the sweep";
          break;
        }
        const sw = await r.json();
        const secs = ((Date.now() - t0) / 1000).toFixed(0);
        if (sw.status !== "running") {
          // Swap the fresh claim section in first, so "done" never shows beside the old verdict.
          await refresh();
          const now = document.getElementById("run-status");
          now.dataset.status = "done";
          now.textContent = "done: " + (sw.headline || sw.verdict) + " in " + secs + " s";
          break;
        }
        status.dataset.status = "running";
        status.textContent = sw.done + "/" + sw.total + " runs done… " + secs + " s";
        await new Promise((ok) => setTimeout(ok, 700));
      }
    }

    async function follow(runId) {
      const t0 = Date.now();
      for (;;) {
        const r = await fetch("/api/runs/" + encodeURIComponent(runId));
        if (!r.ok) {
          status.textContent = "lost track of the run";
          break;
        }
        const run = await r.json();
        const secs = ((Date.now() - t0) / 1000).toFixed(0);
        status.dataset.status = run.status;
        if (run.status === "done") {
          status.textContent = "done: " + run.verdict + " in " + (run.seconds || 0).toFixed(1) + " s";
          await refresh();
          break;
        }
        status.textContent = run.status + "… " + secs + " s";
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
      if (run.sweep) followSweep(run.sweep);
      else follow(run.id);
    });
    const s = status.textContent.trim();
    if (s === "queued" || s === "running") {
      fetch("/api/claims/" + window.kgNodePath(document.getElementById("claim").dataset.claim) + "/active")
        .then((r) => (r.ok ? r.json() : null))
        .then((run) => run && run.id && follow(run.id));
    }
  }
  wire();
})();
