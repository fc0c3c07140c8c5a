/**
 * Issue 9 §3 "The server protects itself" (LOCAL-12..LOCAL-16), through the
 * real tools (ssh_upload reads a local_path, ssh_sftp_download writes one)
 * of the real server behind a real MCP client, with a real sshd host.
 *
 * SSH_LOCAL_TRANSFER_ROOTS covers the directory that holds the server's whole
 * configuration (the situation the issue describes): hosts file, .env,
 * known_hosts, the client key, the audit log, notes, secrets, the hooks
 * program, the ssh_config with its Include directory and IdentityFile
 * pattern, the programs of `*_cmd` settings. None of them can be read or
 * written by any name: directly, through `..`, a symbolic link, a hard link,
 * a bind mount, or a rotated audit sibling; ordinary files next to them can.
 * The protected set follows a hosts reload.
 */

import assert from "node:assert/strict";
import { startFleet } from "../_support/fleet.ts";
import { type InProcess, startInProcess } from "../_support/mcp.ts";
import { mustRun } from "../_support/sshd.ts";
import { userDir } from "./_files_fixture.ts";

type R = Record<string, unknown>;

async function script(p: string, body: string): Promise<void> {
  await Deno.writeTextFile(p, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(p, 0o755);
}

interface Own {
  s: InProcess;
  /** the local root = the server's configuration directory */
  root: string;
  /** a directory on the host the tools may use */
  remote: string;
  hostsToml: string;
  key: string;
  writeHosts(key: string): Promise<void>;
}

async function withOwnFiles(fn: (c: Own) => Promise<void>): Promise<void> {
  const remote = await userDir("sshmcp-own-remote-");
  await Deno.writeTextFile(`${remote}/remote.txt`, "remote content\n");
  await Deno.chmod(`${remote}/remote.txt`, 0o644);
  const fleet = await startFleet(1);
  const root = fleet.dir;
  const h = fleet.hosts[0]!.sshd;
  const hostsToml = fleet.hostsTomlPath;
  const writeHosts = async (key: string) => {
    await Deno.writeTextFile(
      hostsToml,
      [
        "[hosts.h1]",
        `hostname = "${h.address}"`,
        `port = ${h.port}`,
        `user = "${h.user.name}"`,
        `path_allowlist = ["${remote}"]`,
        `sudo_password_cmd = "${root}/sudo-pw.sh --from ${root}/sudo-pw.txt"`,
        "[hosts.h1.auth]",
        'method = "key"',
        `key = "${key}"`,
        `passphrase_cmd = "${root}/pass.sh"`,
        "",
      ].join("\n"),
    );
  };
  await writeHosts(fleet.key.privatePath);
  await Deno.mkdir(`${root}/notes`);
  await Deno.writeTextFile(`${root}/notes/h1.md`, "agent notes\n");
  await Deno.mkdir(`${root}/secrets`);
  await Deno.writeTextFile(`${root}/secrets/pw`, "s3cret\n");
  await Deno.mkdir(`${root}/conf.d`);
  await Deno.writeTextFile(`${root}/conf.d/a.conf`, "# included\n");
  await Deno.chmod(`${root}/conf.d/a.conf`, 0o644);
  await Deno.writeTextFile(
    `${root}/ssh_config`,
    `Include ${root}/conf.d/*.conf\nHost *\n  IdentityFile ${root}/idk_%h\n`,
  );
  await Deno.writeTextFile(`${root}/idk_h1`, "not really a key\n");
  await Deno.writeTextFile(`${root}/.env`, "# the server's .env\n");
  await Deno.writeTextFile(`${root}/audit.log.1`, "rotated audit\n");
  await Deno.writeTextFile(`${root}/known_hosts.old`, "old pins\n");
  await Deno.writeTextFile(`${root}/sudo-pw.txt`, "sudo pw\n");
  await script(`${root}/hook.sh`, "cat >/dev/null");
  await script(`${root}/pass.sh`, "echo pass");
  await script(`${root}/sudo-pw.sh`, 'cat "$2"');
  await Deno.writeTextFile(`${root}/ok.bin`, "ordinary file\n");
  const s = await startInProcess(
    fleet.env({
      ALLOW_LOW_ACCESS_TOOLS: "true",
      SSH_LOCAL_TRANSFER_ROOTS: root,
      SSH_AUDIT_LOG: `${root}/audit.log`,
      SSH_HOST_NOTES_DIR: `${root}/notes`,
      SSH_SECRETS_DIR: `${root}/secrets`,
      SSH_HOOKS_COMMAND: `${root}/hook.sh`,
      SSH_CONFIG_FILE: `${root}/ssh_config`,
    }),
    { cwd: root },
  );
  try {
    await fn({ s, root, remote, hostsToml, key: fleet.key.privatePath, writeHosts });
  } finally {
    await s.close();
    await fleet.stop();
    await Deno.remove(remote, { recursive: true }).catch(() => {});
  }
}

/** Reading `local` (ssh_upload) is refused as a server file whose description matches `what`. */
async function uploadRefused(c: Own, local: string, what: RegExp): Promise<void> {
  const e = await c.s.err("ssh_upload", {
    host: "h1",
    path: `${c.remote}/up.bin`,
    local_path: local,
  });
  assert.equal(e.code, "LocalPathPolicyError", `${local}: ${e.message}`);
  assert.match(e.message, /one of the server's own files/, local);
  assert.match(e.message, what, local);
  assert.equal(e.meta.reason, "server_file");
}

/** Writing `local` (ssh_sftp_download) is refused and the file is untouched. */
async function downloadRefused(c: Own, local: string, what: RegExp): Promise<void> {
  const before = await Deno.readFile(local).catch(() => null);
  const e = await c.s.err("ssh_sftp_download", {
    host: "h1",
    path: `${c.remote}/remote.txt`,
    local_path: local,
  });
  assert.equal(e.code, "LocalPathPolicyError", `${local}: ${e.message}`);
  assert.match(e.message, what, local);
  const after = await Deno.readFile(local).catch(() => null);
  if (before === null) assert.equal(after, null, `${local} was created`);
  else {
    // unchanged; the audit log only grows by its own lines
    const dec = new TextDecoder();
    assert.ok(dec.decode(after!).startsWith(dec.decode(before)), `${local} changed`);
    assert.ok(!dec.decode(after!).includes("remote content"), `${local} got the download`);
    if (!local.endsWith("audit.log")) assert.deepEqual(after, before, `${local} changed`);
  }
}

Deno.test("LOCAL-12: local_path never reads or writes the server's own files, whatever SSH_LOCAL_TRANSFER_ROOTS covers", async () => {
  await withOwnFiles(async (c) => {
    const r = c.root;
    const cases: [string, RegExp][] = [
      [c.hostsToml, /the hosts file \(SSH_HOSTS_FILE\)/],
      [`${r}/.env`, /the \.env file/],
      [`${r}/known_hosts`, /known_hosts file \(SSH_KNOWN_HOSTS\)/],
      [`${r}/known_hosts.old`, /known_hosts file/],
      [`${r}/audit.log`, /the audit log \(SSH_AUDIT_LOG\)/],
      [`${r}/audit.log.1`, /the audit log \(SSH_AUDIT_LOG\) or one of its rotated files/],
      [`${r}/notes/h1.md`, /host notes directory/],
      [`${r}/secrets/pw`, /secrets directory \(SSH_SECRETS_DIR\)/],
      [c.key, /key file of host h1 \(auth\.key\)/],
      [`${c.key}.pub`, /key file of host h1/],
      [`${r}/hook.sh`, /the hooks program \(SSH_HOOKS_COMMAND\)/],
      [`${r}/pass.sh`, /auth\.passphrase_cmd of host h1/],
      [`${r}/sudo-pw.sh`, /sudo_password_cmd of host h1/],
      [`${r}/sudo-pw.txt`, /a file named by sudo_password_cmd of host h1/],
      [`${r}/ssh_config`, /the ssh_config file \(SSH_CONFIG_FILE\)/],
      [`${r}/conf.d/a.conf`, /included by the ssh_config file/],
      [`${r}/idk_h1`, /key file named by the ssh_config file/],
    ];
    for (const [p, what] of cases) {
      await uploadRefused(c, p, what);
      await downloadRefused(c, p, what);
    }
    // names that do not exist yet but would become the server's files
    for (
      const [p, what] of [
        [`${r}/notes/h2.md`, /host notes directory/],
        [`${r}/conf.d/evil.conf`, /included by the ssh_config file/],
        [`${r}/idk_evil`, /key file named by the ssh_config file/],
        [`${r}/audit.log.2.gz`, /rotated files/],
      ] as [string, RegExp][]
    ) {
      await downloadRefused(c, p, what);
      await assert.rejects(Deno.lstat(p), Deno.errors.NotFound);
    }
    // an ordinary file next to them works both ways
    const up = await c.s.ok<R>("ssh_upload", {
      host: "h1",
      path: `${c.remote}/ok.bin`,
      local_path: `${r}/ok.bin`,
    });
    assert.equal(up.bytes_written, 14);
    const down = await c.s.ok<R>("ssh_sftp_download", {
      host: "h1",
      path: `${c.remote}/remote.txt`,
      local_path: `${r}/fetched.txt`,
    });
    assert.equal(down.local_path_written, `${r}/fetched.txt`);
  });
});

Deno.test("LOCAL-13: a symbolic link, `..`, a hard link and a bind mount cannot reach the server's files", async () => {
  await withOwnFiles(async (c) => {
    const r = c.root;
    await Deno.symlink(c.key, `${r}/innocent-link`);
    await uploadRefused(c, `${r}/innocent-link`, /key file of host h1/);
    await Deno.mkdir(`${r}/sub`);
    await downloadRefused(c, `${r}/sub/../hosts.toml`, /the hosts file/);
    await Deno.symlink(r, `${r}/sub/up`);
    await downloadRefused(c, `${r}/sub/up/hosts.toml`, /the hosts file/);
    // hard links: the key itself (identity), and a file inside the notes directory (walk)
    await Deno.link(c.key, `${r}/innocent-hardlink`);
    await uploadRefused(c, `${r}/innocent-hardlink`, /key file of host h1/);
    await Deno.link(`${r}/notes/h1.md`, `${r}/notes-hardlink.md`);
    await uploadRefused(c, `${r}/notes-hardlink.md`, /host notes directory/);
    // a bind mount of the secrets directory inside the root: same directory, other path
    await Deno.mkdir(`${r}/bound`);
    await mustRun("mount", ["--bind", `${r}/secrets`, `${r}/bound`]);
    try {
      await uploadRefused(c, `${r}/bound/pw`, /secrets directory/);
      await downloadRefused(c, `${r}/bound/new-secret`, /secrets directory/);
      await assert.rejects(Deno.lstat(`${r}/secrets/new-secret`), Deno.errors.NotFound);
    } finally {
      await mustRun("umount", [`${r}/bound`]);
    }
  });
});

Deno.test("LOCAL-14: the protected set follows a hosts reload (a newly named key file becomes unreachable)", async () => {
  await withOwnFiles(async (c) => {
    const key2 = `${c.root}/key2`;
    await Deno.copyFile(c.key, key2);
    await Deno.chmod(key2, 0o600);
    // not (yet) one of the server's files: an ordinary upload
    await c.s.ok("ssh_upload", { host: "h1", path: `${c.remote}/k2.bin`, local_path: key2 });
    await c.writeHosts(key2);
    const rel = await c.s.ok<R>("ssh_host_reload", {});
    assert.deepEqual(rel.changed, ["h1"]);
    await uploadRefused(c, key2, /key file of host h1 \(auth\.key\)/);
    // and the host still works with it
    await c.s.ok("ssh_sftp_stat", { host: "h1", path: `${c.remote}/remote.txt` });
  });
});
