/**
 * Read-modify-write of a remote text file for `ssh_edit` and `ssh_patch`:
 * bounded read (SSH_EDIT_MAX_FILE_BYTES), strict UTF-8 (PATH-29), the NEW
 * `expected_sha256` precondition, `check` mode with a unified diff, and the
 * atomic replace keeping mode and (when allowed) owner. Before the rename the
 * file must still have the content that was read (stale-write guard).
 *
 * @module
 */

import type { ToolContext } from "../context.ts";
import type { CheckedPath } from "../../checked.ts";
import { withSftpErrors } from "../sftp-read/_common.ts";
import { assertExpected, readBounded, remoteSha256, strictUtf8, unifiedDiff } from "./_common.ts";
import { sha256Hex } from "../../util/file_digest.ts";
import { ToolError } from "../../errors.ts";

/** Result shape shared by edit and patch. */
export interface RewriteOutcome {
  host: string;
  path: string;
  success: boolean;
  bytes_written: number;
  message: string;
  changed: boolean;
  check: boolean;
  diff: string | null;
  sha256: string;
  output_warnings: string[];
}

/** Rewrites `path` with `transform` (see module docs). */
export async function rewriteText(
  ctx: ToolContext,
  path: CheckedPath,
  opts: {
    tool: "ssh_edit" | "ssh_patch";
    expected: string | null | undefined;
    check: boolean;
    transform: (text: string) => { text: string; message: string };
  },
): Promise<RewriteOutcome> {
  const s = ctx.settings;
  const policy = ctx.host.policy;
  return await withSftpErrors("WriteError", async () => {
    const fs = await ctx.fs();
    const st = await fs.lstatChecked(path, ctx.signal);
    const bytes = await readBounded(
      fs,
      path,
      s.SSH_EDIT_MAX_FILE_BYTES,
      "SSH_EDIT_MAX_FILE_BYTES",
      ctx.signal,
    );
    const before = sha256Hex(bytes);
    assertExpected(opts.expected, before, path);
    const text = strictUtf8(bytes, path, opts.tool);
    const out = opts.transform(text);
    const changed = out.text !== text;
    const d = unifiedDiff(path, text, out.text);
    const newBytes = new TextEncoder().encode(out.text);
    const base = {
      host: policy.hostname,
      path,
      success: true,
      diff: changed ? d.diff : null,
      sha256: sha256Hex(newBytes),
    };
    if (opts.check || !changed) {
      return {
        ...base,
        bytes_written: 0,
        message: opts.check
          ? `would apply: ${out.message}${changed ? "" : " (no change)"}`
          : `${out.message} (content unchanged; nothing written)`,
        changed,
        check: opts.check,
        output_warnings: d.warnings,
      };
    }
    const r = await fs.atomicWrite(path, [newBytes], {
      mode: st.perm,
      owner: { uid: st.uid, gid: st.gid },
      signal: ctx.signal,
      reconnect: () => ctx.freshFs(ctx.host),
      beforeRename: async (f) => {
        await f.recheck(path, "resolved", ctx.signal);
        const now = await remoteSha256(ctx, f, path);
        if (now !== before) {
          throw new ToolError(
            "WriteError",
            `${path} was changed by someone else while ${opts.tool} ran (sha256 ${now}, read as ${before}); nothing was written. Read it again and redo the change.`,
            { reason: "stale", actual_sha256: now },
          );
        }
      },
    });
    return {
      ...base,
      bytes_written: r.bytes,
      message: out.message,
      changed: true,
      check: false,
      output_warnings: [...r.warnings, ...d.warnings],
    };
  });
}
