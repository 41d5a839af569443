// Live progress of invalidations: elements with data-poll are refreshed
// from the console's JSON endpoint every second while an invalidation
// they show is in progress. Text is set with textContent only.
"use strict";

(function () {
  const interval = 1000;

  function fmtTime(s) {
    if (!s) return "–";
    const d = new Date(s);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function setStatus(el, status) {
    el.textContent = status;
    el.className = "status " + status;
  }

  function progressText(inv) {
    if (inv.status === "Completed") return "all";
    const p = inv.progress;
    if (!p.tracked) return "–";
    return p.applied + " of " + p.edges.length;
  }

  // The distribution's list of invalidations.
  function updateList(table, data) {
    let inProgress = false;
    for (const inv of data.items) {
      const row = table.querySelector('tr[data-id="' + CSS.escape(inv.id) + '"]');
      if (!row) continue;
      setStatus(row.querySelector('[data-field="status"]'), inv.status);
      row.querySelector('[data-field="progress"]').textContent = progressText(inv);
      if (inv.status !== "Completed") inProgress = true;
    }
    return inProgress;
  }

  // One invalidation's page.
  function updateOne(box, inv) {
    setStatus(box.querySelector('[data-field="status"]'), inv.status);
    box.querySelector('[data-field="complete_time"]').textContent = inv.complete_time ? fmtTime(inv.complete_time) : "–";
    const note = document.getElementById("progress-note");
    const p = inv.progress;
    if (inv.status === "Completed") note.textContent = "Completed: every edge applied it.";
    else if (p.tracked) note.textContent = p.applied + " of " + p.edges.length + " edges applied it.";
    else note.textContent = "Waiting for the fleet log.";
    if (inv.status !== "Completed" || p.edges.length > 0) {
      const tbody = document.querySelector("#edges-progress tbody");
      const rows = [];
      for (const e of p.edges) {
        const tr = document.createElement("tr");
        tr.dataset.edge = e.name;
        const name = document.createElement("td");
        name.textContent = e.name;
        const state = document.createElement("td");
        state.textContent = e.applied ? "applied" : "pending";
        state.className = e.applied ? "ok" : "pending";
        const at = document.createElement("td");
        at.textContent = e.applied ? fmtTime(e.at) : "";
        tr.append(name, state, at);
        rows.push(tr);
      }
      tbody.replaceChildren(...rows);
    }
    return inv.status !== "Completed";
  }

  function poll(el) {
    const url = el.dataset.poll;
    const tick = async () => {
      let again = true;
      try {
        const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (res.status === 401) {
          el.insertAdjacentText("beforebegin", "Signed out: reload the page to sign in.");
          return;
        }
        if (res.ok) {
          const data = await res.json();
          again = el.tagName === "TABLE" ? updateList(el, data) : updateOne(el, data);
        }
      } catch (e) {
        // The server is restarting or unreachable: try again.
      }
      if (again) setTimeout(tick, interval);
      else el.dataset.done = "true";
    };
    setTimeout(tick, interval);
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const el of document.querySelectorAll("[data-poll]")) poll(el);
  });
})();
