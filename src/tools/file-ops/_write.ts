/**
 * `ssh_upload` and `ssh_deploy`: payload validation (before any I/O), then the
 * atomic write of `src/ssh/sftp.ts` keeping the existing file's mode and
 * owner, the NEW `expected_sha256` precondition and `check` mode, and for
 * deploy a backup that never loses the live file.
 *
 * @module
 */

import { z } from "zod";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { ToolError } from "../../errors.ts";
import { type LocalRead, openLocalRead } from "../../policy/local_paths.ts";
import {
  localChunks,
  type RemoteFs,
  type RemoteStat,
  SftpError,
  type TempPath,
} from "../../ssh/fs.ts";
import type { ToolContext } from "../context.ts";
import type { PrepareContext } from "../define.ts";
import type { CheckedPath } from "../../checked.ts";
import { localStep, progressEvery, withSftpErrors } from "../sftp-read/_common.ts";
import {
  assertExpected,
  assertMode,
  CheckArg,
  ExpectedSha256,
  isDiffableText,
  modeArg,
  remoteSha256,
  unifiedDiff,
} from "./_common.ts";
import { sha256Hex } from "../../util/file_digest.ts";

/** Payload fields shared with ssh_deploy. */
export const payloadShape = {
  content_text: z.string().nullish().describe(
    "UTF-8 content",
  ),
  content_base64: z.string().nullish().describe("Base64 content"),
  local_path: z.string().nullish().describe(
    "Local file to send instead",
  ),
  mode: modeArg(
    "Mode, e.g. 420 (0o644)",
  ),
  expected_sha256: ExpectedSha256,
  check: CheckArg,
};

/** Inputs shared by ssh_upload and ssh_deploy (the path already checked). */
export interface WriteArgs {
  path: CheckedPath;
  content_text?: string | null;
  content_base64?: string | null;
  local_path?: string | null;
  mode?: number | null;
  expected_sha256?: string | null;
  check: boolean;
  backup?: boolean;
}

/** Result of {@link writeFile}. */
export interface WriteOutcome {
  host: string;
  path: string;
  success: boolean;
  bytes_written: number;
  message: string;
  local_path_written: string | null;
  changed: boolean;
  check: boolean;
  diff: string | null;
  sha256: string | null;
  backup_path?: string | null;
  output_warnings: string[];
}

/** Linear-time check (no backtracking on multi-megabyte payloads). */
const B64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Strict base64: standard alphabet, padded, no whitespace, canonical (the
 * decoded bytes re-encode to the same text); ValueError otherwise (AC-243).
 */
export function decodeContentBase64(s: string): Uint8Array {
  const bytes = s.length % 4 === 0 && B64_CHARS.test(s) ? Buffer.from(s, "base64") : null;
  if (!bytes || bytes.toString("base64") !== s) {
    throw new ToolError(
      "ValueError",
      "content_base64 is not valid base64 (standard alphabet, padded, no whitespace); nothing was written.",
    );
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `YYYYMMDDTHHMMSSZ` (TOOLS.md §7 ssh_deploy). */
export function backupStamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
}

async function readLocalAll(local: LocalRead): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await local.file.seek(0, Deno.SeekMode.Start);
  for await (const c of localChunks(local.file)) parts.push(c);
  await local.file.seek(0, Deno.SeekMode.Start);
  return Buffer.concat(parts);
}

async function localSha256(local: LocalRead, signal: AbortSignal): Promise<string> {
  const h = createHash("sha256");
  await local.file.seek(0, Deno.SeekMode.Start);
  for await (const c of localChunks(local.file, signal)) h.update(c);
  await local.file.seek(0, Deno.SeekMode.Start);
  return h.digest("hex");
}

/** The validated payload of an upload or deploy: inline bytes or an opened local file. */
export interface Payload extends Disposable {
  inline: Uint8Array | null;
  local: LocalRead | null;
}

/**
 * The validation stage of upload and deploy, all before any SSH I/O (INV-2,
 * AC-242, AC-309): exactly one payload, the mode, strict base64, and the
 * local file resolved, opened and identity-checked. The local file is closed
 * when the call ends.
 */
