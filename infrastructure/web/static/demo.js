// The live demo page (served at / by `pulse demo`): pick a demo user, see their dashboard,
// follow it live. Plain ES modules, no build step; every number comes from the operations
// of frontend-contract/operations (Dashboard, Opportunities, DashboardUpdated,
// OpportunityChanged), sent as committed.

import { PulseConnection } from "./pulse-client.js";

const OPPORTUNITY_ROWS = 20;
const ACTIVITY_ITEMS = 8;
const HIGHLIGHT_MS = 2500;

const KPIS = [
  { key: "openCount", label: "Open deals", format: "count" },
  { key: "pipelineValue", label: "Pipeline", format: "money" },
  { key: "weightedPipelineValue", label: "Weighted pipeline", format: "money" },
  { key: "wonValue", label: "Won value", format: "money" },
  { key: "wonCount", label: "Won deals", format: "count" },
  { key: "lostCount", label: "Lost deals", format: "count" },
  { key: "winRate", label: "Win rate", format: "percent" },
  { key: "averageDealSize", label: "Average won deal", format: "money" },
];
const SCOPES = { OWN: "own deals", TEAM: "team", ALL: "whole company" };
const ROLES = { admin: "Admin", manager: "Managers", rep: "Sales reps" };

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const percentFormat = new Intl.NumberFormat(undefined, {
  style: "percent",
  maximumFractionDigits: 1,
});
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "short",
});

function format(value, kind) {
  if (value === null || value === undefined) return "—";
  if (kind === "percent") return percentFormat.format(value);
  return numberFormat.format(value);
}

const $ = (id) => document.getElementById(id);

