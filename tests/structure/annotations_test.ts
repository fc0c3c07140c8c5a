/**
 * Issue 12 item 6: every tool's four MCP hints say what the tool does, not
 * only which tier it is in. The table below is the reviewed truth for EVERY
 * registered tool, one row each, as `readOnly destructive idempotent
 * openWorld` (T/F). How the rows were decided:
 *
 * - readOnly: the tool changes nothing on any host nor in the server's
 *   durable state (pollers of the server's task table are read-only even
 *   though they sit in the dangerous tier; sudo readers are read-only).
 * - destructive (when not read-only): it can delete, overwrite, stop, disable
 *   or run arbitrary commands; false when it only adds or refreshes (mkdir,
 *   link, start, enable, pull, apt-get update, notes append, shell open).
 * - idempotent (when not read-only): repeating the same call reaches the same
 *   state (delete, write fixed content, install, stop, ...); false for
 *   arbitrary commands, restarts, edits/patches/moves, deploy (one backup per
 *   call), appends and new sessions.
 * - openWorld: it talks to a host (SSH or engine/package managers there);
 *   false when it only touches the server's own state (config, notes sidecar,
 *   task table, shell records, skills, the pool listing).
 *
 * The advertised `tools/list` annotations leave out hints equal to the MCP
 * default; with the defaults applied they must equal the table too.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";
import type { ToolAnnotations } from "../../src/tools/define.ts";
import { advertisedAnnotations } from "../../src/registry/visibility.ts";

/** readOnlyHint, destructiveHint, idempotentHint, openWorldHint. */
const EXPECTED: Readonly<Record<string, string>> = {
  ssh_server_info: "TFTF",
  ssh_host_ping: "TFTT",
  ssh_host_info: "TFTT",
  ssh_host_network: "TFTT",
  ssh_host_disk_usage: "TFTT",
  ssh_host_processes: "TFTT",
  ssh_host_alerts: "TFTT",
  ssh_user_info: "TFTT",
  ssh_known_hosts_verify: "TFTT",
  ssh_host_list: "TFTF",
  ssh_host_notes: "TFTF",
  ssh_host_reload: "FFTT",
  ssh_host_notes_append: "FFFF",
  ssh_host_notes_set: "FTTF",
  ssh_describe_host: "TFTT",
  ssh_skill_read: "TFTF",
  ssh_session_list: "TFTF",
  ssh_sftp_list: "TFTT",
  ssh_sftp_stat: "TFTT",
  ssh_sftp_download: "TFTT",
  ssh_find: "TFTT",
  ssh_file_hash: "TFTT",
  ssh_read_redacted: "TFTT",
  ssh_mkdir: "FFTT",
  ssh_delete: "FTTT",
  ssh_delete_folder: "FTTT",
  ssh_cp: "FTTT",
  ssh_mv: "FTFT",
  ssh_link: "FFTT",
  ssh_upload: "FTTT",
  ssh_deploy: "FTFT",
  ssh_edit: "FTFT",
  ssh_patch: "FTFT",
  ssh_transfer: "FTTT",
  ssh_exec_run: "FTFT",
  ssh_exec_script: "FTFT",
  ssh_exec_run_streaming: "FTFT",
  ssh_broadcast: "FTFT",
  ssh_run_on_tag: "FTFT",
  ssh_plan: "TFTT",
  ssh_run_async: "FTFT",
  ssh_get_task_status: "TFTF",
  ssh_get_task_result: "TFTF",
  ssh_get_task_output: "TFTF",
  ssh_cancel_async_task: "FTTT",
  ssh_task_list: "TFTF",
  ssh_sudo_exec: "FTFT",
  ssh_sudo_run_script: "FTFT",
  ssh_sudo_read: "TFTT",
  ssh_sudo_read_redacted: "TFTT",
  ssh_sudo_write: "FTTT",
  ssh_sudo_edit: "FTFT",
  ssh_sudo_sftp_list: "TFTT",
  ssh_sudo_capabilities: "TFTT",
  ssh_shell_open: "FFFF",
  ssh_shell_exec: "FTFT",
  ssh_shell_list: "TFTF",
  ssh_shell_close: "FFTF",
  ssh_docker_ps: "TFTT",
  ssh_docker_logs: "TFTT",
  ssh_docker_inspect: "TFTT",
  ssh_docker_stats: "TFTT",
  ssh_docker_top: "TFTT",
  ssh_docker_events: "TFTT",
  ssh_docker_volumes: "TFTT",
  ssh_docker_system_df: "TFTT",
  ssh_docker_images: "TFTT",
  ssh_docker_compose_ps: "TFTT",
  ssh_docker_compose_logs: "TFTT",
  ssh_docker_start: "FFTT",
  ssh_docker_stop: "FTTT",
  ssh_docker_restart: "FTFT",
  ssh_docker_cp: "FTTT",
  ssh_docker_compose_start: "FFTT",
  ssh_docker_compose_stop: "FTTT",
  ssh_docker_compose_restart: "FTFT",
  ssh_docker_exec: "FTFT",
  ssh_docker_run: "FTFT",
  ssh_docker_pull: "FFTT",
  ssh_docker_rm: "FTTT",
  ssh_docker_rmi: "FTTT",
  ssh_docker_prune: "FTTT",
  ssh_docker_compose_up: "FTTT",
  ssh_docker_compose_down: "FTTT",
  ssh_docker_compose_pull: "FFTT",
  ssh_systemctl_status: "TFTT",
  ssh_systemctl_is_active: "TFTT",
  ssh_systemctl_is_enabled: "TFTT",
  ssh_systemctl_is_failed: "TFTT",
  ssh_systemctl_list_units: "TFTT",
  ssh_systemctl_show: "TFTT",
  ssh_systemctl_cat: "TFTT",
  ssh_journalctl: "TFTT",
  ssh_systemctl_start: "FFTT",
  ssh_systemctl_stop: "FTTT",
  ssh_systemctl_restart: "FTFT",
  ssh_systemctl_reload: "FFTT",
  ssh_systemctl_enable: "FFTT",
  ssh_systemctl_disable: "FTTT",
  ssh_systemctl_mask: "FTTT",
  ssh_systemctl_unmask: "FFTT",
  ssh_systemctl_reset_failed: "FFTT",
  ssh_systemctl_daemon_reload: "FFTT",
  ssh_apt_list: "TFTT",
  ssh_apt_search: "TFTT",
  ssh_apt_show: "TFTT",
  ssh_apt_show_holds: "TFTT",
  ssh_apt_install: "FTTT",
  ssh_apt_upgrade: "FTTT",
  ssh_apt_remove: "FTTT",
  ssh_apt_autoremove: "FTTT",
  ssh_apt_mark: "FFTT",
  ssh_apt_update: "FFTT",
  // bridge: listing a remote server's tools changes nothing; a remote tool may do anything
  ssh_remote_mcp_list: "TFTT",
  ssh_remote_mcp_call: "FTFT",
};