export async function preparePayload(
  a: Omit<WriteArgs, "path">,
  { settings: s, env }: PrepareContext,
): Promise<Payload> {
  const given = [a.content_text, a.content_base64, a.local_path].filter((v) =>
    v !== null && v !== undefined
  );
  if (given.length !== 1) {
    throw new ToolError(
      "WriteError",
      `Pass exactly one of content_text, content_base64 or local_path (got ${given.length}).`,
    );
  }
  if (a.mode !== null && a.mode !== undefined) assertMode(a.mode, s);
  let inline: Uint8Array | null = null;
  if (a.content_text !== null && a.content_text !== undefined) {
    inline = new TextEncoder().encode(a.content_text);
  } else if (a.content_base64 !== null && a.content_base64 !== undefined) {
    inline = decodeContentBase64(a.content_base64);
  }
  if (inline) return { inline, local: null, [Symbol.dispose]() {} };
  const lp = a.local_path!;
  const local = await localStep(() => openLocalRead(lp, s, env));
  const close = () => {
    try {
      local.file.close();
    } catch {
      // already closed
    }
  };
  if (local.size > s.SSH_LOCAL_TRANSFER_MAX_BYTES) {
    close();
    throw new ToolError(
      "WriteError",
      `The local file is ${local.size} bytes, over SSH_LOCAL_TRANSFER_MAX_BYTES (${s.SSH_LOCAL_TRANSFER_MAX_BYTES}); nothing was sent.`,
    );
  }
  return { inline: null, local, [Symbol.dispose]: close };
}

/** Upload or deploy (see module docs) of a payload from {@link preparePayload}. */
export async function writeFile(
  tool: "ssh_upload" | "ssh_deploy",
  a: WriteArgs,
  ctx: ToolContext,
  { inline, local }: Payload,
): Promise<WriteOutcome> {
  const s = ctx.settings;
  if (inline && inline.length > s.SSH_UPLOAD_MAX_FILE_BYTES) {
    throw new ToolError(
      "WriteError",
      `The inline payload is ${inline.length} bytes, over SSH_UPLOAD_MAX_FILE_BYTES (${s.SSH_UPLOAD_MAX_FILE_BYTES}); use local_path for large files.`,
    );
  }
  return await withSftpErrors(
    "WriteError",
    () => writeChecked(tool, a, ctx, a.path, inline, local),
  );
}

async function writeChecked(
  tool: "ssh_upload" | "ssh_deploy",
  a: WriteArgs,
  ctx: ToolContext,
  path: CheckedPath,
  inline: Uint8Array | null,
  local: LocalRead | null,
): Promise<WriteOutcome> {
  const policy = ctx.host.policy;
  const fs = await ctx.fs();
  const existing = await fs.lstatCheckedOrNull(path, ctx.signal);
  if (existing && existing.kind !== "file") {
    throw new ToolError(
      "WriteError",
      `${path} exists and is a ${
        existing.kind === "dir" ? "directory" : existing.kind
      }; ${tool} only writes regular files.`,
    );
  }
  let currentHash: string | null = null;
  if (a.expected_sha256) {
    currentHash = existing ? await remoteSha256(ctx, fs, path) : null;
    assertExpected(a.expected_sha256, currentHash, path);
  }
  const mode = a.mode ?? (existing ? existing.perm : 0o644);
  const newSize = inline ? inline.length : local!.size;
  const wantBackup = tool === "ssh_deploy" && a.backup !== false && existing !== null;
  const backup = wantBackup ? await backupPathFor(ctx, fs, path) : null;
  const verb = tool === "ssh_upload" ? "uploaded" : "deployed";
  const base = {
    host: policy.hostname,
    path,
    // the canonical local file the content came from (TOOLS.md §7: local_path_written?)
    local_path_written: local ? local.path : null,
    ...(tool === "ssh_deploy" ? { backup_path: backup } : {}),
  };

  if (a.check) {
    return {
      ...base,
      ...(await predict(ctx, fs, path, existing, mode, inline, local, currentHash, newSize)),
      success: true,
      bytes_written: 0,
      check: true,
    };
  }

  const source = inline ? [inline] : localChunks(local!.file, ctx.signal, { reuse: true });
  const warnings: string[] = [];
  const owner = existing ? { uid: existing.uid, gid: existing.gid } : null;
  const result = await fs.atomicWrite(path, source, {
    mode,
    owner,
    signal: ctx.signal,
    reconnect: () => ctx.freshFs(ctx.host),
    onChunk: progressEvery(ctx, "uploaded", newSize),
    beforeRename: async (f) => {
      await f.recheck(path, "resolved", ctx.signal);
      if (a.expected_sha256 && existing) {
        // the file must still be the one the caller saw (narrows the race to one round trip)
        assertExpected(a.expected_sha256, await remoteSha256(ctx, f, path), path);
      }
    },
    ...(backup
      ? {
        commit: (f: RemoteFs, tmp: TempPath) =>
          commitWithBackup(f, tmp, path, backup, { reconnect: () => ctx.freshFs(ctx.host) }),
      }
      : {}),
  });
  warnings.push(...result.warnings);
  if (result.bytes !== newSize) {
    warnings.push(
      `the local file changed size during the transfer (${newSize} -> ${result.bytes} bytes)`,
    );
  }
  const from = local ? ` from ${local.path}` : "";
  const how = local ? "(atomic, streamed)" : "(atomic)";
  return {
    ...base,
    success: true,
    bytes_written: result.bytes,
    message: `${verb}${from} ${how}${backup ? `; previous version at ${backup}` : ""}`,
    changed: true,
    check: false,
    diff: null,
    sha256: inline ? sha256Hex(inline) : null,
    output_warnings: warnings,
  };
}

