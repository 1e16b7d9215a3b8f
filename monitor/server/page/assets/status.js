// omniwatch status page: refresh in place, and a target's detail in a dialog.
// The server renders everything; this script only (1) re-fetches the page every
// data-refresh-seconds and swaps <main>, keeping an open detail open (and refreshed),
// and (2) opens /api/v1/targets/{name} in a dialog when a target is clicked.  Values
// are written with textContent, never as HTML.
"use strict";
(() => {
  const body = document.body;
  const words = JSON.parse(document.getElementById("words").textContent);
  const dialog = document.getElementById("detail");
  const detailBody = document.getElementById("detail-body");
  const t = (key) => (key in words ? words[key] : key);
  let openTarget = null;

  const num = (v) => typeof v === "number" && Number.isFinite(v);
  const noData = () => t("no_data");
  const secs = (v) => !num(v) ? noData()
    : v < 1 ? t("unit.ms").replace("{n}", (v * 1000).toFixed(0))
      : t("unit.s").replace("{n}", v < 10 ? v.toFixed(2) : v.toFixed(0));
  // Rounded down, as the page and the badges are: 0.9998996 is 99.989%, never 99.990%.
  const pct = (v, d) => num(v)
    ? (Math.floor(v * 10 ** (d + 2) + 1e-6) / 10 ** d).toFixed(d) + "%" : noData();
  // An objective as people say it (the page's own): 0.9999 is 99.99%, not 100.0%.
  const goal = (v) => num(v) ? String(Number((v * 100).toFixed(4))) + "%" : noData();
  const when = (v) => num(v)
    ? new Date(v * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : noData();
  // A probe's reason in the reader's language (English: the code itself).
  const reasonWord = (r) => r && ("reason." + r) in words ? words["reason." + r] : r;
  const stateWord = (s) => t("state." + s) === "state." + s ? String(s) : t("state." + s);

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function facts(pairs) {
    const dl = el("dl");
    for (const [k, v] of pairs) {
      if (v === undefined) continue;
      dl.append(el("dt", t(k)), el("dd", v === null || v === "" ? noData() : v));
    }
    return dl;
  }

  function renderDetail(d) {
    const last = d.last;
    const avail = d.availability || {};
    const out = [el("h3", d.name), facts([
      ["channel", d.channel], ["kind", d.kind], ["state", stateWord(d.state)],
      ["interval", secs(d.interval_seconds)], ["timeout", secs(d.timeout_seconds)],
      ["availability", pct(avail.sli, 3) + " (" + t("objective") + " " +
        goal(avail.objective) + ")"],
      ["budget", pct(avail.budget_remaining, 1)],
      ["p50", d.latency ? secs(d.latency.p50) : noData()],
      ["p95", d.latency ? secs(d.latency.p95) : noData()],
    ])];
    out.push(el("h3", t("last_result")));
    if (!last) {
      out.push(el("p", noData(), "empty"));
    } else {
      out.push(facts([
        ["state", last.success ? t("success") : t("failure")],
        ["reason", reasonWord(last.reason)], ["message", last.message],
        ["latency", secs(last.duration_seconds)],
        ["status_code", last.status_code === null ? undefined : last.status_code],
        ["cert_expiry", last.cert_expiry_timestamp === null ? undefined
          : when(last.cert_expiry_timestamp)],
        ["finished_at", when(last.finished_at)],
      ]));
      const phases = Object.entries(last.phases || {});
      if (phases.length) {
        out.push(el("h3", t("phases")));
        out.push(facts(phases.map(([name, v]) => [name, secs(v)])));
      }
    }
    const steps = d.steps || [];
    if (steps.length) {
      out.push(el("h3", t("steps")));
      const ol = el("ol");
      for (const s of steps) {
        ol.append(el("li", s.name + ": " + (s.success ? t("success") : t("failure") +
          (s.reason ? " (" + reasonWord(s.reason) + ")" : "")) + " · " + secs(s.duration_seconds)));
      }
      out.push(ol);
    }
    detailBody.replaceChildren(...out);
  }

  async function loadDetail(name) {
    try {
      const r = await fetch("/api/v1/targets/" + encodeURIComponent(name),
                            {headers: {Accept: "application/json"}, cache: "no-store"});
      const doc = await r.json();
      if (openTarget !== name) return;
      if (!r.ok) throw new Error(doc.error || r.status);
      renderDetail(doc);
    } catch (err) {
      if (openTarget === name) {
        detailBody.replaceChildren(el("p", t("load_failed") + ": " + err.message, "error"));
      }
    }
  }

  function openDetail(name) {
    openTarget = name;
    detailBody.replaceChildren(el("p", t("loading"), "empty"));
    if (!dialog.open) dialog.showModal();
    return loadDetail(name);
  }

  dialog.addEventListener("close", () => { openTarget = null; });
  document.addEventListener("click", (ev) => {
    const a = ev.target.closest && ev.target.closest("a.target[data-target]");
    if (!a || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
    ev.preventDefault();
    openDetail(a.dataset.target);
  });

  // What a swap of <main> would lose: how far each table was scrolled sideways (on a
  // phone, every 20 s it snapped back to its first column) and which target link had
  // the keyboard focus.  Tables are found again by their section and order.
  const scrollers = () => Array.from(document.querySelectorAll("#main .scroll"));
  const place = (e) => (e.closest("[id]") || body).id + "/" +
    Array.from((e.closest("[id]") || body).querySelectorAll(".scroll")).indexOf(e);

  function keep() {
    const focused = document.activeElement;
    return {
      scrolled: new Map(scrollers().filter((e) => e.scrollLeft > 0)
        .map((e) => [place(e), e.scrollLeft])),
      focus: focused && focused.matches && focused.matches("a.target[data-target]")
        ? [(focused.closest("[id]") || body).id, focused.dataset.target] : null,
    };
  }

  function restore(held) {
    for (const e of scrollers()) {
      const left = held.scrolled.get(place(e));
      if (left !== undefined) e.scrollLeft = left;
    }
    if (held.focus) {
      const [section, name] = held.focus;
      const scope = document.getElementById(section) || body;
      const link = Array.from(scope.querySelectorAll("a.target[data-target]"))
        .find((a) => a.dataset.target === name);
      if (link) link.focus({preventScroll: true});
    }
  }

  async function refresh() {
    const note = document.getElementById("refresh-note");
    try {
      const r = await fetch(location.href, {headers: {Accept: "text/html"}, cache: "no-store"});
      if (!r.ok) throw new Error(String(r.status));
      const fresh = new DOMParser().parseFromString(await r.text(), "text/html");
      const main = fresh.getElementById("main");
      if (!main) throw new Error("no main");
      const held = keep();
      document.getElementById("main").replaceChildren(...main.childNodes);
      restore(held);
    } catch (err) {
      if (note) note.hidden = false;
      return false;
    }
    if (openTarget !== null) await loadDetail(openTarget);
    return true;
  }

  const every = Number(body.dataset.refreshSeconds) || 20;
  setInterval(refresh, every * 1000);
  // For people (and tests) who want it now rather than in a few seconds.
  window.omniwatchStatus = {refresh, openDetail};
})();
