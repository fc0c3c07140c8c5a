/**
 * Issue 9 §2, class "zones hold for whole subtrees" (SECURITY.md PATH-33..
 * PATH-37, PATH-44) through the real server, a real MCP client and real
 * OpenSSH hosts whose login shell is dash and bash: moving, copying,
 * transferring, deleting or linking a directory is refused when its subtree
 * holds a restricted zone, a restricted-glob match or a redact-listed path;
 * a tree may not land where its names become restricted; listings hide
 * names inside zones. Every refusal leaves the host unchanged.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { CheckedPath } from "../../src/checked.ts";
import { RemoteFs } from "../../src/ssh/fs.ts";
import { exists, type LoginShell, mkdirUser, put, tree, withFiles } from "./_files_fixture.ts";

type R = Record<string, unknown>;

const SHELLS: LoginShell[] = ["sh", "bash"];

for (const shell of SHELLS) {
  Deno.test(`PATH-33 (${shell}): mv/cp/delete_folder/link of a parent of a restricted zone are refused naming the zone; the secret stays unreachable`, async () => {
    await withFiles(async ({ s, root }) => {
      await mkdirUser(`${root}/app/secret`);
      await put(`${root}/app/secret/key`, "TOP-SECRET");
      await put(`${root}/app/readme`, "hello");
      await mkdirUser(`${root}/pub`);
      const before = await tree(root);
      const zone = `${root}/app/secret`;
      const attempts: [string, R][] = [
        ["ssh_mv", { src: `${root}/app`, dst: `${root}/moved` }],
        ["ssh_mv", { src: `${root}/app`, dst: `${root}/pub/app` }],
        ["ssh_cp", { src: `${root}/app`, dst: `${root}/copy` }],
        ["ssh_cp", { src: `${root}/app`, dst: `${root}/pub` }],
        ["ssh_delete_folder", { path: `${root}/app`, recursive: true }],
        ["ssh_delete_folder", { path: `${root}/app`, recursive: true, dry_run: true }],
        ["ssh_link", { src: `${root}/app`, dst: `${root}/l`, symbolic: true }],
        ["ssh_link", { src: "app", dst: `${root}/l2`, symbolic: true }],
        ["ssh_link", { src: "..", dst: `${root}/pub/l3`, symbolic: true }],
      ];
      for (const [tool, a] of attempts) {
        const e = await s.err(tool, { host: "h1", ...a });
        assert.equal(e.code, "PathRestricted", `${tool} ${JSON.stringify(a)}: ${e.message}`);
        assert.ok(e.message.includes(zone), `${tool}: the error names the zone: ${e.message}`);
        assert.equal(e.meta.stage, "subtree");
      }
      assert.deepEqual(await tree(root), before, "nothing changed on the host");
      // the secret is still only behind the zone
      const d = await s.err("ssh_sftp_download", { host: "h1", path: `${root}/app/secret/key` });
      assert.equal(d.code, "PathRestricted");
      // the rest of the tree still works
      const ok = await s.ok<R>("ssh_mv", {
        host: "h1",
        src: `${root}/app/readme`,
        dst: `${root}/pub/readme`,
      });
      assert.equal(ok.success, true);
    }, { shell, perHost: (_a, root) => `restricted_paths = ["${root}/app/secret"]` });
  });
}

Deno.test("PATH-33/PATH-36 (audit): a subtree refusal writes a policy_decision deny line", async () => {
  await withFiles(async ({ s, root, audit }) => {
    await mkdirUser(`${root}/app/secret`);
    await put(`${root}/app/secret/key`, "x");
    await s.err("ssh_mv", { host: "h1", src: `${root}/app`, dst: `${root}/b` });
    const lines = await audit();
    const deny = lines.find((l) => l.type === "policy_decision" && l.decision === "deny");
    assert.ok(deny, JSON.stringify(lines));
    assert.equal(deny!.reason, "PathRestricted");
    assert.equal(deny!.rule, `${root}/app/secret`);
  }, { perHost: (_a, root) => `restricted_paths = ["${root}/app/secret"]` });
});

for (const shell of SHELLS) {
  Deno.test(`PATH-34/PATH-35 (${shell}): restricted globs and redact-listed names inside a subtree refuse mv/cp/delete_folder/transfer; warn mode lets them through with a warning`, async () => {
    await withFiles(async ({ s, root }) => {
      await mkdirUser(`${root}/certs/deep`);
      await put(`${root}/certs/deep/server.key`, "PRIVATE");
      await put(`${root}/certs/ca.pem`, "PUBLIC");
      await mkdirUser(`${root}/conf`);
      await put(`${root}/conf/.env`, "DB_PASSWORD=hunter2");
      await put(`${root}/conf/app.ini`, "x=1");
      const before = await tree(root);
      for (
        const [tool, a, code, rule] of [
          ["ssh_mv", { src: `${root}/certs`, dst: `${root}/c2` }, "PathRestricted", "**/*.key"],
          ["ssh_cp", { src: `${root}/certs`, dst: `${root}/c2` }, "PathRestricted", "**/*.key"],
          [
            "ssh_delete_folder",
            { path: `${root}/certs`, recursive: true },
            "PathRestricted",
            "**/*.key",
          ],
          ["ssh_cp", { src: `${root}/conf`, dst: `${root}/c3` }, "RedactBypassBlocked", "**/.env"],
          ["ssh_mv", { src: `${root}/conf`, dst: `${root}/c3` }, "RedactBypassBlocked", "**/.env"],
        ] as [string, R, string, string][]
      ) {
        const e = await s.err(tool, { host: "h1", ...a });
        assert.equal(e.code, code, `${tool} ${JSON.stringify(a)}: ${e.message}`);
        assert.equal(e.meta.rule, rule);
        assert.match(e.message, /whole subtree/);
      }
      const t = await s.err("ssh_transfer", {
        src_host: "h1",
        src_path: `${root}/conf/.env`,
        dst_host: "h2",
        dst_path: `${root}/copied-env`,
      });
      assert.equal(t.code, "RedactBypassBlocked");
      assert.deepEqual(await tree(root), before);
    }, {
      shell,
      hosts: 2,
      perHost: () =>
        'restricted_globs = ["**/*.key"]\nredact_paths_globs = ["**/.env"]\nredact_bypass_policy = "block"',
    });
    await withFiles(async ({ s, root }) => {
      await mkdirUser(`${root}/conf`);
      await put(`${root}/conf/.env`, "A=1");
      const r = await s.ok<R>("ssh_cp", { host: "h1", src: `${root}/conf`, dst: `${root}/c3` });
      assert.ok(
        (r.output_warnings as string[]).some((w) => /redact-listed path .*\.env/.test(w)),
        JSON.stringify(r.output_warnings),
      );
      assert.equal(await Deno.readTextFile(`${root}/c3/.env`), "A=1");
    }, { shell, perHost: () => 'redact_paths_globs = ["**/.env"]\nredact_bypass_policy = "warn"' });
  });
}

