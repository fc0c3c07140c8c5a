/**
 * Least privilege (docs/PERMISSIONS.md): the real server process, started with
 * exactly the command line of `deno task start` (read from deno.json), runs its
 * program in a Worker whose Deno permissions are computed from the
 * configuration. These tests show, against real sshd hosts and a real MCP
 * client, that
 * - doctor reports the effective grants and Deno refuses everything else;
 * - configured locations work (local_path download, notes, audit log), and a
 *   transfer root re-pointed after start (which the local_path policy itself
 *   would accept, LOCAL-3 resolves roots per call) is refused by Deno: nothing
 *   is written there;
 * - a secret command configured at start runs; one added by a SIGHUP reload
 *   cannot run (no program was granted), so the shell never starts.
 *
 * No probe is a backdoor: every attempt goes through a shipped tool or
 * setting, and the refusal comes from Deno's permission check.
 */

import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { startFleet } from "../_support/fleet.ts";
import { baseEnv, ROOT } from "../_support/mcp.ts";
import { put, userDir } from "./_files_fixture.ts";

type R = Record<string, unknown>;

/** `deno task start`'s command line from deno.json, with the command replaced. */
function startArgs(command: string[]): string[] {
  const cfg = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const w = String(cfg.tasks.start).trim().split(/\s+/);
  const main = w.indexOf("main.ts");
  assert.equal(w[0], "deno");
  assert.ok(main > 1, "tasks.start runs main.ts");
  assert.ok(w.includes("--unstable-worker-options"), "tasks.start can narrow (worker-options)");
  assert.ok(w.includes("--no-prompt"), "tasks.start never prompts for a permission");
  return [...w.slice(1, main), `${ROOT}main.ts`, ...command];
}

interface Server {
  call(name: string, args: R): Promise<CallToolResult>;
  stderr(): string;
  pid: number;
  close(): Promise<void>;
}

async function startServer(env: Record<string, string>, cwd: string): Promise<Server> {
  const transport = new StdioClientTransport({
    command: Deno.execPath(),
    args: startArgs(["serve"]),
    env,
    cwd,
    stderr: "pipe",
  });
  let err = "";
  const dec = new TextDecoder();
  transport.stderr?.on("data", (d: Uint8Array) => (err += dec.decode(d)));
  const client = new Client({ name: "ssh-mcp-permissions-test", version: "1.0.0" });
  await client.connect(transport);
  await client.listTools();
  const pid = transport.pid;
  if (pid === null) throw new Error("no server pid");
  return {
    call: async (name, args) => await client.callTool({ name, arguments: args }) as CallToolResult,
    stderr: () => err,
    pid,
    close: () => client.close(),
  };
}

