// The Documents view: the catalog's list (#/) and one document (#/document/ID). Every request goes with the
// Airflow UI's session cookie; reprocessing goes through Airflow's own REST API.
"use strict";

const ROOT = location.pathname.replace(/documents\/?[^/]*$/, ""); // the api-server's base path
const API = `${ROOT}documents/api`;
const AIRFLOW = ROOT; // the Airflow UI and its REST API
const PAGE_SIZE = 50;
const $ = (id) => document.getElementById(id);
const state = { offset: 0, filters: {}, doc: null, page: 0 };

async function getJson(url, options = {}) {
  const response = await fetch(url, { credentials: "same-origin", ...options });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail ? JSON.stringify(body.detail) : `${response.status} ${response.statusText}`);
  return body;
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function link(text, href, top = false) {
  const anchor = element("a", text, { href });
  if (top) anchor.target = "_top"; // out of the UI's frame, into the Airflow UI
  return anchor;
}

const percent = (value) => (value === null || value === undefined ? "" : `${(value * 100).toFixed(1)} %`);
const when = (value) => (value ? new Date(value).toLocaleString() : "");
const runUrl = (dagId, runId) => `${AIRFLOW}dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}`;
const confidenceClass = (c) => (c === null || c === undefined ? "medium" : c >= 0.9 ? "high" : c >= 0.7 ? "medium" : "low");

// ---- the list
function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...state.filters, ...extra })) if (value !== "" && value !== undefined) params.set(name, value);
  return params.toString();
}

async function loadList() {
  const [list, summary] = await Promise.all([
    getJson(`${API}/documents?${query({ offset: state.offset, limit: PAGE_SIZE })}`),
    getJson(`${API}/summary?${query()}`),
  ]);
  showTotals(summary);
  const body = $("documents").querySelector("tbody");
  body.replaceChildren(...list.items.map(documentRow));
  const last = Math.min(list.offset + list.items.length, list.total);
  $("showing").textContent = list.total ? `${list.offset + 1}–${last} of ${list.total}` : "no documents";
  $("previous").disabled = list.offset === 0;
  $("next").disabled = last >= list.total;
}

function documentRow(doc) {
  const row = element("tr", null, { "data-id": doc.id, "data-status": doc.status });
  const name = element("td");
  name.append(link(doc.source_uri, `#/document/${doc.id}`));
  if (doc.error) name.append(element("div", doc.error, { class: "error" }));
  const flags = element("td");
  if (doc.retryable) flags.append(element("span", "not its fault: retried", { class: "flag", title: "Failed for a reason that is not the document's own; the next run tries it again" }));
  if (doc.low_text) flags.append(element("span", "low text", { class: "flag" }));
  if (doc.low_confidence) flags.append(element("span", "low confidence", { class: "flag" }));
  const run = element("td");
  if (doc.run_id) run.append(link(doc.run_id, runUrl(doc.dag_id, doc.run_id), true));
  row.append(
    name,
    element("td", doc.status, { class: `status-${doc.status}` }),
    element("td", doc.engine),
    element("td", doc.pages, { class: "number" }),
    element("td", doc.characters, { class: "number" }),
    element("td", percent(doc.mean_confidence), { class: "number" }),
    flags,
    run,
    element("td", when(doc.processed_at)),
  );
  return row;
}

function showTotals(summary) {
  $("total-documents").textContent = summary.documents;
  $("total-pages").textContent = summary.pages;
  $("total-failed").textContent = summary.failed;
  const select = $("filters").elements.engine;
  if (select.options.length === 1) for (const name of summary.engines) select.append(element("option", name, { value: name }));
  const statuses = $("filters").elements.status; // the outcomes a document can have, as the catalog names them
  if (statuses.options.length === 1) for (const name of summary.statuses) statuses.append(element("option", name, { value: name }));
  const sources = $("filters").elements.source; // the sources the user may read, each a DAG of its own
  if (sources.options.length === 1) for (const s of summary.sources) sources.append(element("option", `${s.name} (${s.source_uri})`, { value: s.name }));
  const days = summary.pages_per_day, most = Math.max(1, ...days.map((d) => d.pages));
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("width", days.length * 8);
  svg.setAttribute("height", 40);
  days.forEach((d, i) => {
    const bar = document.createElementNS(svg.namespaceURI, "rect");
    const height = Math.round((d.pages / most) * 38);
    bar.setAttribute("x", i * 8);
    bar.setAttribute("y", 40 - height);
    bar.setAttribute("width", 6);
    bar.setAttribute("height", height);
    const title = document.createElementNS(svg.namespaceURI, "title");
    title.textContent = `${d.day}: ${d.pages} pages`;
    bar.append(title);
    svg.append(bar);
  });
  $("per-day").replaceChildren(svg, element("figcaption", "pages per day, last 30 days"));
}

