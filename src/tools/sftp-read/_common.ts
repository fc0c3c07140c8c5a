/**
 * Helpers shared by the `sftp-read` and `file-ops` tools: schema pieces,
 * opening the SFTP view of a call's host, mapping SFTP failures to error
 * classes, and filename scanning (OUT-5).
 *
 * @module
 */

import { z } from "zod";
import { type ErrorCode, isToolError, ToolError } from "../../errors.ts";
import { scan } from "../../policy/sanitize.ts";
import { SftpError } from "../../ssh/fs.ts";
import type { ToolContext } from "../context.ts";

/** A remote path argument; the path policy (PATH-1) rejects bad characters and lengths. */
export function remotePath(what: string): z.ZodString {
  return z.string().max(16384).describe(
    what,
  );
}

/** `SftpEntry` (TOOLS.md §2.2). */
export const SftpEntry = z.strictObject({
  name: z.string(),
  kind: z.enum(["file", "dir", "symlink", "other"]),
  size: z.number().int(),
  mode: z.string(),
  mtime: z.string(),
  symlink_target: z.string().nullable().optional(),
});

/**
 * Maps an SFTP failure to the tool's error class: transport loss ->
 * `ConnectError`, protocol status -> `cls` (message names the status).
 * Everything else passes through unchanged.
 */
export function mapSftpError(e: unknown, cls: ErrorCode): unknown {
  if (isToolError(e)) return e;
  if (e instanceof SftpError) {
    if (e.status === null) {
      return new ToolError(
        "ConnectError",
        `${e.message}. The connection was lost; retry the call.`,
        { sftp_status: e.statusName },
      );
    }
    return new ToolError(cls, e.message, { sftp_status: e.statusName });
  }
  return e;
}

/** Runs `fn`, mapping SFTP failures with {@link mapSftpError}. */
export async function withSftpErrors<T>(cls: ErrorCode, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw mapSftpError(e, cls);
  }
}

/**
 * Runs a local-path policy step; a filesystem error that escapes it (the file
 * vanished or was swapped mid-check) is a `LocalPathPolicyError`, never an
 * internal error.
 */
export async function localStep<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isToolError(e)) throw e;
    throw new ToolError(
      "LocalPathPolicyError",
      `local_path changed while it was being checked (${
        e instanceof Error ? e.name : "error"
      }); nothing was transferred. Call again once the file is stable.`,
    );
  }
}

/**
 * A byte counter that sends an MCP progress notification every 64 MiB (only
 * when the client asked for progress); never blocks or fails the transfer.
 */
export function progressEvery(
  ctx: ToolContext,
  verb: string,
  total: number,
): (chunk: Uint8Array) => void {
  const STEP = 64 * 1024 * 1024;
  let done = 0;
  let next = STEP;
  return (chunk) => {
    done += chunk.length;
    if (done >= next) {
      next += STEP;
      ctx.progress(`${verb} ${Math.floor(done / 1048576)} of ${Math.ceil(total / 1048576)} MiB`)
        .catch(() => {});
    }
  };
}

/** OUT-5 flags for remote file names (not modified), prefixed for context. */
export function scanNames(names: readonly string[], label = "file names"): string[] {
  if (!names.length) return [];
  return scan(names.join("\n")).map((w) => `${label}: ${w}`);
}

/** Python-style code-point order (JS `<` compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}
