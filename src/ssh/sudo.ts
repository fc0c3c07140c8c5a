/**
 * Privilege elevation with a prompt handshake (SECURITY.md SUDO-3..5, SUDO-13).
 *
 * The elevated command is `sudo -S -p '[ssh-mcp-sudo:<nonce>]' -- sh -c <inner>`
 * when a password is available, `sudo -n -- sh -c <inner>` otherwise, and
 * `doas -n -- sh -c <inner>` for `become_method = "doas"`. `<inner>` starts
 * with a line that prints a ready marker (same nonce) to stderr, so the server
 * knows the exact moment authentication is over and the command runs.
 *
 * The password is written to stdin only after sudo printed the exact prompt on
 * stderr, at most once, and only within 10 s of the start. When the ready
 * marker, the process exit or the deadline comes first nothing is written
 * (NOPASSWD rules, cached credentials); for `sudo -l` (no marker) stdout data
 * also ends the handshake. stdout never carries a prompt. A second prompt means the
 * password was rejected: stdin is closed, the remote process group is killed
 * (the exec engine's TIMEOUT-3 procedure) and the result is exit code 1 with
 * `sudo: authentication failed`. A payload (script body, file content) is
 * written only after the ready marker, so sudo can never read it as a password
 * and the command never reads the password as data.
 *
 * doas (OpenDoas, Debian's `doas` package) reads passwords only from a
 * terminal and has no prompt option; the server never allocates a PTY, so doas
 * always runs with `-n` and nothing is ever written before the ready marker:
 * password-protected doas rules fail fast with a hint, `nopass` rules work.
 *
 * The prompt and the ready marker are removed from the returned stderr.
 *
 * @module
 */

import { type RemoteCommand, sh, type ShellCommand } from "../checked.ts";
import type { ExecOptions, RawExecResult } from "./exec.ts";
import { randomHex } from "../util/random.ts";

/** How a host elevates (hosts.toml `become_method`). */
export type BecomeMethod = "sudo" | "doas";

/** Runs one command (the tool context's `exec`). */
export type RunFn = (cmd: ShellCommand, opts: Partial<ExecOptions>) => Promise<RawExecResult>;

/** What to run elevated. */
export type ElevateTarget =
  /** `sh -c <inner>` as root */
  | { kind: "shell"; inner: RemoteCommand }
  /** `sudo -l` (list the login user's rules; sudo only) */
  | { kind: "list" };

/** Why the handshake ended. */
export type HandshakeEnd = "ready" | "stdout" | "exit" | "timeout" | "auth-failed";

/** One elevated run. */
export interface ElevateRequest {
  method: BecomeMethod;
  target: ElevateTarget;
  /** the sudo password for this call, or null (then `sudo -n`) */
  password: string | null;
  /** written to stdin after the ready marker, then EOF */
  payload?: string | Uint8Array | AsyncIterable<Uint8Array>;
  timeoutMs?: number;
  stdoutCap?: number;
  stderrCap?: number;
  /** the caller's cancellation */
  signal?: AbortSignal;
  /** SUDO-4: the prompt must appear within this time (default 10 s) */
  promptTimeoutMs?: number;
  /** after the password was sent: time to wait for sudo's verdict (default 30 s; PAM delays failures) */
  verdictTimeoutMs?: number;
}

/** A {@link RawExecResult} plus what the handshake saw. */
export interface ElevatedResult extends RawExecResult {
  /** the exact prompt appeared at least once */
  prompted: boolean;
  /** the password was written (exactly once) */
  passwordSent: boolean;
  /** the ready marker appeared: authentication succeeded and the command ran */
  started: boolean;
  /** SUDO-5: a second prompt; the process was killed, nothing else was written */
  authFailed: boolean;
  handshake: HandshakeEnd;
  /** remediation text for elevation failures (no password source, doas needs nopass, requiretty) */
  hint: string | null;
}

/** Text of the SUDO-5 result. */
export const AUTH_FAILED_STDERR = "sudo: authentication failed\n";

const AUTH_FAILED_HINT =
  "The sudo password from the configured source was rejected (sudo asked again). Nothing else was sent to the host. Fix the password source (sudo_password_cmd, sudo_password_secret, keyring, SSH_SUDO_PASSWORD_CMD); do not retry with the same configuration.";

/** The prompt (`-p`) and the ready marker for one call. */
export interface ElevationTokens {
  prompt: string;
  ready: string;
}

/** Fresh per-call tokens: `[ssh-mcp-sudo:<16 hex>]` and its ready marker. */
export function elevationTokens(): ElevationTokens {
  const nonce = randomHex(8);
  return { prompt: `[ssh-mcp-sudo:${nonce}]`, ready: `[ssh-mcp-sudo-ready:${nonce}]` };
}

/**
 * Builds the remote command line. `withPassword` selects `sudo -S -p <prompt>`;
 * the inner script is one single-quoted argument of `sh -c` (AC-602).
 */