/** createElement with attributes and children (text is always set as text, never HTML). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElementNS(
    tag === "svg" || attributes.svg ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml",
    tag,
  );
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "svg" || value === undefined || value === null || value === false) continue;
    if (name === "class") element.setAttribute("class", value);
    else if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function flash(element) {
  element.classList.remove("changed");
  void element.offsetWidth; // restart the animation
  element.classList.add("changed");
  setTimeout(() => element.classList.remove("changed"), HIGHLIGHT_MS);
}

// -- state ---------------------------------------------------------------------------------

const state = {
  users: [],
  user: null,
  connection: null,
  stops: [],
  dashboard: null,
  opportunities: [],
  totalCount: 0,
  generation: 0, // bumps on every user switch: late answers for the previous user are dropped
  wonStages: new Set(), // DashboardUpdated's stages carry no isWon: remembered from Dashboard
  recent: new Map(), // opportunity id -> until when its row is highlighted
};

async function fetchUsers() {
  const response = await fetch(new URL("demo/tokens", document.baseURI), {
    cache: "no-store",
  });
  if (!response.ok) throw new Error(`Could not get demo tokens (${response.status})`);
  return (await response.json()).users;
}

async function freshToken(key) {
  const users = await fetchUsers();
  state.users = users;
  const user = users.find((u) => u.key === key);
  if (!user) throw new Error(`Unknown demo user ${key}`);
  return user.token;
}

function setConnection(status, detail = "") {
  const labels = {
    connecting: "Connecting…",
    connected: "Live: updates arrive as they happen",
    closed: "Disconnected, retrying…",
    idle: "Not connected",
  };
  $("connection").textContent = labels[status] + (detail && status === "closed" ? ` (${detail})` : "");
  $("connection-dot").dataset.state = status;
}

function describeProblem(problem) {
  if (!problem) return "";
  if (typeof problem.code === "number") {
    return `The live connection was closed (${problem.code} ${problem.reason ?? ""}).`.replace(" )", ")");
  }
  return String(problem.message ?? problem);
}

function showError(problem) {
  const message = describeProblem(problem);
  $("error").textContent = message;
  $("error").hidden = !message;
}

// -- rendering: KPIs -------------------------------------------------------------------------

function renderKpis(metrics) {
  const list = $("kpis");
  if (!list.children.length) {
    for (const kpi of KPIS) {
      list.append(
        h(
          "div",
          { class: "kpi" },
          h("dt", { text: kpi.label }),
          h("dd", { "data-kpi": kpi.key }, h("span", { class: "value" }), h("span", { class: "delta" })),
        ),
      );
    }
  }
  for (const kpi of KPIS) {
    const cell = list.querySelector(`[data-kpi="${kpi.key}"]`);
    const value = metrics[kpi.key];
    const previous = cell.dataset.raw === undefined ? undefined : JSON.parse(cell.dataset.raw);
    cell.dataset.raw = JSON.stringify(value ?? null);
    cell.querySelector(".value").textContent = format(value, kpi.format);
    const delta = cell.querySelector(".delta");
    if (previous !== undefined && previous !== (value ?? null)) {
      const up = (value ?? 0) > (previous ?? 0);
      const difference = Math.abs((value ?? 0) - (previous ?? 0));
      delta.textContent = `${up ? "▲" : "▼"} ${format(difference, kpi.format)}`;
      delta.className = `delta ${up ? "up" : "down"}`;
      flash(cell.closest(".kpi"));
    }
  }
}

// -- rendering: by-stage chart (plain SVG) -----------------------------------------------------

function renderStages(byStage) {
  const figure = $("stage-chart");
  figure.querySelector("svg")?.remove();
  figure.querySelector(".empty")?.remove();
  if (!byStage.length) {
    figure.prepend(h("p", { class: "empty muted", text: "No deals in any stage." }));
    return;
  }
  const rowHeight = 34;
  const labelWidth = 130;
  const width = 560;
  const barSpace = width - labelWidth - 150;
  const max = Math.max(...byStage.map((s) => s.value), 1);
  const summary = byStage
    .map((s) => `${s.stage.name}: ${s.count} deals worth ${format(s.value, "money")}`)
    .join("; ");
  const svg = h("svg", {
    viewBox: `0 0 ${width} ${byStage.length * rowHeight}`,
    role: "img",
    "aria-label": `Pipeline by stage. ${summary}.`,
    class: "stage-chart",
  });
  byStage.forEach((s, i) => {
    const y = i * rowHeight;
    const barWidth = Math.max((s.value / max) * barSpace, s.value > 0 ? 2 : 0);
    svg.append(
      h(
        "g",
        { svg: true, "data-stage": s.stage.name },
        h("title", { svg: true, text: `${s.stage.name}: ${s.count} deals, ${format(s.value, "money")}` }),
        h("text", { svg: true, x: labelWidth - 8, y: y + rowHeight / 2, class: "label", "text-anchor": "end", "dominant-baseline": "middle", text: s.stage.name }),
        h("rect", { svg: true, x: labelWidth, y: y + 6, width: barWidth, height: rowHeight - 12, rx: 3, class: state.wonStages.has(s.stage.id) ? "bar won" : "bar" }),
        h("text", { svg: true, x: labelWidth + barWidth + 8, y: y + rowHeight / 2, class: "amount", "dominant-baseline": "middle", text: `${format(s.value, "money")} (${s.count})` }),
      ),
    );
  });
  figure.prepend(svg);
}

// -- rendering: team table ---------------------------------------------------------------------

function renderTeam(dashboard) {
  const panel = $("team-panel");
  const rows = dashboard.team ?? [];
  panel.hidden = dashboard.scope === "OWN" || rows.length === 0;
  if (panel.hidden) return;
  const body = $("team").querySelector("tbody");
  const sorted = [...rows].sort((a, b) => b.metrics.pipelineValue - a.metrics.pipelineValue);
  body.replaceChildren(
    ...sorted.map((row) =>
      h(
        "tr",
        { "data-salesperson": row.salesperson.id },
        h("th", { scope: "row", text: row.salesperson.name }),
        h("td", { class: "num", text: format(row.metrics.openCount, "count") }),
        h("td", { class: "num", text: format(row.metrics.pipelineValue, "money") }),
        h("td", { class: "num", text: format(row.metrics.wonValue, "money") }),
        h("td", { class: "num", text: format(row.metrics.winRate, "percent") }),
      ),
    ),
  );
}

// -- rendering: the whole dashboard ---------------------------------------------------------

function renderDashboard(dashboard) {
  const current = state.dashboard;
  if (current && dashboard.asOf < current.asOf) return; // an older value arriving late
  state.dashboard = { ...current, ...dashboard };
  for (const s of dashboard.byStage) if (s.stage.isWon) state.wonStages.add(s.stage.id);
  const viewer = state.dashboard.viewer?.name ?? state.user?.name ?? "";
  $("viewer-line").textContent = `· ${viewer}, ${SCOPES[dashboard.scope] ?? dashboard.scope}`;
  const asOf = $("as-of");
  asOf.dataset.asOf = String(dashboard.asOf);
  asOf.textContent = `As of event #${dashboard.asOf}, updated ${timeFormat.format(new Date(dashboard.updatedAt))}`;
  renderKpis(dashboard.metrics);
  renderStages(dashboard.byStage);
  renderTeam(dashboard);
}

// -- rendering: opportunities ----------------------------------------------------------------

const STATUS_LABELS = { OPEN: "Open", WON: "Won", LOST: "Lost", ARCHIVED: "Archived" };

function opportunityRow(o) {
  const recent = (state.recent.get(o.id) ?? 0) > Date.now();
  return h(
    "tr",
    { "data-opportunity-id": o.id, class: recent ? "changed" : undefined },
    h("th", { scope: "row", text: o.name }),
    h("td", { text: o.account?.name ?? "—" }),
    h("td", { text: o.stage?.name ?? "—" }),
    h("td", { text: o.salesperson?.name ?? "Unassigned" }),
    h("td", {}, h("span", { class: `status status-${o.status.toLowerCase()}`, text: STATUS_LABELS[o.status] ?? o.status })),
    h("td", { class: "num", text: format(o.expectedRevenue, "money") }),
    h("td", {}, h("time", { datetime: o.updatedAt, text: dateTimeFormat.format(new Date(o.updatedAt)) })),
  );
}

function renderOpportunities(changedId) {
  const now = Date.now();
  for (const [id, until] of state.recent) if (until < now) state.recent.delete(id);
  if (changedId) state.recent.set(changedId, now + HIGHLIGHT_MS);
  const body = $("opportunities").querySelector("tbody");
  body.replaceChildren(...state.opportunities.map(opportunityRow));
  const shown = state.opportunities.length;
  $("opps-count").textContent =
    shown < state.totalCount
      ? `The ${shown} most recently updated of ${state.totalCount}`
      : `${state.totalCount} in all`;
}

function applyChange(change) {
  const index = state.opportunities.findIndex((o) => o.id === change.opportunityId);
  const previous = index >= 0 ? state.opportunities[index] : undefined;
  if (index >= 0) state.opportunities.splice(index, 1);
  const gone = change.kind === "REMOVED" || !change.opportunity || change.opportunity.status === "ARCHIVED";
  if (gone) {
    if (previous || change.kind === "REMOVED") state.totalCount = Math.max(state.totalCount - 1, 0);
  } else {
    if (change.kind === "CREATED" && !previous) state.totalCount += 1;
    // The subscription carries fewer fields than the list query: keep the others.
    state.opportunities.unshift({ ...previous, ...change.opportunity });
    state.opportunities.length = Math.min(state.opportunities.length, OPPORTUNITY_ROWS);
  }
  renderOpportunities(gone ? null : change.opportunityId);
  logActivity(change, previous);
  if (!gone && !previous) enrich(change.opportunityId);
}

/** A deal that just entered the list: its account (not in the subscription) comes from
 * the OpportunityDetail operation. */
