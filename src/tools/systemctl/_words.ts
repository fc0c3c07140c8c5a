/**
 * The words of the systemctl group (TOOLS.md §3: R_UNIT, R_UNIT_PATTERN,
 * R_UNIT_STATE, R_PROPERTY, R_JOURNAL_TIME, R_GREP), validated in the tools'
 * `prepare` stage, before any remote I/O (SECURITY.md INV-2, INPUT-1..3).
 *
 * Each validator returns a branded word; the argv builders of the group take
 * only branded words, so a value that skipped validation does not type-check.
 * Patterns are anchored to the whole string without the `m` flag, so a
 * trailing newline never passes (AC-757).
 *
 * @module
 */

import { valueError } from "../../errors.ts";

declare const unitBrand: unique symbol;
declare const patternBrand: unique symbol;
declare const stateBrand: unique symbol;
declare const propertyBrand: unique symbol;
declare const journalTimeBrand: unique symbol;
declare const grepBrand: unique symbol;

/** A unit name that passed R_UNIT. */
export type UnitName = string & { readonly [unitBrand]: true };
/** A unit pattern (or unit type) that passed R_UNIT_PATTERN. */
export type UnitPattern = string & { readonly [patternBrand]: true };
/** A unit state filter that passed R_UNIT_STATE. */
export type UnitState = string & { readonly [stateBrand]: true };
/** A property name that passed R_PROPERTY. */
export type PropertyName = string & { readonly [propertyBrand]: true };
/** A journal time that passed R_JOURNAL_TIME, normalised to a form journalctl parses. */
export type JournalTime = string & { readonly [journalTimeBrand]: true };
/** A journal grep expression that passed R_GREP. */
export type GrepText = string & { readonly [grepBrand]: true };

/** Unit type suffixes of R_UNIT. */
export const UNIT_SUFFIXES: readonly string[] = [
  "service",
  "socket",
  "target",
  "timer",
  "path",
  "mount",
  "automount",
  "swap",
  "slice",
  "scope",
  "device",
];

/**
 * Unit names that legitimately start with `-` (the root mount and the root
 * slice); every other leading dash is refused (INPUT-3, AC-751). They still
 * travel after `--`.
 */
export const DASH_UNITS: readonly string[] = ["-.mount", "-.slice"];

/** Longest unit name systemd accepts. */
export const UNIT_MAX = 256;

const R_UNIT = /^[A-Za-z0-9@._-]+$/;
const R_UNIT_PATTERN = /^[A-Za-z0-9@._\-*?]+$/;
const R_UNIT_STATE = /^[A-Za-z0-9-]+$/;
const R_PROPERTY = /^[A-Z][A-Za-z0-9]*$/;
const R_GREP = /^[A-Za-z0-9 _\-.:/@]{1,200}$/;

