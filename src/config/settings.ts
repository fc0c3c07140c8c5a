/**
 * Environment settings: parsing every {@link SETTINGS} entry with the rules of
 * CONFIG.md §1.1 and the environment checks of §9.1 (fatal) and §9.2
 * (notices).
 *
 * @module
 */

import * as path from "../util/local_path.ts";
import type IpaddrLib from "ipaddr.js";
import { ip } from "./ip_slot.ts";
import { ConfigError } from "../errors.ts";
import { errorText, getEnv, shellSplit } from "./env.ts";
import {
  type ConfigNotice,
  GROUPS,
  type MutableSettings,
  type SettingName,
  SETTINGS,
  type Settings,
} from "./types.ts";

/** Settings whose value must never appear in a message or log line. */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set([
  "SSH_REDACT_SALT",
  "MCP_HTTP_TOKEN",
  "SSH_STATE_URL",
  "SSH_SUDO_PASSWORD_CMD",
  "SSH_HOOKS_COMMAND",
]);

/**
 * Programs that turn a command allowlist entry into arbitrary execution
 * (CONFIG.md §9.2 NEW). `python*` is matched as a prefix.
 */
export const WRAPPER_PROGRAMS: readonly string[] = [
  "sh",
  "bash",
  "zsh",
  "dash",
  "env",
  "xargs",
  "sudo",
  "su",
  "nohup",
  "timeout",
  "nice",
  "ionice",
  "setsid",
  "stdbuf",
  "find",
  "awk",
  "perl",
  "python*",
  "ruby",
  "node",
  "busybox",
  "docker",
  "kubectl",
  "ssh",
];

/** Deny zones that a catch-all path allowlist should restrict (CONFIG.md §9.2). */
export const SENSITIVE_ZONES: readonly string[] = ["/etc/shadow", "/etc/sudoers", "/etc/ssh"];

/** Options of {@link parseSettings} (tests override the filesystem probes). */
export interface ParseSettingsOptions {
  /** directory a relative `SSH_HOOKS_COMMAND` program is resolved against (default: process cwd) */
  cwd?: string;
  /** directory used as the `SSH_SECRETS_DIR` default when it exists (default `/run/secrets`) */
  defaultSecretsDir?: string;
}

/** Defaults for every setting (tests and env-only code paths). `SSH_SECRETS_DIR` is null here. */
export function defaultSettings(): MutableSettings {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(SETTINGS)) {
    out[name] = spec.kind === "list" ? [...spec.default] : spec.default;
  }
  return out as MutableSettings;
}

/**
 * Parses every SETTINGS entry (names matched case-insensitively, the exact
 * upper-case spelling winning; unknown variables ignored) with CONFIG.md §1.1
 * rules, then applies the §9.1 environment checks (each a {@link ConfigError}
 * naming the variable; secret-bearing values are never echoed) and collects
 * the §9.2 notices.
 *
 * Also reads the filesystem for two checks: `SSH_HOOKS_COMMAND` must name an
 * executable, and the `SSH_SECRETS_DIR` default is `/run/secrets` when that
 * directory exists.
 */