async function enrich(id) {
  const generation = state.generation;
  try {
    const data = await state.connection.query("opportunity_detail", "OpportunityDetail", {
      id,
      historyFirst: 1,
    });
    if (generation !== state.generation || !data.opportunity) return;
    const index = state.opportunities.findIndex((o) => o.id === id);
    if (index < 0) return;
    const { history: _history, ...detail } = data.opportunity;
    state.opportunities[index] = { ...detail, ...state.opportunities[index], account: detail.account };
    renderOpportunities();
  } catch {
    // Not essential: the row keeps "—" for its account.
  }
}

function logActivity(change, previous) {
  const o = change.opportunity;
  const name = o?.name ?? previous?.name ?? `Opportunity ${change.opportunityId}`;
  let what;
  if (change.kind === "REMOVED" || !o) what = "removed from view";
  else if (previous && previous.status !== o.status) what = `now ${STATUS_LABELS[o.status] ?? o.status}`;
  else if (previous && previous.stage?.id !== o.stage?.id) what = `moved to ${o.stage?.name ?? "no stage"}`;
  else if (previous && previous.expectedRevenue !== o.expectedRevenue)
    what = `expected revenue ${format(previous.expectedRevenue, "money")} → ${format(o.expectedRevenue, "money")}`;
  else what = change.kind === "CREATED" ? "created" : "updated";
  const list = $("activity");
  list.prepend(
    h(
      "li",
      {},
      h("time", { datetime: new Date().toISOString(), text: timeFormat.format(new Date()) }),
      " ",
      h("strong", { text: name }),
      `: ${what}`,
    ),
  );
  while (list.children.length > ACTIVITY_ITEMS) list.lastElementChild.remove();
  $("activity-empty").hidden = true;
}

