/**
 * Group `host` (TOOLS.md §4 plus ssh_describe_host and ssh_skill_read).
 *
 * @module
 */

import type { Tool } from "../define.ts";
import ssh_server_info from "./ssh_server_info.ts";
import ssh_host_ping from "./ssh_host_ping.ts";
import ssh_host_info from "./ssh_host_info.ts";
import ssh_host_network from "./ssh_host_network.ts";
import ssh_host_disk_usage from "./ssh_host_disk_usage.ts";
import ssh_host_processes from "./ssh_host_processes.ts";
import ssh_host_alerts from "./ssh_host_alerts.ts";
import ssh_user_info from "./ssh_user_info.ts";
import ssh_known_hosts_verify from "./ssh_known_hosts_verify.ts";
import ssh_host_list from "./ssh_host_list.ts";
import ssh_host_notes from "./ssh_host_notes.ts";
import ssh_host_reload from "./ssh_host_reload.ts";
import ssh_host_notes_append from "./ssh_host_notes_append.ts";
import ssh_host_notes_set from "./ssh_host_notes_set.ts";
import ssh_describe_host from "./ssh_describe_host.ts";
import ssh_skill_read from "./ssh_skill_read.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [
  ssh_server_info,
  ssh_host_ping,
  ssh_host_info,
  ssh_host_network,
  ssh_host_disk_usage,
  ssh_host_processes,
  ssh_host_alerts,
  ssh_user_info,
  ssh_known_hosts_verify,
  ssh_host_list,
  ssh_host_notes,
  ssh_host_reload,
  ssh_host_notes_append,
  ssh_host_notes_set,
  ssh_describe_host,
  ssh_skill_read,
];
