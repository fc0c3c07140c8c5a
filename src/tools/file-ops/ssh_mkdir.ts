import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { SftpError } from "../../ssh/fs.ts";
import { defineTool, HostArg } from "../define.ts";
import type { CheckedPath } from "../../checked.ts";
import { remotePath, withSftpErrors } from "../sftp-read/_common.ts";
import { allowlistRoots, isInside } from "../../policy/paths.ts";
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

/** The parent of an absolute path (`null` at the root). */
function parentOf(path: string, platform: "posix" | "windows"): string | null {
  const prefixes = pathPrefixes(path, platform);
  return prefixes.at(-2) ?? (platform === "posix" && path !== "/" ? "/" : null);
}

function parentMissing(parent: string, kind: string | null): ToolError {
  return new ToolError(
    "WriteError",
    `The parent directory ${parent} ${
      kind ? "is not a directory" : "does not exist"
    }; pass parents=true to create it.`,
  );
}

/** Creates a remote directory. */
export default defineTool({
  name: "ssh_mkdir",
  group: "file-ops",
  tier: "low-access",
  hints: { idempotentHint: true },
  description: "Create a remote directory.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Directory to create"),
    parents: z.boolean().default(false).describe("mkdir -p"),
    mode: modeArg("Mode bits, e.g. 493 (0o755)"),
    check: CheckArg,
  }),
  output: z.strictObject({
    ...writeResultShape,
    would_create: z.array(z.string()).optional(),
  }),
  prepare({ mode }, { settings }) {
    assertMode(mode ?? 0o755, settings);
  },
  paths: [{ field: "path", mustExist: false }],
  async handler({ path, parents, mode: m, check }, ctx) {
    const policy = ctx.host.policy;
    const mode = m ?? 0o755;
    const roots = allowlistRoots(policy, ctx.settings);
    const allowed = (p: string) => roots.some((r) => isInside(p, r, policy.platform));
    // ancestors above the allowlist are never stat'ed or created: only checked paths are touched
    const chain = pathPrefixes(path, policy.platform).filter((p) => p === path || allowed(p));
    return await withSftpErrors("WriteError", async () => {
      const fs = await ctx.fs();
      const checked = async (p: string): Promise<CheckedPath> =>
        p === path ? path : await ctx.checkPath(ctx.host, p, { mustExist: false, audit: null });
      const create: CheckedPath[] = [];
      const warnings: string[] = [];
      if (!parents) {
        const st = await fs.lstatCheckedOrNull(path, ctx.signal);
        if (st) throw new ToolError("WriteError", `${path} already exists (${st.kind}).`);
        const parent = chain.at(-2);
        const pst = parent ? await fs.lstatCheckedOrNull(await checked(parent), ctx.signal) : null;
        if (parent && pst?.kind !== "dir") throw parentMissing(parent, pst?.kind ?? null);
        create.push(path);
      } else {
        for (const p of chain) {
          const cp = await checked(p);
          const st = await fs.lstatCheckedOrNull(cp, ctx.signal);
          if (st && st.kind !== "dir") {
            throw new ToolError("WriteError", `${p} exists and is not a directory (${st.kind}).`);
          }
          if (!st) create.push(cp);
        }
      }
      // the first directory to create sits below a directory outside the allowlist
      const above = create.length && !allowed(parentOf(create[0]!, policy.platform) ?? "/")
        ? parentOf(create[0]!, policy.platform)
        : null;
      if (above && check) {
        warnings.push(
          `${above} is outside the allowlist, so it was not checked; the call fails if it does not exist`,
        );
      }
      const base = {
        host: policy.hostname,
        path,
        success: true,
        bytes_written: 0,
        output_warnings: warnings,
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
      for (const p of create) {
        try {
          await fs.mkdir(p, mode, ctx.signal);
        } catch (e) {
          if (!(e instanceof SftpError && e.is("NO_SUCH_FILE")) || p !== create[0]) throw e;
          const parent = parentOf(p, policy.platform) ?? p;
          if (above && parents) {
            throw new ToolError(
              "PathNotAllowed",
              `${p} cannot be created: its parent ${above} does not exist and is outside the allowlist of ${policy.alias}; ssh_mkdir never creates directories above the allowlist.`,
              { stage: "allowlist" },
            );
          }
          throw parentMissing(parent, null);
        }
      }
      return {
        ...base,
        message: parents ? "created (with parents)" : "created",
        changed: create.length > 0,
        check: false,
      };
    });
  },
});
