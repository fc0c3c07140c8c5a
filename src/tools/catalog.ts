/**
 * The one catalog: every tool of every group, in order. Visibility is decided
 * per configuration by the registry.
 *
 * @module
 */

import type { Tool } from "./define.ts";
import { TOOLS as HOST } from "./host/mod.ts";
import { TOOLS as SESSION } from "./session/mod.ts";
import { TOOLS as SFTP_READ } from "./sftp-read/mod.ts";
import { TOOLS as FILE_OPS } from "./file-ops/mod.ts";
import { TOOLS as EXEC } from "./exec/mod.ts";
import { TOOLS as SUDO } from "./sudo/mod.ts";
import { TOOLS as SHELL } from "./shell/mod.ts";
import { TOOLS as DOCKER } from "./docker/mod.ts";
import { TOOLS as SYSTEMCTL } from "./systemctl/mod.ts";
import { TOOLS as PKG } from "./pkg/mod.ts";
import { TOOLS as BRIDGE } from "./bridge/mod.ts";

/** Every registered tool. */
export const ALL_TOOLS: readonly Tool[] = [
  ...HOST,
  ...SESSION,
  ...SFTP_READ,
  ...FILE_OPS,
  ...EXEC,
  ...SUDO,
  ...SHELL,
  ...DOCKER,
  ...SYSTEMCTL,
  ...PKG,
  ...BRIDGE,
];
