// The auditors' console in a real headless Chromium (Debian's), driven by
// playwright-core. tests/tests/console.rs prepares a demo store, two
// servers (one over a tampered copy) and what every page must show, taken
// from the command line (`account --json`, `report monthly --json`), then
// runs this script. It exits non-zero naming the first check that failed.
//
// Environment: SI_CONSOLE_NODE_MODULES (where playwright-core is),
// SI_CONSOLE_EXPECT (the expectations, JSON), SI_CONSOLE_SHOTS
// (where screenshots go), SI_CHROMIUM (the browser), SI_CONSOLE_TOKENS (a
// file with the tokens, JSON: never in argv).

import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

// playwright-core is installed outside the tree (scripts/test puts it in
// target/console-node): loaded from SI_CONSOLE_NODE_MODULES.
const require = createRequire(join(process.env.SI_CONSOLE_NODE_MODULES, "x.js"));
const { chromium } = require("playwright-core");

const expect = JSON.parse(readFileSync(process.env.SI_CONSOLE_EXPECT, "utf8"));
const tokens = JSON.parse(readFileSync(process.env.SI_CONSOLE_TOKENS, "utf8"));
const shots = process.env.SI_CONSOLE_SHOTS;
mkdirSync(shots, { recursive: true });

let step = "start";
function check(ok, what) {
  if (!ok) throw new Error(`${step}: ${what}`);
}

// Every request and navigation of every page, to check at the end.
const requests = [];
const navigations = [];
const consoleErrors = [];
const iins = new Set(expect.iins);

const browser = await chromium.launch({
  executablePath: process.env.SI_CHROMIUM,
  headless: true,
  // Root in CI: Chromium's sandbox needs a user namespace it may not have.
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update"],
});

async function newPage(locale = "en-GB", bypassCSP = false) {
  const context = await browser.newContext({
    locale,
    viewport: { width: 1280, height: 1400 },
    acceptDownloads: true,
    // Only for the accessibility pass, whose checker is injected.
    bypassCSP,
  });
  // Anything not on 127.0.0.1 is refused, and remembered as a failure.
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === "blob:" || url.protocol === "data:" || url.hostname === "127.0.0.1") {
      return route.continue();
    }
    requests.push(route.request().url());
    return route.abort();
  });
  const page = await context.newPage();
  page.on("request", (r) => requests.push(r.url()));
  page.on("framenavigated", (f) => navigations.push(f.url()));
  page.on("console", (m) => {
    // The wrong token, the reporter's refusal and a proof from the
    // tampered store are answered 401, 403 and 409 on purpose, which
    // Chromium logs; anything else (a CSP violation, a script error) is a
    // failure.
    const expected = /^Failed to load resource: the server responded with a status of 40[139]/;
    if (m.type() === "error" && !expected.test(m.text())) {
      consoleErrors.push(`${m.text()} (${m.location().url})`);
    }
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  return page;
}

async function shot(page, name, fullPage = false) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage });
}

/** A figure's shown text back to the API's form: "1,234.50 ₸" → "1234.50". */
function plain(text, locale) {
  let s = text.replace(/\(.*\)/, "").replace(/₸/g, "").replace(/[\s\u00a0\u202f]/g, "");
  if (locale === "ru") s = s.replace(/,/g, ".");
  else s = s.replace(/,/g, "");
  return s;
}

/** The value at `path` ("periods.2026-03.contributions") in a statement. */
function valueAt(obj, path) {
  const [head, key, field] = path.split(".");
  if (head === "periods") return obj.periods.find((p) => p.period === key)?.[field];
  if (head === "benefits") return obj.benefits.find((b) => b.benefit_id === key)?.[field];
  if (head === "by_ppc") return obj.by_ppc[key]?.[field];
  if (head === "benefits_by_type") return obj.benefits_by_type[key];
  return obj[head];
}

/** Every figure in `scope` equals the expected object's, as shown and as kept. */
async function figuresEqual(page, scope, want, locale = "en") {
  const figures = await page.$$eval(`${scope} [data-field]`, (es) =>
    es.map((e) => ({ field: e.dataset.field, value: e.dataset.value, text: e.textContent })));
  for (const f of figures) {
    const w = valueAt(want, f.field);
    check(w !== undefined, `the page shows ${f.field}, which the CLI's JSON does not have`);
    check(String(w) === f.value, `${f.field}: the page keeps ${f.value}, the CLI says ${w}`);
    const shown = plain(f.text, locale);
    const numeric = /^-?\d+(\.\d+)?$/.test(String(w));
    if (numeric && f.field !== "on_time_share") {
      check(Number(shown) === Number(w) && shown.replace(/^-/, "").split(".")[1]?.length === (String(w).split(".")[1]?.length),
        `${f.field}: the page shows "${f.text}", the CLI says ${w}`);
    }
  }
  return figures.length;
}