export function buildElevatedCommand(
  method: BecomeMethod,
  target: ElevateTarget,
  tokens: ElevationTokens,
  withPassword: boolean,
): ShellCommand {
  if (target.kind === "list") {
    if (method !== "sudo") throw new Error("listing rules is a sudo feature");
    return withPassword ? sh`sudo -S -p ${tokens.prompt} -l` : sh`sudo -n -l`;
  }
  const inner = `printf '%s\\n' ${tokens.ready} >&2; ${target.inner}`;
  if (method === "doas") return sh`doas -n -- sh -c ${inner}`;
  return withPassword
    ? sh`sudo -S -p ${tokens.prompt} -- sh -c ${inner}`
    : sh`sudo -n -- sh -c ${inner}`;
}

function countOf(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) {
    n++;
  }
  return n;
}

/** Yields a payload in chunks (the exec engine applies channel backpressure per chunk). */
async function* payloadChunks(
  payload: string | Uint8Array | AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  if (typeof payload === "string") payload = new TextEncoder().encode(payload);
  if (payload instanceof Uint8Array) {
    const CHUNK = 64 * 1024;
    for (let o = 0; o < payload.length; o += CHUNK) yield payload.subarray(o, o + CHUNK);
    return;
  }
  yield* payload;
}

/**
 * The stderr watcher and the stdin writer of one run (exported for unit tests
 * of the state machine; tools use {@link runElevated}).
 */
export class Handshake {
  readonly tokens: ElevationTokens;
  readonly #password: string | null;
  readonly #expectPrompt: boolean;
  #stderr = "";
  #decoder = new TextDecoder();
  #end: HandshakeEnd | null = null;
  #wake: (() => void) | null = null;
  #passwordQueued = false;
  #passwordTaken = false;
  prompted = false;
  started = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #verdictMs: number;
  readonly #stdoutEnds: boolean;
  /** called once when a second prompt was seen (the caller kills the process) */
  onAuthFailed: () => void = () => {};

  constructor(
    tokens: ElevationTokens,
    password: string | null,
    opts: { promptTimeoutMs: number; verdictTimeoutMs: number; stdoutEnds: boolean },
  ) {
    this.tokens = tokens;
    this.#password = password;
    this.#expectPrompt = password !== null;
    this.#stdoutEnds = opts.stdoutEnds;
    this.#verdictMs = opts.verdictTimeoutMs;
    this.#timer = setTimeout(() => this.finish("timeout"), opts.promptTimeoutMs);
  }

  /** True once the password was handed to the stdin writer. */
  get passwordSent(): boolean {
    return this.#passwordTaken;
  }

  /** The handshake outcome so far (null while undecided). */
  get end(): HandshakeEnd | null {
    return this.#end;
  }

