import { z } from "zod";
import { Buffer } from "node:buffer";
import { ToolError } from "../../errors.ts";
import { type CheckedPath, sh } from "../../checked.ts";
import type { RawExecResult } from "../../ssh/exec.ts";
import type { ToolContext } from "../context.ts";
import { defineTool, HostArg, TimeoutArg } from "../define.ts";
import { OutputWarnings } from "../_schemas.ts";
import { remotePath } from "./_common.ts";

const HEX_LEN = { md5: 32, sha1: 40, sha256: 64, sha512: 128 } as const;
const PS_NAME = { md5: "MD5", sha1: "SHA1", sha256: "SHA256", sha512: "SHA512" } as const;

/** The PowerShell `-EncodedCommand` payload for a Windows hash (AC-028). */
export function powershellHashCommand(path: string, alg: keyof typeof PS_NAME): string {
  const script = `$ProgressPreference='SilentlyContinue'; (Get-FileHash -Algorithm ${
    PS_NAME[alg]
  } -LiteralPath '${path.replaceAll("'", "''")}').Hash; exit 0`;
  const utf16 = new Uint8Array(script.length * 2);
  for (let i = 0; i < script.length; i++) {
    const c = script.charCodeAt(i);
    utf16[2 * i] = c & 0xff;
    utf16[2 * i + 1] = c >> 8;
  }
  return Buffer.from(utf16).toString("base64");
}

/**
 * First token of the first line of `<alg>sum` output, lower-cased. GNU
 * coreutils prefixes the line with `\` when the file name has a backslash or
 * newline; that escape is not part of the digest.
 */
export function parseDigest(stdout: string): string {
  const first = (stdout.split("\n")[0] ?? "").trim().split(/\s+/)[0] ?? "";
  return first.replace(/^\\/, "").toLowerCase();
}

/**
 * `<alg>sum` of a file on a POSIX host: read through a pinned, checked
 * descriptor on hardened hosts (PATH-51); without SFTP (so without a
 * `RemoteFs`) the plain `<alg>sum -- <path>`.
 */
async function posixDigest(
  ctx: ToolContext,
  path: CheckedPath,
  alg: string,
  timeoutMs: number | undefined,
): Promise<RawExecResult> {
  const fs = await ctx.fs().catch(() => null);
  if (fs) {
    return await fs.digest(path, alg, { ...(timeoutMs ? { timeoutMs } : {}), signal: ctx.signal });
  }
  return await ctx.exec(sh`${`${alg}sum`} -- ${path}`, timeoutMs ? { timeoutMs } : {});
}

/** Hashes a remote file with the host's own tools. */
export default defineTool({
  name: "ssh_file_hash",
  group: "sftp-read",
  tier: "read",
  description: "Hash a remote file (md5, sha1, sha256, sha512) and return its size.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("File to hash"),
    algorithm: z.enum(["md5", "sha1", "sha256", "sha512"]).default("sha256").describe(
      "Digest",
    ),
    timeout: TimeoutArg,
  }),
  output: z.strictObject({
    host: z.string(),
    path: z.string(),
    algorithm: z.string(),
    digest: z.string(),
    size: z.number().int(),
    output_warnings: OutputWarnings,
  }),
  paths: [{ field: "path", mustExist: true }],
  async handler({ path, algorithm, timeout }, ctx) {
    const policy = ctx.host.policy;
    const timeoutMs = timeout ? timeout * 1000 : undefined;
    const opts = timeoutMs ? { timeoutMs } : {};
    const r = policy.platform === "windows"
      ? await ctx.exec(
        sh`powershell.exe -NoProfile -NonInteractive -EncodedCommand ${
          powershellHashCommand(path, algorithm)
        }`,
        opts,
      )
      : await posixDigest(ctx, path, algorithm, timeoutMs);
    if (r.timedOut) {
      throw new ToolError(
        "HashError",
        `Hashing ${path} did not finish within ${
          timeout ?? policy.command_timeout ?? ctx.settings.SSH_COMMAND_TIMEOUT
        } s; pass a larger timeout.`,
      );
    }
    let digest: string;
    if (policy.platform === "windows") {
      digest = r.stdout.trim().toLowerCase();
      if ((r.exitCode !== 0 && r.exitCode !== -1) || digest.length !== HEX_LEN[algorithm]) {
        throw new ToolError(
          "HashError",
          `Get-FileHash failed for ${path} (exit ${r.exitCode}): ${r.stderr.trim().slice(0, 500)}`,
        );
      }
    } else {
      if (r.exitCode !== 0) {
        throw new ToolError(
          "HashError",
          `${algorithm}sum failed for ${path} (exit ${r.exitCode}): ${
            r.stderr.trim().slice(0, 500)
          }`,
        );
      }
      digest = parseDigest(r.stdout);
    }
    if (!/^[0-9a-f]+$/.test(digest) || digest.length !== HEX_LEN[algorithm]) {
      throw new ToolError("HashError", `Unparsable ${algorithm} digest for ${path}.`);
    }
    let size = -1;
    try {
      size = (await (await ctx.fs()).lstatChecked(path, ctx.signal)).size;
    } catch {
      // TOOLS.md §6: size -1 when stat fails
    }
    return {
      host: policy.hostname,
      path,
      algorithm,
      digest,
      size,
      output_warnings: [],
    };
  },
});
