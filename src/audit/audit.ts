/**
 * The audit log (SECURITY.md §AUDIT): one compact JSON object per line, keys
 * sorted, written before the tool result is returned, to `SSH_AUDIT_LOG`
 * (`stderr` default, `off`, or a file opened append-only with mode 0600).
 *
 * Never in a line: command text, script bodies, file contents, paths or unit
 * names in clear, secrets, notes, remote output (AUDIT-6). Values that help
 * correlation are hashed with {@link auditHash}; every string is bounded
 * ({@link boundRecord}), so no input can make a line large (AUDIT-13).
 *
 * @module
 */

import { dirname } from "../util/local_path.ts";
import { ConfigError } from "../errors.ts";
import { sha256 } from "../util/digest.ts";
import type { Logger } from "../log.ts";
import { writeAllSync } from "../util/fd_write.ts";

/** `sha256:` + first 16 hex chars of SHA-256 of the UTF-8 value (AUDIT-4). */
export function auditHash(value: string): string {
  return "sha256:" + sha256(value).toHex().slice(0, 16);
}

const FLAG_SECRET_RE =
  /(?<![A-Za-z0-9_-])(--?)?(password|token|secret|passwd|pwd|auth|api_key|api-key|apikey)=("[^"]*"|'[^']*'|[^\s]*)/gi;
const URL_USERINFO_RE = /(:\/\/[^\s:/@]+:)[^\s@/]+@/g;
const AUTH_HEADER_RE = /(authorization:\s*)(?:(bearer|basic)\s+)?("[^"]*"|'[^']*'|[^\s'"]+)/gi;
const BEARER_RE = /\b(bearer|basic)\s+("[^"]*"|'[^']*'|[A-Za-z0-9._~+/=-]+)/gi;
const MYSQL_P_RE =
  /(^|[\s;|&])((?:\S*\/)?(?:mysql|mysqldump|mysqladmin))(\s+(?:\S+\s+)*?)-p(?!\s)(\S+)/g;

/**
 * Replaces inline secrets by `<redacted>` so that `command_hash` depends on the
 * command's shape, not on the secret (AUDIT-4).
 */
export function redactForHash(command: string): string {
  return command
    .replace(
      FLAG_SECRET_RE,
      (_m, dash: string | undefined, key: string) => `${dash ?? ""}${key}=<redacted>`,
    )
    .replace(URL_USERINFO_RE, "$1<redacted>@")
    .replace(
      AUTH_HEADER_RE,
      (_m, head: string, scheme: string | undefined) =>
        `${head}${scheme ? scheme + " " : ""}<redacted>`,
    )
    .replace(BEARER_RE, (_m, scheme: string) => `${scheme} <redacted>`)
    .replace(
      MYSQL_P_RE,
      (_m, pre: string, prog: string, mid: string) => `${pre}${prog}${mid}-p<redacted>`,
    );
}

/** `command_hash` of a command string. */
export function commandHash(command: string): string {
  return auditHash(redactForHash(command));
}

/** Serialises with sorted keys and compact separators. */
export function stableJson(obj: Record<string, unknown>): string {
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v !== undefined) sorted[k] = v;
  }
  return JSON.stringify(sorted);
}

const encoder = new TextEncoder();

/** Longest string copied into an audit line or hook event as it is (AUDIT-13). */
export const AUDIT_STRING_MAX = 512;

/**
 * A string for an audit line or hook event: as it is up to
 * {@link AUDIT_STRING_MAX} characters, else its length and hash only
 * (`"<2097152 chars sha256:...>"`), never the content (AUDIT-13).
 */
export function boundedString(v: string): string {
  return v.length <= AUDIT_STRING_MAX ? v : `<${v.length} chars ${auditHash(v)}>`;
}

