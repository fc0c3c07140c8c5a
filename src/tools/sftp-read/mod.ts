/**
 * Group `sftp-read` (TOOLS.md §6).
 *
 * @module
 */

import type { Tool } from "../define.ts";
import ssh_sftp_list from "./ssh_sftp_list.ts";
import ssh_sftp_stat from "./ssh_sftp_stat.ts";
import ssh_sftp_download from "./ssh_sftp_download.ts";
import ssh_find from "./ssh_find.ts";
import ssh_file_hash from "./ssh_file_hash.ts";
import ssh_read_redacted from "./ssh_read_redacted.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [
  ssh_sftp_list,
  ssh_sftp_stat,
  ssh_sftp_download,
  ssh_find,
  ssh_file_hash,
  ssh_read_redacted,
];