export function parseSettings(
  env: Record<string, string>,
  opts: ParseSettingsOptions = {},
): { settings: Settings; notices: ConfigNotice[] } {
  const notices: ConfigNotice[] = [];
  const warn = (message: string) => notices.push({ level: "WARNING", message });
  const info = (message: string) => notices.push({ level: "INFO", message });

  // SSH_SUDO_PASSWORD: forbidden, never read beyond "is it set" (AC-009).
  const sudoPw = getEnv(env, "SSH_SUDO_PASSWORD");
  if (sudoPw !== undefined) {
    if (sudoPw !== "") {
      throw new ConfigError(
        "AuthenticationFailed: SSH_SUDO_PASSWORD is set in the environment (or .env). " +
          "A sudo password in the environment is not accepted (its value was not read). " +
          "Unset SSH_SUDO_PASSWORD and use SSH_SUDO_PASSWORD_CMD, a per-host " +
          "sudo_password_cmd / sudo_password_secret, or the OS keyring (service ssh-mcp-sudo).",
      );
    }
    warn("SSH_SUDO_PASSWORD is present but empty; it is ignored. Remove it.");
  }

  const out: Record<string, unknown> = {};
  const present = new Set<SettingName>();
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const raw = getEnv(env, name);
    if (raw !== undefined) present.add(name);
    out[name] = parseOne(name, raw, warn);
  }
  const s = out as MutableSettings;

  // SSH_SECRETS_DIR default (CONFIG.md §3.12): /run/secrets when it exists.
  if (!present.has("SSH_SECRETS_DIR")) {
    const dir = opts.defaultSecretsDir ?? "/run/secrets";
    if (isDirectory(dir)) {
      s.SSH_SECRETS_DIR = dir;
      info(`SSH_SECRETS_DIR not set; using ${dir} (it exists)`);
    }
  }

  // SSH_PINNED_KNOWN_HOSTS default: under $XDG_CONFIG_HOME when that is an
  // absolute path (the XDG rule: relative values are ignored), else the table's
  // `~/.config/...` default.
  if ((getEnv(env, "SSH_PINNED_KNOWN_HOSTS") ?? "").trim() === "") {
    const xdg = getEnv(env, "XDG_CONFIG_HOME")?.trim();
    if (xdg && path.isAbsolute(xdg)) {
      s.SSH_PINNED_KNOWN_HOSTS = path.join(xdg, "ssh-mcp", "pinned_known_hosts");
    }
  }

  // §9.1 item 2
  if (s.SSH_REDACT_KEYS_ADD.length > 0 && s.SSH_REDACT_KEYS_REPLACE.length > 0) {
    throw new ConfigError(
      "SSH_REDACT_KEYS_ADD and SSH_REDACT_KEYS_REPLACE are both set; they are mutually " +
        "exclusive. Keep SSH_REDACT_KEYS_ADD to extend the built-in key list, or " +
        "SSH_REDACT_KEYS_REPLACE to replace it, and unset the other.",
    );
  }
  // §9.1 item 3 (value never echoed)
  const salt = s.SSH_REDACT_SALT ?? "";
  if (salt !== "" && salt.length < 32) {
    throw new ConfigError(
      `SSH_REDACT_SALT is too short (${salt.length} characters; at least 32 ` +
        "required). Generate one with `openssl rand -hex 32`, or unset it.",
    );
  }
  // §9.1 item 7: HTTP bind address
  const httpHost = s.MCP_HTTP_HOST ?? "127.0.0.1";
  const hasAuth = (s.MCP_HTTP_TOKEN ?? "") !== "" || (s.MCP_HTTP_TOKEN_FILE ?? "") !== "" ||
    (s.MCP_OAUTH_ISSUER ?? "") !== "";
  if (!isLoopbackHost(httpHost) && !hasAuth) {
    throw new ConfigError(
      `MCP_HTTP_HOST=${JSON.stringify(httpHost)} is not a loopback address and no ` +
        "authentication is configured. Set MCP_HTTP_TOKEN (a long random bearer token), " +
        "MCP_HTTP_TOKEN_FILE (named tokens) or MCP_OAUTH_ISSUER (OAuth 2.1 JWTs), or bind to " +
        "127.0.0.1 / ::1.",
    );
  }
  if ((s.MCP_HTTP_TLS_CERT === null) !== (s.MCP_HTTP_TLS_KEY === null)) {
    throw new ConfigError(
      "MCP_HTTP_TLS_CERT and MCP_HTTP_TLS_KEY go together: set both (PEM files) for HTTPS, or neither.",
    );
  }
  if (s.SSH_STATE_URL !== null && !/^rediss?:\/\//.test(s.SSH_STATE_URL)) {
    throw new ConfigError(
      "SSH_STATE_URL must be a redis:// or rediss:// URL (e.g. redis://127.0.0.1:6379/0), or unset for in-memory state.",
    );
  }
  // §9.1 item 7: hooks command
  if (s.SSH_HOOKS_COMMAND !== null) {
    checkHooksCommand(s.SSH_HOOKS_COMMAND, env, opts.cwd);
  }
  // §9.1 item 7: network lists
  checkAddressList("SSH_NETWORK_ALLOW_CIDRS", s.SSH_NETWORK_ALLOW_CIDRS, "cidr");
  checkAddressList("SSH_NETWORK_BLOCK_CIDRS", s.SSH_NETWORK_BLOCK_CIDRS, "cidr");

  // relative roots in the env path lists (same rule as hosts.toml, AC-013 / AC-214)
  for (
    const [name, list, sentinels] of [
      ["SSH_PATH_ALLOWLIST", s.SSH_PATH_ALLOWLIST, true],
      ["SSH_RESTRICTED_PATHS", s.SSH_RESTRICTED_PATHS, false],
    ] as const
  ) {
    for (const e of list) {
      if (!(sentinels && (e === "*" || e === "/")) && !isAbsoluteAnyPlatform(e)) {
        throw new ConfigError(
          `${name}: ${JSON.stringify(clip(e))} is not an absolute path. Use absolute roots ` +
            `like "/srv/app" or "C:\\data"${sentinels ? ' ("*" or "/" allow everything)' : ""}.`,
        );
      }
    }
  }

  // §9.2 notices
  const unknownGroups = s.SSH_ENABLED_GROUPS.filter((g) =>
    !(GROUPS as readonly string[]).includes(g)
  );
  if (unknownGroups.length > 0) {
    warn(
      `SSH_ENABLED_GROUPS: unknown group(s) ${
        unknownGroups.map((g) => JSON.stringify(g)).join(", ")
      } ` +
        `ignored (known: ${GROUPS.join(", ")})`,
    );
  }
  if (s.SSH_SUDO_MODE === "persistent-su" && s.ALLOW_SUDO) {
    warn("SSH_SUDO_MODE=persistent-su is not implemented; per-call sudo is used");
  }
  const version = getEnv(env, "VERSION");
  if (version !== undefined && version.trim() !== "") {
    warn("VERSION is set but ignored: the version is compiled in");
  }
  if (s.SSH_HOOKS_MODULE !== null) {
    warn(
      "SSH_HOOKS_MODULE is set but Python hook modules cannot be loaded by this server; " +
        "zero hooks from it. Use SSH_HOOKS_COMMAND (a program reading JSON events on stdin).",
    );
  }
  if (s.ALLOW_DANGEROUS_TOOLS && s.SSH_STATE_URL === null) {
    warn(
      "async tasks are kept in memory: long-running tasks die with the server process " +
        "(ALLOW_DANGEROUS_TOOLS=true; SSH_STATE_URL keeps finished results in Redis)",
    );
  }
  const docket = getEnv(env, "FASTMCP_DOCKET_URL");
  if (docket !== undefined && docket.trim() !== "" && !docket.startsWith("memory://")) {
    warn("FASTMCP_DOCKET_URL is ignored: tasks are in-memory (see SSH_TASK_* settings)");
  }
  if (s.SSH_SUDO_PASSWORD_CMD !== null && isLiteralSecretCommand(s.SSH_SUDO_PASSWORD_CMD)) {
    warn(
      "SSH_SUDO_PASSWORD_CMD starts with echo/printf: the literal secret is visible in the " +
        "local process list and in your configuration; use a password manager or keyring command",
    );
  }
  const envWrappers = wrapperEntries(s.SSH_COMMAND_ALLOWLIST);
  if (envWrappers.length > 0) {
    warn(
      `SSH_COMMAND_ALLOWLIST allows program(s) that run arbitrary commands: ` +
        `${envWrappers.join(", ")} (every host inherits them)`,
    );
  }
  if (s.ALLOW_DANGEROUS_TOOLS && s.SSH_COMMAND_ALLOWLIST.includes("*")) {
    warn('SSH_COMMAND_ALLOWLIST contains "*": every host allows any command');
  }
  for (const e of s.SSH_PATH_ALLOWLIST) {
    if (e === "*" || e === "/") {
      warn(`SSH_PATH_ALLOWLIST contains ${JSON.stringify(e)}: every path on every host is allowed`);
    }
  }
  if (
    s.SSH_COMMAND_TIMEOUT > s.SSH_MAX_COMMAND_TIMEOUT && !present.has("SSH_MAX_COMMAND_TIMEOUT")
  ) {
    // COMPAT: python-ssh-mcp has no per-call ceiling, so a deployment with a
    // default timeout above our built-in ceiling would refuse its own default
    // when a client passes it explicitly. A ceiling bounds resources, not
    // access, and the operator did not choose one: raise it to the default.
    warn(
      `SSH_COMMAND_TIMEOUT (${s.SSH_COMMAND_TIMEOUT}) is above the built-in ` +
        `SSH_MAX_COMMAND_TIMEOUT (${s.SSH_MAX_COMMAND_TIMEOUT}); the ceiling is raised to ` +
        `${s.SSH_COMMAND_TIMEOUT}. Set SSH_MAX_COMMAND_TIMEOUT to choose another ceiling.`,
    );
    s.SSH_MAX_COMMAND_TIMEOUT = s.SSH_COMMAND_TIMEOUT;
  } else if (s.SSH_COMMAND_TIMEOUT > s.SSH_MAX_COMMAND_TIMEOUT) {
    warn(
      `SSH_COMMAND_TIMEOUT (${s.SSH_COMMAND_TIMEOUT}) is above SSH_MAX_COMMAND_TIMEOUT ` +
        `(${s.SSH_MAX_COMMAND_TIMEOUT})`,
    );
  }
  return { settings: s, notices };
}

