/**
 * The tool side of large outputs as resource links (issue 12 item 3; the
 * store is `src/mcp/outputs.ts`): capture the full output of an exec whose
 * inline copy is capped, and offer it through `ctx.largeOutputs()` when the
 * inline copy was truncated.
 *
 * @module
 */

import { concat } from "../util/bytes.ts";
import { decodeUtf8, type RawExecResult } from "../ssh/exec.ts";
import type { CtxExecOptions, ToolContext } from "./context.ts";

/**
 * Collects the full stdout/stderr of one exec (through the exec engine's
 * `onData`, which sees bytes beyond the inline cap) up to `maxBytes` per
 * stream; a stream over that is given up (memory stays bounded).
 */
export class FullCapture {
  readonly #max: number;
  readonly #chunks = { stdout: [] as Uint8Array[], stderr: [] as Uint8Array[] };
  readonly #len = { stdout: 0, stderr: 0 };
  readonly #over = { stdout: false, stderr: false };
  /** the result of the captured exec, once it finished */
  result: RawExecResult | null = null;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  /** The exec option. */
  onData = (stream: "stdout" | "stderr", chunk: Uint8Array): void => {
    if (this.#over[stream]) return;
    this.#len[stream] += chunk.length;
    if (this.#len[stream] > this.#max) {
      this.#over[stream] = true;
      this.#chunks[stream] = [];
      return;
    }
    this.#chunks[stream].push(chunk.slice());
  };

  /** The whole stream, or null when it was over the bound. */
  bytes(stream: "stdout" | "stderr"): Uint8Array | null {
    return this.#over[stream] ? null : concat(this.#chunks[stream]);
  }
}

/**
 * A view of `ctx` whose next exec (`exec` or `execOn`) also captures the full
 * output, when the client can follow resource links; `capture` is null
 * otherwise and `ctx` is returned unchanged. Later execs (probes) are not
 * captured.
 */
export function withCapture(ctx: ToolContext): { ctx: ToolContext; capture: FullCapture | null } {
  const sink = ctx.largeOutputs();
  if (!sink) return { ctx, capture: null };
  const capture = new FullCapture(sink.maxBytes);
  let armed = true;
  // the first exec is the captured one; later ones (probes) run as they are
  const run = (
    exec: (o: CtxExecOptions | undefined) => Promise<RawExecResult>,
    o?: CtxExecOptions,
  ) => {
    if (!armed) return exec(o);
    armed = false;
    const own = o?.onData;
    return exec({
      ...(o ?? {}),
      onData: (s, c) => {
        capture.onData(s, c);
        own?.(s, c);
      },
    }).then((r) => (capture.result = r));
  };
  const view = Object.create(ctx) as ToolContext;
  Object.defineProperties(view, {
    exec: {
      value: ((cmd, o) => run((x) => ctx.exec(cmd, x), o)) satisfies ToolContext["exec"],
      writable: true,
    },
    execOn: {
      value: ((host, cmd, o) => run((x) => ctx.execOn(host, cmd, x), o)) satisfies ToolContext[
        "execOn"
      ],
      writable: true,
    },
  });
  return { ctx: view, capture };
}

/**
 * Offers the full `stream` of a captured exec as a resource link when the
 * inline copy was truncated. `shown` turns the raw text into what the tool
 * returns inline (its sanitizing and reordering), so the link never holds
 * more than the tool would show. Returns an output warning naming the link
 * (or saying why there is none), or null when nothing was truncated.
 */
export function linkTruncated(
  ctx: ToolContext,
  capture: FullCapture | null,
  stream: "stdout" | "stderr",
  truncated: boolean,
  shown: (raw: string) => string,
  name = stream,
): string | null {
  if (!truncated || !capture) return null;
  const sink = ctx.largeOutputs();
  if (!sink) return null;
  const raw = capture.bytes(stream);
  const link = raw ? sink.offer({ name, data: shown(decodeUtf8(raw)) }) : null;
  if (!link) {
    return `${stream} is larger than the ${sink.maxBytes} bytes kept for resource links; only its head and tail are returned`;
  }
  return `full ${stream} (${link.size} bytes) at ${link.uri}: read it with resources/read, paged with ?offset=N&length=M`;
}
