// The auditors' console: sign-in, account statement (now, or as of / as
// known on a date), history with chain verification, access log and the
// monthly report, over the server's API. The bearer token lives in this
// tab's sessionStorage; an IIN lives in memory only and is sent in request
// bodies, never in a URL (pages are `#account`, `#history`, …).

import { setLanguage, language, t } from "./i18n.js";
import * as fmt from "./format.js";
import { barChart, legend } from "./chart.js";
import * as tlog from "./tlog.js";

const TOKEN = "si-ledger.token";
const LANG = "si-ledger.language";

const state = {
  me: null, // {name, role, id_scheme, time_zone}
  iin: null, // the account looked up, in memory only
  account: null, // {today, shown, asOf, knownOn, history}
  history: null,
  historyError: null,
  verify: null,
  proof: null, // {dir, result | error}: the proof directory and what the browser made of it
  access: null, // {records, next, filter}
  months: null,
  report: null,
};

// ---------- small DOM helpers ----------

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return e;
}

/** A figure: its text as shown, its raw value kept for checks and copying. */
function figure(tag, field, raw, shown, attrs = {}) {
  return el(tag, { "data-field": field, "data-value": raw ?? "", ...attrs }, shown);
}

/** A table; its caption is for screen readers unless `shown` (most tables
 * sit under a heading that says the same). */
