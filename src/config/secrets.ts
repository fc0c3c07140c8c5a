/**
 * Local secret sources for login credentials (SECURITY.md §AUTH, CONFIG.md §4.7):
 * operator-configured commands (`password_cmd`, `passphrase_cmd`, ...) and
 * secret files / `SSH_MCP_SECRET_<NAME>` variables (`*_secret`).
 *
 * Secrets are fetched per use and never cached, logged or put in error text.
 * Command stderr is discarded unread.
 *
 * @module
 */

import * as path from "../util/local_path.ts";
import { ToolError } from "../errors.ts";
import { type Logger, nullLogger } from "../log.ts";
import { expandPath } from "./env.ts";

/** Name rule of `*_secret` references (CONFIG.md §4.7). */
export const SECRET_NAME_RE: RegExp = /^[A-Za-z0-9_-]{1,100}$/;

/** Default deadline of a secret command (AUTH-3). */
export const SECRET_COMMAND_TIMEOUT_MS = 10_000;

/** Most bytes a secret command may print, and a secret file may hold. */
export const SECRET_MAX_BYTES = 64 * 1024;

/** Grace period for stdout to reach EOF after the command itself exited. */
const STDOUT_GRACE_MS = 200;

/** Removes exactly one trailing `\n` or `\r\n`. */
export function stripOneNewline(s: string): string {
  if (s.endsWith("\r\n")) return s.slice(0, -2);
  if (s.endsWith("\n")) return s.slice(0, -1);
  return s;
}

function formatSeconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

function delay(ms: number): { promise: Promise<"timeout">; cancel(): void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) => {
    id = setTimeout(() => resolve("timeout"), ms);
  });
  return { promise, cancel: () => clearTimeout(id) };
}

function killTree(child: Deno.ChildProcess): void {
  try {
    if (Deno.build.os === "windows") {
      child.kill();
    } else {
      // the child runs in its own process group (detached): kill the shell and
      // everything it started, so no grandchild keeps the stdout pipe open
      Deno.kill(-child.pid, "SIGKILL");
    }
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Runs an operator-configured local command (`sh -c` on POSIX, `cmd.exe /d /s
 * /c` on Windows) asynchronously and returns its stdout with exactly one
 * trailing newline (`\n` or `\r\n`) removed.
 *
 * stdin is closed, stderr goes to the null device (never read, logged or
 * returned), stdout is capped at 64 KiB. At the deadline (default 10 s) the
 * command and its process group are killed and the call fails at once without
 * waiting for the pipes. Never blocks the event loop.
 *
 * @param what names the source in errors, e.g. "passphrase_cmd for host web01"
 * @throws ToolError("AuthenticationFailed") on non-zero exit, signal, timeout,
 *   oversized output or spawn failure. The message never contains the command
 *   text or its output.
 */
export async function runSecretCommand(
  cmd: string,
  opts: { what: string; timeoutMs?: number },
): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? SECRET_COMMAND_TIMEOUT_MS;
  const windows = Deno.build.os === "windows";
  const fail = (detail: string) =>
    new ToolError("AuthenticationFailed", `${opts.what}: command ${detail}`, {
      source: opts.what,
    });

  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(windows ? "cmd.exe" : "/bin/sh", {
      args: windows ? ["/d", "/s", "/c", `"${cmd}"`] : ["-c", cmd],
      windowsRawArguments: windows,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      detached: !windows,
    }).spawn();
  } catch (e) {
    throw fail(`could not be started (${e instanceof Error ? e.name : "error"})`);
  }

  const reader = child.stdout.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let overflow = false;
  const readAll = (async () => {
    try {
      for (;;) {
        // sequential reads of one stream
        // deno-lint-ignore no-await-in-loop
        const { value, done } = await reader.read();
        if (done) return;
        size += value.length;
        if (size > SECRET_MAX_BYTES) {
          overflow = true;
          return;
        }
        chunks.push(value);
      }
    } catch {
      // cancelled or pipe error: the caller decides from the exit status
    }
  })();

  const deadline = delay(timeoutMs);
  const finish = async (): Promise<void> => {
    const cancel = reader.cancel().catch(() => {});
    const status = child.status.then(() => {}, () => {});
    const grace = delay(1000);
    await Promise.race([Promise.all([cancel, status, readAll]), grace.promise]);
    grace.cancel();
  };

  try {
    const first = await Promise.race([
      child.status,
      readAll.then(() => (overflow ? "overflow" as const : "eof" as const)),
      deadline.promise,
    ]);
    if (first === "timeout") {
      killTree(child);
      await finish();
      throw fail(`timed out after ${formatSeconds(timeoutMs)} (killed)`);
    }
    if (first === "overflow") {
      killTree(child);
      await finish();
      throw fail(`printed more than ${SECRET_MAX_BYTES / 1024} KiB`);
    }
    // wait for the other half (exit status or stdout EOF) within the deadline
    let status: Deno.CommandStatus;
    if (first === "eof") {
      const s = await Promise.race([child.status, deadline.promise]);
      if (s === "timeout") {
        killTree(child);
        await finish();
        throw fail(`timed out after ${formatSeconds(timeoutMs)} (killed)`);
      }
      status = s;
    } else {
      status = first;
      // a background grandchild may hold stdout open: give it a short grace
      const grace = delay(STDOUT_GRACE_MS);
      const r = await Promise.race([readAll.then(() => "eof" as const), grace.promise]);
      grace.cancel();
      if (r === "timeout") killTree(child);
      await finish();
      if (overflow) throw fail(`printed more than ${SECRET_MAX_BYTES / 1024} KiB`);
    }
    if (!status.success) {
      throw fail(
        status.signal ? `failed (killed by ${status.signal})` : `failed (exit ${status.code})`,
      );
    }
    const all = new Uint8Array(size);
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    const text = stripOneNewline(new TextDecoder().decode(all));
    all.fill(0);
    for (const c of chunks) c.fill(0);
    return text;
  } finally {
    deadline.cancel();
  }
}