/** The predicted effect of a write (check mode). */
async function predict(
  ctx: ToolContext,
  fs: RemoteFs,
  path: CheckedPath,
  existing: RemoteStat | null,
  mode: number,
  inline: Uint8Array | null,
  local: LocalRead | null,
  knownHash: string | null,
  newSize: number,
): Promise<Pick<WriteOutcome, "changed" | "diff" | "sha256" | "message" | "output_warnings">> {
  const s = ctx.settings;
  const warnings: string[] = [];
  const newHash = inline ? sha256Hex(inline) : await localSha256(local!, ctx.signal);
  let sameContent = false;
  if (existing && existing.size === newSize) {
    sameContent = (knownHash ?? await remoteSha256(ctx, fs, path)) === newHash;
  }
  const modeChange = existing !== null && existing.perm !== mode;
  const changed = !existing || !sameContent || modeChange;
  let diff: string | null = null;
  const cap = s.SSH_EDIT_MAX_FILE_BYTES;
  if (!sameContent && newSize <= cap && (!existing || existing.size <= cap)) {
    const after = inline ?? await readLocalAll(local!);
    const before = existing ? await fs.readFile(path, cap, ctx.signal) : null;
    if (isDiffableText(after) && (before === null || isDiffableText(before))) {
      const dec = new TextDecoder();
      const d = unifiedDiff(path, before === null ? null : dec.decode(before), dec.decode(after));
      diff = d.diff;
      warnings.push(...d.warnings);
    }
  }
  const modeText = `mode ${mode.toString(8).padStart(4, "0")}`;
  const message = !existing
    ? `would create ${path} (${newSize} bytes, ${modeText})`
    : !changed
    ? "unchanged: same content and mode"
    : `would replace ${path} (${existing.size} -> ${newSize} bytes${
      modeChange ? `, mode ${existing.perm.toString(8).padStart(4, "0")} -> ${modeText}` : ""
    }${sameContent ? ", same content" : ""}${
      diff === null && !sameContent ? ", binary or too large for a diff" : ""
    })`;
  return { changed, diff, sha256: newHash, message, output_warnings: warnings };
}

/** `<path>.bak-<stamp>`, policy-checked, with a numeric suffix on a collision. */
async function backupPathFor(
  ctx: ToolContext,
  fs: RemoteFs,
  path: CheckedPath,
): Promise<CheckedPath> {
  const stamp = backupStamp();
  for (let i = 1; i < 100; i++) {
    const raw = `${path}.bak-${stamp}${i === 1 ? "" : `-${i}`}`;
    const checked = await ctx.checkPath(ctx.host, raw, { mustExist: false });
    if (!(await fs.lstatCheckedOrNull(checked, ctx.signal))) return checked;
  }
  throw new ToolError("WriteError", `Could not find a free backup name next to ${path}.`);
}

/**
 * ssh_deploy commit (AC-249): the backup is a hard link to the live file, so
 * the live path exists at every instant and `posix-rename` then swaps the new
 * content in. Servers without hard links get rename-to-backup, rename-in, and
 * on failure the backup is renamed back (over a fresh connection when the
 * old one died).
 */
export async function commitWithBackup(
  fs: RemoteFs,
  tmp: TempPath,
  path: CheckedPath,
  backup: CheckedPath,
  opts: { reconnect?: () => Promise<RemoteFs> } = {},
): Promise<void> {
  let linked = false;
  try {
    await fs.hardlink(path, backup);
    linked = true;
  } catch (e) {
    if (!(e instanceof SftpError) || !e.is("FAILURE", "OP_UNSUPPORTED", "PERMISSION_DENIED")) {
      throw e;
    }
  }
  if (linked) {
    try {
      await fs.rename(tmp, path);
    } catch (e) {
      await fs.unlink(backup).catch(() => {});
      throw e;
    }
    return;
  }
  await fs.rename(path, backup);
  try {
    await fs.rename(tmp, path);
  } catch (e) {
    // never leave the live path missing: put the previous version back
    let target: RemoteFs = fs;
    if (!fs.alive && opts.reconnect) target = await opts.reconnect();
    try {
      await target.rename(backup, path);
    } catch (re) {
      throw new ToolError(
        "WriteError",
        `The new version could not be put in place (${
          (e as Error).message
        }) and restoring the previous version from ${backup} failed too (${
          (re as Error).message
        }); move it back by hand.`,
      );
    }
    throw e;
  }
}