// -- choosing a user ---------------------------------------------------------------------------

function stopLive() {
  for (const stop of state.stops) stop();
  state.stops = [];
  state.connection?.dispose();
  state.connection = null;
}

function resetBoard() {
  state.dashboard = null;
  state.wonStages = new Set();
  state.recent = new Map();
  state.opportunities = [];
  state.totalCount = 0;
  $("kpis").replaceChildren();
  $("activity").replaceChildren();
  $("activity-empty").hidden = false;
  $("opportunities").querySelector("tbody").replaceChildren();
}

async function choose(key) {
  const generation = ++state.generation;
  stopLive();
  resetBoard();
  showError(null);
  const url = new URL(window.location.href);
  if (key) url.searchParams.set("user", key);
  else url.searchParams.delete("user");
  window.history.replaceState(null, "", url);
  state.user = state.users.find((u) => u.key === key) ?? null;
  $("welcome").hidden = Boolean(state.user);
  $("board").hidden = !state.user;
  if (!state.user) {
    setConnection("idle");
    return;
  }
  let token = state.user.token;
  const connection = new PulseConnection({
    graphqlUrl: new URL("graphql", document.baseURI),
    getToken: async () => {
      if (!token) token = await freshToken(key);
      return token;
    },
    onStatus: (status, detail) => {
      if (generation !== state.generation) return;
      if (status === "closed") token = null; // e.g. 4401 at expiry: the next one is fresh
      setConnection(status, detail);
    },
  });
  state.connection = connection;
  setConnection("connecting");
  const live = (handler) => (data) => {
    if (generation === state.generation) handler(data);
  };
  const failed = (problem) => {
    if (generation !== state.generation) return;
    if (problem?.code === 4401) {
      // The server closes a socket when its token expires: start again with a fresh one.
      setConnection("closed", "token expired");
      setTimeout(async () => {
        state.users = await fetchUsers().catch(() => state.users);
        if (generation === state.generation) choose(key);
      }, 1000);
      return;
    }
    showError(problem);
  };
  try {
    const [dashboard, list] = await Promise.all([
      connection.query("dashboard", "Dashboard"),
      connection.query("opportunities", "Opportunities", { first: OPPORTUNITY_ROWS }),
    ]);
    if (generation !== state.generation) return;
    renderDashboard(dashboard.dashboard);
    state.opportunities = list.opportunities.edges.map((edge) => edge.node);
    state.totalCount = list.opportunities.totalCount;
    renderOpportunities();
  } catch (problem) {
    failed(problem);
  }
  if (generation !== state.generation) return;
  state.stops.push(
    connection.subscribe("dashboard_updated", "DashboardUpdated", {
      next: live((data) => renderDashboard(data.dashboardUpdated)),
      error: failed,
    }),
    connection.subscribe("opportunity_changed", "OpportunityChanged", {
      next: live((data) => applyChange(data.opportunityChanged)),
      error: failed,
    }),
  );
}

// -- start -------------------------------------------------------------------------------------

async function start() {
  const select = $("user");
  $("picker").addEventListener("submit", (event) => event.preventDefault());
  try {
    state.users = await fetchUsers();
  } catch (problem) {
    select.replaceChildren(h("option", { value: "", text: "No demo users" }));
    showError(problem);
    return;
  }
  const groups = Object.entries(ROLES).map(([role, label]) =>
    h(
      "optgroup",
      { label },
      ...state.users
        .filter((u) => u.role === role)
        .map((u) => h("option", { value: u.key, text: u.name })),
    ),
  );
  select.replaceChildren(h("option", { value: "", text: "Choose a demo user…" }), ...groups);
  select.disabled = false;
  select.addEventListener("change", () => choose(select.value));
  const wanted = new URL(window.location.href).searchParams.get("user");
  if (wanted && state.users.some((u) => u.key === wanted)) {
    select.value = wanted;
    await choose(wanted);
  }
}

start();
