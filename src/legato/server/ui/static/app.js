// legato's web UI: a small single-page app over the REST API (/api/v1). Every text from
// the server is set with textContent (never innerHTML), except the run graph's SVG, which
// the server draws with every label escaped.
"use strict";

const API = "/api/v1";
const FINAL = new Set(["completed", "failed", "cancelled"]);
const REFRESH_MS = 1000;
let me = null; // {name, role, permissions}
let timer = null;

// -- helpers ---------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function token() { return localStorage.getItem("legato.token") || ""; }

async function api(path, options = {}) {
  const headers = { "Accept": "application/json", ...(options.headers || {}) };
  if (token()) headers["Authorization"] = "Bearer " + token();
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  if (!response.ok) {
    const error = (data && data.error) || { message: text || response.statusText };
    const err = new Error(error.message);
    err.status = response.status; err.code = error.code; err.hint = error.hint;
    throw err;
  }
  return data;
}

function state(value) { return h("span", { class: "state " + value, text: value }); }

function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return (seconds * 1000).toFixed(0) + " ms";
  if (seconds < 120) return seconds.toFixed(2) + " s";
  return (seconds / 60).toFixed(1) + " min";
}

function json(value) { return JSON.stringify(value, null, 2); }

function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message; el.hidden = false;
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

function errorBox(err) {
  return h("div", { class: "error-box", role: "alert" },
    err.message, err.hint ? h("div", { class: "muted", text: err.hint }) : null);
}

function may(permission) { return me && me.permissions.includes(permission); }

function render(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes);
}

function every(fn) {
  clearInterval(timer);
  timer = setInterval(() => fn().catch(() => {}), REFRESH_MS);
}

// -- who is calling --------------------------------------------------------------------

async function loadMe() {
  try { me = await api("/me"); } catch (err) { me = null; }
  const who = document.getElementById("who");
  who.textContent = me ? `${me.name} (${me.role})` : "not signed in";
}

document.getElementById("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = document.getElementById("token").value.trim();
  if (value) localStorage.setItem("legato.token", value); else localStorage.removeItem("legato.token");
  document.getElementById("token").value = "";
  await loadMe();
  route();
});

// -- runs ------------------------------------------------------------------------------

async function runsPage(params) {
  const flow = h("input", { id: "f-flow", value: params.get("flow") || "", placeholder: "any flow" });
  const stateSelect = h("select", { id: "f-state" }, h("option", { value: "", text: "any state" }),
    ...["pending", "running", "waiting", "paused", "completed", "failed", "cancelled"].map(
      (s) => h("option", { value: s, text: s, selected: params.get("state") === s })));
  const q = h("input", { id: "f-q", type: "search", value: params.get("q") || "", placeholder: "run id, flow, parameters" });
  const apply = () => {
    const next = new URLSearchParams();
    if (flow.value) next.set("flow", flow.value);
    if (stateSelect.value) next.set("state", stateSelect.value);
    if (q.value) next.set("q", q.value);
    location.hash = "#/runs" + (next.toString() ? "?" + next : "");
  };
  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); apply(); } },
    h("label", { for: "f-flow" }, "Flow", flow),
    h("label", { for: "f-state" }, "State", stateSelect),
    h("label", { for: "f-q" }, "Search", q),
    h("button", { type: "submit", text: "Filter" }));
  stateSelect.addEventListener("change", apply);
  const body = h("tbody");
  const table = h("table", { id: "runs-table", "aria-label": "Runs" },
    h("thead", {}, h("tr", {}, ["State", "Run", "Flow", "Started", "Duration", "Steps"].map(
      (t) => h("th", { scope: "col", class: t === "Duration" || t === "Steps" ? "num" : null, text: t })))),
    body);
  const status = h("p", { class: "muted" });
  render(h("h1", { text: "Runs" }), filters, table, status);
  const query = new URLSearchParams(params);
  query.set("limit", "50");
  const load = async () => {
    const page = await api("/runs?" + query);
    body.replaceChildren(...page.runs.map((run) => h("tr", { "data-run": run.run_id, "data-state": run.state },
      h("td", {}, state(run.state)),
      h("td", { class: "mono" }, h("a", { href: "#/runs/" + run.run_id, text: run.run_id })),
      h("td", {}, h("a", { href: "#/flows/" + encodeURIComponent(run.flow), text: run.flow })),
      h("td", { text: when(run.started_at || run.created_at) }),
      h("td", { class: "num", text: duration(run.duration_seconds) }),
      h("td", { class: "num", text: run.steps_total === undefined ? "–" : `${run.steps_done}/${run.steps_total}` }))));
    status.textContent = page.runs.length ? `${page.runs.length} newest runs, updating live` : "No runs match.";
  };
  try { await load(); } catch (err) { render(h("h1", { text: "Runs" }), errorBox(err)); return; }
  every(load);
}

