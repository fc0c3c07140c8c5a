import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { NotesWriteResult, notesWriteResult } from "./_notes.ts";

/** Replaces the agent notes verbatim (optionally guarded by an etag). */
export default defineTool({
  name: "ssh_host_notes_set",
  group: "host",
  tier: "low-access",
  destructive: true,
  description:
    'Replace the host\'s agent notes with new content ("" clears them). Pass expected_etag from ssh_host_notes to avoid overwriting a concurrent change.',
  input: z.strictObject({
    host: HostArg,
    content: z.string().describe("Full new content; empty string clears the notes"),
    expected_etag: z.string().min(1).max(100).nullish().describe(
      "etag returned by ssh_host_notes; refuses if the file changed",
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