  /** Ends the handshake (first reason wins). */
  finish(why: HandshakeEnd): void {
    if (this.#end) return;
    this.#end = why;
    clearTimeout(this.#timer);
    this.#wake?.();
    if (why === "auth-failed") this.onAuthFailed();
  }

  /** Feeds one kept output chunk (the exec engine's `onOutput`). */
  onOutput(stream: "stdout" | "stderr", chunk: Uint8Array): void {
    if (this.#end) return;
    if (stream === "stdout") {
      // With a ready marker, stderr alone decides: prompts and the marker are
      // ordered there, while stdout may overtake stderr on the wire (and sudo
      // prints PAM info messages to stdout). Without one (`sudo -l`), stdout
      // means sudo is answering.
      if (chunk.length && this.#stdoutEnds) this.finish("stdout");
      return;
    }
    this.#stderr += this.#decoder.decode(chunk, { stream: true });
    const readyAt = this.#stderr.indexOf(this.tokens.ready);
    const before = readyAt >= 0 ? this.#stderr.slice(0, readyAt) : this.#stderr;
    const prompts = this.#expectPrompt ? countOf(before, this.tokens.prompt) : 0;
    if (prompts > 0) this.prompted = true;
    if (readyAt >= 0) {
      this.started = true;
      this.finish("ready");
    } else if (prompts >= 2) {
      this.finish("auth-failed");
    } else if (prompts === 1 && !this.#passwordQueued) {
      this.#passwordQueued = true;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.finish("timeout"), this.#verdictMs);
      this.#wake?.();
    }
  }

  /**
   * The stdin stream: the password line (only after the prompt), then, once
   * the command started, the payload; EOF in every other case.
   */
  async *stdin(
    payload?: string | Uint8Array | AsyncIterable<Uint8Array>,
  ): AsyncGenerator<Uint8Array> {
    while (!this.#end) {
      if (this.#passwordQueued && !this.#passwordTaken && this.#password !== null) {
        this.#passwordTaken = true;
        yield new TextEncoder().encode(this.#password + "\n");
        continue;
      }
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = null;
    }
    if (this.#end === "ready" && payload !== undefined) yield* payloadChunks(payload);
  }
}

function stripOnce(s: string, needle: string): string {
  const i = s.indexOf(needle);
  return i < 0 ? s : s.slice(0, i) + s.slice(i + needle.length);
}

function elevationHint(method: BecomeMethod, stderr: string, usedPassword: boolean): string | null {
  const l = stderr.toLowerCase();
  if (method === "doas") {
    if (l.includes("authentication required") || l.includes("a tty is required")) {
      return 'doas asked for a password. doas reads passwords only from a terminal and ssh-mcp never allocates one, so doas needs a `nopass` rule for this user in /etc/doas.conf (or use become_method = "sudo").';
    }
    if (l.includes("not permitted") || l.includes("doas is not enabled")) {
      return "doas refused: /etc/doas.conf has no rule permitting this user to run commands as root.";
    }
    return null;
  }
  if (l.includes("a password is required")) {
    return "sudo needs a password for this user but no sudo password source is configured for this host (sudo_password_cmd, sudo_password_secret, keyring ssh-mcp-sudo, SSH_SUDO_PASSWORD_CMD); or ask the operator for a NOPASSWD rule.";
  }
  if (l.includes("no password was provided")) {
    return "sudo did not show the expected prompt in time, so no password was sent (a sudoers `passprompt_override` or a slow authentication backend can cause this).";
  }
  if (l.includes("must have a tty") || l.includes("no tty present")) {
    return "sudo requires a terminal (requiretty). ssh-mcp never allocates a PTY: ask the operator for `Defaults:<user> !requiretty`.";
  }
  if (l.includes("is not in the sudoers file") || l.includes("is not allowed to execute")) {
    return "sudoers does not allow this user to run the command as root.";
  }
  if (usedPassword && l.includes("incorrect password")) return AUTH_FAILED_HINT;
  return null;
}

/** Runs one elevated command with the prompt handshake (see module docs). */
export async function runElevated(run: RunFn, req: ElevateRequest): Promise<ElevatedResult> {
  const tokens = elevationTokens();
  const withPassword = req.method === "sudo" && req.password !== null;
  const cmd = buildElevatedCommand(req.method, req.target, tokens, withPassword);
  const hs = new Handshake(tokens, withPassword ? req.password : null, {
    promptTimeoutMs: req.promptTimeoutMs ?? 10_000,
    verdictTimeoutMs: req.verdictTimeoutMs ?? 30_000,
    stdoutEnds: req.target.kind === "list",
  });
  const kill = new AbortController();
  hs.onAuthFailed = () => kill.abort();
  const signal = req.signal ? AbortSignal.any([req.signal, kill.signal]) : kill.signal;
  let raw: RawExecResult;
  try {
    raw = await run(cmd, {
      ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
      ...(req.stdoutCap !== undefined ? { stdoutCap: req.stdoutCap } : {}),
      ...(req.stderrCap !== undefined ? { stderrCap: req.stderrCap } : {}),
      signal,
      stdin: hs.stdin(req.payload),
      onOutput: (stream, chunk) => hs.onOutput(stream, chunk),
    });
  } finally {
    hs.finish("exit");
  }
  const handshake = hs.end ?? "exit";
  const base = {
    prompted: hs.prompted,
    passwordSent: hs.passwordSent,
    // the marker may also arrive after the handshake ended (stdout first, exit)
    started: hs.started || raw.stderr.includes(tokens.ready),
  };
  if (handshake === "auth-failed" && !req.signal?.aborted) {
    const stderrRaw = new TextEncoder().encode(AUTH_FAILED_STDERR);
    return {
      ...raw,
      ...base,
      exitCode: 1,
      signal: null,
      stderr: AUTH_FAILED_STDERR,
      stderrRaw,
      stderrBytes: stderrRaw.length,
      stderrTruncated: false,
      timedOut: false,
      cancelled: false,
      authFailed: true,
      handshake,
      hint: AUTH_FAILED_HINT,
    };
  }
  // remove the prompt(s) and the ready marker line from stderr
  let stderr = raw.stderr;
  const before = stderr.length;
  if (withPassword) stderr = stderr.replaceAll(tokens.prompt, "");
  stderr = stripOnce(stderr, tokens.ready + "\n");
  stderr = stripOnce(stderr, tokens.ready);
  const stderrRaw = stderr.length === before ? raw.stderrRaw : new TextEncoder().encode(stderr);
  const removed = raw.stderrRaw.length - stderrRaw.length;
  return {
    ...raw,
    ...base,
    stderr,
    stderrRaw,
    stderrBytes: Math.max(0, raw.stderrBytes - removed),
    authFailed: false,
    handshake,
    hint: base.started ? null : elevationHint(req.method, stderr, withPassword),
  };
}