// -- one run ---------------------------------------------------------------------------

// A run's page never asks for all its steps at once: a page of STEPS_PAGE steps and
// history events, every step counted per task, and "More" buttons for the next pages.
const STEPS_PAGE = 100;
const MAX_LIVE_ROWS = 1000; // the API's largest page: a live refresh redraws this many

async function runPage(runId) {
  let run;
  const path = "/runs/" + encodeURIComponent(runId);
  let stepsShown = STEPS_PAGE, historyShown = STEPS_PAGE;
  const detail = () => api(`${path}?steps_limit=${Math.min(stepsShown, MAX_LIVE_ROWS)}&history_limit=${Math.min(historyShown, MAX_LIVE_ROWS)}`);
  try { run = await detail(); } catch (err) {
    render(h("h1", { text: "Run " + runId }), errorBox(err)); return;
  }
  const head = h("div");
  const graph = h("div", { class: "panel", id: "graph", "aria-label": "Graph of the run's steps" });
  const timeline = h("div", { class: "panel", id: "timeline", "aria-label": "Timeline of the steps" });
  const steps = h("tbody");
  const history = h("tbody");
  const counts = h("div", { id: "step-counts" });
  const stepsMore = h("p", { class: "more" });
  const historyMore = h("p", { class: "more" });
  const outcome = h("div", { id: "outcome" });
  const logs = h("pre", { id: "logs", text: "" });
  const stepFilter = h("select", { id: "log-step" }, h("option", { value: "", text: "all steps" }));
  stepFilter.addEventListener("change", () => loadLogs());
  render(
    h("p", {}, h("a", { href: "#/runs", text: "← Runs" })),
    head,
    h("h2", { text: "Graph" }), graph,
    h("h2", { text: "Timeline" }), timeline,
    outcome,
    h("h2", { text: "Steps" }), counts,
    h("table", { "aria-label": "Steps" }, h("thead", {}, h("tr", {},
      ["Step", "State", "Attempts", "Started", "Duration", "Error"].map((t) => h("th", { scope: "col", text: t })))), steps),
    stepsMore,
    h("h2", { text: "Logs" }), h("label", { for: "log-step" }, "Step ", stepFilter), logs,
    h("h2", { text: "History" }),
    h("table", { "aria-label": "History" }, h("thead", {}, h("tr", {},
      ["At", "What", "State", "Step", "By", "Message"].map((t) => h("th", { scope: "col", text: t })))), history),
    historyMore,
  );

  function stepRow(s) {
    return h("tr", { "data-step": s.key, "data-state": s.state },
      h("td", { class: "mono" }, s.child_run_id ? h("a", { href: "#/runs/" + s.child_run_id, text: s.key + " (child run)" }) : s.key),
      h("td", {}, state(s.state)), h("td", { class: "num", text: s.attempts }),
      h("td", { text: when(s.started_at) }), h("td", { class: "num", text: duration(s.duration_seconds) }),
      h("td", {}, s.error ? h("span", { class: "error", title: s.error.traceback || "", text: `${s.error.type}: ${s.error.message}` }) : ""));
  }

  function eventRow(e) {
    return h("tr", {},
      h("td", { text: when(e.at) }), h("td", { text: e.kind }), h("td", {}, state(e.state)),
      h("td", { class: "mono", text: e.step_key || "" }), h("td", { text: e.by || "" }), h("td", { text: e.message || "" }));
  }

  // "Showing n of N" and a button that appends the page after `cursor`.
  function moreControl(box, what, shown, total, cursor, load) {
    const button = cursor ? h("button", { type: "button", id: `more-${what}`, onclick: load, text: `More ${what}` }) : null;
    box.replaceChildren(h("span", { class: "muted", text: `Showing ${shown} of ${total} ${what}` }), " ", button);
  }

  function showSteps(page, cursor) {
    const keys = new Set([...stepFilter.options].map((o) => o.value));
    for (const s of page) if (!keys.has(s.key)) stepFilter.append(h("option", { value: s.key, text: s.key }));
    moreControl(stepsMore, "steps", steps.rows.length, run.steps_total, cursor, async () => {
      try {
        const next = await api(`${path}?steps_limit=${STEPS_PAGE}&steps_cursor=${encodeURIComponent(cursor)}&history_limit=0`);
        steps.append(...next.steps.map(stepRow)); stepsShown = steps.rows.length;
        showSteps(next.steps, next.next_steps_cursor);
      } catch (err) { toast(err.message); }
    });
  }

  function showHistory(cursor) {
    moreControl(historyMore, "events", history.rows.length, run.history_total, cursor, async () => {
      try {
        const next = await api(`${path}?steps_limit=0&history_limit=${STEPS_PAGE}&history_cursor=${encodeURIComponent(cursor)}`);
        history.append(...next.history.map(eventRow)); historyShown = history.rows.length;
        showHistory(next.next_history_cursor);
      } catch (err) { toast(err.message); }
    });
  }

  function showCounts() {
    counts.replaceChildren(h("p", { class: "muted" }, `${run.steps_total} steps: `,
      ...run.step_counts.flatMap((c, i) => [i ? " · " : "", h("span", { class: "task-count", "data-task": c.task },
        `${c.task} ×${c.total} (`, Object.entries(c.states).map(([k, n]) => `${n} ${k}`).join(", "), ")")])));
  }

  async function loadLogs() {
    const step = stepFilter.value ? "?step=" + encodeURIComponent(stepFilter.value) : "";
    const data = await api(`/runs/${encodeURIComponent(runId)}/logs${step}`);
    logs.textContent = data.logs.map((l) => `${when(l.at)} ${l.level} ${l.step_key || ""} ${l.message}`).join("\n") || "(no logs)";
  }

  async function draw(fetched) {
    run = fetched || await detail();
    // The graph is drawn by the server from every step: fetched alongside, never
    // holding back the tables.
    const svg = fetch(`${API}/runs/${encodeURIComponent(runId)}/graph.svg`,
      { headers: token() ? { Authorization: "Bearer " + token() } : {} });
    head.replaceChildren(
      h("h1", {}, run.flow + " ", state(run.state)),
      h("dl", { class: "meta" },
        h("dt", { text: "Run" }), h("dd", { class: "mono", text: run.run_id }),
        h("dt", { text: "Started" }), h("dd", { text: when(run.started_at) }),
        h("dt", { text: "Duration" }), h("dd", { text: duration(run.duration_seconds) }),
        run.parent_run_id ? h("dt", { text: "Parent" }) : null,
        run.parent_run_id ? h("dd", {}, h("a", { href: "#/runs/" + run.parent_run_id, text: run.parent_run_id })) : null,
        h("dt", { text: "Parameters" }), h("dd", {}, h("code", { text: JSON.stringify(run.params) }))),
      actions(run));
    timeline.replaceChildren(gantt(run.steps, run.history));
    showCounts();
    if (stepsShown <= MAX_LIVE_ROWS) { // beyond that, rows loaded with "More" stay as they were
      steps.replaceChildren(...run.steps.map(stepRow));
      showSteps(run.steps, run.next_steps_cursor);
    }
    if (historyShown <= MAX_LIVE_ROWS) {
      history.replaceChildren(...run.history.map(eventRow));
      showHistory(run.next_history_cursor);
    }
    outcome.replaceChildren(
      run.state === "completed" ? h("div", {}, h("h2", { text: "Result" }), h("pre", { id: "result", text: json(run.result) })) : null,
      run.error ? h("div", {}, h("h2", { text: "Error" }),
        h("pre", { id: "error", class: "error", text: `${run.error.type}: ${run.error.message}\n\n${run.error.traceback || ""}` })) : null);
    const drawn = await svg;
    if (drawn.ok) graph.innerHTML = await drawn.text(); // drawn by the server, labels escaped
    await loadLogs();
    if (FINAL.has(run.state)) clearInterval(timer);
  }

  function actions(current) {
    if (!may("operate")) return h("div");
    const act = async (verb, body) => {
      try {
        await api(`/runs/${encodeURIComponent(runId)}/${verb}`, { method: "POST", body: body || {} });
        toast(`${verb}: done`); every(draw); await draw();
      } catch (err) { toast(err.message); }
    };
    const s = current.state;
    return h("div", { class: "actions" },
      !FINAL.has(s) ? h("button", { class: "danger", onclick: () => act("cancel", { reason: "from the web UI" }), text: "Cancel" }) : null,
      ["pending", "running", "waiting"].includes(s) ? h("button", { onclick: () => act("pause", {}), text: "Pause" }) : null,
      s === "paused" ? h("button", { onclick: () => act("unpause", {}), text: "Unpause" }) : null,
      s === "failed" ? h("button", { class: "primary", onclick: () => act("retry", {}), text: "Retry" }) : null);
  }

  try { await draw(run); } catch (err) { render(errorBox(err)); return; }
  if (!FINAL.has(run.state)) every(draw); else clearInterval(timer);
}

