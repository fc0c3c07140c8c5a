/**
 * Server log: stderr only (stdout belongs to the MCP protocol).
 *
 * Two formats (`SSH_LOG_FORMAT`): `text` (`2026-11-21T10:00:00.000Z WARNING msg key=value`)
 * and `json` (one object per line). Never pass secrets, command text, file
 * contents or paths in clear to the logger at INFO or above (SECURITY.md §TELEM).
 *
 * @module
 */

import type { Settings } from "./config/types.ts";
import { writeAllSync } from "./util/fd_write.ts";

/** Log levels, lowest first (names as in `LOG_LEVEL`). */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
/** One log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** Where log lines go; tests capture them. */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();

/**
 * Writes a line to stderr synchronously and whole (small lines; a stderr
 * left non-blocking is waited on when full, as a blocking one would be).
 */
export function stderrSink(line: string): void {
  try {
    writeAllSync(Deno.stderr, encoder.encode(line + "\n"));
  } catch {
    // stderr closed: nothing sensible left to do
  }
}

/** Receives every WARNING-or-above line a logger writes (MCP log notifications). */
export type LogTap = (level: LogLevel, msg: string, fields: LogFields) => void;

/** The server logger. */
export class Logger {
  #min: number;
  #format: "text" | "json";
  #sink: LogSink;
  #fields: LogFields;
  /** shared with every child logger */
  #taps: Set<LogTap> = new Set();

  constructor(
    opts: { level?: LogLevel; format?: "text" | "json"; sink?: LogSink; fields?: LogFields } = {},
  ) {
    this.#min = LOG_LEVELS.indexOf(opts.level ?? "INFO");
    this.#format = opts.format ?? "text";
    this.#sink = opts.sink ?? stderrSink;
    this.#fields = opts.fields ?? {};
  }

  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger {
    const l = new Logger({
      level: LOG_LEVELS[this.#min],
      format: this.#format,
      sink: this.#sink,
    });
    l.#fields = { ...this.#fields, ...fields };
    l.#taps = this.#taps;
    return l;
  }

  /**
   * Adds a tap that sees every WARNING-or-above line written by this logger
   * and its children (existing and future); returns its remover.
   */
  addTap(tap: LogTap): () => void {
    this.#taps.add(tap);
    return () => this.#taps.delete(tap);
  }

  /** True when lines of `level` are written. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#min;
  }

  /** Writes one line. */
  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    // taps (MCP log notifications) see WARNING and above whatever LOG_LEVEL says
    if (this.#taps.size && LOG_LEVELS.indexOf(level) >= 2) {
      const all = { ...this.#fields, ...fields };
      for (const tap of this.#taps) {
        try {
          tap(level, msg, all);
        } catch {
          // a tap never breaks logging
        }
      }
    }
    if (!this.enabled(level)) return;
    const all = { ...this.#fields, ...fields };
    const ts = new Date().toISOString();
    if (this.#format === "json") {
      this.#sink(JSON.stringify({ ts, level, msg, ...all }));
      return;
    }
    const extra = Object.entries(all)
      .map(([k, v]) => `${k}=${typeof v === "string" ? quoteIfNeeded(v) : JSON.stringify(v)}`)
      .join(" ");
    this.#sink(`${ts} ${level} ${msg}${extra ? " " + extra : ""}`);
  }

  /** DEBUG line. */
  debug(msg: string, fields?: LogFields): void {
    this.log("DEBUG", msg, fields);
  }
  /** INFO line. */
  info(msg: string, fields?: LogFields): void {
    this.log("INFO", msg, fields);
  }
  /** WARNING line. */
  warn(msg: string, fields?: LogFields): void {
    this.log("WARNING", msg, fields);
  }
  /** ERROR line. */
  error(msg: string, fields?: LogFields): void {
    this.log("ERROR", msg, fields);
  }
}

function quoteIfNeeded(v: string): string {
  return /^[\w.:/@+-]*$/.test(v) && v.length > 0 ? v : JSON.stringify(v);
}

/** A logger that drops everything (tests, tools that must stay silent). */
export const nullLogger: Logger = new Logger({ level: "CRITICAL", sink: () => {} });

/** Builds the server logger from the settings (`LOG_LEVEL`, `SSH_LOG_FORMAT`). */
export function loggerFor(settings: Pick<Settings, "LOG_LEVEL" | "SSH_LOG_FORMAT">): Logger {
  return new Logger({ level: settings.LOG_LEVEL, format: settings.SSH_LOG_FORMAT });
}
