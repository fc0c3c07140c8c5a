/**
 * The python-ssh-mcp contract (issue 12 item 7) end to end: a configuration
 * written the way the reference's documentation shows it (tests/fixtures/compat:
 * `.env` with `LOG_LEVEL=WARN`, `ALLOW_DANGEROUS_TOOLS=True`, JSON lists, a value
 * above our cap; hosts.toml with quoted booleans and `90.0`) starts the real
 * server (`deno run main.ts serve` over stdio, the `.env` read from its working
 * directory) against real sshd hosts, and a real MCP client calls every tool
 * shared with the reference with the reference's parameter names.
 *
 * Acceptable outcomes for a call: success, or a tool error that is not an
 * input-validation error (policy refusals, host errors: no docker daemon,
 * systemd not PID 1, no sudo password, ...). An `Invalid arguments for <tool>`
 * error (unknown / missing parameter, wrong value) fails the test.
 */

import assert from "node:assert/strict";
import { startFleet } from "../_support/fleet.ts";
import { type CallToolResult, startInProcess, startStdio } from "../_support/mcp.ts";
import { tempDir } from "../_support/sshd.ts";

const FIXTURES = new URL("../fixtures/compat/", import.meta.url).pathname;

/**
 * The 100 tools of python-ssh-mcp v1.5.2 (TOOLS.md §1: 42 read, 22
 * low-access, 29 dangerous, 7 sudo).
 */
const REFERENCE_TOOLS = [
  // host (14)
  "ssh_server_info",
  "ssh_host_ping",
  "ssh_host_info",
  "ssh_host_network",
  "ssh_host_disk_usage",
  "ssh_host_processes",
  "ssh_host_alerts",
  "ssh_user_info",
  "ssh_known_hosts_verify",
  "ssh_host_list",
  "ssh_host_notes",
  "ssh_host_reload",
  "ssh_host_notes_append",
  "ssh_host_notes_set",
  // session (1)
  "ssh_session_list",
  // sftp-read (6)
  "ssh_sftp_list",
  "ssh_sftp_stat",
  "ssh_sftp_download",
  "ssh_find",
  "ssh_file_hash",
  "ssh_read_redacted",
  // file-ops (11)
  "ssh_mkdir",
  "ssh_delete",
  "ssh_delete_folder",
  "ssh_cp",
  "ssh_mv",
  "ssh_link",
  "ssh_upload",
  "ssh_deploy",
  "ssh_edit",
  "ssh_patch",
  "ssh_transfer",
  // exec (4)
  "ssh_exec_run",
  "ssh_exec_script",
  "ssh_exec_run_streaming",
  "ssh_broadcast",
  // sudo (7)
  "ssh_sudo_exec",
  "ssh_sudo_run_script",
  "ssh_sudo_read",
  "ssh_sudo_read_redacted",
  "ssh_sudo_write",
  "ssh_sudo_edit",
  "ssh_sudo_sftp_list",
  // shell (4)
  "ssh_shell_open",
  "ssh_shell_exec",
  "ssh_shell_close",
  "ssh_shell_list",
  // docker (27)
  "ssh_docker_ps",
  "ssh_docker_logs",
  "ssh_docker_inspect",
  "ssh_docker_stats",
  "ssh_docker_top",
  "ssh_docker_events",
  "ssh_docker_volumes",
  "ssh_docker_system_df",
  "ssh_docker_images",
  "ssh_docker_compose_ps",
  "ssh_docker_compose_logs",
  "ssh_docker_start",
  "ssh_docker_stop",
  "ssh_docker_restart",
  "ssh_docker_cp",
  "ssh_docker_compose_start",
  "ssh_docker_compose_stop",
  "ssh_docker_compose_restart",
  "ssh_docker_exec",
  "ssh_docker_run",
  "ssh_docker_pull",
  "ssh_docker_rm",
  "ssh_docker_rmi",
  "ssh_docker_prune",
  "ssh_docker_compose_up",
  "ssh_docker_compose_down",
  "ssh_docker_compose_pull",
  // systemctl (17)
  "ssh_systemctl_status",
  "ssh_systemctl_is_active",
  "ssh_systemctl_is_enabled",
  "ssh_systemctl_is_failed",
  "ssh_systemctl_list_units",
  "ssh_systemctl_show",
  "ssh_systemctl_cat",
  "ssh_journalctl",
  "ssh_systemctl_start",
  "ssh_systemctl_stop",
  "ssh_systemctl_restart",
  "ssh_systemctl_reload",
  "ssh_systemctl_enable",
  "ssh_systemctl_disable",
  "ssh_systemctl_mask",
  "ssh_systemctl_unmask",
  "ssh_systemctl_reset_failed",
  // pkg (9)
  "ssh_apt_list",
  "ssh_apt_search",
  "ssh_apt_show",
  "ssh_apt_show_holds",
  "ssh_apt_install",
  "ssh_apt_upgrade",
  "ssh_apt_remove",
  "ssh_apt_autoremove",
  "ssh_apt_mark",
] as const;

