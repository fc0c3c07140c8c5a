/**
 * Running one remote command on an open ssh2 connection.
 *
 * - Output caps are enforced while reading (SECURITY.md OUT-1): the first part
 *   and the last part of each stream are kept, the middle is counted and
 *   dropped, so memory stays bounded whatever the command prints.
 * - Timeouts and cancellation kill the remote process group, never by command
 *   text (TIMEOUT-3): commands are prefixed with a marker that reports `$$`
 *   (OpenSSH puts each no-PTY session in its own process group), the marker is
 *   found wherever it appears in stderr (after a login banner too) and only it
 *   is removed (TIMEOUT-8), and on deadline/cancel we send `TERM` over the channel,
 *   then `kill -s TERM -- -<pgid>` (the form dash accepts; dash rejects
 *   `kill -TERM -- -<pgid>`) over a second channel, `KILL` after 2 s, then
 *   close the channel. Readers are always torn down (TIMEOUT-5).
 * - A non-zero exit code is data, never an error (OUT-7).
 *
 * @module
 */

// @ts-types="npm:@types/ssh2@1.15.5"
import type ssh2 from "ssh2";
import { Buffer } from "node:buffer";
import { ToolError } from "../errors.ts";
import { concat } from "../util/bytes.ts";
import type { RemoteCommand } from "../checked.ts";
import { randomHex } from "../util/random.ts";
import { withSpan } from "../telemetry/otel.ts";

/** Options for one command. */
export interface ExecOptions {
  /** deadline in milliseconds */
  timeoutMs: number;
  /** bytes of stdout kept (head and tail) */
  stdoutCap: number;
  /** bytes of stderr kept (head and tail) */
  stderrCap: number;
  /** data written to stdin, then EOF; an async iterable is streamed with backpressure */
  stdin?: string | Uint8Array | AsyncIterable<Uint8Array>;
  /** cancels the command (MCP `notifications/cancelled`) */
  signal?: AbortSignal;
  /** called with every chunk that was kept (never bytes beyond the cap) */
  onOutput?: (stream: "stdout" | "stderr", chunk: Uint8Array) => void;
  /**
   * called with every chunk the remote produced, including bytes beyond the
   * cap (the marker line removed); for consumers with their own bound, such
   * as the async-task line ring
   */
  onData?: (stream: "stdout" | "stderr", chunk: Uint8Array) => void;
  /** called once the channel is open and the command runs */
  onStart?: () => void;
  /** environment variables requested for the session (subject to sshd AcceptEnv) */
  env?: Record<string, string>;
}

/** What a command produced. */
export interface RawExecResult {
  /** remote exit status; -1 on timeout/cancel or when the server sent none */
  exitCode: number;
  /** signal name when the process died by a signal */
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutRaw: Uint8Array;
  stderrRaw: Uint8Array;
  /** bytes the remote produced, before capping */
  stdoutBytes: number;
  stderrBytes: number;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
}

/**
 * Keeps at most `cap` bytes: the first part, and (once over the cap) a ring
 * of the last `tailCap` bytes. Memory is O(cap).
 */
export class CappedBuffer {
  readonly cap: number;
  readonly #headCap: number;
  readonly #tailCap: number;
  #head: Uint8Array[] = [];
  #headLen = 0;
  /** allocated on first overflow: most commands never fill the head */
  #tail: Uint8Array<ArrayBuffer> | null = null;
  #tailPos = 0;
  #tailFill = 0;
  total = 0;

  constructor(cap: number) {
    this.cap = cap;
    this.#tailCap = Math.min(Math.floor(cap / 4), 256 * 1024);
    this.#headCap = cap - this.#tailCap;
  }

  /** True once more than `cap` bytes were seen. */
  get truncated(): boolean {
    return this.total > this.cap;
  }

