import { z } from "zod";

/** A shell session id (32 hex; shorter ids of other servers are simply unknown). */
export const SessionIdArg = z.string().min(1).max(64).describe(
  "Id from ssh_shell_open",
);