/**
 * Upper bounds that are clamped with a WARNING instead of refusing start-up,
 * with the reason shown to the operator. COMPAT: python-ssh-mcp accepted any
 * value for these, so a deployment moved over unchanged must still start.
 * Only bounds whose clamping cannot widen what a caller may do belong here.
 *
 * Reviewed and deliberately NOT clamped (still fatal):
 * - `SSH_REDACT_HINT_CHARS` (0..4): security-relevant (each extra character
 *   leaks part of every secret) and the reference refuses it too (§9.1 item 4).
 * - `MCP_HTTP_PORT` (1..65535): not a cap; no port outside the range exists.
 * - the `> 0` lower bound of caps and timeouts (CONFIG.md §3.6 NEW): a zero or
 *   negative cap or timeout has no safe nearest value to pick for the
 *   operator (0 = "no output" / "no wait" in the reference), so it stays an
 *   explicit error.
 */
const CLAMP_ABOVE_MAX: Partial<Record<SettingName, string>> = {
  // The reference declared but never used it (one connection, unbounded
  // channels); here it is the channel limit per pooled connection, capped by
  // what OpenSSH's default MaxSessions (10) leaves after SFTP and the kill
  // channel. A lower value only makes extra callers queue: safe to clamp.
  SSH_MAX_CONNECTIONS_PER_HOST:
    "channels per connection are limited by sshd's MaxSessions; extra calls queue",
};

