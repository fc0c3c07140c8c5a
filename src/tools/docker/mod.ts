/**
 * Group `docker` (TOOLS.md §10): 11 read, 7 low-access and 9 dangerous tools
 * over the Docker or Podman CLI of each host (`docker_cmd`, SSH_DOCKER_CMD,
 * SSH_DOCKER_COMPOSE_CMD).
 *
 * @module
 */

import type { Tool } from "../define.ts";
import ssh_docker_ps from "./ssh_docker_ps.ts";
import ssh_docker_logs from "./ssh_docker_logs.ts";
import ssh_docker_inspect from "./ssh_docker_inspect.ts";
import ssh_docker_stats from "./ssh_docker_stats.ts";
import ssh_docker_top from "./ssh_docker_top.ts";
import ssh_docker_events from "./ssh_docker_events.ts";
import ssh_docker_volumes from "./ssh_docker_volumes.ts";
import ssh_docker_system_df from "./ssh_docker_system_df.ts";
import ssh_docker_images from "./ssh_docker_images.ts";
import ssh_docker_compose_ps from "./ssh_docker_compose_ps.ts";
import ssh_docker_compose_logs from "./ssh_docker_compose_logs.ts";
import ssh_docker_start from "./ssh_docker_start.ts";
import ssh_docker_stop from "./ssh_docker_stop.ts";
import ssh_docker_restart from "./ssh_docker_restart.ts";
import ssh_docker_cp from "./ssh_docker_cp.ts";
import ssh_docker_compose_start from "./ssh_docker_compose_start.ts";
import ssh_docker_compose_stop from "./ssh_docker_compose_stop.ts";
import ssh_docker_compose_restart from "./ssh_docker_compose_restart.ts";
import ssh_docker_exec from "./ssh_docker_exec.ts";
import ssh_docker_run from "./ssh_docker_run.ts";
import ssh_docker_pull from "./ssh_docker_pull.ts";
import ssh_docker_rm from "./ssh_docker_rm.ts";
import ssh_docker_rmi from "./ssh_docker_rmi.ts";
import ssh_docker_prune from "./ssh_docker_prune.ts";
import ssh_docker_compose_up from "./ssh_docker_compose_up.ts";
import ssh_docker_compose_down from "./ssh_docker_compose_down.ts";
import ssh_docker_compose_pull from "./ssh_docker_compose_pull.ts";

/** The group's tools in catalog order (TOOLS.md §10.1-§10.3). */
export const TOOLS: readonly Tool[] = [
  ssh_docker_ps,
  ssh_docker_logs,
  ssh_docker_inspect,
  ssh_docker_stats,
  ssh_docker_top,
  ssh_docker_events,
  ssh_docker_volumes,
  ssh_docker_system_df,
  ssh_docker_images,
  ssh_docker_compose_ps,
  ssh_docker_compose_logs,
  ssh_docker_start,
  ssh_docker_stop,
  ssh_docker_restart,
  ssh_docker_cp,
  ssh_docker_compose_start,
  ssh_docker_compose_stop,
  ssh_docker_compose_restart,
  ssh_docker_exec,
  ssh_docker_run,
  ssh_docker_pull,
  ssh_docker_rm,
  ssh_docker_rmi,
  ssh_docker_prune,
  ssh_docker_compose_up,
  ssh_docker_compose_down,
  ssh_docker_compose_pull,
];
