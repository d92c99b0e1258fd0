// Numbers, amounts, dates and identifiers as the console shows them, in
// the chosen locale. Amounts arrive from the API as decimal strings
// ("1234.5"): they are formatted digit by digit, never through a float,
// so what is shown is exactly what the ledger holds.

import { locale } from "./i18n.js";

function separators() {
  const parts = new Intl.NumberFormat(locale()).formatToParts(1234567.5);
  const group = parts.find((p) => p.type === "group")?.value ?? ",";
  const decimal = parts.find((p) => p.type === "decimal")?.value ?? ".";
  return { group, decimal };
}

/** A decimal string in tenge with two decimals: "1 234,50 ₸" (ru). */
export function money(value) {
  if (value === null || value === undefined) return "—";
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(value));
  if (!m) return String(value);
  const [, sign, whole, frac = ""] = m;
  const { group, decimal } = separators();
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, group);
  const cents = (frac + "00").slice(0, 2);
  return `${sign}${grouped}${decimal}${cents}\u00a0₸`;
}

/** A whole number in the locale's grouping. */
export function count(n) {
  return new Intl.NumberFormat(locale()).format(Number(n));
}

/** A share ("0.9731") as a percentage. */
export function share(value) {
  return new Intl.NumberFormat(locale(), {
    style: "percent",
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  }).format(Number(value));
}

/** A calendar date ("2026-04-10"). */
export function date(value) {
  if (!value) return "—";
  const [y, m, d] = value.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), {
    year: "numeric",
    month: "long",
    day: "numeric",
    timeZone: "UTC",
  }).format(Date.UTC(y, m - 1, d));
}

/** A period ("2026-03") as month and year. */
export function period(value) {
  if (!value) return "—";
  const [y, m] = value.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), {
    year: "numeric",
    month: "short",
    timeZone: "UTC",
  }).format(Date.UTC(y, m - 1, 1));
}

/** An instant (RFC 3339) in the ledger's time zone `zone`. */
export function instant(value, zone) {
  if (!value) return "—";
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) return value;
  // dateStyle/timeStyle do not combine with timeZoneName: spelled out.
  return new Intl.DateTimeFormat(locale(), {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    timeZone: zone || "UTC",
    timeZoneName: "short",
  }).format(t);
}

/** An identifier with its middle hidden, as the server's logs show it. */
export function masked(id) {
  if (!id) return "—";
  if (id.length <= 6) return "*".repeat(id.length);
  return id.slice(0, 4) + "*".repeat(id.length - 6) + id.slice(-2);
}

/**
 * What is wrong with `value` as an identifier of `scheme` ("kz": a
 * 12-digit IIN with its check digit, DOMAIN.md §2; "kg": a 14-digit PIN
 * starting with the sex code), as a catalog key and its parameters; null
 * when it is valid. The server checks again: this is for the typist.
 */
export function iinProblem(value, scheme) {
  const want = scheme === "kg" ? 14 : 12;
  if (value.length === 0) return { key: "iin_empty" };
  for (let i = 0; i < value.length; i++) {
    if (value[i] < "0" || value[i] > "9") return { key: "iin_not_digit", params: { n: i + 1 } };
  }
  if (value.length !== want) return { key: "iin_length", params: { want, got: value.length } };
  const d = [...value].map(Number);
  if (scheme === "kg") {
    return d[0] === 1 || d[0] === 2 ? null : { key: "pin_sex", params: { d: d[0] } };
  }
  const sum = (w) => w.reduce((s, wi, i) => s + wi * d[i], 0) % 11;
  let c = sum([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  if (c === 10) c = sum([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]);
  if (c === 10) return { key: "iin_never" };
  if (c !== d[11]) return { key: "iin_check", params: { expected: c, found: d[11] } };
  if (d[4] >= 4 && d[4] <= 6) return { key: "iin_bin", params: { d: d[4] } };
  return null;
}
