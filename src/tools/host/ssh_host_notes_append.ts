import { z } from "zod";
import { defineTool, HostArg } from "../define.ts";
import { NotesWriteResult, notesWriteResult } from "./_notes.ts";

/** Appends a timestamped entry to the host's agent notes (atomic, CAS-guarded). */
export default defineTool({
  name: "ssh_host_notes_append",
  group: "host",
  tier: "low-access",
  hints: { openWorldHint: false },
  description: "Append a timestamped entry to a host's agent notes. No secrets.",
  input: z.strictObject({
    host: HostArg,
    entry: z.string().max(65536).describe("Markdown"),
  }),
  output: NotesWriteResult,
  async handler({ entry }, ctx) {
    const p = ctx.host.policy;
    const w = await ctx.notes.append(p.alias, p.hostname, entry);
    return notesWriteResult(
      p,
      w,
      w.wasCreated ? "created sidecar with first entry" : "appended timestamped entry",
    );
  },
});
