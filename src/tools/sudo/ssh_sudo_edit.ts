import { z } from "zod";
import { ToolError, valueError } from "../../errors.ts";
import { defineTool, HostArg } from "../define.ts";
import { PipelineTimeoutArg, pipelineTimeoutMs, readElevated, SudoPathArg } from "./_file.ts";
import { SudoWriteResult, writeElevated } from "./_write.ts";
import { sha256Hex } from "../../util/file_digest.ts";
import { applyEdit, EditRuleError, invalidUtf8Offset } from "../../util/text.ts";

/** String replacement in a root-owned file keeping owner and mode (TOOLS.md §9). */
export default defineTool({
  name: "ssh_sudo_edit",
  group: "sudo",
  tier: "sudo",
  description: "Replace exact text in a file as root, atomically.",
  input: z.strictObject({
    host: HostArg,
    path: SudoPathArg,
    old_string: z.string().describe("Exact text"),
    new_string: z.string().describe("Replacement"),
    occurrence: z.enum(["single", "all"]).default("single").describe(
      "single: exactly one match; all: every match",
    ),
    timeout: PipelineTimeoutArg,
  }),
  output: SudoWriteResult,
  posixOnly: true,
  prepare({ old_string, new_string }) {
    if (old_string === "") throw valueError("old_string must not be empty.");
    if (old_string === new_string) throw valueError("new_string must differ from old_string.");
  },
  paths: [{ field: "path", mustExist: true, canonicalize: "elevated" }],
  async handler({ path: canonical, old_string, new_string, occurrence, timeout }, ctx) {
    const path = ctx.rawPath("path");
    const cap = ctx.settings.SSH_EDIT_MAX_FILE_BYTES;
    const timeoutMs = pipelineTimeoutMs(timeout);
    const el = await ctx.elevation();
    const fail = (msg: string, stage: string) =>
      new ToolError("SudoFileOpError", `${canonical}: ${msg}`, { stage });
    const bytes = await readElevated(
      el,
      path,
      canonical,
      cap,
      timeoutMs,
      "SSH_EDIT_MAX_FILE_BYTES",
    );
    const bad = invalidUtf8Offset(bytes);
    if (bad >= 0) {
      throw fail(
        `not valid UTF-8 at byte offset ${bad}; edit refused, file untouched (download and upload it instead).`,
        "decode",
      );
    }
    const text = new TextDecoder().decode(bytes);
    let edited: { text: string; count: number };
    try {
      edited = applyEdit(text, old_string, new_string, occurrence);
    } catch (e) {
      if (e instanceof EditRuleError) throw fail(`${e.message} File untouched.`, "edit");
      throw e;
    }
    const payload = new TextEncoder().encode(edited.text);
    if (payload.length > cap) {
      throw fail(
        `edited file would be ${payload.length} bytes, over SSH_EDIT_MAX_FILE_BYTES.`,
        "cap",
      );
    }
    const replaced = edited.count;
    await writeElevated(el, {
      raw: path,
      canonical,
      payload,
      size: payload.length,
      mode: null,
      user: null,
      group: null,
      allowSpecial: ctx.settings.ALLOW_SPECIAL_MODE_BITS,
      expectSha256: sha256Hex(bytes),
      timeoutMs,
    });
    return {
      host: ctx.host.policy.hostname,
      path: canonical,
      success: true,
      bytes_written: payload.length,
      message: `sudo-edited (replaced ${replaced} occurrence(s))`,
      local_path_written: null,
      output_warnings: [],
    };
  },
});
