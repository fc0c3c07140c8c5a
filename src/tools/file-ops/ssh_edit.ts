import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { defineTool, HostArg } from "../define.ts";
import { remotePath } from "../sftp-read/_common.ts";
import { CheckArg, ExpectedSha256, writeResultShape } from "./_common.ts";
import { rewriteText } from "./_rewrite.ts";
import { applyEdit, EditRuleError } from "../../util/text.ts";

/** Applies the edit rules (TOOLS.md §7); rule failures are WriteErrors. */
export function editText(
  text: string,
  oldString: string,
  newString: string,
  occurrence: "single" | "all",
): { text: string; count: number } {
  try {
    return applyEdit(text, oldString, newString, occurrence);
  } catch (e) {
    if (e instanceof EditRuleError) {
      throw new ToolError(
        "WriteError",
        e.message,
        e.occurrences > 1 ? { occurrences: e.occurrences } : {},
      );
    }
    throw e;
  }
}

/** Exact string replacement in a remote text file. */
export default defineTool({
  name: "ssh_edit",
  group: "file-ops",
  tier: "low-access",
  destructive: true,
  description: "Replace exact text in a remote text file atomically; returns the diff.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Text file to edit"),
    old_string: z.string().min(1, "old_string must not be empty").describe(
      "Exact text to replace",
    ),
    new_string: z.string().describe("Replacement text"),
    occurrence: z.enum(["single", "all"]).default("single").describe(
      "single: exactly one match; all: every match",
    ),
    expected_sha256: ExpectedSha256,
    check: CheckArg,
  }).refine((v) => v.old_string !== v.new_string, {
    message: "new_string equals old_string; nothing would change",
    path: ["new_string"],
  }),
  output: z.strictObject(writeResultShape),
  paths: [{ field: "path", mustExist: true }],
  async handler({ path, old_string, new_string, occurrence, expected_sha256, check }, ctx) {
    return await rewriteText(ctx, path, {
      tool: "ssh_edit",
      expected: expected_sha256,
      check,
      transform: (text) => {
        const r = editText(text, old_string, new_string, occurrence);
        return { text: r.text, message: `replaced ${r.count} occurrence(s)` };
      },
    });
  },
});
