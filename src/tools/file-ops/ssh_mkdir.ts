import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { SftpError } from "../../ssh/sftp.ts";
import { defineTool, HostArg } from "../define.ts";
import type { CheckedPath } from "../../checked.ts";
import { hostFs, remotePath, withSftpErrors } from "../sftp/_common.ts";
import { assertMode, CheckArg, modeArg, writeResultShape } from "./_common.ts";

/** Ancestors of an absolute path from the top, the path itself last. */
export function pathPrefixes(path: string, platform: "posix" | "windows"): string[] {
  const p = path.replaceAll("\\", "/");
  const drive = platform === "windows" ? /^[A-Za-z]:\//.exec(p)?.[0] ?? "" : "";
  const rest = drive ? p.slice(drive.length) : p.replace(/^\/+/, "");
  const parts = rest.split("/").filter(Boolean);
  const out: string[] = [];
  let cur = drive || "/";
  for (const part of parts) {
    cur = cur.endsWith("/") ? cur + part : `${cur}/${part}`;
    out.push(cur);
  }
  return out;
}

/** Creates a remote directory. */
export default defineTool({
  name: "ssh_mkdir",
  group: "file-ops",
  tier: "low-access",
  description:
    "Create a remote directory (with parents=true also its missing parents, each policy-checked). check=true lists what would be created.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Directory to create"),
    parents: z.boolean().default(false).describe("Create missing parent directories too"),
    mode: modeArg("Permission bits, e.g. 493 (= 0o755, the default); the host's umask applies"),
    check: CheckArg,
  }),
  output: z.strictObject({
    ...writeResultShape,
    would_create: z.array(z.string()).optional(),
  }),
  async handler({ path: raw, parents, mode: m, check }, ctx) {
    const s = ctx.app.settings;
    const policy = ctx.host.policy;
    const mode = m ?? 0o755;
    assertMode(mode, s);
    const path = await ctx.checkPath(policy, raw, { mustExist: false });
    return await withSftpErrors("WriteError", async () => {
      const fs = await hostFs(ctx);
      const create: CheckedPath[] = [];
      if (!parents) {
        const st = await fs.lstatOrNull(path, ctx.signal);
        if (st) throw new ToolError("WriteError", `${path} already exists (${st.kind}).`);
        const parent = pathPrefixes(path, policy.platform).at(-2) ??
          (policy.platform === "posix" ? "/" : null);
        const pst = parent ? await fs.statOrNull(parent, ctx.signal) : null;
        if (parent && pst?.kind !== "dir") {
          throw new ToolError(
            "WriteError",
            `The parent directory ${parent} ${
              pst ? "is not a directory" : "does not exist"
            }; pass parents=true to create it.`,
          );
        }
        create.push(path);
      } else {
        for (const p of pathPrefixes(path, policy.platform)) {
          let st;
          try {
            st = await fs.stat(p, ctx.signal);
          } catch (e) {
            if (!(e instanceof SftpError && e.is("NO_SUCH_FILE"))) throw e;
            st = null;
          }
          if (st && st.kind !== "dir") {
            throw new ToolError("WriteError", `${p} exists and is not a directory (${st.kind}).`);
          }
          if (!st) {
            // every directory we create must itself be allowed (never above the allowlist)
            create.push(p === path ? path : await ctx.checkPath(policy, p, { mustExist: false }));
          }
        }
      }
      const base = {
        host: policy.hostname,
        path,
        success: true,
        bytes_written: 0,
        output_warnings: [],
      };
      if (check) {
        return {
          ...base,
          message: create.length
            ? `would create ${create.length} director${create.length === 1 ? "y" : "ies"}`
            : "unchanged: the directory exists",
          changed: create.length > 0,
          check: true,
          would_create: create,
        };
      }
      for (const p of create) await fs.mkdir(p, mode, ctx.signal);
      return {
        ...base,
        message: parents ? "created (with parents)" : "created",
        changed: create.length > 0,
        check: false,
      };
    });
  },
});