function parseOne(
  name: SettingName,
  raw: string | undefined,
  warn: (message: string) => void,
): unknown {
  const spec = SETTINGS[name];
  const secret = SECRET_SETTINGS.has(name);
  const shown = (v: string) => secret ? "(value not shown)" : JSON.stringify(clip(v));
  switch (spec.kind) {
    case "bool": {
      if (raw === undefined) return spec.default;
      const b = parseBool(raw);
      if (b === null) {
        throw new ConfigError(
          `${name}=${shown(raw)} is not a boolean; use true/false (also 1/0, yes/no, on/off).`,
        );
      }
      return b;
    }
    case "int": {
      if (raw === undefined) return spec.default;
      const t = raw.trim();
      const min = "min" in spec ? spec.min : undefined;
      const max = "max" in spec ? spec.max : undefined;
      const range = min !== undefined && max !== undefined
        ? `between ${min} and ${max}`
        : min !== undefined
        ? `>= ${min}`
        : "a whole number";
      if (!/^[+-]?[0-9]+$/.test(t) || !Number.isSafeInteger(Number(t))) {
        throw new ConfigError(
          `${name}=${shown(raw)} is not a decimal integer; set it to a whole number` +
            `${range === "a whole number" ? "" : " " + range} (default ${spec.default}).`,
        );
      }
      const v = Number(t);
      const clampWhy = CLAMP_ABOVE_MAX[name];
      if (max !== undefined && v > max && clampWhy !== undefined) {
        warn(`${name}=${v} is above the maximum of ${max}; using ${max} (${clampWhy}).`);
        return max;
      }
      if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
        const why = min === 1 && (max === undefined) ? " (caps and timeouts must be > 0)" : "";
        throw new ConfigError(
          `${name}=${
            shown(raw)
          } is out of range${why}; use a value ${range} (default ${spec.default}).`,
        );
      }
      return v;
    }
    case "list": {
      if (raw === undefined) return [...spec.default];
      let items: string[];
      try {
        items = parseList(raw);
      } catch (e) {
        throw new ConfigError(
          `${name}: ${
            errorText(e)
          }. Use a JSON array of strings (["a","b"]) or a comma-separated list.`,
        );
      }
      const allowed = "values" in spec ? spec.values : undefined;
      if (allowed !== undefined) {
        const bad = items.filter((x) => !(allowed as readonly string[]).includes(x));
        if (bad.length > 0) {
          throw new ConfigError(
            `${name}: ${bad.map((x) => shown(x)).join(", ")} ${
              bad.length === 1 ? "is not an allowed value" : "are not allowed values"
            }; allowed values: ${allowed.join(", ")} (exact spelling, comma-separated or a ` +
              `JSON array; default empty).`,
          );
        }
      }
      return items;
    }
    case "path": {
      if (raw === undefined) return spec.default;
      if (raw.trim() === "") return spec.optional ? null : spec.default;
      return raw.trim();
    }
    case "string": {
      if (raw === undefined || raw.trim() === "") return spec.default;
      return raw;
    }
    case "enum": {
      if (raw === undefined) return spec.default;
      const t = name === "LOG_LEVEL" ? pythonLogLevel(raw) : raw.trim();
      if (!(spec.values as readonly string[]).includes(t)) {
        throw new ConfigError(
          `${name}=${shown(raw)} is not allowed; use one of ${spec.values.join(", ")} ` +
            (name === "LOG_LEVEL"
              ? `(any case; WARN, FATAL and NOTSET as in Python; default ${spec.default}).`
              : `(exact spelling; default ${spec.default}).`),
        );
      }
      return t;
    }
  }
}

