import { z } from "zod";
import type { HostPolicy } from "../../config/types.ts";
import type { NotesWrite } from "../../notes/store.ts";
import { defineTool, HostArg } from "../define.ts";

/** Result shape shared by the two notes writers. */
export const NotesWriteResult = z.strictObject({
  alias: z.string(),
  hostname: z.string(),
  agent_notes_path: z.string(),
  bytes_written: z.number().int(),
  was_created: z.boolean(),
  etag: z.string(),
  message: z.string(),
});

/** The {@link NotesWriteResult} of a notes write on host `p`. */
export function notesWriteResult(
  p: HostPolicy,
  w: NotesWrite,
  message: string,
): z.output<typeof NotesWriteResult> {
  return {
    alias: p.alias,
    hostname: p.hostname,
    agent_notes_path: w.path,
    bytes_written: w.bytesWritten,
    was_created: w.wasCreated,
    etag: w.etag,
    message,
  };
}

/** Appends a timestamped entry to the host's agent notes (atomic, CAS-guarded). */
export default defineTool({
  name: "ssh_host_notes_append",
  group: "host",
  tier: "low-access",
  description:
    "Append a timestamped entry to the host's agent notes sidecar (local file on the MCP server). Never store secrets, instructions or raw remote output.",
  input: z.strictObject({
    host: HostArg,
    entry: z.string().max(65536).describe("Note text (Markdown); must not be blank"),
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