/** Characters every unit-ish word refuses, named in messages (NUL is checked apart). */
const FORBIDDEN = /[;&|`$()<>\s/\\]/;

function forbidden(v: string): boolean {
  return FORBIDDEN.test(v) || v.includes("\0");
}

/** `f(v)` for a given optional argument, null when it is absent (an empty string is given). */
export function optional<T>(v: string | null | undefined, f: (v: string) => T): T | null {
  return v === null || v === undefined ? null : f(v);
}

function shown(v: string): string {
  const s = JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 77) + '..."' : s;
}

function fail(field: string, value: string, rule: string): never {
  throw valueError(`${field}: ${shown(value)} ${rule}`, { parameter: field });
}

/** R_UNIT (TOOLS.md §3) plus the NEW leading-dash rule. */
export function unitName(value: string, field = "unit"): UnitName {
  if (value === "") fail(field, value, "must not be empty");
  if (value.length > UNIT_MAX) fail(field, value, `is longer than ${UNIT_MAX} characters`);
  if (forbidden(value)) {
    fail(field, value, "contains a forbidden character (shell syntax, blank, slash or control)");
  }
  if (!R_UNIT.test(value)) fail(field, value, "must match ^[A-Za-z0-9@._-]+$ (R_UNIT)");
  if (value.startsWith("-") && !DASH_UNITS.includes(value)) {
    fail(field, value, `must not start with "-" (only ${DASH_UNITS.join(", ")} do)`);
  }
  const dot = value.lastIndexOf(".");
  if (dot >= 0 && !UNIT_SUFFIXES.includes(value.slice(dot + 1))) {
    fail(field, value, `has an unknown unit type suffix (one of ${UNIT_SUFFIXES.join(", ")})`);
  }
  return value as UnitName;
}

/** R_UNIT_PATTERN (TOOLS.md §3); a leading `-` is refused (INPUT-3). */
export function unitPattern(value: string, field = "pattern"): UnitPattern {
  if (value === "") fail(field, value, "must not be empty");
  if (value.length > UNIT_MAX) fail(field, value, `is longer than ${UNIT_MAX} characters`);
  if (forbidden(value)) {
    fail(field, value, "contains a forbidden character (shell syntax, blank, slash or control)");
  }
  if (!R_UNIT_PATTERN.test(value)) {
    fail(field, value, "must match ^[A-Za-z0-9@._\\-*?]+$ (R_UNIT_PATTERN)");
  }
  if (value.startsWith("-")) fail(field, value, 'must not start with "-"');
  return value as UnitPattern;
}

/** R_UNIT_STATE (TOOLS.md §3). */
export function unitState(value: string, field = "state"): UnitState {
  if (value === "" || value.length > 64 || !R_UNIT_STATE.test(value)) {
    fail(field, value, "must match ^[A-Za-z0-9-]+$ (R_UNIT_STATE, at most 64 characters)");
  }
  return value as UnitState;
}

/** R_PROPERTY (TOOLS.md §3). */
export function propertyName(value: string, field = "properties"): PropertyName {
  if (value.length > 128 || !R_PROPERTY.test(value)) {
    fail(field, value, "must match ^[A-Z][A-Za-z0-9]*$ (R_PROPERTY)");
  }
  return value as PropertyName;
}

/** R_GREP (TOOLS.md §3). */
export function grepText(value: string, field = "grep"): GrepText {
  if (!R_GREP.test(value)) {
    fail(field, value, "must match ^[A-Za-z0-9 _\\-.:/@]{1,200}$ (R_GREP)");
  }
  return value as GrepText;
}

const EPOCH = /^(\d{1,12})(\.\d{1,9})?$/;
const RELATIVE = /^(\d{1,9}[smhdwMy])+$/;
const ISO =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):?(\d{2}))?$/;
const DAY_TIME = /^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$/;
const KEYWORDS = ["yesterday", "today", "now", "tomorrow"];

function validDate(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): boolean {
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d &&
    t.getUTCHours() === h && t.getUTCMinutes() === mi && t.getUTCSeconds() === s;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/**
 * R_JOURNAL_TIME (TOOLS.md §3, NEW: one space only) and its translation into
 * a timestamp systemd's parser accepts (journalctl 252 rejects several forms
 * the contract allows): relative `10m` -> `-10m`, epoch `1700000000` ->
 * `@1700000000`, ISO `...T...` -> `YYYY-MM-DD HH:MM:SS[.f]` (local time of the
 * host), with `Z` or an offset converted to ` UTC`. Day forms and the keywords
 * pass unchanged. The result travels as `--since=<value>` (one word).
 */
export function journalTime(value: string, field: "since" | "until"): JournalTime {
  const rule = "is not a journal time (epoch seconds, a relative time like 10m or 1h30m " +
    "(units s m h d w M y), an ISO date-time YYYY-MM-DDTHH:MM:SS[.f][Z|+HH:MM], " +
    "YYYY-MM-DD[ HH:MM[:SS]] with one space, or yesterday/today/now/tomorrow)";
  if (value === "" || value.length > 64) fail(field, value, rule);
  if (KEYWORDS.includes(value)) return value as JournalTime;
  if (RELATIVE.test(value)) return `-${value}` as JournalTime;
  const e = EPOCH.exec(value);
  if (e) return `@${value}` as JournalTime;
  if (DAY_TIME.test(value)) {
    const [y, mo, d] = value.slice(0, 10).split("-").map(Number) as [number, number, number];
    const parts = value.length > 10 ? value.slice(11).split(":").map(Number) : [];
    if (!validDate(y, mo, d, parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0)) fail(field, value, rule);
    return value as JournalTime;
  }
  const m = ISO.exec(value);
  if (!m) fail(field, value, rule);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (!validDate(y, mo, d, h, mi, s)) fail(field, value, rule);
  const frac = m[7] ?? "";
  const zone = m[8];
  if (zone === undefined) {
    return `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}${frac}` as JournalTime;
  }
  let offsetMin = 0;
  if (zone !== "Z") {
    const oh = Number(m[9]);
    const om = Number(m[10]);
    if (oh > 23 || om > 59) fail(field, value, rule);
    offsetMin = (zone.startsWith("-") ? -1 : 1) * (oh * 60 + om);
  }
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s) - offsetMin * 60_000);
  if (Number.isNaN(t.getTime())) fail(field, value, rule);
  return `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())} ${
    pad(t.getUTCHours())
  }:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}${frac} UTC` as JournalTime;
}