  /**
   * Appends a chunk; returns the part of it that was kept in the head (for
   * streaming consumers), which is empty once the head is full.
   */
  push(chunk: Uint8Array): Uint8Array {
    this.total += chunk.length;
    let kept: Uint8Array = new Uint8Array(0);
    let rest = chunk;
    if (this.#headLen < this.#headCap) {
      const n = Math.min(this.#headCap - this.#headLen, rest.length);
      kept = rest.subarray(0, n);
      this.#head.push(kept.slice());
      this.#headLen += n;
      rest = rest.subarray(n);
    }
    if (rest.length && this.#tailCap > 0) {
      this.#tail ??= new Uint8Array(this.#tailCap);
      if (rest.length >= this.#tailCap) {
        this.#tail.set(rest.subarray(rest.length - this.#tailCap));
        this.#tailPos = 0;
        this.#tailFill = this.#tailCap;
      } else {
        const first = Math.min(rest.length, this.#tailCap - this.#tailPos);
        this.#tail.set(rest.subarray(0, first), this.#tailPos);
        this.#tail.set(rest.subarray(first), 0);
        this.#tailPos = (this.#tailPos + rest.length) % this.#tailCap;
        this.#tailFill = Math.min(this.#tailCap, this.#tailFill + rest.length);
      }
    }
    return kept;
  }

  /** The kept bytes; when truncated, head + an omission marker + tail. */
  bytes(): Uint8Array {
    const t = this.#tail ?? new Uint8Array(0);
    const tail = this.#tailFill < this.#tailCap
      ? t.subarray(0, this.#tailFill)
      : concat([t.subarray(this.#tailPos), t.subarray(0, this.#tailPos)]);
    const head = concat(this.#head);
    if (!this.truncated) return concat([head, tail]);
    const omitted = this.total - head.length - tail.length;
    const marker = new TextEncoder().encode(
      `\n[... ${omitted} bytes omitted: output exceeded the ${this.cap}-byte cap ...]\n`,
    );
    return concat([head, marker, tail]);
  }
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** UTF-8 decode with U+FFFD for invalid sequences (OUT-2). */
export function decodeUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}

/** An exec channel plus its exit status, captured from the moment it opened. */
export interface OpenedChannel {
  channel: ssh2.ClientChannel;
  /**
   * Exit status once the server sent it. The listener is attached
   * synchronously inside ssh2's exec callback: when confirmation, output,
   * exit-status and close arrive in one TCP read, ssh2 emits `exit` before any
   * awaiting code could subscribe.
   */
  exit: { code: number | null; signal: string | null } | null;
}

/** Hooks the connection provides to the exec engine. */
export interface ExecHost {
  /** opens an exec channel (after the channel semaphore) */
  openChannel(command: string, env?: Record<string, string>): Promise<OpenedChannel>;
  /** runs a short command on a separate channel, ignoring its output (used to kill) */
  fireAndForget(command: string, timeoutMs: number): Promise<void>;
  /** true when the login shell is POSIX, false when not, null before anything told */
  readonly posixShell: boolean | null;
  /**
   * Lets this command carry the login-shell probe: the function that records
   * the answer (null: inconclusive), or null when someone else is learning it
   */
  claimShellProbe(): ((posix: boolean | null) => void) | null;
  /** whether the login shell is POSIX, once known (waits for a probe in flight) */
  knowShell(): Promise<boolean>;
}

/**
 * True when a first command that carried the probe provably never started:
 * no marker, no stdout, and the login shell rejected the whole line before
 * running any of it, as csh/tcsh (`$((` is an illegal variable, the whole
 * line is refused) and fish (a parse error quoting our line, with its nonce)
 * do. Anything else may have run, and is never run again.
 */
export function probeRefused(r: {
  stdoutBytes: number;
  stderr: string;
  exitCode: number;
  signal: string | null;
}, markerPrefix: string): boolean {
  if (r.stdoutBytes !== 0 || r.signal !== null || r.exitCode < 0) return false;
  if (r.exitCode === 1 && r.stderr === "Illegal variable name.\n") return true;
  return r.stderr.startsWith("fish: ") && r.stderr.includes(markerPrefix);
}

/** Stderr held back while a first command's probe marker is awaited (login noise before it). */
const PROBE_HOLD_MAX = 64 * 1024;

/** Longest pid text accepted after the marker prefix. */
const MARKER_DIGITS_MAX = 24;

/** First index of `needle` in `hay`, or -1. */
function indexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  if (needle.length === 0) return 0;
  const first = needle[0]!;
  for (
    let i = hay.indexOf(first);
    i >= 0 && i <= hay.length - needle.length;
    i = hay.indexOf(first, i + 1)
  ) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/** The host alias of a connection, for spans (an `ExecHost` need not have one). */
function aliasOf(host: ExecHost): string | undefined {
  const alias = (host as { target?: { policy?: { alias?: unknown } } }).target?.policy?.alias;
  return typeof alias === "string" ? alias : undefined;
}

/**
 * Runs `command` and collects its result (see module docs), inside an
 * `ssh.exec` span: exit code, signal and byte counts, never the command text
 * or output (TELEM-1).
 */
export async function execCommand(
  host: ExecHost,
  command: RemoteCommand,
  opts: ExecOptions,
): Promise<RawExecResult> {
  return await withSpan("ssh.exec", { "ssh.host": aliasOf(host) }, async (span) => {
    const r = await runCommand(host, command, opts);
    span.set({
      "ssh.exit_code": r.exitCode,
      "ssh.exit_signal": r.signal,
      "ssh.stdout_bytes": r.stdoutBytes,
      "ssh.stderr_bytes": r.stderrBytes,
      "ssh.timed_out": r.timedOut,
      "ssh.cancelled": r.cancelled,
      ...(host.posixShell !== null ? { "ssh.posix_shell": host.posixShell } : {}),
    });
    return r;
  }, "client");
}

async function runCommand(
  host: ExecHost,
  command: RemoteCommand,
  opts: ExecOptions,
): Promise<RawExecResult> {
  if (opts.signal?.aborted) {
    throw new ToolError("Cancelled", "The request was cancelled before the command started.");
  }
  // TIMEOUT-3: the login shell must be POSIX for the pid marker. A command on
  // a connection whose shell nobody has learned yet carries the probe itself
  // (the marker prints `42:<pid>` only where `$((6*7))` is arithmetic), so a
  // new connection needs no probe channel; commands that cannot be sent twice
  // (streamed stdin) and commands beside a probe in flight wait for the answer
  let posix = host.posixShell;
  let settle: ((posix: boolean | null) => void) | null = null;
  if (posix === null) {
    settle = isStream(opts.stdin) ? null : host.claimShellProbe();
    if (!settle) posix = await host.knowShell();
  }
  try {
    const r = await runOnce(host, command, opts, posix ?? "probe", settle ?? undefined);
    if (settle) {
      settle(r.probe);
      if (r.probe === false && r.refused) {
        // nothing ran: run it as a non-POSIX shell takes it (no marker)
        return (await runOnce(host, command, { ...opts, onStart: undefined }, false)).result;
      }
    }
    return r.result;
  } finally {
    // a throw (channel refused, cancelled) tells nothing: the next caller learns it
    settle?.(null);
  }
}

/** What {@link runOnce} found out about the login shell (`probe` mode). */
interface Once {
  result: RawExecResult;
  /** probe mode: true POSIX, false not, null inconclusive (timeout, cancel, lost) */
  probe: boolean | null;
  /** probe mode, not POSIX: the shell refused the line, nothing ran ({@link probeRefused}) */
  refused: boolean;
}

/** True when `stdin` is streamed (it cannot be sent a second time). */
export function isStream(stdin: ExecOptions["stdin"]): boolean {
  return stdin !== undefined && typeof stdin !== "string" && !(stdin instanceof Uint8Array);
}

async function runOnce(
  host: ExecHost,
  command: RemoteCommand,
  opts: ExecOptions,
  shell: boolean | "probe",
  onShell?: (posix: boolean) => void,
): Promise<Once> {
  const started = performance.now();
  const nonce = randomHex(8);
  const markerPrefix = `__SSHMCP_PID_${nonce}__ `;
  const probing = shell === "probe";
  const wire = probing
    ? `printf '${markerPrefix}%s\\n' "$((6*7)):$$" >&2; ${command}`
    : shell
    ? `printf '${markerPrefix}%s\\n' "$$" >&2; ${command}`
    : command;
  const opened = await host.openChannel(wire, opts.env);
  const channel = opened.channel;

  const out = new CappedBuffer(opts.stdoutCap);
  const err = new CappedBuffer(opts.stderrCap);
  let pgid: string | null = null;
  let markerPending = shell !== false;
  // probe mode: stderr is held until the marker shows the shell is POSIX, so
  // a refused line (probeRefused) reaches no consumer before it is run again
  let holding = probing;
  const pidLine = probing ? /^42:([0-9]{1,18})$/ : /^([0-9]{1,18})$/;
  let markerSeen: () => void = () => {};
  const markerDone = new Promise<void>((r) => (markerSeen = r));
  let markerBuf: Uint8Array = new Uint8Array(0);
  let timedOut = false;
  let cancelled = false;

  opts.onStart?.();
  const onStdout = (d: Uint8Array) => {
    opts.onData?.("stdout", d);
    const kept = out.push(d);
    if (kept.length && opts.onOutput) opts.onOutput("stdout", kept);
  };
  const pushStderr = (d: Uint8Array) => {
    if (!d.length) return;
    opts.onData?.("stderr", d);
    const kept = err.push(d);
    if (kept.length && opts.onOutput) opts.onOutput("stderr", kept);
  };
  // TIMEOUT-8: the marker is found wherever it appears in stderr (a login
  // shell may print a banner first, with or without a newline) and only the
  // marker itself is removed; while it is pending, at most the bytes that
  // could start it are held back
  const prefixBytes = new TextEncoder().encode(markerPrefix);
  // probe mode: what the search lets through waits in `held` until the marker
  // arrives (then it goes out first), or until close decides (probeRefused)
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  const release = () => {
    holding = false;
    for (const h of held) pushStderr(h);
    held = [];
  };
  const emit = (d: Uint8Array) => {
    if (!holding) return pushStderr(d);
    held.push(d);
    heldBytes += d.length;
    // that much before any marker: stream it from here on
    if (heldBytes > PROBE_HOLD_MAX) release();
  };
  const found = (at: number, nl: number, pid: string) => {
    pgid = pid;
    markerPending = false;
    release();
    pushStderr(markerBuf.subarray(0, at));
    pushStderr(markerBuf.subarray(nl + 1));
    markerBuf = new Uint8Array(0);
    markerSeen();
    if (probing) onShell?.(true);
  };
  const onStderr = (d: Uint8Array) => {
    if (!markerPending) return pushStderr(d);
    markerBuf = concat([markerBuf, d]);
    for (;;) {
      const at = indexOfBytes(markerBuf, prefixBytes);
      if (at < 0) {
        const keep = Math.min(markerBuf.length, prefixBytes.length - 1);
        emit(markerBuf.subarray(0, markerBuf.length - keep));
        markerBuf = markerBuf.slice(markerBuf.length - keep);
        return;
      }
      const digitsFrom = at + prefixBytes.length;
      const nl = markerBuf.indexOf(10, digitsFrom);
      if (nl < 0) {
        if (markerBuf.length - digitsFrom <= MARKER_DIGITS_MAX) {
          // the rest of the marker line has not arrived yet
          emit(markerBuf.subarray(0, at));
          markerBuf = markerBuf.slice(at);
          return;
        }
      } else {
        const m = pidLine.exec(decodeUtf8(markerBuf.subarray(digitsFrom, nl)));
        if (m && Number(m[1]) > 1) return found(at, nl, m[1]!);
      }
      // the nonce followed by something that is not a pid line: plain text
      const upto = nl < 0 ? digitsFrom : nl + 1;
      emit(markerBuf.subarray(0, upto));
      markerBuf = markerBuf.slice(upto);
    }
  };

  channel.on("data", onStdout);
  channel.stderr.on("data", onStderr);
  const closed = new Promise<void>((resolve) => channel.once("close", () => resolve()));
  let stopRequested: ((why: "timeout" | "cancel") => void) | undefined;
  const stopped = new Promise<"timeout" | "cancel">((resolve) => (stopRequested = resolve));
  const timer = setTimeout(() => stopRequested?.("timeout"), opts.timeoutMs);
  const onAbort = () => stopRequested?.("cancel");
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  // cancelled while the channel was opening: the listener above never fires
  if (opts.signal?.aborted) onAbort();

  const stdinDone = writeStdin(channel, opts.stdin).catch(() => {});

  const outcome = await Promise.race([closed.then(() => "closed" as const), stopped]);
  clearTimeout(timer);
  opts.signal?.removeEventListener("abort", onAbort);

  let exitCode = opened.exit?.code ?? -1;
  const exitSignal = opened.exit?.signal?.replace(/^SIG/, "") || null;
  if (outcome !== "closed") {
    if (outcome === "timeout") timedOut = true;
    else cancelled = true;
    // stopped right after the channel opened: give the PID marker a moment
    // to arrive, so the process group can be killed (not only the channel)
    if (markerPending) await within(Promise.race([markerDone, closed]), 2000);
    await killRemote(host, channel, pgid, closed);
    await within(closed, 1000);
    exitCode = -1;
  }
  await within(stdinDone, 100);
  // probe mode without a marker: a shell that answered with an exit status is
  // not POSIX; a timeout, cancel or lost channel tells nothing
  let probe: boolean | null = probing && !markerPending ? true : null;
  let refused = false;
  const status = opened.exit?.code;
  if (probing && markerPending && outcome === "closed" && typeof status === "number") {
    probe = false;
    refused = holding && probeRefused({
      stdoutBytes: out.total,
      stderr: decodeUtf8(concat([...held, markerBuf])),
      exitCode: status,
      signal: opened.exit?.signal ?? null,
    }, markerPrefix);
  }
  if (!refused) {
    release();
    if (markerPending && markerBuf.length) pushStderr(markerBuf);
  }
  channel.removeAllListeners("data");
  channel.stderr.removeAllListeners("data");

  const stdoutRaw = out.bytes();
  const stderrRaw = err.bytes();
  const result: RawExecResult = {
    exitCode,
    signal: exitSignal,
    stdout: decodeUtf8(stdoutRaw),
    stderr: decodeUtf8(stderrRaw),
    stdoutRaw,
    stderrRaw,
    stdoutBytes: out.total,
    stderrBytes: err.total,
    stdoutTruncated: out.truncated,
    stderrTruncated: err.truncated,
    timedOut,
    cancelled,
    durationMs: Math.round(performance.now() - started),
  };
  return { result, probe, refused };
}

/** Waits for `p` at most `ms` milliseconds (the timer is cleared either way). */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

async function writeStdin(
  channel: ssh2.ClientChannel,
  stdin: ExecOptions["stdin"],
): Promise<void> {
  if (stdin === undefined) {
    channel.end();
    return;
  }
  if (typeof stdin === "string" || stdin instanceof Uint8Array) {
    channel.end(typeof stdin === "string" ? stdin : Buffer.from(stdin));
    return;
  }
  for await (const chunk of stdin) {
    if (!channel.write(Buffer.from(chunk))) {
      await new Promise<void>((resolve) => {
        const done = () => {
          channel.off("drain", done);
          channel.off("close", done);
          resolve();
        };
        channel.on("drain", done);
        channel.on("close", done);
      });
    }
  }
  channel.end();
}

/** TIMEOUT-3 kill procedure. */
async function killRemote(
  host: ExecHost,
  channel: ssh2.ClientChannel,
  pgid: string | null,
  closed: Promise<void>,
): Promise<void> {
  try {
    channel.signal("TERM");
  } catch {
    // channel may already be closing
  }
  if (pgid && /^[0-9]+$/.test(pgid) && Number(pgid) > 1) {
    await host.fireAndForget(`kill -s TERM -- -${pgid} 2>/dev/null`, 5000);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gone = await Promise.race([
      closed.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 2000))),
    ]);
    clearTimeout(timer);
    if (!gone) await host.fireAndForget(`kill -s KILL -- -${pgid} 2>/dev/null`, 5000);
  }
  try {
    channel.close();
  } catch {
    // already closed
  }
}