Deno.test("PATH-36: a tree may not land where its names become restricted (mv/cp destination mapping)", async () => {
  await withFiles(async ({ s, root }) => {
    await mkdirUser(`${root}/stage`);
    await put(`${root}/stage/cert.pem`, "C");
    await mkdirUser(`${root}/other`);
    const before = await tree(root);
    for (const tool of ["ssh_mv", "ssh_cp"]) {
      const e = await s.err(tool, { host: "h1", src: `${root}/stage`, dst: `${root}/prod` });
      assert.equal(e.code, "PathRestricted", `${tool}: ${e.message}`);
      assert.equal(e.meta.rule, "**/prod/*.pem");
      assert.match(e.message, new RegExp(`would contain ${root}/prod/cert\\.pem`));
    }
    // a zone configured below the destination: the tree would land inside it
    const z = await s.err("ssh_mv", { host: "h1", src: `${root}/stage`, dst: `${root}/vault` });
    assert.equal(z.code, "PathRestricted");
    assert.equal(z.meta.rule, `${root}/vault/inner`);
    assert.deepEqual(await tree(root), before);
    // copying a file into an existing directory: the computed target is checked too
    await mkdirUser(`${root}/prod`);
    const c = await s.err("ssh_cp", {
      host: "h1",
      src: `${root}/stage/cert.pem`,
      dst: `${root}/prod`,
    });
    assert.equal(c.code, "PathRestricted");
    assert.equal(c.meta.rule, "**/prod/*.pem");
    assert.equal(await exists(`${root}/prod/cert.pem`), false);
  }, {
    perHost: (_a, root) =>
      `restricted_globs = ["**/prod/*.pem"]\nrestricted_paths = ["${root}/vault/inner"]`,
  });
});