function text(r: CallToolResult): string {
  return (r.content as { type: string; text?: string }[])
    .map((c) => (c.type === "text" ? c.text ?? "" : "")).join("");
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("PERM-1: doctor (started like deno task start) reports the effective grants; Deno refuses every other write and program", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sshmcp-perm1-" }));
  try {
    await Deno.mkdir(`${dir}/audit`);
    await Deno.mkdir(`${dir}/local`);
    const hook = `${dir}/hook.sh`;
    await Deno.writeTextFile(hook, "#!/bin/sh\ncat >/dev/null\n");
    await Deno.chmod(hook, 0o755);
    const env = baseEnv({
      SSH_AUDIT_LOG: `${dir}/audit/audit.log`,
      SSH_HOST_NOTES_DIR: `${dir}/notes`,
      SSH_LOCAL_TRANSFER_ROOTS: `${dir}/local`,
      SSH_PINNED_KNOWN_HOSTS: `${dir}/pins/pinned_known_hosts`,
      SSH_KNOWN_HOSTS: `${dir}/known_hosts`,
      SSH_HOOKS_COMMAND: hook,
    });
    const r = await new Deno.Command(Deno.execPath(), {
      args: startArgs(["doctor", "--json"]),
      env,
      clearEnv: true,
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout);
    assert.equal(r.code, 0, `doctor failed: ${out}\n${new TextDecoder().decode(r.stderr)}`);
    const p = JSON.parse(out).permissions as {
      narrowed: boolean;
      command: string;
      write: { value: string; why: string }[];
      run: { value: string; why: string }[];
      sys: string[];
      checks: { kind: string; target: string; allowed: boolean }[];
    };
    assert.equal(p.narrowed, true, "the start command line narrows");
    assert.equal(p.command, "doctor");
    assert.deepEqual(
      p.write.map((g) => g.value).sort(),
      [
        `${dir}/audit/audit.log`,
        `${dir}/audit`, // doctor only: its writability probe
        `${dir}/pins`,
        `${dir}/notes`,
        `${dir}/local`,
      ].sort(),
    );
    assert.deepEqual(p.run.map((g) => g.value), [hook], "only the hooks program may run");
    assert.ok(!p.sys.includes("osRelease") && !p.sys.includes("networkInterfaces"));
    const check = (kind: string, target: string) =>
      p.checks.find((c) => c.kind === kind && c.target === target)?.allowed;
    for (const g of p.write) assert.equal(check("write", g.value), true, g.value);
    assert.equal(check("run", hook), true);
    // outside: the working directory, ~/.ssh/authorized_keys, the temp dir, the shell
    assert.equal(check("write", dir), false, "the working directory is not writable");
    assert.equal(check("write", `${env.HOME}/.ssh/authorized_keys`), false);
    assert.equal(check("write", "/tmp/ssh-mcp-doctor-probe"), false);
    assert.equal(check("run", "/bin/sh"), false, "no shell without a secret command");
    // the text report names them too
    const t = await new Deno.Command(Deno.execPath(), {
      args: startArgs(["doctor"]),
      env,
      clearEnv: true,
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const txt = new TextDecoder().decode(t.stdout);
    assert.match(txt, /permissions: narrowed for doctor/);
    assert.match(txt, new RegExp(`${dir}/local  <- SSH_LOCAL_TRANSFER_ROOTS`));
    assert.match(txt, /check: run \/bin\/sh: refused \(Deno\)/);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("PERM-2/LOCAL-3: serve writes only its configured locations; a transfer root re-pointed after start is refused by Deno, nothing is written there", async () => {
  const root = await userDir("sshmcp-perm2-remote-");
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sshmcp-perm2-" }));
  const fleet = await startFleet(1, { perHost: () => `path_allowlist = ["${root}"]` });
  let s: Server | null = null;
  try {
    await put(`${root}/f.txt`, "hello from the host\n");
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await Deno.symlink(`${dir}/a`, `${dir}/xfer`);
    const env = fleet.env({
      SSH_AUDIT_LOG: `${dir}/audit.log`,
      SSH_HOST_NOTES_DIR: `${dir}/notes`,
      SSH_LOCAL_TRANSFER_ROOTS: `${dir}/xfer`,
      SSH_PINNED_KNOWN_HOSTS: `${dir}/pins/pinned_known_hosts`,
      ALLOW_LOW_ACCESS_TOOLS: "true",
    });
    s = await startServer(env, dir);

    // configured locations work
    const ok = await s.call("ssh_sftp_download", {
      host: "h1",
      path: `${root}/f.txt`,
      local_path: `${dir}/xfer/one.txt`,
    });
    assert.ok(!ok.isError, text(ok));
    assert.equal(await Deno.readTextFile(`${dir}/a/one.txt`), "hello from the host\n");
    const note = await s.call("ssh_host_notes_append", { host: "h1", entry: "perm test note" });
    assert.ok(!note.isError, text(note));
    assert.match(await Deno.readTextFile(`${dir}/notes/h1.md`), /perm test note/);
    assert.match(await Deno.readTextFile(`${dir}/audit.log`), /ssh_sftp_download/);

    // the root now resolves to b/: the local_path policy accepts it (roots resolve per call),
    // the Worker's write grant (a/ and the link) does not cover it
    await Deno.remove(`${dir}/xfer`);
    await Deno.symlink(`${dir}/b`, `${dir}/xfer`);
    const refused = await s.call("ssh_sftp_download", {
      host: "h1",
      path: `${root}/f.txt`,
      local_path: `${dir}/xfer/two.txt`,
    });
    assert.ok(
      refused.isError,
      `the download to an ungranted directory succeeded: ${text(refused)}`,
    );
    // the path policy accepted the call (it got as far as opening the temp file); the open
    // itself was refused (Deno's NotCapable, which local_paths.ts reports as unresolvable)
    assert.match(text(refused), /^LocalPathPolicyError: Cannot create a temporary file beside/);
    assert.deepEqual([...Deno.readDirSync(`${dir}/b`)], [], "nothing was written outside");
    assert.equal(await exists(`${dir}/a/two.txt`), false);
    // the server is still up and the granted location still works after the refusal
    await Deno.remove(`${dir}/xfer`);
    await Deno.symlink(`${dir}/a`, `${dir}/xfer`);
    const again = await s.call("ssh_sftp_download", {
      host: "h1",
      path: `${root}/f.txt`,
      local_path: `${dir}/xfer/three.txt`,
    });
    assert.ok(!again.isError, text(again));
    assert.equal(await exists(`${dir}/a/three.txt`), true);
  } finally {
    await s?.close();
    await fleet.stop();
    for (const d of [root, dir, fleet.dir, ...fleet.hosts.map((h) => h.sshd.dir)]) {
      await Deno.remove(d, { recursive: true }).catch(() => {});
    }
  }
});

Deno.test("PERM-3/AUTH-3: a secret command configured at start runs; one added by a SIGHUP reload cannot start (no shell was granted)", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "sshmcp-perm3-" }));
  // a closed port: the password command runs before the TCP connect (auth is prepared first)
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const hostsToml = `${dir}/hosts.toml`;
  const known = `${dir}/known_hosts`;
  await Deno.writeTextFile(known, "");
  const host = (auth: string) =>
    `[hosts.h1]\nhostname = "127.0.0.1"\nport = ${port}\nuser = "nobody"\n[hosts.h1.auth]\n${auth}\n`;
  const marker = (n: string) => `${dir}/ran-${n}`;
  const env = baseEnv({
    SSH_HOSTS_FILE: hostsToml,
    SSH_KNOWN_HOSTS: known,
    ALLOW_PASSWORD_AUTH: "true",
    LOG_LEVEL: "INFO",
    SSH_PINNED_KNOWN_HOSTS: `${dir}/pins/pinned_known_hosts`,
  });
  let s: Server | null = null;
  try {
    // configured at start: the shell is granted and the command runs
    await Deno.writeTextFile(
      hostsToml,
      host(`method = "password"\npassword_cmd = "touch ${marker("start")}; echo pw"`),
    );
    s = await startServer(env, dir);
    const r1 = await s.call("ssh_host_info", { host: "h1" });
    assert.ok(r1.isError, "the closed port cannot answer");
    assert.equal(await exists(marker("start")), true, "the configured password_cmd ran");
    await s.close();
    s = null;

    // started without any secret command: nothing may run; a reload adds one
    await Deno.writeTextFile(hostsToml, host(`method = "password"\npassword_secret = "pw1"`));
    s = await startServer(env, dir);
    await Deno.writeTextFile(
      hostsToml,
      host(`method = "password"\npassword_cmd = "touch ${marker("reload")}; echo pw"`),
    );
    const server = s;
    Deno.kill(server.pid, "SIGHUP");
    await until(() => /hosts reloaded/.test(server.stderr()), "the SIGHUP reload");
    const r2 = await server.call("ssh_host_info", { host: "h1" });
    assert.ok(r2.isError);
    assert.match(text(r2), /AuthenticationFailed/);
    assert.match(text(r2), /password_cmd for host h1: command could not be started/);
    assert.equal(await exists(marker("reload")), false, "the shell never started");
  } finally {
    await s?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