// ---- one document
async function loadDocument(id) {
  const view = await getJson(`${API}/documents/${id}`);
  state.doc = view;
  state.page = 0;
  const doc = view.document;
  $("document-name").textContent = doc.source_uri;
  const facts = {
    Status: doc.retryable ? `${doc.status} (not the document's fault: the next run tries it again)` : doc.status, Engine: doc.engine, Pages: doc.pages, Characters: doc.characters,
    "Mean confidence": percent(doc.mean_confidence), ETag: doc.etag, Processed: when(doc.processed_at),
    Flags: [doc.low_text && "low text", doc.low_confidence && "low confidence"].filter(Boolean).join(", ") || "none",
  };
  $("document-facts").replaceChildren(...Object.entries(facts).flatMap(([k, v]) => [element("dt", k), element("dd", v ?? "")]));
  $("document-error").hidden = !doc.error && !view.result_error;
  $("document-error").textContent = [doc.error, view.result_error].filter(Boolean).join("\n");
  const links = [];
  for (const [kind, present] of Object.entries(view.outputs)) {
    if (present) links.push(link(kind === "quarantine" ? "quarantine copy" : kind, `${API}/documents/${doc.id}/outputs/${kind}`));
  }
  if (doc.run_id) {
    links.push(link("Airflow run", runUrl(doc.dag_id, doc.run_id), true));
    links.push(link("OCR task logs", `${runUrl(doc.dag_id, doc.run_id)}/tasks/ocr/mapped`, true));
  }
  $("document-links").replaceChildren(...links);
  const button = $("reprocess");
  button.disabled = !view.can_reprocess;
  button.title = view.can_reprocess ? "Send this document through document_ingest again" : "Your role may not trigger document_ingest";
  $("reprocess-result").textContent = "";
  $("page-nav").hidden = $("page").hidden = view.pages.length === 0;
  if (view.pages.length) showPage();
}

function showPage() {
  const page = state.doc.pages[state.page], doc = state.doc.document;
  $("page-label").textContent = `page ${page.index + 1} of ${state.doc.pages.length}`;
  $("page-previous").disabled = state.page === 0;
  $("page-next").disabled = state.page >= state.doc.pages.length - 1;
  $("page-facts").textContent = (page.facts || []).join(" · ");  // worked out by the API (ui/page_facts.py)
  $("page-picture").src = `${API}/documents/${doc.id}/pages/${page.index}.png`;
  const svg = $("boxes");
  svg.setAttribute("viewBox", `0 0 ${page.width} ${page.height}`);
  const items = page.blocks.flatMap((block) => (block.lines && block.lines.length ? block.lines : [block]));
  svg.replaceChildren();
  $("page-text").replaceChildren();
  items.forEach((item, i) => {
    const [x0, y0, x1, y1] = item.bbox;
    const box = document.createElementNS(svg.namespaceURI, "rect");
    box.setAttribute("x", x0);
    box.setAttribute("y", y0);
    box.setAttribute("width", Math.max(1, x1 - x0));
    box.setAttribute("height", Math.max(1, y1 - y0));
    box.setAttribute("class", confidenceClass(item.confidence));
    box.dataset.line = i;
    const title = document.createElementNS(svg.namespaceURI, "title");
    title.textContent = `${percent(item.confidence)}: ${item.text}`;
    box.append(title);
    svg.append(box);
    const line = element("li", item.text, { "data-line": i, title: `confidence ${percent(item.confidence)}` });
    if (confidenceClass(item.confidence) === "low") line.classList.add("low");
    $("page-text").append(line);
  });
}

function highlight(index, on) {
  for (const node of document.querySelectorAll(`[data-line="${index}"]`)) node.classList.toggle("highlight", on);
}

async function reprocess() {
  const { dag_id: dagId, conf } = state.doc.reprocess;
  const button = $("reprocess"), result = $("reprocess-result");
  button.disabled = true;
  result.textContent = "triggering…";
  try {
    const run = await getJson(`${AIRFLOW}api/v2/dags/${dagId}/dagRuns`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ logical_date: null, conf, note: `Reprocess ${conf.document} from the Documents view` }),
    });
    result.replaceChildren("new run ", link(run.dag_run_id, runUrl(dagId, run.dag_run_id), true), element("span", `: ${run.state}`, { id: "reprocess-state" }));
    followRun(dagId, run.dag_run_id);
  } catch (error) {
    result.textContent = `not triggered: ${error.message}`;
    button.disabled = false;
  }
}

async function followRun(dagId, runId) {
  const run = await getJson(`${AIRFLOW}api/v2/dags/${dagId}/dagRuns/${encodeURIComponent(runId)}`).catch(() => null);
  const label = $("reprocess-state");
  if (!run || !label) return;
  label.textContent = `: ${run.state}`;
  if (["queued", "running"].includes(run.state)) setTimeout(() => followRun(dagId, runId), 3000);
}

// ---- routing and events
async function route() {
  const match = location.hash.match(/^#\/document\/(\d+)$/);
  $("list-view").hidden = Boolean(match);
  $("document-view").hidden = !match;
  try {
    if (match) await loadDocument(match[1]);
    else await loadList();
  } catch (error) {
    const target = match ? $("document-error") : $("showing");
    target.hidden = false;
    target.textContent = `Could not load: ${error.message}`;
  }
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  state.filters = Object.fromEntries(new FormData(event.target));
  state.offset = 0;
  loadList();
});
$("previous").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE_SIZE); loadList(); });
$("next").addEventListener("click", () => { state.offset += PAGE_SIZE; loadList(); });
$("back").addEventListener("click", (event) => { event.preventDefault(); location.hash = "#/"; });
$("page-previous").addEventListener("click", () => { state.page -= 1; showPage(); });
$("page-next").addEventListener("click", () => { state.page += 1; showPage(); });
$("reprocess").addEventListener("click", reprocess);
for (const id of ["boxes", "page-text"]) {
  $(id).addEventListener("mouseover", (event) => { const i = event.target.dataset?.line; if (i !== undefined) highlight(i, true); });
  $(id).addEventListener("mouseout", (event) => { const i = event.target.dataset?.line; if (i !== undefined) highlight(i, false); });
}
window.addEventListener("hashchange", route);
route();