/**
 * `LOG_LEVEL` as Python's logging reads it (COMPAT): any case, `WARN` =
 * `WARNING`, `FATAL` = `CRITICAL`, `NOTSET` = everything (`DEBUG`, the most
 * verbose level here). Other values come back unchanged (upper-cased) for the
 * enum check to refuse.
 */
export function pythonLogLevel(raw: string): string {
  const t = raw.trim().toUpperCase();
  const alias: Record<string, string> = { WARN: "WARNING", FATAL: "CRITICAL", NOTSET: "DEBUG" };
  return alias[t] ?? t;
}

/**
 * Parses a bool (case-insensitive true/false, 1/0, yes/no, on/off, t/f, y/n,
 * surrounding blanks ignored); null when invalid.
 */
export function parseBool(raw: string): boolean | null {
  const t = raw.trim().toLowerCase();
  if (["true", "1", "yes", "on", "t", "y"].includes(t)) return true;
  if (["false", "0", "no", "off", "f", "n"].includes(t)) return false;
  return null;
}

/**
 * Parses a list value (CONFIG.md §1.1): trimmed `""` → `[]`; starting with `[`
 * → JSON array of strings (items kept verbatim); else comma-separated, items
 * trimmed, empty items dropped. Throws an `Error` on invalid JSON.
 */
export function parseList(raw: string): string[] {
  const t = raw.trim();
  if (t === "") return [];
  if (t.startsWith("[")) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      throw new Error("invalid JSON array");
    }
    if (!Array.isArray(v) || !v.every((x): x is string => typeof x === "string")) {
      throw new Error("JSON value must be an array of strings");
    }
    return v;
  }
  return t.split(",").map((x) => x.trim()).filter((x) => x !== "");
}

/** Absolute POSIX (`/…`), Windows drive (`C:\…`, `C:/…`) or UNC (`\\server\share…`). */
export function isAbsoluteAnyPlatform(p: string): boolean {
  return p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p) || /^\\\\[^\\/]+[\\/][^\\/]+/.test(p);
}

/** True for loopback bind addresses: `localhost`, 127.0.0.0/8, `::1` (bracketed or not). */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  // the default bind addresses, answered without the library
  if (h === "127.0.0.1" || h === "::1") return true;
  const ipaddr = ip();
  if (!ipaddr.isValid(h)) return false;
  if (ipaddr.IPv4.isValid(h) && !ipaddr.IPv4.isValidFourPartDecimal(h)) return false;
  let a = ipaddr.parse(h);
  if (a.kind() === "ipv6" && (a as IpaddrLib.IPv6).isIPv4MappedAddress()) {
    a = (a as IpaddrLib.IPv6).toIPv4Address();
  }
  return a.range() === "loopback";
}

/** True when `s` is a valid IP address (IPv4 in four-part decimal, or IPv6). */
export function isValidIp(s: string): boolean {
  const ipaddr = ip();
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return true;
  return s.includes(":") && ipaddr.IPv6.isValid(s);
}

/** True when `s` is a valid CIDR (`10.0.0.0/8`, `fd00::/8`). */
export function isValidCidr(s: string): boolean {
  const ipaddr = ip();
  if (ipaddr.IPv4.isValidCIDRFourPartDecimal(s)) return true;
  return s.includes(":") && ipaddr.IPv6.isValidCIDR(s);
}

