/**
 * Group `systemctl` (TOOLS.md §11 and the optional ssh_systemctl_daemon_reload
 * of §15): eight read tools (journalctl included) and ten mutations.
 *
 * @module
 */

import type { Tool } from "../define.ts";
import ssh_systemctl_status from "./ssh_systemctl_status.ts";
import ssh_systemctl_is_active from "./ssh_systemctl_is_active.ts";
import ssh_systemctl_is_enabled from "./ssh_systemctl_is_enabled.ts";
import ssh_systemctl_is_failed from "./ssh_systemctl_is_failed.ts";
import ssh_systemctl_list_units from "./ssh_systemctl_list_units.ts";
import ssh_systemctl_show from "./ssh_systemctl_show.ts";
import ssh_systemctl_cat from "./ssh_systemctl_cat.ts";
import ssh_journalctl from "./ssh_journalctl.ts";
import ssh_systemctl_start from "./ssh_systemctl_start.ts";
import ssh_systemctl_stop from "./ssh_systemctl_stop.ts";
import ssh_systemctl_restart from "./ssh_systemctl_restart.ts";
import ssh_systemctl_reload from "./ssh_systemctl_reload.ts";
import ssh_systemctl_enable from "./ssh_systemctl_enable.ts";
import ssh_systemctl_disable from "./ssh_systemctl_disable.ts";
import ssh_systemctl_mask from "./ssh_systemctl_mask.ts";
import ssh_systemctl_unmask from "./ssh_systemctl_unmask.ts";
import ssh_systemctl_reset_failed from "./ssh_systemctl_reset_failed.ts";
import ssh_systemctl_daemon_reload from "./ssh_systemctl_daemon_reload.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [
  ssh_systemctl_status,
  ssh_systemctl_is_active,
  ssh_systemctl_is_enabled,
  ssh_systemctl_is_failed,
  ssh_systemctl_list_units,
  ssh_systemctl_show,
  ssh_systemctl_cat,
  ssh_journalctl,
  ssh_systemctl_start,
  ssh_systemctl_stop,
  ssh_systemctl_restart,
  ssh_systemctl_reload,
  ssh_systemctl_enable,
  ssh_systemctl_disable,
  ssh_systemctl_mask,
  ssh_systemctl_unmask,
  ssh_systemctl_reset_failed,
  ssh_systemctl_daemon_reload,
];