const KEYS = ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const;

/** MCP `ToolAnnotations` defaults (a hint left out means this value). */
const MCP_DEFAULTS: ToolAnnotations = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: true,
};

function decode(row: string): ToolAnnotations {
  assert.match(row, /^[TF]{4}$/);
  return Object.fromEntries(KEYS.map((k, i) => [k, row[i] === "T"])) as unknown as ToolAnnotations;
}

function encode(a: ToolAnnotations): string {
  return KEYS.map((k) => (a[k] ? "T" : "F")).join("");
}

Deno.test("annotations: the table names every registered tool and no other", () => {
  const registered = ALL_TOOLS.map((t) => t.name).sort();
  assert.deepEqual(Object.keys(EXPECTED).sort(), registered);
});

Deno.test("annotations: every tool's four hints match the reviewed table", () => {
  const wrong = ALL_TOOLS.filter((t) => encode(t.annotations) !== EXPECTED[t.name])
    .map((t) => `${t.name}: ${encode(t.annotations)}, expected ${EXPECTED[t.name]}`);
  assert.deepEqual(
    wrong,
    [],
    `hints (readOnly destructive idempotent openWorld):\n${wrong.join("\n")}`,
  );
});

Deno.test("annotations: tools/list advertises the same hints (defaults applied)", () => {
  for (const t of ALL_TOOLS) {
    const listed = { ...MCP_DEFAULTS, ...advertisedAnnotations(t.annotations) };
    assert.deepEqual(listed, decode(EXPECTED[t.name]!), t.name);
  }
});

Deno.test("annotations: the task pollers of the dangerous tier are read-only and non-destructive", () => {
  for (
    const name of [
      "ssh_get_task_status",
      "ssh_get_task_result",
      "ssh_get_task_output",
      "ssh_task_list",
    ]
  ) {
    const t = ALL_TOOLS.find((x) => x.name === name);
    assert.ok(t, name);
    assert.equal(t.tier, "dangerous", name);
    assert.equal(t.annotations.readOnlyHint, true, name);
    assert.equal(t.annotations.destructiveHint, false, name);
  }
});

Deno.test("annotations: a read-only tool is never destructive; every read-tier tool is read-only", () => {
  for (const t of ALL_TOOLS) {
    if (t.annotations.readOnlyHint) assert.equal(t.annotations.destructiveHint, false, t.name);
    if (t.tier === "read") assert.equal(t.annotations.readOnlyHint, true, t.name);
  }
});
