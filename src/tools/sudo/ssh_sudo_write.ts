import { z } from "zod";
import { Buffer } from "node:buffer";
import { ToolError, valueError } from "../../errors.ts";
import { defineTool, HostArg } from "../define.ts";
import { ModeArg, octal, ownerArg } from "./_args.ts";
import { PipelineTimeoutArg, pipelineTimeoutMs, SudoPathArg } from "./_file.ts";
import { type LocalRead, openLocalRead } from "../../policy/local_paths.ts";
import { SudoWriteResult, writeElevated } from "./_write.ts";

const MISSING_OWNER_WARNING =
  "file did not exist, created as root:root; pass chown_user/chown_group to set explicitly.";

/** The validated payload: inline bytes, or an opened local file (closed when the call ends). */
interface Payload extends Disposable {
  bytes: Uint8Array | null;
  local: LocalRead | null;
}

function capError(what: string, size: number, cap: number, name: string): ToolError {
  return new ToolError(
    "SudoFileOpError",
    `${what} of ${size} bytes is larger than ${name} (${cap}).`,
    { stage: "cap" },
  );
}

function closeQuietly(f: Deno.FsFile): void {
  try {
    f.close();
  } catch {
    // already closed by its readable stream
  }
}

/** Atomic write as root keeping owner and mode (TOOLS.md §9, SUDO-8..10). */
export default defineTool({
  name: "ssh_sudo_write",
  group: "sudo",
  tier: "sudo",
  hints: { idempotentHint: true },
  description: "Write a file as root atomically.",
  input: z.strictObject({
    host: HostArg,
    path: SudoPathArg,
    content_text: z.string().nullish().describe("UTF-8 content"),
    content_base64: z.string().nullish().describe("Base64 content"),
    local_path: z.string().nullish().describe(
      "Local file to upload",
    ),
    mode: ModeArg,
    chown_user: ownerArg("user"),
    chown_group: ownerArg("group"),
    timeout: PipelineTimeoutArg,
  }),
  output: SudoWriteResult,
  posixOnly: true,
  // every payload and local_path check before the path is canonicalized (INV-2)
  async prepare(args, { settings: s, env }): Promise<Payload> {
    const given = [args.content_text, args.content_base64, args.local_path].filter((x) =>
      x !== null && x !== undefined
    );
    if (given.length !== 1) {
      throw valueError(
        "Pass exactly one of content_text, content_base64 or local_path (AC-614).",
      );
    }
    if (typeof args.mode === "number" && (args.mode & 0o7000) && !s.ALLOW_SPECIAL_MODE_BITS) {
      throw valueError(
        `mode ${
          octal(args.mode)
        } sets setuid/setgid/sticky bits; refused unless ALLOW_SPECIAL_MODE_BITS=true (PATH-27).`,
      );
    }
    let bytes: Uint8Array | null = null;
    if (typeof args.content_text === "string") {
      bytes = new TextEncoder().encode(args.content_text);
    } else if (typeof args.content_base64 === "string") {
      const b64 = args.content_base64.replace(/\s+/g, "");
      if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64)) {
        throw valueError("content_base64 is not valid base64.");
      }
      bytes = new Uint8Array(Buffer.from(b64, "base64"));
    }
    if (bytes && bytes.length > s.SSH_UPLOAD_MAX_FILE_BYTES) {
      throw capError(
        "payload",
        bytes.length,
        s.SSH_UPLOAD_MAX_FILE_BYTES,
        "SSH_UPLOAD_MAX_FILE_BYTES",
      );
    }
    if (bytes) return { bytes, local: null, [Symbol.dispose]() {} };
    // LOCAL-*: resolved, opened and identity-checked before any SSH I/O
    const local = await openLocalRead(args.local_path!, s, env);
    if (local.size > s.SSH_LOCAL_TRANSFER_MAX_BYTES) {
      closeQuietly(local.file);
      throw capError(
        "local_path",
        local.size,
        s.SSH_LOCAL_TRANSFER_MAX_BYTES,
        "SSH_LOCAL_TRANSFER_MAX_BYTES",
      );
    }
    return { bytes: null, local, [Symbol.dispose]: () => closeQuietly(local.file) };
  },
  paths: [{ field: "path", mustExist: false, canonicalize: "elevated" }],
  async handler(args, ctx, { bytes, local }) {
    const s = ctx.settings;
    const canonical = args.path;
    const size = bytes?.length ?? local!.size;
    const el = await ctx.elevation();
    const info = await writeElevated(el, {
      raw: ctx.rawPath("path"),
      canonical,
      // a local file is streamed into the root shell after the handshake
      payload: bytes ?? local!.file.readable,
      size,
      mode: typeof args.mode === "number" ? octal(args.mode) : null,
      user: args.chown_user ?? null,
      group: args.chown_group ?? null,
      allowSpecial: s.ALLOW_SPECIAL_MODE_BITS,
      timeoutMs: pipelineTimeoutMs(args.timeout),
    });
    const warnings: string[] = [];
    if (!info.existed && (!args.chown_user || !args.chown_group)) {
      warnings.push(
        !args.chown_user && !args.chown_group
          ? MISSING_OWNER_WARNING
          : `file did not exist, created as ${info.owner}; pass chown_user/chown_group to set explicitly.`,
      );
    }
    return {
      host: ctx.host.policy.hostname,
      path: canonical,
      success: true,
      bytes_written: size,
      message: local
        ? `sudo-wrote from ${local.path} (atomic, owner ${info.owner})`
        : `sudo-wrote (atomic, owner ${info.owner})`,
      local_path_written: null,
      output_warnings: warnings,
    };
  },
});