/**
 * Throws a {@link ConfigError} for the first entry of `list` that is not a
 * CIDR (`kind` "cidr") or an IP address (`kind` "ip"). `where` names the
 * setting in the message.
 */
export function checkAddressList(
  where: string,
  list: readonly string[],
  kind: "cidr" | "ip",
): void {
  for (const e of list) {
    const ok = kind === "cidr" ? isValidCidr(e) : isValidIp(e);
    if (!ok) {
      const hint = kind === "cidr"
        ? (isValidIp(e)
          ? ` (a single address needs a prefix length: "${e}/${e.includes(":") ? 128 : 32}")`
          : "")
        : "";
      throw new ConfigError(
        `${where}: ${JSON.stringify(clip(e))} is not a valid ${
          kind === "cidr" ? "CIDR" : "IP address"
        }${hint}. Fix: use ${
          kind === "cidr"
            ? 'entries like "10.0.0.0/8" or "fd00::/8"'
            : 'entries like "10.0.0.5" or "fd00::5"'
        }.`,
      );
    }
  }
}

/**
 * True when a `*_cmd` value prints a literal (first word `echo` or `printf`,
 * with or without a directory), which leaves the secret in the process list.
 */
export function isLiteralSecretCommand(cmd: string): boolean {
  let first: string | undefined;
  try {
    first = shellSplit(cmd)[0];
  } catch {
    first = cmd.trim().split(/\s+/)[0];
  }
  if (first === undefined) return false;
  const base = first.split(/[\\/]/).pop() ?? first;
  return base === "echo" || base === "printf";
}

/** The entries of a command allowlist whose program is a {@link WRAPPER_PROGRAMS} member. */
export function wrapperEntries(list: readonly string[]): string[] {
  const found: string[] = [];
  for (const e of list) {
    const base = (e.split(/[\\/]/).pop() ?? e).replace(/\.exe$/i, "");
    const hit = WRAPPER_PROGRAMS.some((w) =>
      w.endsWith("*") ? base.startsWith(w.slice(0, -1)) : base === w
    );
    if (hit && !found.includes(e)) found.push(e);
  }
  return found;
}

function checkHooksCommand(
  cmd: string,
  env: Record<string, string>,
  cwd: string | undefined,
): void {
  let argv: string[];
  try {
    argv = shellSplit(cmd);
  } catch (e) {
    throw new ConfigError(
      `SSH_HOOKS_COMMAND cannot be split into arguments (${errorText(e)}); fix its quoting.`,
    );
  }
  const prog = argv[0];
  if (prog === undefined) return;
  const found = findExecutable(prog, env, cwd);
  if (found === null) {
    throw new ConfigError(
      `SSH_HOOKS_COMMAND: program ${JSON.stringify(clip(prog))} is not an executable file ` +
        `${prog.includes("/") || prog.includes("\\") ? "" : "found on PATH "}` +
        "(check the path and its execute permission), or unset SSH_HOOKS_COMMAND.",
    );
  }
}

/**
 * Resolves a program like a shell would: absolute or containing a separator →
 * that file (relative to `cwd`); otherwise searched on `PATH` from `env`.
 * Returns the absolute path of an executable regular file, or null.
 */
export function findExecutable(
  prog: string,
  env: Record<string, string | undefined>,
  cwd?: string,
): string | null {
  const windows = Deno.build.os === "windows";
  const exts = windows ? ["", ".exe", ".cmd", ".bat", ".com"] : [""];
  const candidates: string[] = [];
  if (path.isAbsolute(prog) || prog.includes("/") || (windows && prog.includes("\\"))) {
    const base = cwd ?? Deno.cwd();
    for (const x of exts) candidates.push(path.resolve(base, prog + x));
  } else {
    const dirs = (getEnv(env, "PATH") ?? "").split(path.delimiter).filter((d) => d !== "");
    for (const d of dirs) for (const x of exts) candidates.push(path.resolve(d, prog + x));
  }
  for (const c of candidates) {
    try {
      const st = Deno.statSync(c);
      if (!st.isFile) continue;
      if (windows || st.mode === null || (st.mode & 0o111) !== 0) return c;
    } catch {
      // not there: next candidate
    }
  }
  return null;
}

function isDirectory(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}

function clip(v: string): string {
  return v.length > 80 ? v.slice(0, 77) + "..." : v;
}