// A Gantt of the steps: one bar per step from its start to its end (or now), each retry
// marked where its attempt began (from the history's "retrying" events).
function gantt(steps, history) {
  const NS = "http://www.w3.org/2000/svg";
  const started = steps.filter((s) => s.started_at);
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "timeline"); svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Timeline of the steps' attempts");
  if (!started.length) { svg.setAttribute("height", "20"); return svg; }
  const shown = started.slice(0, 200);
  const t0 = Math.min(...shown.map((s) => Date.parse(s.started_at)));
  const now = Date.now();
  const t1 = Math.max(...shown.map((s) => s.finished_at ? Date.parse(s.finished_at) : now), t0 + 1);
  const W = 900, LABEL = 170, ROW = 18;
  svg.setAttribute("width", String(W)); svg.setAttribute("height", String(shown.length * ROW + 8));
  const x = (t) => LABEL + ((t - t0) / (t1 - t0)) * (W - LABEL - 10);
  const retries = {};
  for (const e of history) if (e.kind === "step" && e.state === "retrying") (retries[e.step_key] ||= []).push(Date.parse(e.at));
  shown.forEach((s, i) => {
    const y = 4 + i * ROW;
    const label = document.createElementNS(NS, "text");
    label.setAttribute("x", "0"); label.setAttribute("y", String(y + 12)); label.setAttribute("font-size", "11");
    label.textContent = s.key.length > 26 ? s.key.slice(0, 25) + "…" : s.key;
    const bar = document.createElementNS(NS, "rect");
    const a = x(Date.parse(s.started_at)), b = x(s.finished_at ? Date.parse(s.finished_at) : now);
    bar.setAttribute("class", "bar"); bar.setAttribute("x", String(a)); bar.setAttribute("y", String(y + 2));
    bar.setAttribute("width", String(Math.max(2, b - a))); bar.setAttribute("height", "12");
    bar.setAttribute("fill", getComputedStyle(document.documentElement).getPropertyValue("--" + s.state) || "#888");
    const title = document.createElementNS(NS, "title");
    title.textContent = `${s.key}: ${s.state}, ${s.attempts} attempt(s), ${duration(s.duration_seconds)}`;
    bar.append(title);
    svg.append(label, bar);
    for (const at of retries[s.key] || []) {
      const mark = document.createElementNS(NS, "line");
      mark.setAttribute("x1", String(x(at))); mark.setAttribute("x2", String(x(at)));
      mark.setAttribute("y1", String(y)); mark.setAttribute("y2", String(y + 16));
      mark.setAttribute("stroke", "#ef6c00"); mark.setAttribute("stroke-width", "2");
      mark.setAttribute("class", "retry");
      svg.append(mark);
    }
  });
  return svg;
}