Deno.test("PATH-34: a subtree too large to check, or with an unreadable directory, is refused (never skipped)", async () => {
  await withFiles(async ({ s, root }) => {
    await mkdirUser(`${root}/big`);
    for (let i = 0; i < 8; i++) await put(`${root}/big/f${i}`, "x");
    const e = await s.err("ssh_mv", { host: "h1", src: `${root}/big`, dst: `${root}/big2` });
    assert.equal(e.code, "PathNotAllowed");
    assert.match(e.message, /more than 5 entries \(SSH_DELETE_FOLDER_MAX_ENTRIES\)/);
    assert.ok(await exists(`${root}/big/f0`));
    await mkdirUser(`${root}/locked/inner`);
    await put(`${root}/locked/inner/x`, "x");
    await Deno.chown(`${root}/locked/inner`, 0, 0);
    await Deno.chmod(`${root}/locked/inner`, 0o700);
    const u = await s.err("ssh_cp", { host: "h1", src: `${root}/locked`, dst: `${root}/l2` });
    assert.equal(u.code, "PathNotAllowed");
    assert.match(u.message, /cannot be read/);
    assert.equal(await exists(`${root}/l2`), false);
  }, {
    env: { SSH_DELETE_FOLDER_MAX_ENTRIES: "5" },
    perHost: () => 'restricted_globs = ["**/*.key"]',
  });
});

for (const shell of SHELLS) {
  Deno.test(`PATH-37 (${shell}): ssh_sftp_list and ssh_find hide names inside restricted zones and say how many`, async () => {
    await withFiles(async ({ s, root }) => {
      await mkdirUser(`${root}/secret/sub`);
      await put(`${root}/secret/sub/key.txt`, "k");
      await mkdirUser(`${root}/keys`);
      await put(`${root}/keys/a.key`, "k");
      await put(`${root}/keys/b.pub`, "p");
      await put(`${root}/visible.txt`, "v");
      const l = await s.ok<R>("ssh_sftp_list", { host: "h1", path: root });
      const names = (l.entries as { name: string }[]).map((e) => e.name);
      assert.deepEqual(names, ["keys", "visible.txt"]);
      assert.equal(l.total, 2);
      assert.ok(
        (l.output_warnings as string[]).includes(
          "1 entry hidden: inside restricted zones (restricted_paths, restricted_globs or the built-in protected paths)",
        ),
        JSON.stringify(l.output_warnings),
      );
      const k = await s.ok<R>("ssh_sftp_list", { host: "h1", path: `${root}/keys` });
      assert.deepEqual((k.entries as { name: string }[]).map((e) => e.name), ["b.pub"]);
      const f = await s.ok<R>("ssh_find", { host: "h1", path: root, name_pattern: "*" });
      assert.deepEqual((f.matches as string[]).sort(), [
        `${root}/keys/b.pub`,
        `${root}/visible.txt`,
      ]);
      assert.ok(
        (f.output_warnings as string[]).some((w) => /^1 entry hidden/.test(w)),
        JSON.stringify(f.output_warnings),
      );
      const d = await s.ok<R>("ssh_find", { host: "h1", path: root, name_pattern: "*", kind: "d" });
      assert.deepEqual((d.matches as string[]).sort(), [root, `${root}/keys`]);
      // nothing inside the zone leaks through a download of the listing either
      assert.ok(!Buffer.from(JSON.stringify([l, k, f, d])).toString().includes("key.txt"));
    }, {
      shell,
      perHost: (_a, root) =>
        `restricted_paths = ["${root}/secret"]\nrestricted_globs = ["**/*.key"]`,
    });
  });
}

Deno.test("PATH-44: whole-tree operations refuse a path whose subtree was not checked in the call", async () => {
  await withFiles(async ({ s, root }) => {
    await mkdirUser(`${root}/t/secret`);
    await put(`${root}/t/secret/k`, "k");
    const policy = s.app.hosts().resolve("h1");
    const conn = await s.app.pool.acquire(policy);
    const fs = await RemoteFs.open(conn, { subtreeChecked: (p) => p === `${root}/other` });
    const t = `${root}/t` as CheckedPath;
    const other = `${root}/other` as CheckedPath;
    await assert.rejects(() => fs.removeTree(t), /its subtree was not checked/);
    await assert.rejects(
      () => fs.move(t, other, { toIsDir: false }),
      /its subtree was not checked/,
    );
    await assert.rejects(() => fs.stageCopy(t, other), /its subtree was not checked/);
    assert.deepEqual(await tree(root), ["t", "t/secret", "t/secret/k"]);
  });
});
