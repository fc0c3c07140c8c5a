import { z } from "zod";

/** A shell session id (32 hex; shorter ids of other servers are simply unknown). */
export const SessionIdArg = z.string().min(1).max(64).describe(
  "Session id returned by ssh_shell_open (32 hex characters)",
);