/** One reference-style call; `must` = it has to succeed on this test bed. */
interface Call {
  tool: string;
  args: Record<string, unknown> | (() => Record<string, unknown>);
  must?: boolean;
  check?: (r: Record<string, unknown>) => void;
}

function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
}

function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{\{([A-Z0-9_]+)\}\}/g, (all, k: string) => {
    const v = values[k];
    if (v === undefined) throw new Error(`no value for placeholder ${all}`);
    return String(v);
  });
}

Deno.test("COMPAT: a python-ssh-mcp style configuration starts and every shared tool takes the reference's parameter names", async () => {
  assert.equal(REFERENCE_TOOLS.length, 100);
  assert.equal(new Set(REFERENCE_TOOLS).size, 100);
  const fleet = await startFleet(2);
  const work = await tempDir("sshmcp-compat-");
  try {
    const [h1, h2] = [fleet.hosts[0]!.sshd, fleet.hosts[1]!.sshd];
    const user = h1.user;
    // a directory the SSH login user owns, inside the hosts' path_allowlist
    const files = `${work}/files`;
    await Deno.mkdir(files);
    await Deno.chmod(work, 0o755);
    await Deno.chown(files, user.uid, user.uid);
    await Deno.writeTextFile(`${files}/app.env`, "APP_MODE=prod\nDB_PASSWORD=hunter2-compat\n");
    await Deno.writeTextFile(
      `${files}/docker-compose.yml`,
      "services:\n  web:\n    image: busybox\n",
    );
    for (const f of ["app.env", "docker-compose.yml"]) {
      await Deno.chown(`${files}/${f}`, user.uid, user.uid);
    }
    const values = {
      USER: user.name,
      KEY: fleet.key.privatePath,
      FILES: files,
      H1_ADDR: h1.address,
      H1_PORT: h1.port,
      H2_ADDR: h2.address,
      H2_PORT: h2.port,
      KNOWN_HOSTS: fleet.knownHostsPath,
    };
    const hostsToml = `${work}/hosts.toml`;
    await Deno.writeTextFile(
      hostsToml,
      fill(await Deno.readTextFile(`${FIXTURES}hosts.toml`), values),
    );
    await Deno.writeTextFile(
      `${work}/.env`,
      fill(await Deno.readTextFile(`${FIXTURES}env`), values),
    );

    // only what a process inherits; everything else comes from .env in the cwd
    const s = await startStdio({
      HOME: Deno.env.get("HOME") ?? "/root",
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    }, work);
    try {
      // ---- start-up: deprecations and clamps are WARNINGs on stderr, LOG_LEVEL=WARN honoured
      const logs = s.stderr().split("\n");
      const warning = (re: RegExp) => logs.some((l) => / WARNING /.test(l) && re.test(l));
      assert.ok(
        warning(new RegExp(`${hostsToml}: hosts\\.web\\.port: the float ${h1.port}\\.0`)),
        `no deprecation WARNING for hosts.web.port in:\n${logs.join("\n")}`,
      );
      for (
        const key of [
          "defaults\\.persistent_session",
          "defaults\\.redact_entropy_detection",
          "defaults\\.auth\\.identities_only",
          "hosts\\.web\\.alerts\\.disk_use_percent_max",
        ]
      ) {
        assert.ok(
          warning(new RegExp(`hosts\\.toml: ${key}: .*deprecated`)),
          `no WARNING for ${key}`,
        );
      }
      assert.ok(warning(/SSH_MAX_CONNECTIONS_PER_HOST=10 is above the maximum of 8; using 8/));
      assert.ok(!logs.some((l) => / INFO /.test(l)), "LOG_LEVEL=WARN must drop INFO lines");

      // ---- every shared tool is listed
      const listed = new Set((await s.client.listTools()).tools.map((t) => t.name));
      const shared = REFERENCE_TOOLS.filter((n) => listed.has(n));
      assert.deepEqual(
        REFERENCE_TOOLS.filter((n) => !listed.has(n)),
        [],
        "reference tools missing from tools/list with every tier on",
      );

      const F = files;
      let sessionId = "";
      const NOPKG = ["ssh-mcp-compat-no-such-pkg"];
      const UNIT = "ssh-mcp-compat-none.service";
      const compose = `${F}/docker-compose.yml`;
      const calls: Call[] = [
        // host
        { tool: "ssh_server_info", args: {}, must: true },
        { tool: "ssh_host_ping", args: { host: "web" }, must: true },
        { tool: "ssh_host_info", args: { host: "web" }, must: true },
        { tool: "ssh_host_network", args: { host: "web" } },
        { tool: "ssh_host_disk_usage", args: { host: "web" }, must: true },
        { tool: "ssh_host_processes", args: { host: "web", top: 5 }, must: true },
        { tool: "ssh_host_alerts", args: { host: "web" }, must: true },
        { tool: "ssh_user_info", args: { host: "web", username: user.name }, must: true },
        { tool: "ssh_known_hosts_verify", args: { host: "web" }, must: true },
        {
          tool: "ssh_host_list",
          args: {},
          must: true,
          check: (r) => assert.equal(r.count, 2),
        },
        { tool: "ssh_host_notes", args: { host: "web" }, must: true },
        {
          tool: "ssh_host_reload",
          args: {},
          must: true,
          check: (r) => assert.equal(r.loaded, 2, "loaded is the host count"),
        },
        {
          tool: "ssh_host_notes_append",
          args: { host: "web", entry: "compat check" },
          must: true,
        },
        { tool: "ssh_host_notes_set", args: { host: "db", content: "" }, must: true },
        { tool: "ssh_session_list", args: {}, must: true },
        // file-ops first, so the read tools have something to read
        {
          tool: "ssh_mkdir",
          args: { host: "web", path: `${F}/d/e`, parents: true, mode: 0o755 },
          must: true,
        },
        {
          tool: "ssh_upload",
          args: { host: "web", path: `${F}/a.txt`, content_text: "one\ntwo\n", mode: 0o644 },
          must: true,
        },
        {
          tool: "ssh_deploy",
          args: { host: "web", path: `${F}/a.txt`, content_text: "one\ntwo\n", backup: true },
          must: true,
        },
        {
          tool: "ssh_edit",
          args: {
            host: "web",
            path: `${F}/a.txt`,
            old_string: "two",
            new_string: "three",
            occurrence: "single",
          },
          must: true,
        },
        {
          tool: "ssh_patch",
          args: {
            host: "web",
            path: `${F}/a.txt`,
            unified_diff: "--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n one\n-three\n+four\n",
          },
          must: true,
        },
        { tool: "ssh_cp", args: { host: "web", src: `${F}/a.txt`, dst: `${F}/b.txt` }, must: true },
        { tool: "ssh_mv", args: { host: "web", src: `${F}/b.txt`, dst: `${F}/c.txt` }, must: true },
        {
          tool: "ssh_link",
          args: {
            host: "web",
            src: `${F}/a.txt`,
            dst: `${F}/a.link`,
            symbolic: true,
            follow_symlinks: true,
          },
          must: true,
        },
        {
          tool: "ssh_transfer",
          args: {
            src_host: "web",
            src_path: `${F}/a.txt`,
            dst_host: "db",
            dst_path: `${F}/t.txt`,
            overwrite: true,
          },
          must: true,
        },
        // sftp-read
        {
          tool: "ssh_sftp_list",
          args: { host: "web", path: F, offset: 0, limit: 100 },
          must: true,
        },
        { tool: "ssh_sftp_stat", args: { host: "web", path: `${F}/a.txt` }, must: true },
        { tool: "ssh_sftp_download", args: { host: "web", path: `${F}/a.txt` }, must: true },
        {
          tool: "ssh_find",
          args: { host: "web", path: F, name_pattern: "*.txt", kind: "f", max_depth: 3 },
          must: true,
        },
        {
          tool: "ssh_file_hash",
          args: { host: "web", path: `${F}/a.txt`, algorithm: "sha256", timeout: 30 },
          must: true,
        },
        {
          tool: "ssh_read_redacted",
          args: { host: "web", path: `${F}/app.env`, format: "env" },
          must: true,
          check: (r) => assert.ok(!JSON.stringify(r).includes("hunter2-compat")),
        },
        { tool: "ssh_delete", args: { host: "web", path: `${F}/c.txt` }, must: true },
        {
          tool: "ssh_delete_folder",
          args: { host: "web", path: `${F}/d`, recursive: true, dry_run: false },
          must: true,
        },
        // exec
        {
          tool: "ssh_exec_run",
          args: { host: "web", command: "echo hi", timeout: 30 },
          must: true,
        },
        {
          tool: "ssh_exec_script",
          args: { host: "web", script: "echo hi\n", timeout: 30 },
          must: true,
        },
        {
          tool: "ssh_exec_run_streaming",
          args: { host: "web", command: "echo hi", timeout: 30 },
          must: true,
        },
        {
          tool: "ssh_broadcast",
          args: { hosts: ["web", "db"], command: "echo hi", timeout: 30 },
          must: true,
          check: (r) => {
            const results = r.results as Record<string, Record<string, unknown>>;
            assert.deepEqual((r.succeeded as string[]).sort(), ["db", "web"]);
            for (const h of ["web", "db"]) {
              assert.equal(results[h]!.stdout, "hi\n", `stdout of ${h} filled by default`);
              assert.equal(results[h]!.output_group, null);
            }
            assert.deepEqual(r.output_groups, []);
          },
        },
        {
          tool: "ssh_broadcast",
          args: { hosts: ["web", "db"], command: "date --compat-no-such-option" },
          must: true,
          check: (r) => {
            const results = r.results as Record<string, Record<string, unknown>>;
            assert.deepEqual((r.failed as string[]).sort(), ["db", "web"]);
            for (const h of ["web", "db"]) {
              assert.match(String(results[h]!.stderr), /compat-no-such-option/, `stderr of ${h}`);
            }
          },
        },
        // sudo (no password source: refusals and host errors are fine)
        { tool: "ssh_sudo_exec", args: { host: "web", command: "true", timeout: 30 } },
        { tool: "ssh_sudo_run_script", args: { host: "web", script: "true\n", timeout: 30 } },
        { tool: "ssh_sudo_read", args: { host: "web", path: `${F}/a.txt` } },
        {
          tool: "ssh_sudo_read_redacted",
          args: { host: "web", path: `${F}/app.env`, format: "env" },
        },
        {
          tool: "ssh_sudo_write",
          args: {
            host: "web",
            path: `${F}/s.txt`,
            content_text: "x\n",
            mode: 0o644,
            chown_user: user.name,
            chown_group: user.name,
          },
        },
        {
          tool: "ssh_sudo_edit",
          args: {
            host: "web",
            path: `${F}/a.txt`,
            old_string: "four",
            new_string: "five",
            occurrence: "single",
          },
        },
        { tool: "ssh_sudo_sftp_list", args: { host: "web", path: F, offset: 0, limit: 100 } },
        // shell
        {
          tool: "ssh_shell_open",
          args: { host: "web" },
          must: true,
          check: (r) => (sessionId = String(r.session_id)),
        },
        {
          tool: "ssh_shell_exec",
          args: () => ({ session_id: sessionId, command: "echo hi", timeout: 30 }),
          must: true,
        },
        { tool: "ssh_shell_list", args: {}, must: true },
        { tool: "ssh_shell_close", args: () => ({ session_id: sessionId }), must: true },
        // docker (no daemon here: host errors expected)
        {
          tool: "ssh_docker_ps",
          args: {
            host: "web",
            all_: true,
            include_labels: false,
            name: "web",
            status: "running",
            label: "app=web",
            ancestor: "nginx",
          },
        },
        {
          tool: "ssh_docker_logs",
          args: {
            host: "web",
            container: "web",
            tail: 10,
            since: "10m",
            timestamps: false,
            max_bytes: 65536,
          },
        },
        { tool: "ssh_docker_inspect", args: { host: "web", target: "web", kind: "container" } },
        { tool: "ssh_docker_stats", args: { host: "web" } },
        { tool: "ssh_docker_top", args: { host: "web", container: "web", ps_options: "aux" } },
        {
          tool: "ssh_docker_events",
          args: { host: "web", since: "1h", until: "now", filters: ["type=container"] },
        },
        { tool: "ssh_docker_volumes", args: { host: "web", name: "data" } },
        { tool: "ssh_docker_system_df", args: { host: "web" } },
        {
          tool: "ssh_docker_images",
          args: {
            host: "web",
            include_labels: false,
            reference: "nginx*",
            dangling: false,
            label: "app=web",
          },
        },
        {
          tool: "ssh_docker_compose_ps",
          args: {
            host: "web",
            compose_file: compose,
            include_labels: false,
            compose_v1: false,
            service: "web",
            status: "running",
          },
        },
        {
          tool: "ssh_docker_compose_logs",
          args: {
            host: "web",
            compose_file: compose,
            tail: 10,
            service: "web",
            max_bytes: 65536,
            compose_v1: false,
          },
        },
        { tool: "ssh_docker_start", args: { host: "web", container: "compat-none" } },
        { tool: "ssh_docker_stop", args: { host: "web", container: "compat-none" } },
        { tool: "ssh_docker_restart", args: { host: "web", container: "compat-none" } },
        {
          tool: "ssh_docker_cp",
          args: {
            host: "web",
            container: "compat-none",
            container_path: "/etc/hostname",
            host_path: `${F}/hostname.copy`,
            direction: "from_container",
            timeout: 30,
          },
        },
        {
          tool: "ssh_docker_compose_start",
          args: { host: "web", compose_file: compose, compose_v1: false },
        },
        {
          tool: "ssh_docker_compose_stop",
          args: { host: "web", compose_file: compose, compose_v1: false },
        },
        {
          tool: "ssh_docker_compose_restart",
          args: { host: "web", compose_file: compose, compose_v1: false },
        },
        {
          tool: "ssh_docker_exec",
          args: {
            host: "web",
            container: "compat-none",
            command: "true",
            timeout: 30,
            interactive: false,
          },
        },
        {
          tool: "ssh_docker_run",
          args: {
            host: "web",
            image: "busybox",
            args: ["true"],
            name: "compat-none",
            remove: true,
            detached: false,
            timeout: 30,
          },
        },
        { tool: "ssh_docker_pull", args: { host: "web", image: "busybox", timeout: 30 } },
        { tool: "ssh_docker_rm", args: { host: "web", container: "compat-none", force: false } },
        { tool: "ssh_docker_rmi", args: { host: "web", image: "compat-none", force: false } },
        { tool: "ssh_docker_prune", args: { host: "web", scope: "container", all_: false } },
        {
          tool: "ssh_docker_compose_up",
          args: {
            host: "web",
            compose_file: compose,
            detached: true,
            build: false,
            timeout: 30,
            compose_v1: false,
          },
        },
        {
          tool: "ssh_docker_compose_down",
          args: {
            host: "web",
            compose_file: compose,
            volumes: false,
            timeout: 30,
            compose_v1: false,
          },
        },
        {
          tool: "ssh_docker_compose_pull",
          args: { host: "web", compose_file: compose, timeout: 30, compose_v1: false },
        },
        // systemctl (systemd is not PID 1 here: host errors expected)
        { tool: "ssh_systemctl_status", args: { host: "web", unit: UNIT } },
        { tool: "ssh_systemctl_is_active", args: { host: "web", unit: UNIT } },
        { tool: "ssh_systemctl_is_enabled", args: { host: "web", unit: UNIT } },
        { tool: "ssh_systemctl_is_failed", args: { host: "web", unit: UNIT } },
        {
          tool: "ssh_systemctl_list_units",
          args: { host: "web", pattern: "ssh*", state: "running", unit_type: "service" },
        },
        {
          tool: "ssh_systemctl_show",
          args: { host: "web", unit: UNIT, properties: ["ActiveState", "SubState"] },
        },
        { tool: "ssh_systemctl_cat", args: { host: "web", unit: UNIT } },
        {
          tool: "ssh_journalctl",
          args: { host: "web", unit: UNIT, since: "1h", until: "now", lines: 10, grep: "error" },
        },
        ...[
          "start",
          "stop",
          "restart",
          "reload",
          "enable",
          "disable",
          "mask",
          "unmask",
          "reset_failed",
        ].map((a) => ({
          tool: `ssh_systemctl_${a}`,
          args: { host: "web", unit: UNIT, timeout: 10 },
        })),
        // pkg (the login user is not root: mutations fail on the host, harmlessly)
        { tool: "ssh_apt_list", args: { host: "web", mode: "installed", pattern: "bash" } },
        { tool: "ssh_apt_search", args: { host: "web", pattern: "bash" } },
        { tool: "ssh_apt_show", args: { host: "web", package: "bash" } },
        { tool: "ssh_apt_show_holds", args: { host: "web", timeout: 30 } },
        {
          tool: "ssh_apt_install",
          args: { host: "web", packages: NOPKG, update_first: false, timeout: 30 },
        },
        { tool: "ssh_apt_upgrade", args: { host: "web", timeout: 30 } },
        {
          tool: "ssh_apt_remove",
          args: { host: "web", packages: NOPKG, purge: false, timeout: 30 },
        },
        { tool: "ssh_apt_autoremove", args: { host: "web", timeout: 30 } },
        {
          tool: "ssh_apt_mark",
          args: { host: "web", action: "hold", packages: NOPKG, timeout: 30 },
        },
      ];

      assert.deepEqual(
        shared.filter((n) => !calls.some((c) => c.tool === n)),
        [],
        "shared tools without a reference-style call",
      );
      const rejected: string[] = [];
      const failedMust: string[] = [];
      const run = async (c: Call) => {
        const args = typeof c.args === "function" ? c.args() : c.args;
        const r = await s.call(c.tool, args);
        const t = r.isError ? text(r) : "";
        if (r.isError && /Invalid arguments for |unknown parameter|Unrecognized key/i.test(t)) {
          rejected.push(`${c.tool}: ${t}`);
        } else if (r.isError && c.must) {
          failedMust.push(`${c.tool}: ${t}`);
        } else if (!r.isError && c.check) {
          c.check(r.structuredContent as Record<string, unknown>);
        }
      };
      // tools without shared state (docker, systemctl, journal, apt: host errors or slow
      // apt-cache reads) run alongside the ordered rest to keep the test short
      const independent = (c: Call) => /^ssh_(docker|systemctl|journalctl|apt)_?/.test(c.tool);
      await Promise.all([
        (async () => {
          for (const c of calls.filter((c) => !independent(c))) await run(c);
        })(),
        Promise.all(calls.filter(independent).map(run)),
      ]);
      assert.deepEqual(rejected, [], "calls rejected for their parameters");
      assert.deepEqual(failedMust, [], "calls that must succeed on this test bed");
    } finally {
      await s.close();
    }
  } finally {
    await fleet.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await Deno.remove(fleet.dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("COMPAT: the reference's BM25 spellings are accepted at start-up", async () => {
  const s = await startInProcess({
    SSH_MCP_DISABLE_DOTENV: "1",
    HOME: Deno.env.get("HOME") ?? "/root",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    SSH_AUDIT_LOG: "off",
    SSH_HOST_NOTES_DIR: "",
    SSH_HOSTS_FILE: "",
    LOG_LEVEL: "notset",
    SSH_ENABLE_BM25: "True",
    SSH_BM25_MAX_RESULTS: "5",
    SSH_BM25_ALWAYS_VISIBLE: '["ssh_host_ping","ssh_host_info"]',
  });
  try {
    assert.equal(s.app.settings.SSH_ENABLE_BM25, true);
    assert.equal(s.app.settings.SSH_BM25_MAX_RESULTS, 5);
    assert.deepEqual([...s.app.settings.SSH_BM25_ALWAYS_VISIBLE], [
      "ssh_host_ping",
      "ssh_host_info",
    ]);
    assert.equal(s.app.settings.LOG_LEVEL, "DEBUG");
    assert.ok((await s.client.listTools()).tools.length > 0);
  } finally {
    await s.close();
  }
});