// -- inbox -----------------------------------------------------------------------------

async function inboxPage() {
  const list = h("div", { id: "inbox" });
  render(h("h1", { text: "Inbox" }), h("p", { class: "muted", text: "Questions flows are waiting on." }), list);
  const load = async () => {
    const data = await api("/inputs");
    updateCount(data.inputs.length);
    const open = document.activeElement && list.contains(document.activeElement);
    if (open) return; // never redraw under someone typing an answer
    list.replaceChildren(...(data.inputs.length ? data.inputs.map(questionCard) : [h("p", { text: "Nothing is waiting for an answer." })]));
  };
  try { await load(); } catch (err) { render(h("h1", { text: "Inbox" }), errorBox(err)); return; }
  every(load);
}

function updateCount(n) {
  const badge = document.getElementById("inbox-count");
  badge.hidden = !n; badge.textContent = String(n);
}

function questionCard(question) {
  const id = `q-${question.run_id}-${question.name}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const schema = question.schema || { properties: {}, required: [] };
  const fields = Object.entries(schema.properties || {}).map(([name, prop]) =>
    fieldFor(id, name, resolve(schema, prop), (schema.required || []).includes(name)));
  const note = h("textarea", { id: `${id}-reason`, rows: "2" });
  const problem = h("div", { class: "field-error", role: "alert" });
  const send = async (verb) => {
    problem.textContent = "";
    for (const f of fields) f.error.textContent = "";
    try {
      const body = verb === "approve"
        ? { input: Object.fromEntries(fields.map((f) => [f.name, f.value()]).filter(([, v]) => v !== undefined)) }
        : { reason: note.value || "rejected from the web UI" };
      await api(`/runs/${encodeURIComponent(question.run_id)}/inputs/${encodeURIComponent(question.name)}/${verb}`, { method: "POST", body });
      toast(`${question.name}: ${verb === "approve" ? "answered" : "rejected"}`);
      location.hash = "#/runs/" + question.run_id;
    } catch (err) {
      const named = fields.find((f) => err.message.includes(`'${f.name}'`) || err.message.includes(`${f.name}:`) || err.message.includes(` ${f.name} `));
      (named ? named.error : problem).textContent = err.message;
    }
  };
  const canAnswer = may("answer");
  return h("section", { class: "card", "data-question": question.name, "aria-label": `Question ${question.name}` },
    h("h2", {}, question.prompt || question.name),
    h("p", { class: "muted" }, "Run ", h("a", { href: "#/runs/" + question.run_id, text: question.run_id }),
      ` · ${question.name} · waiting since ${when(question.waiting_since)}`,
      question.roles.length ? ` · for ${question.roles.join(", ")}` : ""),
    h("form", { class: "form", onsubmit: (e) => { e.preventDefault(); send("approve"); } },
      ...fields.map((f) => f.element),
      h("label", { for: `${id}-reason` }, "Note or reason (for a rejection)", note),
      problem,
      canAnswer ? h("div", { class: "actions" },
        h("button", { type: "submit", class: "primary", text: "Approve" }),
        h("button", { type: "button", class: "danger", onclick: () => send("reject"), text: "Reject" }))
        : h("p", { class: "muted", text: "Your token may not answer inputs." })));
}

function resolve(schema, prop) {
  if (prop && prop.$ref) {
    const name = prop.$ref.split("/").pop();
    const target = (schema.$defs || schema.definitions || {})[name] || {};
    const { $ref, ...own } = prop; // the field's own default, title, description win
    return { ...target, ...own };
  }
  if (prop && prop.allOf && prop.allOf.length === 1) return { ...resolve(schema, prop.allOf[0]), ...prop, allOf: undefined };
  if (prop && prop.anyOf) { const real = prop.anyOf.find((p) => p.type !== "null"); if (real) return { ...resolve(schema, real), title: prop.title, default: prop.default }; }
  return prop || {};
}

function fieldFor(id, name, prop, required) {
  const inputId = `${id}-${name}`;
  const label = (prop.title || name) + (required ? " *" : "");
  let control, value;
  if (prop.enum) {
    control = h("select", { id: inputId, name, required },
      required || prop.default !== undefined ? null : h("option", { value: "", text: "—" }),
      ...prop.enum.map((v) => h("option", { value: JSON.stringify(v), text: String(v), selected: prop.default === v })));
    value = () => control.value === "" ? undefined : JSON.parse(control.value);
  } else if (prop.type === "boolean") {
    control = h("input", { id: inputId, name, type: "checkbox", checked: prop.default === true });
    value = () => control.checked;
  } else if (prop.type === "integer" || prop.type === "number") {
    control = h("input", { id: inputId, name, type: "text", inputmode: "decimal", required, value: prop.default ?? "" });
    value = () => control.value === "" ? undefined : (Number.isNaN(Number(control.value)) ? control.value : Number(control.value));
  } else if (prop.type === "object" || prop.type === "array") {
    control = h("textarea", { id: inputId, name, rows: "3", placeholder: "JSON" });
    value = () => { if (!control.value) return undefined; try { return JSON.parse(control.value); } catch (_) { return control.value; } };
  } else {
    control = h("input", { id: inputId, name, type: "text", required, value: prop.default ?? "" });
    value = () => control.value === "" && !required ? undefined : control.value;
  }
  const error = h("div", { class: "field-error", id: `${inputId}-error`, role: "alert" });
  control.setAttribute("aria-describedby", `${inputId}-error`);
  const element = h("label", { for: inputId }, label, control, prop.description ? h("span", { class: "muted", text: prop.description }) : null, error);
  return { name, element, value, error };
}

// -- flows -----------------------------------------------------------------------------

async function flowsPage(name) {
  const data = await api("/runs?limit=200" + (name ? "&flow=" + encodeURIComponent(name) : ""));
  const byFlow = new Map();
  for (const run of data.runs) { if (!byFlow.has(run.flow)) byFlow.set(run.flow, []); byFlow.get(run.flow).push(run); }
  const sections = [];
  for (const [flow, runs] of byFlow) {
    const done = runs.filter((r) => FINAL.has(r.state));
    const ok = done.filter((r) => r.state === "completed").length;
    const durations = done.map((r) => r.duration_seconds).filter((d) => d !== null).sort((a, b) => a - b);
    const p50 = durations.length ? durations[Math.floor(durations.length / 2)] : null;
    const last = runs.slice(0, 20);
    const details = await Promise.all(last.map((r) => api("/runs/" + encodeURIComponent(r.run_id) + "?steps_limit=1000&history_limit=0").catch(() => null)));
    const stepKeys = [];
    const seen = new Set();
    for (const d of details) for (const s of (d ? d.steps : [])) if (!seen.has(s.key) && stepKeys.length < 40) { seen.add(s.key); stepKeys.push(s.key); }
    const grid = h("table", { class: "grid", "aria-label": `Last runs of ${flow} by step` },
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Run" }), ...stepKeys.map((k) => h("th", { scope: "col", title: k, text: "" })))),
      h("tbody", {}, ...details.filter(Boolean).map((d) => {
        const byKey = Object.fromEntries(d.steps.map((s) => [s.key, s]));
        return h("tr", {}, h("td", { class: "mono" }, h("a", { href: "#/runs/" + d.run_id, text: d.run_id.slice(-8) }), " ", state(d.state)),
          ...stepKeys.map((k) => h("td", { class: "cell", title: `${k}: ${byKey[k] ? byKey[k].state : "not run"}` },
            h("span", { style: byKey[k] ? `background: var(--${byKey[k].state})` : "" }))));
      })));
    const slow = slowest(details.filter(Boolean));
    sections.push(h("section", { class: "card", style: "max-width: none" },
      h("h2", {}, h("a", { href: "#/runs?flow=" + encodeURIComponent(flow), text: flow })),
      h("p", { class: "muted", text: `${runs.length} recent runs · success ${done.length ? Math.round((100 * ok) / done.length) : 0}% · p50 ${duration(p50)}` }),
      grid,
      h("h2", { text: "Slowest steps (p50 / p95 over these runs)" }),
      h("table", {}, h("thead", {}, h("tr", {}, ["Step", "p50", "p95", "Runs", "Retries"].map((t) => h("th", { scope: "col", text: t })))),
        h("tbody", {}, ...slow.map((s) => h("tr", {}, h("td", { class: "mono", text: s.key }), h("td", { class: "num", text: duration(s.p50) }),
          h("td", { class: "num", text: duration(s.p95) }), h("td", { class: "num", text: s.n }), h("td", { class: "num", text: s.retries })))))));
  }
  render(h("h1", { text: name ? `Flow ${name}` : "Flows" }), ...(sections.length ? sections : [h("p", { text: "No runs yet." })]));
}

function slowest(details) {
  const by = new Map();
  for (const d of details) for (const s of d.steps) {
    if (s.duration_seconds === null || s.task === "wait_for_input" || s.task === "wait_for_event" || s.task === "sleep") continue;
    const key = s.key.replace(/#\d+$/, "");
    if (!by.has(key)) by.set(key, { key, values: [], retries: 0 });
    const entry = by.get(key); entry.values.push(s.duration_seconds); entry.retries += Math.max(0, s.attempts - 1);
  }
  return [...by.values()].map((e) => {
    const v = e.values.sort((a, b) => a - b);
    return { key: e.key, n: v.length, retries: e.retries, p50: v[Math.floor(v.length * 0.5)], p95: v[Math.min(v.length - 1, Math.floor(v.length * 0.95))] };
  }).sort((a, b) => b.p95 - a.p95).slice(0, 10);
}

// -- workers ---------------------------------------------------------------------------

async function workersPage() {
  const body = h("tbody");
  render(h("h1", { text: "Workers" }), h("table", { "aria-label": "Workers" },
    h("thead", {}, h("tr", {}, ["Worker", "Queues", "Concurrency", "Running", "Heartbeat"].map((t) => h("th", { scope: "col", text: t })))), body));
  const load = async () => {
    const data = await api("/workers");
    body.replaceChildren(...data.workers.map((w) => h("tr", {}, h("td", { class: "mono", text: w.worker_id }),
      h("td", { text: w.queues.join(", ") }), h("td", { class: "num", text: w.concurrency }),
      h("td", { text: w.running.length }), h("td", { text: when(w.heartbeat_at) }))));
  };
  try { await load(); } catch (err) { render(h("h1", { text: "Workers" }), errorBox(err)); return; }
  every(load);
}

// -- routing ---------------------------------------------------------------------------

async function route() {
  clearInterval(timer);
  const [path, query] = (location.hash.slice(1) || "/runs").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === parts[0]);
  try {
    if (parts[0] === "runs" && parts[1]) await runPage(parts[1]);
    else if (parts[0] === "inbox") await inboxPage();
    else if (parts[0] === "flows") await flowsPage(parts[1]);
    else if (parts[0] === "workers") await workersPage();
    else await runsPage(params);
  } catch (err) { render(errorBox(err)); }
  document.getElementById("main").focus({ preventScroll: true });
}

window.addEventListener("hashchange", route);
loadMe().then(route);
setInterval(() => api("/inputs").then((d) => updateCount(d.inputs.length)).catch(() => {}), 5000);