/**
 * Resolves a `*_secret` reference (CONFIG.md §4.7, AUTH-4).
 *
 * - `name` must match {@link SECRET_NAME_RE} (so no separators, no `..`, not
 *   absolute).
 * - When `allowEnv` and `SSH_MCP_SECRET_<NAME upper-cased>` is set to a
 *   non-empty value, that value wins.
 * - Otherwise `<dir>/<name>` must be a regular file (not a symlink) directly
 *   inside `dir` (checked with lstat, and re-checked on the opened handle so a
 *   swap between check and open is refused). Its content, with one trailing
 *   newline stripped, is the secret. Group/world-readable files produce a
 *   WARNING naming the file (never the content).
 *
 * Read per use, never cached.
 *
 * @throws ToolError("AuthenticationFailed") for an invalid name, no secrets
 *   directory, a missing / non-regular / symlinked file, or an empty secret.
 */
export async function readSecret(
  name: string,
  opts: {
    dir: string | null;
    allowEnv: boolean;
    env: Record<string, string | undefined>;
    what: string;
    logger?: Logger;
  },
): Promise<string> {
  const logger = opts.logger ?? nullLogger;
  const fail = (detail: string) =>
    new ToolError("AuthenticationFailed", `${opts.what}: ${detail}`, { source: opts.what });
  if (!SECRET_NAME_RE.test(name)) {
    throw fail("invalid secret name (allowed: letters, digits, '_' and '-', at most 100)");
  }
  if (opts.allowEnv) {
    const v = opts.env[`SSH_MCP_SECRET_${name.toUpperCase()}`];
    if (v !== undefined && v !== "") return v;
  }
  if (!opts.dir) {
    throw fail(
      `secret "${name}" not found: SSH_SECRETS_DIR is not set` +
        (opts.allowEnv ? ` and SSH_MCP_SECRET_${name.toUpperCase()} is not set` : ""),
    );
  }
  const dir = path.resolve(expandPath(opts.dir, opts.env));
  const file = path.join(dir, name);
  if (path.dirname(file) !== dir) throw fail("invalid secret name");

  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw fail(`secret file ${file} not found (SSH_SECRETS_DIR=${dir})`);
    }
    throw fail(`secret file ${file} cannot be read (${e instanceof Error ? e.name : "error"})`);
  }
  if (info.isSymlink) throw fail(`secret file ${file} is a symlink (refused)`);
  if (!info.isFile) throw fail(`secret file ${file} is not a regular file (refused)`);

  let fh: Deno.FsFile;
  try {
    fh = await Deno.open(file, { read: true });
  } catch (e) {
    throw fail(`secret file ${file} cannot be read (${e instanceof Error ? e.name : "error"})`);
  }
  let bytes: Uint8Array;
  try {
    const st = await fh.stat();
    if (!st.isFile || (info.ino !== null && (st.ino !== info.ino || st.dev !== info.dev))) {
      throw fail(`secret file ${file} changed while being opened (refused)`);
    }
    if (st.size > SECRET_MAX_BYTES) {
      throw fail(`secret file ${file} is larger than ${SECRET_MAX_BYTES / 1024} KiB`);
    }
    if (st.mode !== null && (st.mode & 0o077) !== 0) {
      logger.warn("secret file is readable by group or others; chmod 600 it", {
        file,
        mode: (st.mode & 0o777).toString(8),
      });
    }
    const buf = new Uint8Array(SECRET_MAX_BYTES + 1);
    let n = 0;
    for (;;) {
      // sequential reads of one file
      // deno-lint-ignore no-await-in-loop
      const r = await fh.read(buf.subarray(n));
      if (r === null || r === 0) break;
      n += r;
      if (n > SECRET_MAX_BYTES) {
        buf.fill(0);
        throw fail(`secret file ${file} is larger than ${SECRET_MAX_BYTES / 1024} KiB`);
      }
    }
    bytes = buf.slice(0, n);
    buf.fill(0);
  } finally {
    fh.close();
  }
  const value = stripOneNewline(new TextDecoder().decode(bytes));
  bytes.fill(0);
  if (value === "") throw fail(`secret file ${file} is empty`);
  return value;
}
