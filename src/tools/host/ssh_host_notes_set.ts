import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { NotesWriteResult, notesWriteResult } from "./_notes.ts";

/** Replaces the agent notes verbatim (optionally guarded by an etag). */
export default defineTool({
  name: "ssh_host_notes_set",
  group: "host",
  tier: "low-access",
  hints: { idempotentHint: true, openWorldHint: false },
  destructive: true,
  description: "Replace a host's agent notes (optionally guarded by an etag).",
  input: z.strictObject({
    host: HostArg,
    content: z.string().describe("New notes"),
    expected_etag: z.string().min(1).max(100).nullish().describe(
      "etag from ssh_host_notes",
    ),
  }),
  output: NotesWriteResult,
  async handler({ content, expected_etag }, ctx) {
    const p = ctx.host.policy;
    const w = await ctx.notes.set(p.alias, content, expected_etag ?? null);
    return notesWriteResult(
      p,
      w,
      content === "" ? "cleared agent notes" : "replaced agent notes",
    );
  },
});