/** axe-core's WCAG 2.1 A and AA rules on the page as it stands: the
 * violations, each with the elements it names. */
async function accessibility(page, where) {
  await page.addScriptTag({ path: join(process.env.SI_CONSOLE_NODE_MODULES, "axe-core", "axe.min.js") });
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
  });
  check(violations.length === 0, `${where}: ${violations.length} accessibility violations: ${violations.join("; ")}`);
}

async function signIn(page, base, token) {
  await page.goto(`${base}/console/`);
  await page.waitForSelector("#page-signin:not([hidden])");
  await page.fill("#token", token);
  await page.press("#token", "Enter");
  await page.waitForSelector("#whoami:not([hidden])");
}

async function lookUp(page, iin, asOf = "", knownOn = "") {
  await page.goto(`${page.url().split("#")[0]}#account`);
  await page.fill("#iin", iin);
  await page.fill("#as-of", asOf);
  await page.fill("#known-on", knownOn);
  await page.click("#lookup button[type=submit]");
}

try {
  // ---- sign-in, by keyboard; a wrong token is refused with a message.
  step = "sign-in";
  let page = await newPage();
  await page.goto(`${expect.base}/console/`);
  await page.waitForSelector("#page-signin:not([hidden])");
  await shot(page, "sign-in");
  await page.fill("#token", "x".repeat(40));
  await page.press("#token", "Enter");
  await page.waitForSelector("#message:not([hidden])");
  check((await page.textContent("#message")).includes("does not accept this token"), "a wrong token is refused, saying so");
  // Keyboard only: Tab until the token field has focus, type, Enter.
  await page.fill("#token", "");
  await page.focus("body");
  for (let i = 0; i < 12 && !(await page.evaluate(() => document.activeElement?.id === "token")); i++) {
    await page.keyboard.press("Tab");
  }
  check(await page.evaluate(() => document.activeElement?.id === "token"), "Tab reaches the token field");
  await page.keyboard.type(tokens.auditor);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#whoami:not([hidden])");
  check((await page.textContent("#whoami")).includes("auditor"), "the role is shown");
  check(await page.evaluate(() => sessionStorage.getItem("si-ledger.token") !== null), "the token is in session storage");
  check((await page.context().cookies()).length === 0, "no cookie is set");

  // ---- the IIN is checked as typed.
  step = "IIN check digit";
  const good = expect.merged.iin;
  const bad = good.slice(0, 11) + String((Number(good[11]) + 1) % 10);
  await page.fill("#iin", bad);
  const status = await page.textContent("#iin-status");
  check(/check digit/.test(status), `a wrong check digit is named as typed: "${status}"`);
  check((await page.getAttribute("#iin", "aria-invalid")) === "true", "the field is marked invalid");

  // ---- the statement: every figure equals `account --json`.
  step = "account";
  await lookUp(page, good);
  await page.waitForSelector("#account-result [data-field=contributions_total]");
  let n = await figuresEqual(page, "#account-result", expect.merged.statement);
  check(n >= 9 + 4 * expect.merged.statement.periods.length, `every figure is checked (${n})`);
  check(await page.isVisible("#account-result svg.chart"), "the 24-month chart is drawn");
  const flags = await page.textContent("#account-result .flags");
  check(flags.includes("Holds the history of"), `the merge is flagged: ${flags}`);
  await shot(page, "account", true);

  // ---- as known on: before and after the refund was recorded.
  step = "as known on, before the refund";
  await lookUp(page, expect.refund.iin, "", expect.refund.before.date);
  await page.waitForSelector("#bitemporal-notes");
  n = await figuresEqual(page, "#account-result", expect.refund.before.statement);
  check(n > 9, "figures checked");
  const notes = await page.textContent("#bitemporal-notes");
  check(notes.includes("Refunds"), `what changed since is said: ${notes}`);
  check(await page.isVisible("#account-result .changed"), "differences from today are highlighted");
  await shot(page, "as-known-on");
  step = "as known on, after the refund";
  await lookUp(page, expect.refund.iin, "", expect.refund.after.date);
  await page.waitForFunction(
    (want) => document.querySelector("#account-result [data-field=refunds_total]")?.dataset.value === want,
    expect.refund.after.statement.refunds_total,
  );
  await figuresEqual(page, "#account-result", expect.refund.after.statement);

  // ---- history: the merge and the returned line, with their reasons; Verify.
  step = "history";
  await lookUp(page, good);
  await page.waitForSelector("#account-result [data-field=contributions_total]");
  await page.click("#nav a[data-page=history]");
  await page.waitForSelector("#history-result .timeline");
  const returned = await page.textContent("#history-result li[data-outcome=returned] .reason");
  check(returned.includes(expect.merged.returned_reason), `the returned line's reason: ${returned}`);
  const transfers = await page.$$("#history-result li[data-kind=merge_transfer]");
  check(transfers.length > 0, "the merge's transfers are in the timeline");
  check((await page.textContent("#history-result")).includes(expect.merged.merge_reason), "the merge's reason is shown");
  const authorities = await page.$$eval("#history-result [data-authority]", (es) => es.map((e) => e.dataset.authority).filter(Boolean));
  check(authorities.length > 0, "a signature is shown with the authority the trust file names for its key");
  await page.click("#verify");
  await page.waitForSelector("#verify-result[data-intact]");
  check((await page.getAttribute("#verify-result", "data-intact")) === "true", "an untouched account verifies intact");

  // ---- Prove: every entry checked in this browser against the signed
  // checkpoint (WebCrypto's Ed25519 and SHA-256); the proofs download.
  step = "prove in the browser";
  await page.click("#prove");
  await page.waitForSelector("#prove-result[data-proven]");
  check((await page.getAttribute("#prove-result", "data-proven")) === "true",
    `the account is proven in the browser: ${await page.textContent("#prove-result")}`);
  const entries = await page.$$("#history-result li.entry");
  const provenEntries = await page.$$("#history-result li[data-proven]");
  check(entries.length > 0 && provenEntries.length === entries.length,
    `every entry is proven (${provenEntries.length} of ${entries.length})`);
  const [proofs] = await Promise.all([page.waitForEvent("download"), page.click("#prove-download")]);
  check(proofs.suggestedFilename().endsWith(".tar"), `the proofs download as a tar: ${proofs.suggestedFilename()}`);
  await proofs.saveAs(join(shots, "proofs.tar"));
  await shot(page, "history");
  // A key that is not the log's proves nothing.
  await page.fill("#vkey", `${expect.origin}/p0+00000000+AQ${"A".repeat(42)}=`);
  await page.click("#prove");
  await page.waitForFunction(() => document.querySelector("#prove-result")?.dataset.proven === "false");
  await page.fill("#vkey", "");

  // ---- access log, filtered; IINs masked.
  step = "access log";
  await page.click("#nav a[data-page=access]");
  await page.fill("#access-who", tokens.auditor_name);
  await page.click("#access-form button[type=submit]");
  await page.waitForSelector("#access-table tbody tr");
  const cells = await page.$$eval("#access-table tbody td:nth-child(4)", (es) => es.map((e) => e.textContent));
  check(cells.length > 0 && cells.every((c) => !/\d{12}/.test(c)), `IINs are masked: ${cells.slice(0, 3)}`);
  await page.fill("#access-iin", bad);
  check(/check digit/.test(await page.textContent("#access-iin-status")), "the filter's IIN is checked too");
  await page.fill("#access-iin", "");
  const stray = await page.evaluate(() =>
    [...document.querySelectorAll("main *")].some((e) => [...e.childNodes].some((n) => n.nodeType === 3 && /\b(null|undefined|NaN)\b/.test(n.textContent))));
  check(!stray, "no null, undefined or NaN is shown");
  await shot(page, "access-log");

  // ---- 200 % zoom: half the width, nothing cut off sideways.
  step = "200 % zoom";
  await page.setViewportSize({ width: 640, height: 900 });
  await page.click("#nav a[data-page=account]");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `the page scrolls sideways by ${overflow}px at 200 %`);
  await page.setViewportSize({ width: 1280, height: 1400 });

  // ---- sign-out forgets the token.
  step = "sign-out";
  await page.click("#sign-out");
  await page.waitForSelector("#page-signin:not([hidden])");
  check(await page.evaluate(() => sessionStorage.getItem("si-ledger.token") === null), "the token is gone");
  await page.context().close();

  // ---- a tampered store: Verify names the entry.
  step = "verify a tampered store";
  page = await newPage();
  await signIn(page, expect.tampered.base, tokens.auditor);
  await lookUp(page, expect.tampered.iin);
  await page.waitForSelector("#account-result [data-field=contributions_total]");
  await page.click("#nav a[data-page=history]");
  await page.waitForSelector("#verify");
  await page.click("#verify");
  await page.waitForSelector("#verify-result[data-intact]");
  check((await page.getAttribute("#verify-result", "data-intact")) === "false", "the tampered account does not verify");
  check((await page.getAttribute("#verify-result", "data-offset")) === String(expect.tampered.offset),
    `the first broken entry is the flipped one (offset ${expect.tampered.offset}): ${await page.textContent("#verify-result")}`);
  // The server refuses to prove from a store changed after signing.
  await page.click("#prove");
  await page.waitForSelector("#message:not([hidden])");
  check(/changed after/.test(await page.textContent("#message")), `Prove is refused: ${await page.textContent("#message")}`);
  check((await page.getAttribute("#prove-result", "data-proven")) !== "true", "nothing is shown as proven");
  await shot(page, "verify-broken");
  await page.context().close();

  // ---- the reporter: no account (403 as a message); the monthly report.
  step = "reporter on the account page";
  page = await newPage();
  await signIn(page, expect.base, tokens.reporter);
  await lookUp(page, good);
  await page.waitForSelector("#message:not([hidden])");
  const refusal = await page.textContent("#message");
  check(refusal.includes("may not read") && refusal.includes("reporter"), `the 403 is a message: ${refusal}`);
  check((await page.$$("#account-result [data-field]")).length === 0, "no figure is shown");
  await shot(page, "forbidden");

  step = "monthly report";
  await page.click("#nav a[data-page=monthly]");
  await page.waitForSelector(`#month option[value="${expect.monthly.period}"]`, { state: "attached" });
  await page.selectOption("#month", expect.monthly.period);
  await page.click("#monthly-form button[type=submit]");
  await page.waitForSelector("#monthly-result [data-field=contributions_total]");
  n = await figuresEqual(page, "#monthly-result", expect.monthly.report);
  check(n >= 15, `the report's figures are checked (${n})`);
  check(await page.isVisible("#monthly-result svg.chart"), "the 12-month chart is drawn");
  const download = page.waitForEvent("download");
  await page.click("#csv");
  const csv = readFileSync(await (await download).path(), "utf8");
  check(csv === expect.monthly.csv, "the CSV download equals `report monthly --csv`");
  await shot(page, "monthly");

  step = "Russian";
  await page.selectOption("#language", "ru");
  await page.waitForFunction(() => document.documentElement.lang === "ru");
  check((await page.textContent("#monthly-h")) === "Ежемесячный отчёт", "the page speaks Russian");
  await figuresEqual(page, "#monthly-result", expect.monthly.report, "ru");
  await shot(page, "monthly-ru");
  await page.context().close();

  // ---- accessibility: axe-core (WCAG 2.1 A and AA) on every page, in
  // both languages, in a context that lets its checker be injected.
  step = "accessibility";
  for (const lang of ["en", "ru"]) {
    page = await newPage(lang === "ru" ? "ru-RU" : "en-GB", true);
    await page.goto(`${expect.base}/console/`);
    await page.waitForSelector("#page-signin:not([hidden])");
    await page.selectOption("#language", lang);
    await accessibility(page, `sign-in (${lang})`);
    await page.fill("#token", tokens.auditor);
    await page.press("#token", "Enter");
    await page.waitForSelector("#whoami:not([hidden])");
    await lookUp(page, expect.refund.iin, "", expect.refund.before.date);
    await page.waitForSelector("#bitemporal-notes");
    await accessibility(page, `account (${lang})`);
    await page.click("#nav a[data-page=history]");
    await page.waitForSelector("#history-result .timeline");
    await page.click("#verify");
    await page.waitForSelector("#verify-result[data-intact]");
    await accessibility(page, `history (${lang})`);
    await page.click("#nav a[data-page=access]");
    await page.click("#access-form button[type=submit]");
    await page.waitForSelector("#access-table tbody tr");
    await accessibility(page, `access log (${lang})`);
    await page.click("#nav a[data-page=monthly]");
    await page.waitForSelector(`#month option[value="${expect.monthly.period}"]`, { state: "attached" });
    await page.selectOption("#month", expect.monthly.period);
    await page.click("#monthly-form button[type=submit]");
    await page.waitForSelector("#monthly-result [data-field=contributions_total]");
    await accessibility(page, `monthly report (${lang})`);
    await page.context().close();
  }

  // ---- what left the page: loopback only, no IIN in any URL.
  step = "requests";
  check(requests.length > 0, "requests were recorded");
  for (const url of [...requests, ...navigations]) {
    const u = new URL(url);
    check(u.protocol === "blob:" || u.hostname === "127.0.0.1", `a request left 127.0.0.1: ${url}`);
    for (const iin of iins) check(!url.includes(iin), `an IIN is in a URL: ${url}`);
    check(!/\d{12}/.test(decodeURIComponent(url)), `twelve digits in a URL: ${url}`);
  }
  const distinct = [...new Set(consoleErrors)];
  check(distinct.length === 0, `the page logged ${distinct.length} distinct errors (a CSP violation is one): ${distinct.slice(0, 3).join("; ")}`);
  console.log(`console: all checks passed; ${requests.length} requests, all to 127.0.0.1; screenshots in ${shots}`);
} catch (e) {
  console.error(`console test failed at step "${step}": ${e.message}`);
  if (consoleErrors.length) console.error(`page errors: ${[...new Set(consoleErrors)].slice(0, 3).join("; ")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
