/**
 * Group `pkg` (TOOLS.md §12 and the optional ssh_apt_update of §15): four
 * read tools and six mutations of Debian/Ubuntu packages through apt.
 *
 * @module
 */

import type { Tool } from "../define.ts";
import ssh_apt_list from "./ssh_apt_list.ts";
import ssh_apt_search from "./ssh_apt_search.ts";
import ssh_apt_show from "./ssh_apt_show.ts";
import ssh_apt_show_holds from "./ssh_apt_show_holds.ts";
import ssh_apt_install from "./ssh_apt_install.ts";
import ssh_apt_upgrade from "./ssh_apt_upgrade.ts";
import ssh_apt_remove from "./ssh_apt_remove.ts";
import ssh_apt_autoremove from "./ssh_apt_autoremove.ts";
import ssh_apt_mark from "./ssh_apt_mark.ts";
import ssh_apt_update from "./ssh_apt_update.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [
  ssh_apt_list,
  ssh_apt_search,
  ssh_apt_show,
  ssh_apt_show_holds,
  ssh_apt_install,
  ssh_apt_upgrade,
  ssh_apt_remove,
  ssh_apt_autoremove,
  ssh_apt_mark,
  ssh_apt_update,
];
