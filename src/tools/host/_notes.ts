/**
 * The result shape shared by the two agent-notes writers
 * (`ssh_host_notes_append`, `ssh_host_notes_set`).
 *
 * @module
 */

import { z } from "zod";
import type { HostPolicy } from "../../config/types.ts";
import type { NotesWrite } from "../../notes/store.ts";

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
