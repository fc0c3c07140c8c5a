/**
 * Group `file-ops` (TOOLS.md §7).
 *
 * @module
 */

import type { Tool } from "../define.ts";
import ssh_mkdir from "./ssh_mkdir.ts";
import ssh_delete from "./ssh_delete.ts";
import ssh_delete_folder from "./ssh_delete_folder.ts";
import ssh_cp from "./ssh_cp.ts";
import ssh_mv from "./ssh_mv.ts";
import ssh_link from "./ssh_link.ts";
import ssh_upload from "./ssh_upload.ts";
import ssh_deploy from "./ssh_deploy.ts";
import ssh_edit from "./ssh_edit.ts";
import ssh_patch from "./ssh_patch.ts";
import ssh_transfer from "./ssh_transfer.ts";

/** The group's tools in catalog order. */
export const TOOLS: readonly Tool[] = [
  ssh_mkdir,
  ssh_delete,
  ssh_delete_folder,
  ssh_cp,
  ssh_mv,
  ssh_link,
  ssh_upload,
  ssh_deploy,
  ssh_edit,
  ssh_patch,
  ssh_transfer,
];
