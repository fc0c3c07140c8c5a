import { z } from "zod";
import { ToolError } from "../../errors.ts";
import { defineTool, HostArg } from "../define.ts";
import { remotePath } from "../sftp/_common.ts";
import { CheckArg, ExpectedSha256, writeResultShape } from "./_common.ts";
import { rewriteText } from "./_rewrite.ts";

/** Counts non-overlapping occurrences (Python `str.count`). */
export function countOccurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Applies the edit rules (TOOLS.md §7) to `text`. */
export function editText(
  text: string,
  oldString: string,
  newString: string,
  occurrence: "single" | "all",
): { text: string; count: number } {
  const n = countOccurrences(text, oldString);
  if (n === 0) {
    throw new ToolError(
      "WriteError",
      "old_string was not found in the file; nothing was changed. Re-read the file: the text must match exactly, including whitespace and line breaks.",
    );
  }
  if (occurrence === "single" && n > 1) {
    throw new ToolError(
      "WriteError",
      `old_string occurs ${n} times; with occurrence="single" it must occur exactly once. Add surrounding context to old_string, or pass occurrence="all".`,
      { occurrences: n },
    );
  }
  // split/join: no `$&`-style replacement patterns
  const parts = text.split(oldString);
  if (occurrence === "all") return { text: parts.join(newString), count: n };
  return { text: parts[0] + newString + parts.slice(1).join(oldString), count: 1 };
}

/** Exact string replacement in a remote text file. */
export default defineTool({
  name: "ssh_edit",
  group: "file-ops",
  tier: "low-access",
  destructive: true,
  description:
    "Replace an exact string in a remote UTF-8 text file (once, or every occurrence) and write it back atomically keeping its mode. Returns the diff; check=true previews it.",
  input: z.strictObject({
    host: HostArg,
    path: remotePath("Text file to edit"),
    old_string: z.string().min(1, "old_string must not be empty").describe(
      "Exact text to replace (must not be empty; must occur exactly once unless occurrence=all)",
    ),
    new_string: z.string().describe("Replacement text"),
    occurrence: z.enum(["single", "all"]).default("single").describe(
      "single: old_string must occur exactly once; all: replace every occurrence",
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
