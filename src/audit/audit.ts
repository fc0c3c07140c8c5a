/**
 * The audit log (SECURITY.md §AUDIT): one compact JSON object per line, keys
 * sorted, written before the tool result is returned, to `SSH_AUDIT_LOG`
 * (`stderr` default, `off`, or a file opened append-only with mode 0600).
 *
 * Never in a line: command text, script bodies, file contents, paths or unit
 * names in clear, secrets, notes, remote output (AUDIT-6). Values that help
 * correlation are hashed with {@link auditHash}.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Logger } from "../log.ts";

/** `sha256:` + first 16 hex chars of SHA-256 of the UTF-8 value (AUDIT-4). */
export function auditHash(value: string): string {
  return "sha256:" + createHash("sha256").update(value, "utf8").digest("hex").slice(0, 16);
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

/** Where audit lines go. */
export class AuditLog {
  readonly target: string;
  #logger: Logger;
  #file: Deno.FsFile | null = null;
  #queue: Promise<void> = Promise.resolve();
  #dropped = 0;
  #failing = false;

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

  /**
   * False while the sink cannot be written (the last write failed); tools
   * above the read tier refuse with `AuditUnavailable` then.
   */
  get healthy(): boolean {
    return !this.#failing;
  }

  /**
   * Writes one record. Resolves when written, or after at most 1 s (the line
   * keeps its place in the queue; a failed write increments `dropped`).
   */
  write(record: Record<string, unknown>): Promise<void> {
    if (this.off) return Promise.resolve();
    const line = stableJson(record) + "\n";
    if (this.target === "stderr") {
      try {
        Deno.stderr.writeSync(encoder.encode(line));
      } catch {
        this.#dropped++;
      }
      return Promise.resolve();
    }
    const job = this.#queue.then(() => this.#writeFile(line));
    this.#queue = job;
    return Promise.race([job, new Promise<void>((r) => setTimeout(r, 1000))]);
  }

  async #writeFile(line: string): Promise<void> {
    try {
      if (!this.#file) {
        this.#file = await Deno.open(this.target, { append: true, create: true, mode: 0o600 });
      }
      const bytes = encoder.encode(line);
      let off = 0;
      while (off < bytes.length) off += await this.#file.write(bytes.subarray(off));
      if (this.#failing) {
        this.#failing = false;
        this.#logger.info("audit log writable again", { audit_log: this.target });
      }
    } catch (e) {
      this.#dropped++;
      try {
        this.#file?.close();
      } catch {
        // ignore
      }
      this.#file = null;
      if (!this.#failing) {
        this.#failing = true;
        this.#logger.warn("audit log write failed; lines are being dropped and counted", {
          audit_log: this.target,
          error: (e as Error).message,
        });
      }
    }
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
  }
}
