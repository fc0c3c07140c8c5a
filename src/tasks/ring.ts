/**
 * A bounded ring of output lines for async tasks (SECURITY.md TASK-3): at most
 * `maxLines` lines and `maxBytes` characters, oldest dropped first. stdout and
 * stderr are interleaved in arrival order; stderr lines carry a `[stderr] `
 * prefix. A line longer than `maxLineChars` is split, so an endless line
 * without a newline cannot grow memory either.
 *
 * @module
 */

/** Prefix of stderr lines in task output. */
export const STDERR_PREFIX = "[stderr] ";

/** Bounded interleaved line buffer. */
export class LineRing {
  readonly maxLines: number;
  readonly maxBytes: number;
  readonly maxLineChars: number;
  #lines: string[] = [];
  #start = 0;
  #chars = 0;
  #partial: Record<"stdout" | "stderr", string> = { stdout: "", stderr: "" };
  #decoders = {
    stdout: new TextDecoder("utf-8", { fatal: false }),
    stderr: new TextDecoder("utf-8", { fatal: false }),
  };
  /** lines evicted so far */
  dropped = 0;

  constructor(maxLines: number, maxBytes: number, maxLineChars = 4096) {
    this.maxLines = Math.max(1, maxLines);
    this.maxBytes = Math.max(1, maxBytes);
    this.maxLineChars = Math.max(16, maxLineChars);
  }

  /** Lines currently held (complete lines only). */
  get size(): number {
    return this.#lines.length - this.#start;
  }

  /** Appends a chunk of one stream. */
  push(stream: "stdout" | "stderr", chunk: Uint8Array): void {
    let text = this.#partial[stream] + this.#decoders[stream].decode(chunk, { stream: true });
    for (;;) {
      const nl = text.indexOf("\n");
      if (nl < 0) break;
      this.#add(stream, text.slice(0, nl).replace(/\r$/, ""));
      text = text.slice(nl + 1);
    }
    while (text.length > this.maxLineChars) {
      this.#add(stream, text.slice(0, this.maxLineChars));
      text = text.slice(this.maxLineChars);
    }
    this.#partial[stream] = text;
  }

  /** Flushes partial lines (at the end of the command). */
  end(): void {
    for (const s of ["stdout", "stderr"] as const) {
      const rest = this.#partial[s] + this.#decoders[s].decode();
      this.#partial[s] = "";
      if (rest) this.#add(s, rest);
    }
  }

  #add(stream: "stdout" | "stderr", line: string): void {
    const l = stream === "stderr" ? STDERR_PREFIX + line : line;
    this.#lines.push(l);
    this.#chars += l.length;
    while (this.size > this.maxLines || (this.#chars > this.maxBytes && this.size > 1)) {
      this.#chars -= this.#lines[this.#start]!.length;
      this.#lines[this.#start] = "";
      this.#start++;
      this.dropped++;
    }
    if (this.#start > 1024 && this.#start * 2 > this.#lines.length) {
      this.#lines = this.#lines.slice(this.#start);
      this.#start = 0;
    }
  }

  /**
   * The last `n` lines, including a pending partial line of each stream at
   * the end (a progress bar without a newline is still visible).
   */
  tail(n: number): { lines: string[]; available: number } {
    const pending = (["stdout", "stderr"] as const)
      .filter((s) => this.#partial[s])
      .map((s) => (s === "stderr" ? STDERR_PREFIX : "") + this.#partial[s]);
    const all = this.size + pending.length;
    const lines = [...this.#lines.slice(this.#start), ...pending];
    return { lines: lines.slice(Math.max(0, lines.length - n)), available: all };
  }
}
