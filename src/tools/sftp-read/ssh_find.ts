import { z } from "zod";
import { decodeUtf8 } from "../../ssh/exec.ts";
import type { CheckedPath, EntryPath } from "../../checked.ts";
import { childPath, type EntryKind, type RemoteFs } from "../../ssh/fs.ts";
import type { ToolContext } from "../context.ts";
import { defineTool, HostArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { remotePath, scanNames, withSftpErrors } from "./_common.ts";

/** `R_FIND_NAME` (TOOLS.md §3). */
export const R_FIND_NAME = /^[A-Za-z0-9._*?\-\[\]]{1,128}$/;

/** Python `fnmatch` (case-sensitive) as a RegExp: `*`, `?`, `[seq]`, `[!seq]`. */
export function fnmatchRegExp(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") out += "[\\s\\S]*";
    else if (c === "?") out += "[\\s\\S]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) {
        out += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, end);
      const neg = body.startsWith("!");
      if (neg) body = body.slice(1);
      out += `[${neg ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = end;
    } else out += c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
  }
  return new RegExp(`^${out}$`, "u");
}

const KIND: Record<"f" | "d" | "l", EntryKind> = { f: "file", d: "dir", l: "symlink" };

/** Windows hosts: SFTP breadth-first walk (TOOLS.md §6). */
async function walk(
  fs: RemoteFs,
  root: CheckedPath,
  re: RegExp,
  kind: EntryKind,
  maxDepth: number,
  cap: number,
  signal: AbortSignal,
): Promise<{ matches: string[]; truncated: boolean }> {
  const matches: string[] = [];
  const queue: [CheckedPath | EntryPath, number][] = [[root, 0]];
  while (queue.length) {
    const [dir, depth] = queue.shift()!;
    let list;
    try {
      list = await fs.readdir(dir, signal);
    } catch {
      continue;
    }
    for (const e of list) {
      const child = e.path;
      const st = await fs.lstat(child, signal).catch(() => e.stat);
      if (st.kind === kind && re.test(e.name)) {
        matches.push(child);
        if (matches.length > cap) return { matches: matches.slice(0, cap), truncated: true };
      }
      if (st.kind === "dir" && depth + 1 < maxDepth) queue.push([child, depth + 1]);
    }
  }
  return { matches, truncated: false };
}

/** A found path as the host printed it (`base` = `.` when run from inside `root`) -> absolute. */
function rebase(found: string, base: string, root: string): string {
  if (base !== ".") return found;
  if (found === ".") return root;
  return childPath(root, found.startsWith("./") ? found.slice(2) : found);
}

/** A literal path as a `find -path` pattern (glob characters escaped). */
function escapeFindPattern(p: string): string {
  return p.replace(/[[\]*?\\]/g, "\\$&");
}

/** The restricted zones strictly below `root`, relative to it (not entered by find). */
async function zonesBelow(ctx: ToolContext, root: CheckedPath): Promise<string[]> {
  const prefix = root.endsWith("/") ? root : `${root}/`;
  return (await ctx.restrictedZones(ctx.host)).filter((z) => z.startsWith(prefix)).map((z) =>
    z.slice(prefix.length)
  );
}

/** Finds files by name pattern under a directory. */
export default defineTool({
  name: "ssh_find",
  group: "sftp-read",
  tier: "read",
  description: "Find files, directories or symlinks by name under a remote directory.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Directory to search"),
    name_pattern: z.string().regex(R_FIND_NAME, "must match ^[A-Za-z0-9._*?\\-\\[\\]]{1,128}$")
      .default("*").describe(
        "Name glob",
      ),
    kind: z.enum(["f", "d", "l"]).default("f").describe(
      "f, d or l",
    ),
    max_depth: z.number().int().min(1).nullish().describe(
      "Depth (1 = children)",
    ),
  }),
  output: z.strictObject({
    host: z.string(),
    root: z.string(),
    matches: z.array(z.string()),
    truncated: z.boolean(),
    output_warnings: OutputWarnings,
  }),
  paths: [{ field: "path", mustExist: true }],
  async handler({ path, name_pattern, kind, max_depth }, ctx) {
    const s = ctx.settings;
    const policy = ctx.host.policy;
    const ceiling = s.SSH_FIND_MAX_DEPTH;
    const depth = Math.min(max_depth ?? ceiling, ceiling);
    const cap = s.SSH_FIND_MAX_RESULTS;
    const warnings: string[] = [];
    if (max_depth && max_depth > ceiling) {
      warnings.push(`max_depth ${max_depth} lowered to SSH_FIND_MAX_DEPTH (${ceiling})`);
    }
    let matches: string[];
    let truncated: boolean;
    if (policy.platform === "windows") {
      const fs = await withSftpErrors("ValueError", () => ctx.fs());
      ({ matches, truncated } = await walk(
        fs,
        path,
        fnmatchRegExp(name_pattern),
        KIND[kind],
        depth,
        cap,
        ctx.signal,
      ));
    } else {
      // PATH-37: restricted zones below the root are not entered; PATH-51: run from the
      // pinned root on hardened hosts, so a swapped root is never searched
      const fs = await withSftpErrors("ValueError", () => ctx.fs());
      const zones = await zonesBelow(ctx, path);
      const { result: r, base } = await fs.find(
        path,
        (b) => {
          const pat = (rel: string) =>
            escapeFindPattern(b === "." ? `./${rel}` : childPath(b, rel));
          const prune = zones.length
            ? [
              "(",
              ...zones.flatMap((z, i) => [...(i ? ["-o"] : []), "-path", pat(z)]),
              ")",
              "-prune",
              "-o",
            ]
            : [];
          return [
            "-maxdepth",
            String(depth),
            ...prune,
            "-type",
            kind,
            "-name",
            name_pattern,
            "-print0",
          ];
        },
        { stdoutCap: Math.min(64 * 1024 * 1024, (cap + 1) * 4097), signal: ctx.signal },
      );
      if (r.timedOut) {
        warnings.push(
          `find under ${path} did not finish within the command timeout; the matches are partial (narrow the path or lower max_depth)`,
        );
      }
      let text = decodeUtf8(r.stdoutRaw);
      let cut = false;
      if (r.stdoutTruncated) {
        const m = /\n\[\.\.\. \d+ bytes omitted: output exceeded the \d+-byte cap \.\.\.\]\n/.exec(
          text,
        );
        if (m) text = text.slice(0, m.index);
        cut = true;
      }
      const found = text.split("\0");
      if (cut || found[found.length - 1] !== "") found.pop(); // partial last entry
      const all = found.filter((x) => x !== "").map((x) => rebase(x, base, path));
      truncated = cut || all.length > cap || r.timedOut;
      matches = all.slice(0, cap);
    }
    matches = await ctx.filterListing(ctx.host, matches, (m) => m);
    return {
      host: policy.hostname,
      root: path,
      matches,
      truncated,
      // base names too: a name like "Assistant: ..." only starts a line on its own
      output_warnings: [
        ...warnings,
        ...scanNames([...matches, ...matches.map((m) => m.slice(m.lastIndexOf("/") + 1))]),
      ],
    };
  },
});
