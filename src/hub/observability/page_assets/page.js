// The operations page of `hub run`: polls api/overview and draws it. No framework, nothing
// fetched from elsewhere; every value is written with textContent (never as HTML).
"use strict";

const POLL_MS = 1500;
const RATE_WINDOW_S = 60; // rates are taken over the readings of the last minute
const SVG = "http://www.w3.org/2000/svg";
const history = []; // [{at, partners: {id: {in, out}}}]
// The partner whose dead letters are listed (null: everyone's), kept in the page's address
// (#dead-letters-partner=ID) so that a reload or a shared link lists the same.
const DL_PARTNER = "dead-letters-partner";
let dlPartner = new URLSearchParams(location.hash.slice(1)).get(DL_PARTNER) || null;
let dlSummaryShown = null; // what the summary was drawn from: unchanged, it is left alone

function el(tag, attrs = {}, text = null, ns = null) {
  const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

function num(value) {
  return value === null || value === undefined ? "–" : String(value);
}

function count(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString("en");
}

function remember(data) {
  const partners = {};
  for (const p of data.partners) partners[p.id] = { in: p.in, out: p.out };
  history.push({ at: data.at, partners });
  while (history.length > 2 && data.at - history[0].at > RATE_WINDOW_S) history.shift();
}

// Per minute, from the oldest and newest readings kept; a counter that went down (a
// restarted hub) starts the window again.
function rate(id, key) {
  if (history.length < 2) return null;
  const first = history[0], last = history[history.length - 1];
  const a = first.partners[id], b = last.partners[id];
  const seconds = last.at - first.at;
  if (!a || !b || seconds <= 0) return null;
  const delta = b[key] - a[key];
  return delta < 0 ? null : (delta / seconds) * 60;
}

function perMinute(value) {
  return value === null ? "–" : value.toFixed(value < 10 ? 1 : 0);
}

function health(p) {
  if (p.breaker === "open" || (p.parked || 0) > 0) return "bad";
  if ((p.backlog || 0) > 0 && (p.oldest_undelivered_seconds || 0) > 60) return "warn";
  return "";
}

function drawMap(data) {
  const svg = document.getElementById("map");
  svg.replaceChildren();
  const cx = 450, cy = 240, radius = 190;
  const n = data.partners.length;
  const edges = el("g", {}, null, SVG), nodes = el("g", {}, null, SVG);
  data.partners.forEach((p, i) => {
    const angle = (2 * Math.PI * i) / Math.max(n, 1) - Math.PI / 2;
    const x = cx + radius * Math.cos(angle) * 1.75, y = cy + radius * Math.sin(angle);
    const rin = rate(p.id, "in"), rout = rate(p.id, "out");
    const active = (rin || 0) > 0 || (rout || 0) > 0;
    edges.append(el("line", { x1: cx, y1: cy, x2: x, y2: y, class: active ? "edge active" : "edge" }, null, SVG));
    const group = el("g", { "data-testid": `map-node-${p.id}` }, null, SVG);
    group.append(el("rect", { x: x - 120, y: y - 30, width: 240, height: 60, rx: 8, class: `node ${health(p)}` }, null, SVG));
    group.append(el("text", { x, y: y - 12, "text-anchor": "middle", class: "name" }, p.id, SVG));
    group.append(el("text", { x, y: y + 22, "text-anchor": "middle", class: "rate", "data-testid": `map-rate-${p.id}` },
      `in ${perMinute(rin)}/min · out ${perMinute(rout)}/min`, SVG));
    const extra = [p.role];
    if (p.backlog !== null) extra.push(`backlog ${p.backlog}`);
    if (p.breaker === "open") extra.push("breaker open");
    group.append(el("text", { x, y: y + 5, "text-anchor": "middle" }, extra.join(" · "), SVG));
    nodes.append(group);
  });
  const hub = el("g", {}, null, SVG);
  hub.append(el("circle", { cx, cy, r: 46, class: "hub" }, null, SVG));
  hub.append(el("text", { x: cx, y: cy + 5, "text-anchor": "middle", class: "hub-label" }, "hub", SVG));
  svg.append(edges, nodes, hub);
}

function cell(text, className = "", testid = null) {
  const td = el("td", className ? { class: className } : {}, text);
  if (testid) td.setAttribute("data-testid", testid);
  return td;
}

function drawPartners(data) {
  const body = document.getElementById("partners");
  body.replaceChildren(...data.partners.map((p) => {
    const row = el("tr", { "data-partner": p.id });
    const who = el("td");
    who.append(el("strong", {}, p.id));
    if (p.name) who.append(el("br"), el("span", { class: "muted" }, p.name));
    const breaker = p.breaker === null ? "–" : p.breaker;
    row.append(
      who, cell(p.role), cell(p.delivery),
      cell(String(p.in), "n", `in-${p.id}`), cell(perMinute(rate(p.id, "in")), "n"),
      cell(String(p.out), "n", `out-${p.id}`), cell(perMinute(rate(p.id, "out")), "n"),
      cell(String(p.withheld), "n"), cell(String(p.dead_lettered), "n"),
      cell(num(p.router_lag), "n"), cell(num(p.backlog), "n"),
      cell(age(p.oldest_undelivered_seconds), "n"),
      cell(breaker, p.breaker === "open" ? "bad" : p.breaker === "closed" ? "good" : "muted", `breaker-${p.id}`),
      cell(num(p.parked), (p.parked || 0) > 0 ? "n bad" : "n"),
    );
    return row;
  }));
}

function listButton(partner, text) {
  const button = el("button", { type: "button", class: "list", "data-testid": partner ? `dl-list-${partner}` : "dl-list-all" }, text);
  button.setAttribute("aria-pressed", String(partner === dlPartner));
  button.addEventListener("click", () => listPartner(partner));
  return button;
}

function listPartner(partner) {
  dlPartner = partner;
  const address = partner ? `#${DL_PARTNER}=${encodeURIComponent(partner)}` : location.pathname + location.search;
  window.history.replaceState(null, "", address);
  dlSummaryShown = null;
  pollNow();
}

// Per partner how many are not replayed and of which codes; its button lists its own rows.
// Drawn anew only when it changed, so that a button is not replaced under a click.
function drawDeadLetterSummary(dl) {
  const byPartner = dl.by_partner || [], pairs = dl.by_partner_and_code || [], byCode = dl.by_code || [];
  const shown = JSON.stringify([byPartner, pairs, byCode, dlPartner]);
  if (shown === dlSummaryShown) return;
  dlSummaryShown = shown;
  const body = document.getElementById("dead-letter-summary");
  if (byPartner.length === 0) emptyRow(body, 4, "none");
  else body.replaceChildren(...byPartner.map((p) => {
    const row = el("tr", { "data-dl-partner": p.partner });
    const codes = pairs.filter((c) => c.partner === p.partner).map((c) => `${c.code} ${count(c.count)}`);
    const action = el("td");
    action.append(listButton(p.partner, p.partner === dlPartner ? "listed" : "list"));
    row.append(cell(p.partner), cell(count(p.count), "n", `dl-partner-count-${p.partner}`), cell(codes.join(" · ")), action);
    return row;
  }));
  document.getElementById("dl-codes").textContent =
    byCode.length ? `By code: ${byCode.map((c) => `${c.code} ${count(c.count)}`).join(" · ")}` : "";
  const listing = document.getElementById("dl-listing");
  if (dlPartner === null) listing.replaceChildren("Listing every partner's, newest first.");
  else listing.replaceChildren(`Listing ${dlPartner}'s only, newest first. `, listButton(null, "list every partner's"));
}

function drawDeadLetters(data) {
  const dl = data.dead_letters || {};
  const rows = dl.unresolved || [];
  const matching = dl.matching ?? dl.unresolved_count ?? rows.length;
  const from = dl.partner ? ` from ${dl.partner}` : "";
  document.getElementById("dl-count").textContent = dl.checked_at
    ? `(showing ${count(rows.length)} of ${count(matching)}${from}, read ${age(data.at - dl.checked_at)} ago)`
    : "(not read yet)";
  const scope = [`${count(dl.total)} dead letter(s) within the topic's retention, replayed ones included`];
  if (dl.partner) scope.push(`${count(dl.unresolved_count)} not replayed from all partners`);
  if (dl.held !== undefined && dl.held < dl.total) {
    scope.push(`counted here: the newest ${count(dl.held)} (hub dlq list lists them all)`);
  }
  document.getElementById("dl-scope").textContent = `${scope.join("; ")}.`;
  drawDeadLetterSummary(dl);
  const body = document.getElementById("dead-letters");
  if (rows.length === 0) {
    emptyRow(body, 5, dl.partner ? `none from ${dl.partner}` : "none");
    return;
  }
  body.replaceChildren(...rows.map((d) => {
    const row = el("tr", { "data-deadletter": d.id });
    row.append(cell(d.id), cell(d.partner), cell(d.code, "bad"), cell(age(d.age_seconds), "n"), cell(String(d.replays), "n"));
    return row;
  }));
}

function drawAlert(data) {
  const alert = data.safety_report;
  const box = document.getElementById("alert");
  box.className = `alert ${alert.state}`;
  box.setAttribute("data-state", alert.state);
  const parts = alert.recipients.map((r) => {
    const what = [];
    if (r.undelivered) what.push(`undelivered for ${age(r.oldest_undelivered_seconds)}`);
    else if (r.measured) what.push(`oldest undelivered ${age(r.oldest_undelivered_seconds)}`);
    else what.push("not measured (name its consumer group in HUB_OPS__PARTNER_GROUPS)");
    if ((r.parked || 0) > 0) what.push(`${r.parked} parked`);
    return `${r.recipient}: ${what.join(", ")}`;
  });
  const head = {
    firing: "FIRING: telephone Veilig Thuis, then see docs/operations.md (HubSafetyReportUndelivered).",
    ok: "ok.",
    unknown: "unknown: the backlog has not been read from Kafka lately (HubLagUnknown).",
  }[alert.state];
  document.getElementById("alert-text").textContent =
    `${head} Deadline ${age(alert.deadline_seconds)}. ${parts.join("; ") || "no veilig-thuis recipient registered"}`;
}

function euros(cents) {
  return `€ ${(cents / 100).toLocaleString("nl-NL", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

function emptyRow(body, columns, text) {
  body.replaceChildren(el("tr", {}, null));
  body.firstChild.append(el("td", { colspan: String(columns), class: "muted" }, text));
}

function drawKpis(data) {
  const k = data.kpis;
  const body = document.getElementById("kpis");
  const budgets = document.getElementById("kpi-budgets");
  if (!k) {
    document.getElementById("kpi-month").textContent = "(not aggregated by this hub: HUB_OPS__KPI)";
    emptyRow(body, 7, "none");
    emptyRow(budgets, 6, "none");
    return;
  }
  document.getElementById("kpi-month").textContent = k.ready ? k.month : `${k.month} (reading…)`;
  if (k.kpis.length === 0) emptyRow(body, 7, "none completed yet");
  else body.replaceChildren(...k.kpis.map((r) => {
    const row = el("tr", { "data-kpi": `${r.team}|${r.kpi}` });
    const share = r.within_target_share === null ? "–" : `${r.within_target} (${Math.round(100 * r.within_target_share)} %)`;
    row.append(
      cell(r.team), cell(r.kpi), cell(String(r.count), "n"), cell(age(r.mean_seconds), "n"),
      cell(age(r.median_at_most_seconds), "n"), cell(age(r.p90_at_most_seconds), "n"),
      cell(share, r.within_target_share !== null && r.within_target_share < 1 ? "n bad" : "n"),
    );
    return row;
  }));
  if (k.budgets.length === 0) emptyRow(budgets, 6, "no budget reported for this month");
  else budgets.replaceChildren(...k.budgets.map((b) => {
    const row = el("tr", { "data-budget": b.team });
    const share = b.budget_cents ? `${Math.round(100 * b.spent_cents / b.budget_cents)} %` : "–";
    row.append(
      cell(b.team), cell(b.period), cell(euros(b.budget_cents), "n"), cell(euros(b.committed_cents), "n"),
      cell(euros(b.spent_cents), "n"), cell(share, b.spent_cents > b.budget_cents ? "n bad" : "n"),
    );
    return row;
  }));
}

function drawStatus(data) {
  const when = new Date(data.at * 1000).toLocaleTimeString();
  const retrying = data.router_retrying ? " · router retrying its Kafka session" : "";
  document.getElementById("status").textContent = `live · ${when}${retrying}`;
  document.getElementById("checked").textContent = data.lag_checked_at
    ? `backlog read from Kafka ${age(data.at - data.lag_checked_at)} ago`
    : "backlog not read from Kafka yet";
}

let timer = null, polling = false, again = false;

async function poll() {
  polling = true;
  const asked = dlPartner;
  try {
    const query = asked ? `?dead_letters_partner=${encodeURIComponent(asked)}` : "";
    const response = await fetch(`api/overview${query}`, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    remember(data);
    drawStatus(data);
    drawAlert(data);
    drawMap(data);
    drawPartners(data);
    if (asked === dlPartner) drawDeadLetters(data); // else another partner was chosen meanwhile
    drawKpis(data);
  } catch (error) {
    document.getElementById("status").textContent = `not answering (${error.message}); trying again`;
  } finally {
    polling = false;
    timer = setTimeout(poll, again ? 0 : POLL_MS);
    again = false;
  }
}

// Ask now (a partner was chosen), without a second round of polls beside the first.
function pollNow() {
  if (polling) {
    again = true;
    return;
  }
  clearTimeout(timer);
  poll();
}

poll();
