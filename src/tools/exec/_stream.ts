/**
 * Progress notifications for streaming exec (TOOLS.md §8, SECURITY.md OUT-5,
 * AC-011, AC-815): `"<stdout|stderr>: <last line, <= 200 chars>"`, sanitized,
 * throttled, and only ever built from bytes inside the output cap. Once a
 * stream is past its cap, notifications carry byte counts, never content.
 *
 * @module
 */

import { sanitize } from "../../policy/sanitize.ts";

/** Longest line text in one notification. */
export const PROGRESS_LINE_MAX = 200;

type Stream = "stdout" | "stderr";

/** Turns exec output callbacks into throttled progress messages. */
export class ProgressPump {
  readonly #send: (message: string) => Promise<void>;
  readonly #intervalMs: number;
  readonly #caps: Record<Stream, number>;
  #decoders = {
    stdout: new TextDecoder("utf-8", { fatal: false }),
    stderr: new TextDecoder("utf-8", { fatal: false }),
  };
  #pending: Record<Stream, string> = { stdout: "", stderr: "" };
  #total: Record<Stream, number> = { stdout: 0, stderr: 0 };
  #reported: Record<Stream, number> = { stdout: 0, stderr: 0 };
  #kept: Record<Stream, boolean> = { stdout: false, stderr: false };
  #timer: ReturnType<typeof setTimeout> | undefined;
  #last = 0;
  #chain: Promise<void> = Promise.resolve();
  /** notifications sent */
  sent = 0;

  constructor(
    send: (message: string) => Promise<void>,
    caps: { stdout: number; stderr: number },
    intervalMs = 100,
  ) {
    this.#send = send;
    this.#caps = caps;
    this.#intervalMs = intervalMs;
  }

  /** Bytes kept inside the cap (exec `onOutput`). */
  onOutput = (stream: Stream, chunk: Uint8Array): void => {
    this.#pending[stream] += this.#decoders[stream].decode(chunk, { stream: true });
    if (this.#pending[stream].length > 64 * 1024) {
      this.#pending[stream] = this.#pending[stream].slice(-8 * 1024);
    }
    this.#kept[stream] = true;
    this.#schedule();
  };

  /** Every byte produced (exec `onData`): counted only. */
  onData = (stream: Stream, chunk: Uint8Array): void => {
    this.#total[stream] += chunk.length;
    this.#schedule();
  };

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(0, this.#last + this.#intervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, wait);
  }

  #flush(): void {
    this.#last = Date.now();
    for (const s of ["stdout", "stderr"] as const) {
      const msg = this.#message(s);
      if (msg !== null) {
        this.sent++;
        this.#chain = this.#chain.then(() => this.#send(msg)).catch(() => {});
      }
    }
  }

  #message(s: Stream): string | null {
    if (this.#kept[s]) {
      this.#kept[s] = false;
      this.#reported[s] = this.#total[s];
      const lines = this.#pending[s].split("\n");
      this.#pending[s] = lines[lines.length - 1] ?? "";
      const candidates = lines.map((l) => l.replace(/\r$/, "")).filter((l) => l.trim() !== "");
      const line = candidates[candidates.length - 1];
      if (line === undefined) return null;
      let text = sanitize(line).text;
      if (text.length > PROGRESS_LINE_MAX) text = "..." + text.slice(-(PROGRESS_LINE_MAX - 3));
      return `${s}: ${text}`;
    }
    if (this.#total[s] > this.#caps[s] && this.#total[s] !== this.#reported[s]) {
      this.#reported[s] = this.#total[s];
      return `${s}: [${this.#total[s]} bytes so far; output past the ${
        this.#caps[s]
      }-byte cap is counted, not streamed]`;
    }
    return null;
  }

  /** Sends what is pending and waits for every notification to be handed off. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    for (const s of ["stdout", "stderr"] as const) {
      this.#pending[s] += this.#decoders[s].decode();
      if (this.#pending[s]) {
        this.#pending[s] += "\n";
        this.#kept[s] = true;
      }
    }
    this.#flush();
    await this.#chain;
  }
}
