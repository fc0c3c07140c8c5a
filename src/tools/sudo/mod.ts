/**
 * Group `sudo` (TOOLS.md §9): hidden unless ALLOW_DANGEROUS_TOOLS and
 * ALLOW_SUDO. Every elevated command goes through the prompt handshake of
 * `src/ssh/sudo.ts`.
 *
 * @module
 */

import type { Tool } from "../define.ts";
import sudoExec from "./ssh_sudo_exec.ts";
import sudoRunScript from "./ssh_sudo_run_script.ts";
import sudoRead from "./ssh_sudo_read.ts";
import sudoReadRedacted from "./ssh_sudo_read_redacted.ts";
import sudoWrite from "./ssh_sudo_write.ts";
import sudoEdit from "./ssh_sudo_edit.ts";
import sudoSftpList from "./ssh_sudo_sftp_list.ts";
import sudoCapabilities from "./ssh_sudo_capabilities.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [
  sudoExec,
  sudoRunScript,
  sudoRead,
  sudoReadRedacted,
  sudoWrite,
  sudoEdit,
  sudoSftpList,
  sudoCapabilities,
];