function table(caption, headers, rows, attrs = {}, shown = false) {
  return el(
    "table",
    attrs,
    el("caption", { class: shown ? null : "visually-hidden" }, caption),
    el("thead", {}, el("tr", {}, headers.map((h) =>
      h?.num ? el("th", { scope: "col", class: "num" }, h.text) : el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows),
  );
}

/** A numeric column's header: right-aligned over its figures. */
function numeric(text) {
  return { text, num: true };
}

function dl(pairs) {
  return el(
    "dl",
    { class: "pairs" },
    pairs.flatMap(([term, value]) => [el("dt", {}, term), value instanceof Node ? value : el("dd", {}, value)]),
  );
}

/** Replaces `target`'s children; null and false stand for nothing. */
function fill(target, ...children) {
  target.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function message(text) {
  const m = $("message");
  m.textContent = text || "";
  m.hidden = !text;
}

// ---------- the API ----------

class ApiError extends Error {
  constructor(status, code, text) {
    super(text);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API with the signed-in token; JSON (or text) back, or ApiError. */
/** How many times a read of a partition that is moving between instances
 * (503 with Retry-After, `partition_unavailable`) is asked again: a
 * takeover takes the group's session timeout, about 10 s. */
const MOVING_RETRIES = 30;

async function api(path, { method = "GET", body, raw = false } = {}) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN) ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(path, {
        method,
        headers,
        // Members not given are left out (the API refuses null).
        body: body === undefined ? undefined : JSON.stringify(body, (k, v) => (v === null ? undefined : v)),
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch (e) {
      throw new ApiError(0, "network", t("network", { message: e.message }));
    }
    // Only a 503 that says when to retry (not one of the access log).
    const said = res.headers.get("Retry-After");
    const after = said === null || said.trim() === "" ? NaN : Number(said);
    if (res.status !== 503 || !(after >= 0) || attempt >= MOVING_RETRIES) break;
    await new Promise((done) => setTimeout(done, Math.min(after, 5) * 1000));
  }
  if (res.ok) return raw ? res.text() : res.json();
  let code = "error";
  let text = res.statusText;
  try {
    const j = await res.json();
    code = j.error?.code ?? code;
    text = j.error?.message ?? text;
  } catch {
    // not JSON: keep the status text
  }
  if (res.status === 401 && state.me) {
    signOut();
    message(t("session_ended"));
  }
  throw new ApiError(res.status, code, text);
}

/** An API error as the user reads it: a 403 names the role. */
function explain(e) {
  if (!(e instanceof ApiError)) return t("error", { status: "?", message: e.message });
  if (e.status === 0) return e.message;
  if (e.status === 403) return t("forbidden", { role: roleName(state.me?.role), message: e.message });
  if (e.status === 404 && e.code === "not_found") return t("no_account");
  return t("error", { status: e.status, message: e.message });
}

function roleName(role) {
  return role ? t(`role_${role}`) : "";
}

// ---------- language ----------

function applyLanguage() {
  document.documentElement.lang = language();
  for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
  document.title = t("title");
  $("language").value = language();
  if (state.me) {
    $("whoami").textContent = t("signed_in_as", { name: state.me.name, role: roleName(state.me.role) });
    $("iin-help").textContent = t(state.me.id_scheme === "kg" ? "pin_help" : "iin_help");
  }
  checkIin($("iin"), $("iin-status"), false);
  renderAll();
}

// ---------- sign-in ----------

async function signIn(token) {
  sessionStorage.setItem(TOKEN, token);
  try {
    state.me = await api("/v1/whoami");
  } catch (e) {
    sessionStorage.removeItem(TOKEN);
    state.me = null;
    message(e.status === 401 ? t("signin_refused") : explain(e));
    return false;
  }
  message("");
  $("whoami").hidden = false;
  $("sign-out").hidden = false;
  $("nav").hidden = false;
  applyLanguage();
  return true;
}

function signOut() {
  sessionStorage.removeItem(TOKEN);
  Object.assign(state, {
    me: null, iin: null, account: null, history: null, historyError: null, verify: null, proof: null,
    access: null, months: null, report: null,
  });
  $("whoami").hidden = true;
  $("sign-out").hidden = true;
  $("nav").hidden = true;
  for (const id of ["account-result", "history-result", "access-result", "monthly-result"]) $(id).replaceChildren();
  $("iin").value = "";
  $("token").value = "";
  route();
}

// ---------- pages ----------

const PAGES = ["account", "history", "access", "monthly"];

function route() {
  const wanted = location.hash.replace(/^#/, "");
  // A reporter starts on the report; anyone may open any page (the server
  // answers what their role may read).
  const home = state.me?.role === "reporter" ? "monthly" : "account";
  const page = !state.me ? "signin" : PAGES.includes(wanted) ? wanted : home;
  for (const p of ["signin", ...PAGES]) $(`page-${p}`).hidden = p !== page;
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (page === "history") loadHistory();
  if (page === "monthly" && !state.months) loadMonths();
  // Focus follows the page: the token field to sign in, else the page's
  // heading (for screen readers), when focus was on the menu or nowhere.
  const h = $(`page-${page}`).querySelector("h1");
  h.tabIndex = -1;
  if (document.activeElement === document.body || document.activeElement?.closest("nav")) {
    (page === "signin" ? $("token") : h).focus();
  }
}

function renderAll() {
  renderAccount();
  renderHistory();
  renderAccess();
  renderMonths();
  renderReport();
}

// ---------- the IIN field ----------

/** Checks the field as typed; true when valid. */
function checkIin(input, status, required) {
  const v = input.value.trim();
  if (!v && !required) {
    status.textContent = "";
    input.removeAttribute("aria-invalid");
    status.className = "status";
    return true;
  }
  const problem = fmt.iinProblem(v, state.me?.id_scheme ?? "kz");
  if (problem) {
    status.textContent = t(problem.key, problem.params);
    status.className = "status bad";
    input.setAttribute("aria-invalid", "true");
    return false;
  }
  status.textContent = t("iin_ok");
  status.className = "status good";
  input.removeAttribute("aria-invalid");
  return true;
}

// ---------- account ----------

async function lookUp() {
  const input = $("iin");
  if (!checkIin(input, $("iin-status"), true)) {
    // Nobody's statement stays under a number that names no one.
    state.account = null;
    $("account-result").replaceChildren();
    input.focus();
    return;
  }
  const iin = input.value.trim();
  const asOf = $("as-of").value || null;
  const knownOn = $("known-on").value || null;
  const out = $("account-result");
  out.replaceChildren(el("p", {}, t("loading")));
  message("");
  try {
    const today = await api("/v1/accounts/statement", { method: "POST", body: { iin } });
    const shown = asOf || knownOn
      ? await api("/v1/accounts/statement", { method: "POST", body: { iin, as_of: asOf, as_known_on: knownOn } })
      : today;
    state.iin = iin;
    state.account = { today, shown, asOf, knownOn, history: null };
    state.history = null;
    state.historyError = null;
    state.verify = null;
    state.proof = null;
  } catch (e) {
    state.account = null;
    out.replaceChildren();
    message(explain(e));
    return;
  }
  // The history gives payers and the benefits' lifecycle; an account
  // whose history cannot be read is still shown (and can be verified).
  try {
    state.history = await api("/v1/accounts/history", { method: "POST", body: { iin } });
    state.account.history = state.history;
  } catch (e) {
    state.historyError = explain(e);
    message(state.historyError);
  }
  renderAccount();
}

/** Decimal strings to tiyn (BigInt) and back, for exact sums. */
function tiyn(v) {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?/.exec(String(v ?? "0"));
  if (!m) return 0n;
  const n = BigInt(m[2]) * 100n + BigInt((m[3] ?? "").padEnd(2, "0") || "0");
  return m[1] ? -n : n;
}

function fromTiyn(n) {
  const sign = n < 0n ? "-" : "";
  const a = n < 0n ? -n : n;
  return `${sign}${a / 100n}.${String(a % 100n).padStart(2, "0")}`;
}

const TOTALS = [
  ["contributions_total", "money"],
  ["penalties_total", "money"],
  ["refunds_total", "money"],
  ["returned_total", "money"],
  ["participation_months", "count"],
  ["late_recordings", "count"],
  ["duplicates_ignored", "count"],
  ["unregistered_lines", "count"],
  ["history_len", "count"],
];

function shownValue(kind, v) {
  return kind === "money" ? fmt.money(v) : fmt.count(v);
}

function renderAccount() {
  const out = $("account-result");
  const a = state.account;
  if (!a || !state.me) return;
  const s = a.shown;
  const bitemporal = a.shown !== a.today;
  const differs = (field) => bitemporal && String(a.today[field]) !== String(s[field]);
  const parts = [];

  // Person.
  const p = s.person;
  parts.push(
    el("section", { "aria-labelledby": "person-h", class: "card" },
      el("h2", { id: "person-h" }, t("person"), " ", el("span", { class: "iin" }, s.iin)),
      p
        ? [
            el("p", { class: "muted" }, t(`person_source_${p.source}`)),
            dl([
              [t("surname"), p.surname || "—"],
              [t("name"), p.name || "—"],
              [t("patronymic"), p.patronymic || "—"],
              [t("birth_date"), fmt.date(p.birth_date)],
              [t("sex"), p.sex === "M" ? t("sex_male") : p.sex === "F" ? t("sex_female") : p.sex || "—"],
              [t("citizenship"), p.citizenship || "—"],
              [t("address"), p.address || "—"],
              ...(p.deceased_on ? [[t("deceased_on"), fmt.date(p.deceased_on)]] : []),
            ]),
          ]
        : el("p", {}, t("no_person")),
    ),
  );

  // Bitemporal differences, in words.
  if (bitemporal) parts.push(bitemporalNotes(a));

  // Totals.
  parts.push(
    el("section", { "aria-labelledby": "totals-h", class: "card" },
      el("h2", { id: "totals-h" }, t("totals")),
      el("dl", { class: "pairs totals" },
        TOTALS.flatMap(([field, kind]) => [
          el("dt", {}, t(field)),
          figure("dd", field, s[field], [shownValue(kind, s[field]), differs(field) ? el("span", { class: "visually-hidden" }, ` ${t("changed")}`) : null], {
            class: differs(field) ? "changed" : null,
          }),
        ]),
      ),
    ),
  );

  // Flags.
  const flags = [];
  if (s.late_recordings > 0) flags.push(t("flag_late", { n: s.late_recordings }));
  if (s.unregistered_lines > 0) flags.push(t("flag_unregistered", { n: s.unregistered_lines }));
  if (tiyn(s.returned_total) !== 0n || s.rejections.length > 0) {
    flags.push(t("flag_returned", { amount: fmt.money(s.returned_total), n: s.rejections.length }));
  }
  for (const b of s.benefits) for (const d of b.discrepancies ?? []) flags.push(t("flag_discrepancy", { id: b.benefit_id, what: d }));
  if (s.merged_into) flags.push(t("flag_merged_into", { into: s.merged_into.other, date: fmt.date(s.merged_into.decided_on) }));
  for (const m of s.merged_from ?? []) flags.push(t("flag_merged_from", { from: m.other, date: fmt.date(m.decided_on) }));
  parts.push(
    el("section", { "aria-labelledby": "flags-h", class: "card" },
      el("h2", { id: "flags-h" }, t("flags")),
      flags.length ? el("ul", { class: "flags" }, flags.map((f) => el("li", {}, f))) : el("p", {}, t("no_flags")),
      s.rejections.length
        ? table(t("rejections"), [t("event_id"), t("reason")],
            s.rejections.map((r) => el("tr", {}, el("td", {}, el("code", {}, r.event_id)), el("td", {}, r.reason))), {}, true)
        : null,
    ),
  );

  // The chart of the last 24 months, and its figures.
  parts.push(accountChart(s));

  // By period.
  const todayPeriods = new Map(a.today.periods.map((x) => [x.period, x]));
  parts.push(
    el("section", { "aria-labelledby": "periods-h", class: "card" },
      el("h2", { id: "periods-h" }, t("periods_title")),
      table(t("periods_title"), [t("period"), numeric(t("contributions")), numeric(t("penalties")), numeric(t("refunds")), numeric(t("returned"))],
        s.periods.map((x) => {
          const now = todayPeriods.get(x.period);
          const cell = (f) => {
            const changed = bitemporal && (!now || now[f] !== x[f]);
            return figure("td", `periods.${x.period}.${f}`, x[f], [fmt.money(x[f]), changed ? el("span", { class: "visually-hidden" }, ` ${t("changed")}`) : null], {
              class: changed ? "num changed" : "num",
            });
          };
          return el("tr", {}, el("th", { scope: "row" }, fmt.period(x.period)), cell("contributions"), cell("penalties"), cell("refunds"), cell("returned"));
        })),
    ),
  );

  // Benefits and their lifecycle.
  const entries = kept(a.history, a.asOf, a.knownOn);
  parts.push(benefitsSection(s, entries));

  // Payers per period, from the contribution lines in the history.
  parts.push(payersSection(entries));

  fill(out, parts);
}

function bitemporalNotes(a) {
  const known = a.knownOn ? fmt.date(a.knownOn) : t("today");
  const asof = a.asOf ? fmt.date(a.asOf) : t("today");
  const notes = [];
  for (const [field, kind] of TOTALS) {
    if (String(a.today[field]) !== String(a.shown[field])) {
      notes.push(t("bitemporal_total", { field: t(field), then: shownValue(kind, a.shown[field]), now: shownValue(kind, a.today[field]) }));
    }
  }
  const then = new Map(a.shown.periods.map((x) => [x.period, x]));
  for (const now of a.today.periods) {
    const old = then.get(now.period);
    for (const f of ["contributions", "penalties", "refunds", "returned"]) {
      if (!old) {
        if (tiyn(now[f]) !== 0n) notes.push(t("bitemporal_period_new", { period: fmt.period(now.period), field: t(f).toLowerCase(), now: fmt.money(now[f]) }));
      } else if (old[f] !== now[f]) {
        notes.push(t("bitemporal_period", { period: fmt.period(now.period), field: t(f).toLowerCase(), then: fmt.money(old[f]), now: fmt.money(now[f]) }));
      }
    }
  }
  return el("section", { "aria-labelledby": "bt-h", class: "card bitemporal" },
    el("h2", { id: "bt-h" }, t("bitemporal")),
    notes.length
      ? [el("p", {}, t("bitemporal_intro", { known, asof })), el("ul", { id: "bitemporal-notes" }, notes.map((n) => el("li", {}, n)))]
      : el("p", { id: "bitemporal-notes" }, t("bitemporal_same", { known, asof })),
  );
}

function accountChart(s) {
  const periods = s.periods.map((x) => x.period).sort();
  const now = new Date();
  let [y, m] = (periods.at(-1) ?? `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`)
    .split("-").map(Number);
  const months = [];
  for (let i = 0; i < 24; i++) {
    months.unshift(`${y}-${String(m).padStart(2, "0")}`);
    m -= 1;
    if (m === 0) { m = 12; y -= 1; }
  }
  const by = new Map(s.periods.map((x) => [x.period, x]));
  const fields = ["contributions", "penalties", "refunds", "returned"];
  const series = fields.map((f) => ({ name: t(f), className: `s-${f}` }));
  const groups = months.map((p) => ({
    label: fmt.period(p),
    values: fields.map((f) => (by.has(p) ? Number(tiyn(by.get(p)[f])) / 100 : null)),
  }));
  const title = t("chart_title", { period: fmt.period(months.at(-1)) });
  const chart = barChart({
    groups, series,
    format: (v) => fmt.money(fromTiyn(BigInt(Math.round(v * 100)))),
    title, desc: t("chart_desc"),
  });
  return el("section", { "aria-labelledby": "chart-h", class: "card" },
    el("h2", { id: "chart-h" }, title),
    legend(series),
    chart,
    el("details", {},
      el("summary", {}, t("chart_table")),
      table(title, [t("period"), ...fields.map((f) => numeric(t(f)))],
        months.filter((p) => by.has(p)).map((p) =>
          el("tr", {}, el("th", { scope: "row" }, fmt.period(p)), fields.map((f) => el("td", { class: "num" }, fmt.money(by.get(p)[f])))))),
    ),
  );
}

/** The history entries a view as of / as known on its dates keeps: those
 * recorded by the end of `knownOn` and effective by `asOf` (the server's
 * `recorded_on` and `effective_on`, as `ledger_core::as_known` counts). */
function kept(history, asOf, knownOn) {
  return (history?.entries ?? []).filter(
    (e) => (!knownOn || e.recorded_on <= knownOn) && (!asOf || !e.effective_on || e.effective_on <= asOf),
  );
}

function benefitsSection(s, entries) {
  const events = entries.filter((e) => e.benefit_id);
  const body = s.benefits.length
    ? [
        table(t("benefits"),
          [t("benefit_id"), t("benefit_type"), t("status"), numeric(t("monthly_amount")), t("start_period"), t("end_period"), numeric(t("paid_total")), numeric(t("pension_withheld_total")), numeric(t("returned")), numeric(t("payments"))],
          s.benefits.map((b) => {
            const f = (field, shown) => figure("td", `benefits.${b.benefit_id}.${field}`, b[field], shown, { class: "num" });
            return el("tr", {},
              el("th", { scope: "row" }, el("code", {}, b.benefit_id)),
              el("td", {}, b.benefit_type),
              el("td", { "data-field": `benefits.${b.benefit_id}.status`, "data-value": b.status }, b.status),
              f("monthly_amount", fmt.money(b.monthly_amount)),
              el("td", {}, fmt.period(b.start_period)),
              el("td", {}, b.end_period ? fmt.period(b.end_period) : "—"),
              f("paid_total", fmt.money(b.paid_total)),
              f("pension_withheld_total", fmt.money(b.pension_withheld_total)),
              f("returned_total", fmt.money(b.returned_total)),
              f("payments", fmt.count(b.payments)));
          })),
        el("h3", {}, t("lifecycle")),
        el("ol", { class: "lifecycle" },
          events.map((e) => el("li", {},
            el("code", {}, e.benefit_id), " — ", t(`kind_${e.kind}`), " ",
            Object.values(e.dates).map((d) => (d.length === 7 ? fmt.period(d) : fmt.date(d))).join(", "),
            " — ", t(`outcome_${e.outcome}`), e.reason ? `: ${e.reason}` : ""))),
      ]
    : el("p", {}, t("no_benefits"));
  return el("section", { "aria-labelledby": "benefits-h", class: "card" }, el("h2", { id: "benefits-h" }, t("benefits")), body);
}

function payersSection(entries) {
  const rows = new Map();
  for (const e of entries) {
    // Credited lines: a returned one is the payer's again.
    const line = e.kind === "contribution" || e.carries === "contribution";
    if (!line || !e.payer || e.outcome !== "applied") continue;
    const key = `${e.dates.period}\u0000${e.payer}`;
    const r = rows.get(key) ?? { period: e.dates.period, payer: e.payer, lines: 0, amount: 0n };
    r.lines += 1;
    r.amount += tiyn(e.amount);
    rows.set(key, r);
  }
  const sorted = [...rows.values()].sort((x, y) => (x.period + x.payer).localeCompare(y.period + y.payer));
  return el("section", { "aria-labelledby": "payers-h", class: "card" },
    el("h2", { id: "payers-h" }, t("payers")),
    sorted.length
      ? table(t("payers"), [t("period"), t("payer"), numeric(t("lines")), numeric(t("amount"))],
          sorted.map((r) => el("tr", {}, el("th", { scope: "row" }, fmt.period(r.period)), el("td", {}, el("code", {}, r.payer)),
            el("td", { class: "num" }, fmt.count(r.lines)), el("td", { class: "num" }, fmt.money(fromTiyn(r.amount))))))
      : el("p", {}, t("no_payers")),
  );
}

// ---------- history ----------

async function loadHistory() {
  if (state.iin && !state.history && !state.historyError) {
    try {
      state.history = await api("/v1/accounts/history", { method: "POST", body: { iin: state.iin } });
    } catch (e) {
      state.historyError = explain(e);
    }
  }
  renderHistory();
}

async function verify() {
  const out = $("verify-result");
  out.textContent = t("loading");
  try {
    state.verify = await api("/v1/accounts/verify", { method: "POST", body: { iin: state.iin } });
  } catch (e) {
    state.verify = null;
    out.textContent = "";
    message(explain(e));
    return;
  }
  renderVerify();
}

function renderVerify() {
  const out = $("verify-result");
  const v = state.verify;
  if (!out || !v) return;
  const b = v.first_break;
  out.dataset.intact = String(v.intact);
  out.className = v.intact ? "verdict good" : "verdict bad";
  if (v.intact) out.textContent = t("verify_intact", { n: fmt.count(v.entries), head: `${v.head.slice(0, 16)}…` });
  else if (b.seq === null) out.textContent = t("verify_broken_head", { what: b.what });
  else {
    out.dataset.offset = String(b.offset);
    document.querySelector(`#history-result li[data-offset="${b.offset}"]`)?.classList.add("broken");
    out.textContent = t("verify_broken", {
      seq: b.seq, p: b.partition, o: b.offset, id: b.event_id ? `, ${b.event_id}` : "", what: b.what,
    });
  }
}

// Proofs checked here, in the browser (docs/tamper-evidence.md §4a): the
// server sends the proof directory and the verifier keys; WebCrypto checks
// the signature and every inclusion. A key the auditor pastes replaces the
// server's, so that nothing rests on the server's word.
async function prove() {
  const out = $("prove-result");
  out.textContent = t("loading");
  try {
    const dir = await api("/v1/accounts/proof", { method: "POST", body: { iin: state.iin } });
    const own = $("vkey").value.trim();
    const vkeys = own ? [own] : (await api("/v1/checkpoints/vkeys")).vkeys;
    let result = null;
    let error = null;
    try {
      result = await tlog.verifyDirectory(dir.files, vkeys);
    } catch (e) {
      error = e.message;
    }
    state.proof = { dir, vkeys, own: Boolean(own), result, error };
  } catch (e) {
    state.proof = null;
    out.textContent = "";
    message(explain(e));
    return;
  }
  renderProof();
}

function renderProof() {
  const out = $("prove-result");
  const p = state.proof;
  if (!out || !p) return;
  out.dataset.proven = String(Boolean(p.result));
  out.className = p.result ? "verdict good" : "verdict bad";
  const key = p.vkeys.find((k) => p.result && k.startsWith(`${p.result.origin}+`)) ?? p.vkeys[0] ?? "";
  if (p.result) {
    out.replaceChildren(
      t("prove_ok", { n: fmt.count(p.result.proven.length), p: p.dir.partition, size: fmt.count(Number(p.result.size)) }),
      " ",
      ...(p.own ? [t("prove_own_key")] : [t("prove_server_key"), " ", el("code", { class: "hash" }, key)]),
      " ",
      el("button", { type: "button", id: "prove-download" }, t("prove_download")));
    for (const e of p.result.proven) {
      const li = document.querySelector(`#history-result li[data-offset="${e.offset}"]`);
      if (li) {
        li.dataset.proven = String(e.index);
        li.querySelector(".entry-h")?.append(el("span", { class: "badge proven" }, t("proven", { i: String(e.index) })));
      }
    }
    $("prove-download").addEventListener("click", downloadProof);
  } else {
    out.textContent = t("prove_failed", { what: p.error });
  }
}

function downloadProof() {
  const p = state.proof;
  if (!p) return;
  const name = `proof-p${p.dir.partition}-${p.dir.size}`;
  const url = URL.createObjectURL(tlog.tar(name, p.dir.files));
  const a = el("a", { href: url, download: `${name}.tar`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function short(hex) {
  return el("code", { title: hex, class: "hash" }, `${hex.slice(0, 12)}…`);
}

function renderHistory() {
  const out = $("history-result");
  if (!state.me) return;
  if (!state.iin) {
    out.replaceChildren(el("p", {}, el("a", { href: "#account" }, t("history_pick"))));
    return;
  }
  const h = state.history;
  const zone = state.me.time_zone;
  fill(out,
    h
      ? el("p", {}, t("history_of", { iin: h.iin, p: h.partition, n: fmt.count(h.entries.length) }))
      : el("p", { class: "verdict bad" }, state.historyError ?? t("loading")),
    el("div", { class: "verify" },
      el("button", { type: "button", id: "verify", "aria-describedby": "verify-help" }, t("verify")),
      el("small", { id: "verify-help" }, t("verify_help")),
      el("p", { id: "verify-result", "aria-live": "polite" })),
    el("div", { class: "verify" },
      el("button", { type: "button", id: "prove", "aria-describedby": "prove-help" }, t("prove")),
      el("label", { for: "vkey" }, t("vkey")),
      el("input", { id: "vkey", type: "text", autocomplete: "off", spellcheck: "false", placeholder: "origin/p0+0123abcd+AT…" }),
      el("small", { id: "prove-help" }, t("prove_help")),
      el("p", { id: "prove-result", "aria-live": "polite" })),
    h ? timeline(h, zone) : null,
  );
  $("verify").addEventListener("click", verify);
  $("prove").addEventListener("click", prove);
  renderVerify();
  renderProof();
}

function timeline(h, zone) {
  return el("ol", { class: "timeline" },
    h.entries.map((e) => {
      const dates = Object.entries(e.dates).map(([k, d]) => `${t(`date_${k}`)}: ${d.length === 7 ? fmt.period(d) : fmt.date(d)}`).join("; ");
      const sig = e.signature
        ? [e.signature.authority ? `${e.signature.authority} ` : "", "(", t("key"), " ", el("code", {}, e.signature.key_id), ")"]
        : t("unsigned");
      return el("li", { class: `entry outcome-${e.outcome}`, "data-kind": e.kind, "data-outcome": e.outcome, "data-offset": e.offset },
        el("h2", { class: "entry-h" },
          el("span", { class: "kind" }, t(`kind_${e.kind}`)),
          e.carries ? el("span", { class: "carries" }, `(${t(`kind_${e.carries}`)})`) : null,
          el("span", { class: `badge ${e.outcome}` }, t(`outcome_${e.outcome}`)),
          e.late ? el("span", { class: "badge late" }, t("late")) : null),
        e.reason ? el("p", { class: "reason" }, `${t("reason")}: ${e.reason}`) : null,
        e.merge_reason ? el("p", { class: "merge-reason" }, `${t("merge_reason")}: ${e.merge_reason}`) : null,
        dl([
          [t("event_id"), el("dd", {}, el("code", {}, e.event_id))],
          [t("dates"), dates || "—"],
          [t("recorded_at"), fmt.instant(e.recorded_at, zone)],
          ...(e.deadline ? [[t("deadline"), `${fmt.instant(e.deadline, zone)} — ${e.late ? t("late") : t("on_time")}`]] : []),
          ...(e.payer ? [[t("payer"), el("dd", {}, el("code", {}, e.payer))]] : []),
          ...(e.amount ? [[t("amount"), fmt.money(e.amount)]] : []),
          [t("position"), `${e.partition} / ${e.offset}`],
          [t("content_hash"), el("dd", {}, short(e.content_hash))],
          [t("link"), el("dd", {}, short(e.link))],
          [t("signature"), el("dd", { "data-authority": e.signature?.authority ?? "" }, sig)],
        ]));
    }));
}

// ---------- access log ----------

function nextDay(d) {
  const [y, m, day] = d.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, day + 1)).toISOString().slice(0, 10);
}

async function searchAccess(more) {
  const input = $("access-iin");
  if (!checkIin(input, $("access-iin-status"), false)) {
    input.focus();
    return;
  }
  const filter = more
    ? state.access.filter
    : {
        who: $("access-who").value.trim() || null,
        iin: input.value.trim() || null,
        from: $("access-from").value || null,
        // "To" is inclusive: records before the next day's start.
        to: $("access-to").value ? nextDay($("access-to").value) : null,
      };
  try {
    const page = await api("/v1/access-log/search", {
      method: "POST",
      body: { ...filter, limit: 100, cursor: more ? state.access.next : null },
    });
    state.access = {
      filter,
      records: more ? [...state.access.records, ...page.records] : page.records,
      // Lines of the log that hold no record: named, never dropped unseen.
      unreadable: more ? [...state.access.unreadable, ...page.unreadable] : page.unreadable,
      next: page.next_cursor,
    };
    message("");
  } catch (e) {
    message(explain(e));
    return;
  }
  renderAccess();
}

function renderAccess() {
  const out = $("access-result");
  const a = state.access;
  if (!a || !state.me) return;
  fill(out,
    a.unreadable.length
      ? el("p", { class: "verdict bad", id: "access-unreadable" },
          t("access_unreadable", { n: a.unreadable.length, offsets: a.unreadable.map((u) => u.offset).join(", ") }))
      : null,
    a.records.length
      ? table(t("access_title"), [t("at"), t("who"), t("role"), t("iin"), t("endpoint"), t("asked_dates"), t("client"), numeric(t("outcome"))],
          a.records.map((r) => el("tr", {},
            el("td", {}, fmt.instant(r.at, state.me.time_zone)),
            el("td", {}, r.who),
            el("td", {}, roleName(r.role) || r.role),
            el("td", {}, el("code", {}, fmt.masked(r.iin))),
            el("td", {}, el("code", {}, r.endpoint)),
            el("td", {}, r.as_of || r.as_known_on ? `${fmt.date(r.as_of)} / ${fmt.date(r.as_known_on)}` : "—"),
            el("td", {}, el("code", {}, r.client ?? "—")),
            el("td", { class: "num" }, r.outcome ?? "—"))),
          { id: "access-table" })
      : el("p", {}, t("no_records")),
    a.next ? el("button", { type: "button", id: "access-more" }, t("more")) : null,
  );
  $("access-more")?.addEventListener("click", () => searchAccess(true));
}

// ---------- monthly report ----------

async function loadMonths() {
  try {
    state.months = (await api("/v1/reports/monthly")).months;
    message("");
  } catch (e) {
    state.months = null;
    message(explain(e));
  }
  renderMonths();
}

function renderMonths() {
  const select = $("month");
  if (!state.months) return;
  const chosen = select.value;
  select.replaceChildren(
    ...[...state.months].reverse().map((m) => el("option", { value: m.period }, `${fmt.period(m.period)} (${m.period})`)),
  );
  if (chosen) select.value = chosen;
  const none = !state.months.length;
  $("monthly-form").querySelector("button[type=submit]").disabled = none;
  if (none) $("monthly-result").replaceChildren(el("p", {}, t("no_months")));
}

async function showReport() {
  const period = $("month").value;
  if (!period) return;
  try {
    state.report = await api(`/v1/reports/monthly/${encodeURIComponent(period)}`);
    message("");
  } catch (e) {
    state.report = null;
    message(explain(e));
  }
  renderReport();
}

function renderReport() {
  const out = $("monthly-result");
  const data = state.report;
  $("csv").disabled = !data;
  if (!data || !state.me) return;
  const r = data.report;
  const money = (f) => [t(f), figure("dd", f, r[f], fmt.money(r[f]))];
  const whole = (f) => [t(f), figure("dd", f, r[f], fmt.count(r[f]))];
  const reconciled = r.reconciliation?.projections_sum_equals_partition_summaries;
  const series = [{ name: t("contributions"), className: "s-contributions" }];
  const chart = barChart({
    groups: data.months.map((m) => ({
      label: fmt.period(m.period),
      values: [m.closed ? Number(tiyn(m.contributions_total)) / 100 : null],
      note: m.closed ? null : t("open_month"),
    })),
    series,
    format: (v) => fmt.money(fromTiyn(BigInt(Math.round(v * 100)))),
    title: t("twelve_months", { period: fmt.period(r.period) }),
    desc: t("twelve_desc"),
  });
  fill(out,
    el("section", { "aria-labelledby": "report-h", class: "card" },
      el("h2", { id: "report-h" }, `${t("monthly_title")}: ${fmt.period(r.period)}`),
      el("p", { class: reconciled ? "verdict good" : "verdict bad" }, t(reconciled ? "reconciled" : "not_reconciled")),
      dl([
        [t("period"), figure("dd", "period", r.period, fmt.period(r.period))],
        whole("revision"), whole("partitions"), whole("projections"), [t("participants"), figure("dd", "participants", r.participants, fmt.count(r.participants))],
        money("contributions_total"), money("penalties_total"), money("refunds_total"), money("returned_total"),
        whole("lines"), whole("late_recordings"),
        [t("on_time_share"), figure("dd", "on_time_share", r.on_time_share, fmt.share(r.on_time_share))],
        whole("benefit_recipients"), money("pension_withheld_total"), whole("unreconciled_payments"),
      ])),
    el("section", { "aria-labelledby": "ppc-h", class: "card" },
      el("h2", { id: "ppc-h" }, t("by_ppc")),
      table(t("by_ppc"), [t("ppc"), numeric(t("credited")), numeric(t("refunded"))],
        Object.entries(r.by_ppc).map(([ppc, v]) => el("tr", {}, el("th", { scope: "row" }, ppc),
          figure("td", `by_ppc.${ppc}.credited`, v.credited, fmt.money(v.credited), { class: "num" }),
          figure("td", `by_ppc.${ppc}.refunded`, v.refunded, fmt.money(v.refunded), { class: "num" }))))),
    el("section", { "aria-labelledby": "bt-type-h", class: "card" },
      el("h2", { id: "bt-type-h" }, t("by_benefit")),
      Object.keys(r.benefits_by_type).length
        ? table(t("by_benefit"), [t("benefit_type"), numeric(t("paid_total"))],
            Object.entries(r.benefits_by_type).map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k),
              figure("td", `benefits_by_type.${k}`, v, fmt.money(v), { class: "num" }))))
        : el("p", {}, t("no_benefits"))),
    el("section", { "aria-labelledby": "twelve-h", class: "card" },
      el("h2", { id: "twelve-h" }, t("twelve_months", { period: fmt.period(r.period) })),
      legend(series), chart,
      el("details", {}, el("summary", {}, t("chart_table")),
        table(t("twelve_months", { period: fmt.period(r.period) }), [t("period"), numeric(t("contributions"))],
          data.months.map((m) => el("tr", {}, el("th", { scope: "row" }, fmt.period(m.period)),
            el("td", { class: "num" }, m.closed ? fmt.money(m.contributions_total) : t("open_month"))))))),
    el("section", { "aria-labelledby": "rev-h", class: "card" },
      el("h2", { id: "rev-h" }, t("revisions")),
      table(t("revisions"), [t("partition"), numeric(t("revision"))],
        data.revisions.map((v) => el("tr", {}, el("th", { scope: "row" }, String(v.partition)), el("td", { class: "num" }, fmt.count(v.revision)))))),
  );
}

async function downloadCsv() {
  const period = state.report?.report.period;
  if (!period) return;
  try {
    const text = await api(`/v1/reports/monthly/${encodeURIComponent(period)}/csv`, { raw: true });
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    const a = el("a", { href: url, download: `report-${period}.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    message(explain(e));
  }
}

// ---------- start ----------

function start() {
  setLanguage(localStorage.getItem(LANG) ?? (navigator.language?.startsWith("ru") ? "ru" : "en"));
  applyLanguage();
  $("language").addEventListener("change", (e) => {
    setLanguage(e.target.value);
    localStorage.setItem(LANG, e.target.value);
    applyLanguage();
  });
  $("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (await signIn($("token").value.trim())) {
      $("token").value = "";
      route();
    }
  });
  $("sign-out").addEventListener("click", signOut);
  $("iin").addEventListener("input", () => checkIin($("iin"), $("iin-status"), false));
  $("access-iin").addEventListener("input", () => checkIin($("access-iin"), $("access-iin-status"), false));
  $("lookup").addEventListener("submit", (e) => {
    e.preventDefault();
    lookUp();
  });
  $("access-form").addEventListener("submit", (e) => {
    e.preventDefault();
    searchAccess(false);
  });
  $("monthly-form").addEventListener("submit", (e) => {
    e.preventDefault();
    showReport();
  });
  $("csv").addEventListener("click", downloadCsv);
  window.addEventListener("hashchange", route);
  const token = sessionStorage.getItem(TOKEN);
  if (token) signIn(token).then(route);
  else route();
}

start();