/** Every string in `v` (nested objects and arrays included) through {@link boundedString}. */
export function boundRecord<T>(v: T, depth = 0): T {
  if (typeof v === "string") return boundedString(v) as T;
  if (v === null || typeof v !== "object" || depth > 8) return v;
  if (Array.isArray(v)) return v.map((x) => boundRecord(x, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    out[boundedString(k)] = boundRecord(x, depth + 1);
  }
  return out as T;
}

/**
 * Can `target` (an audit log path) be opened for appending? Returns null when
 * it can, else what is wrong. Creates nothing that is not there: an absent
 * file is checked by creating and removing a probe file in its directory.
 */
export async function auditSinkProblem(target: string): Promise<string | null> {
  try {
    const st = await Deno.stat(target);
    if (!st.isFile) return `${target} is not a regular file`;
    const f = await Deno.open(target, { append: true });
    f.close();
    return null;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return `${target}: ${(e as Error).message}`;
  }
  const dir = dirname(target);
  const probe = `${target}.ssh-mcp-probe.${crypto.randomUUID().slice(0, 8)}`;
  try {
    const f = await Deno.open(probe, { createNew: true, write: true, mode: 0o600 });
    f.close();
    await Deno.remove(probe);
    return null;
  } catch (e) {
    return e instanceof Deno.errors.NotFound
      ? `the directory ${dir} does not exist`
      : `cannot create ${target} in ${dir}: ${(e as Error).message}`;
  }
}

/**
 * Where audit lines go (SECURITY.md §AUDIT; AUDIT-12..AUDIT-18).
 *
 * The file sink is opened append-only (`O_APPEND`, created 0600, never
 * truncated). Before every line it compares the path's identity (device +
 * inode) with the open file: when the file was renamed away (rotation),
 * replaced or removed, it is reopened at the path, so later lines land in the
 * new file and none go to a file nobody reads. `healthy` is false while the
 * last write failed; each failure period is logged once at WARNING and its
 * end at INFO.
 */
export class AuditLog {
  readonly target: string;
  #logger: Logger;
  #file: Deno.FsFile | null = null;
  #ident: { dev: number; ino: number | null } | null = null;
  #queue: Promise<void> = Promise.resolve();
  #dropped = 0;
  #failing = false;
  #unauditedWarned = false;

  /** `spec` = `stderr` | `off` | a file path (already `~`-expanded). */
  constructor(spec: string, logger: Logger) {
    this.target = spec.trim() === "" ? "stderr" : spec.trim();
    this.#logger = logger;
  }

  /** Lines that could not be written (reported by `ssh_server_info`). */
  get dropped(): number {
    return this.#dropped;
  }

  /** True when auditing is disabled. */
  get off(): boolean {
    return this.target === "off";
  }

  /** True when lines go to a file. */
  get isFile(): boolean {
    return this.target !== "off" && this.target !== "stderr";
  }

  /**
   * False while the sink cannot be written (the last write failed); tools
   * above the read tier refuse with `AuditUnavailable` then (AUDIT-14).
   */
  get healthy(): boolean {
    return !this.#failing;
  }

  /**
   * Opens the file sink now (start-up, AUDIT-12): throws `ConfigError` when
   * it cannot be opened for appending, so the server refuses to start rather
   * than run unaudited. `stderr` and `off` open nothing.
   */
  async open(): Promise<void> {
    if (!this.isFile) return;
    try {
      await this.#reopen();
    } catch (e) {
      throw new ConfigError(
        `SSH_AUDIT_LOG=${this.target}: the audit log cannot be opened for appending (${
          (e as Error).message
        }). Fix: create its directory or fix the permissions; or set SSH_AUDIT_LOG=stderr, or ` +
          "SSH_AUDIT_LOG=off to run without an audit log (explicitly).",
      );
    }
  }

  /**
   * Logs once per failure period that a read tool runs while the sink fails
   * (its audit line may be lost; tools above read are refused meanwhile).
   */
  warnUnaudited(tool: string): void {
    if (this.#unauditedWarned || !this.#failing) return;
    this.#unauditedWarned = true;
    this.#logger.warn(
      "audit log not writable: read tools go on (their audit lines may be lost), tools above the read tier are refused until it works again",
      { audit_log: this.target, tool },
    );
  }

  /**
   * Writes one record. Every string in it is bounded first (AUDIT-13).
   * Resolves when written, or after at most 1 s (the line keeps its place in
   * the queue; a failed write increments `dropped`).
   */
  write(record: Record<string, unknown>): Promise<void> {
    if (this.off) return Promise.resolve();
    const line = stableJson(boundRecord(record)) + "\n";
    if (this.target === "stderr") {
      try {
        writeAllSync(Deno.stderr, encoder.encode(line));
        this.#recovered();
      } catch (e) {
        this.#failed(e);
      }
      return Promise.resolve();
    }
    const job = this.#queue.then(() => this.#writeFile(line));
    this.#queue = job;
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([job, new Promise<void>((r) => (timer = setTimeout(r, 1000)))])
      .finally(() => clearTimeout(timer));
  }

  /** Closes the open file (if any) and opens the path again, append-only. */
  async #reopen(): Promise<void> {
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = null;
    this.#ident = null;
    const f = await Deno.open(this.target, { append: true, create: true, mode: 0o600 });
    const st = await f.stat();
    this.#file = f;
    this.#ident = { dev: st.dev, ino: st.ino };
  }

  /** True when the path no longer names the open file (renamed, replaced, removed). */
  async #moved(): Promise<boolean> {
    if (!this.#file || !this.#ident || this.#ident.ino === null) return this.#file === null;
    try {
      const st = await Deno.stat(this.target);
      return st.dev !== this.#ident.dev || st.ino !== this.#ident.ino;
    } catch {
      return true;
    }
  }

  async #writeFile(line: string): Promise<void> {
    try {
      if (await this.#moved()) {
        const was = this.#file !== null;
        await this.#reopen();
        if (was) {
          this.#logger.info("audit log was moved, replaced or removed; reopened it", {
            audit_log: this.target,
          });
        }
      }
      const bytes = encoder.encode(line);
      let off = 0;
      while (off < bytes.length) off += await this.#file!.write(bytes.subarray(off));
      this.#recovered();
    } catch (e) {
      try {
        this.#file?.close();
      } catch {
        // ignore
      }
      this.#file = null;
      this.#ident = null;
      this.#failed(e);
    }
  }

  #failed(e: unknown): void {
    this.#dropped++;
    if (this.#failing) return;
    this.#failing = true;
    this.#unauditedWarned = false;
    this.#logger.warn("audit log write failed; lines are being dropped and counted", {
      audit_log: this.target,
      error: (e as Error).message,
    });
  }

  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#logger.info("audit log writable again", { audit_log: this.target });
  }

  /** Flushes pending lines and closes the file. */
  async close(): Promise<void> {
    await this.#queue;
    try {
      this.#file?.close();
    } catch {
      // ignore
    }
    this.#file = null;
    this.#ident = null;
  }
}
