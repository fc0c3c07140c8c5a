/**
 * DOCKER-5: the flags `ssh_docker_run`'s `run_options` may use (a positive
 * allowlist; value = the flag takes a value). Shared by the tool's validator
 * and the cheatsheet, which carries only these flags over to a suggested call.
 *
 * @module
 */

/** DOCKER-5 `run_options` flags; true = takes a value. */
export const DOCKER_RUN_OPTIONS: Readonly<Record<string, boolean>> = {
  "-e": true,
  "--env": true,
  "-p": true,
  "--publish": true,
  "-v": true,
  "--volume": true,
  "--mount": true,
  "--network": true,
  "--restart": true,
  "-l": true,
  "--label": true,
  "-u": true,
  "--user": true,
  "-w": true,
  "--workdir": true,
  "--entrypoint": true,
  "-m": true,
  "--memory": true,
  "--memory-reservation": true,
  "--cpus": true,
  "--read-only": false,
  "--tmpfs": true,
  "--health-cmd": true,
  "--health-interval": true,
  "--health-retries": true,
  "--health-timeout": true,
  "--health-start-period": true,
  "--health-start-interval": true,
  "--no-healthcheck": false,
  "-h": true,
  "--hostname": true,
  "--init": false,
  "--stop-timeout": true,
  "--stop-signal": true,
  "--cap-drop": true,
  "--pids-limit": true,
  "--shm-size": true,
};
