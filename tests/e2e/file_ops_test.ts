/**
 * Group `file-ops` end to end: every tool against real sshd through a real MCP
 * client; the NEW `check` mode (nothing changes: hashes and trees compared
 * before/after) and `expected_sha256` preconditions on every tool that has
 * them; mode and owner preservation on overwrite.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  exists,
  type FilesCtx,
  mkdirUser,
  put,
  sha,
  shaOf,
  symlinkUser,
  temps,
  testUser,
  tree,
  userDir,
  withFiles,
} from "./_files_fixture.ts";
import { mustRun } from "../_support/sshd.ts";

type R = Record<string, unknown>;

/** Runs `fn` and asserts that nothing under `root` changed (names and contents). */
async function unchanged(root: string, fn: () => Promise<void>) {
  const before = await snapshot(root);
  await fn();
  assert.deepEqual(await snapshot(root), before, "check mode changed the host");
}

async function snapshot(root: string) {
  const out: Record<string, string> = {};
  for (const p of await tree(root)) {
    const st = await Deno.lstat(`${root}/${p}`);
    out[p] = st.isFile
      ? `${(await sha(`${root}/${p}`))} ${st.mode?.toString(8)} ${st.uid}:${st.gid}`
      : `${st.isDirectory ? "dir" : "link"} ${st.mode?.toString(8)}`;
  }
  return out;
}

Deno.test("ssh_upload: text, base64, empty (AC-054/AC-244); new file 0644; overwrite keeps mode; explicit mode; sha256 returned", async () => {
  await withFiles(async ({ s, root }) => {
    const r = await s.ok<R>("ssh_upload", {
      host: "h1",
      path: `${root}/new.txt`,
      content_text: "hi\n",
    });
    assert.deepEqual(
      [r.success, r.bytes_written, r.message, r.changed, r.check, r.sha256],
      [true, 3, "uploaded (atomic)", true, false, shaOf("hi\n")],
    );
    assert.equal(await Deno.readTextFile(`${root}/new.txt`), "hi\n");
    assert.equal((await Deno.stat(`${root}/new.txt`)).mode! & 0o7777, 0o644);
    await put(`${root}/secret.conf`, "old", { mode: 0o600 });
    await s.ok("ssh_upload", { host: "h1", path: `${root}/secret.conf`, content_text: "new" });
    assert.equal(
      (await Deno.stat(`${root}/secret.conf`)).mode! & 0o7777,
      0o600,
      "overwrite widened the mode",
    );
    await s.ok("ssh_upload", {
      host: "h1",
      path: `${root}/secret.conf`,
      content_text: "x",
      mode: 0o640,
    });
    assert.equal((await Deno.stat(`${root}/secret.conf`)).mode! & 0o7777, 0o640);
    const bin = new Uint8Array([0, 1, 2, 255, 254]);
    await s.ok("ssh_upload", {
      host: "h1",
      path: `${root}/b.bin`,
      content_base64: Buffer.from(bin).toString("base64"),
    });
    assert.deepEqual(await Deno.readFile(`${root}/b.bin`), bin);
    const z = await s.ok<R>("ssh_upload", { host: "h1", path: `${root}/zero`, content_text: "" });
    assert.equal(z.bytes_written, 0);
    assert.equal((await Deno.stat(`${root}/zero`)).size, 0);
    assert.deepEqual(await temps(root), []);
    const d = await s.err("ssh_upload", { host: "h1", path: root, content_text: "x" });
    assert.equal(d.code, "WriteError");
  });
});

Deno.test("ssh_upload: owner restored when the SSH user may chown, warned when it may not (TOOLS.md §7 NEW)", async () => {
  const group = "sshmcpgrp";
  await mustRun("sh", ["-c", `getent group ${group} >/dev/null || groupadd ${group}`]);
  const gid = Number((await mustRun("getent", ["group", group])).split(":")[2]);
  await mustRun("usermod", ["-aG", group, "sshmcp"]);
  await withFiles(async ({ s, root, user }) => {
    // same owner, other group the user belongs to: chown allowed -> group kept
    await put(`${root}/g.conf`, "old", { gid });
    const r = await s.ok<R>("ssh_upload", {
      host: "h1",
      path: `${root}/g.conf`,
      content_text: "new",
    });
    const st = await Deno.stat(`${root}/g.conf`);
    assert.deepEqual([st.uid, st.gid], [user.uid, gid]);
    assert.deepEqual(r.output_warnings, []);
    // owned by root: the user cannot chown -> replaced, owned by the user, warning
    await put(`${root}/root.conf`, "old", { owner: "root" });
    const w = await s.ok<R>("ssh_upload", {
      host: "h1",
      path: `${root}/root.conf`,
      content_text: "new",
    });
    assert.equal((await Deno.stat(`${root}/root.conf`)).uid, user.uid);
    assert.ok(
      (w.output_warnings as string[]).some((x) => x.startsWith("owner not preserved")),
      JSON.stringify(w.output_warnings),
    );
  });
});

Deno.test("ssh_upload/ssh_deploy check=true: diff and changed flag, host untouched (hash before/after)", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/app.conf`, "a=1\nb=2\n");
    await unchanged(root, async () => {
      const c = await s.ok<R>("ssh_upload", {
        host: "h1",
        path: `${root}/app.conf`,
        content_text: "a=1\nb=3\n",
        check: true,
      });
      assert.deepEqual([c.check, c.changed, c.bytes_written], [true, true, 0]);
      assert.match(String(c.diff), /-b=2\n\+b=3/);
      const same = await s.ok<R>("ssh_upload", {
        host: "h1",
        path: `${root}/app.conf`,
        content_text: "a=1\nb=2\n",
        check: true,
      });
      assert.equal(same.changed, false);
      const created = await s.ok<R>("ssh_upload", {
        host: "h1",
        path: `${root}/brand-new`,
        content_text: "x\n",
        check: true,
      });
      assert.equal(created.changed, true);
      assert.match(String(created.diff), /^--- \/dev\/null/m);
      const dep = await s.ok<R>("ssh_deploy", {
        host: "h1",
        path: `${root}/app.conf`,
        content_text: "z\n",
        check: true,
      });
      assert.match(String(dep.backup_path), /\/app\.conf\.bak-\d{8}T\d{6}Z$/);
      assert.equal(dep.changed, true);
      const bin = await s.ok<R>("ssh_upload", {
        host: "h1",
        path: `${root}/app.conf`,
        content_base64: Buffer.from([0, 1, 2]).toString("base64"),
        check: true,
      });
      assert.equal(bin.diff, null);
    });
  });
});

Deno.test("expected_sha256 on ssh_upload, ssh_deploy, ssh_edit, ssh_patch, ssh_delete: stale view refused, file untouched", async () => {
  await withFiles(async ({ s, root }) => {
    const p = `${root}/f.txt`;
    await put(p, "line1\nline2\n");
    const good = shaOf("line1\nline2\n");
    const stale = shaOf("something else");
    const diff = "--- a/f.txt\n+++ b/f.txt\n@@ -1,2 +1,2 @@\n line1\n-line2\n+LINE2\n";
    const calls: [string, R][] = [
      ["ssh_upload", { content_text: "x" }],
      ["ssh_deploy", { content_text: "x" }],
      ["ssh_edit", { old_string: "line1", new_string: "L1" }],
      ["ssh_patch", { unified_diff: diff }],
      ["ssh_delete", {}],
    ];
    for (const [tool, extra] of calls) {
      const e = await s.err(tool, { host: "h1", path: p, expected_sha256: stale, ...extra });
      assert.equal(e.code, "WriteError", tool);
      assert.match(e.message, /changed since you read it/, tool);
      assert.equal(e.meta.actual_sha256, good, tool);
      assert.equal(await sha(p), good, `${tool} touched the file`);
    }
    assert.deepEqual((await tree(root)).filter((n) => n !== "f.txt"), []);
    // upper-case hex is accepted; the right hash lets the edit through
    const ok = await s.ok<R>("ssh_edit", {
      host: "h1",
      path: p,
      old_string: "line1",
      new_string: "L1",
      expected_sha256: good.toUpperCase(),
    });
    assert.equal(ok.sha256, shaOf("L1\nline2\n"));
    assert.equal(await Deno.readTextFile(p), "L1\nline2\n");
    // the returned sha256 chains into the next call
    await s.ok("ssh_patch", {
      host: "h1",
      path: p,
      unified_diff: "--- a\n+++ b\n@@ -2 +2 @@\n-line2\n+LINE2\n",
      expected_sha256: ok.sha256,
    });
    assert.equal(await Deno.readTextFile(p), "L1\nLINE2\n");
    // expected_sha256 for a file that does not exist
    const gone = await s.err("ssh_upload", {
      host: "h1",
      path: `${root}/missing`,
      content_text: "x",
      expected_sha256: good,
    });
    assert.equal(gone.code, "WriteError");
    assert.equal(await exists(`${root}/missing`), false);
    await s.ok("ssh_delete", { host: "h1", path: p, expected_sha256: shaOf("L1\nLINE2\n") });
    assert.equal(await exists(p), false);
  });
});

Deno.test("ssh_deploy: backup holds the previous version; live file replaced; no backup for a new file or backup=false", async () => {
  await withFiles(async ({ s, root }) => {
    const p = `${root}/app.bin`;
    await put(p, "v1", { mode: 0o750 });
    const r = await s.ok<R>("ssh_deploy", { host: "h1", path: p, content_text: "v2" });
    const backup = String(r.backup_path);
    assert.match(backup, new RegExp(`^${root}/app\\.bin\\.bak-\\d{8}T\\d{6}Z$`));
    assert.equal(await Deno.readTextFile(backup), "v1");
    assert.equal(await Deno.readTextFile(p), "v2");
    assert.equal((await Deno.stat(p)).mode! & 0o7777, 0o750);
    assert.equal(r.message, `deployed (atomic); previous version at ${backup}`);
    // a second deploy in the same second gets a distinct backup name
    const r2 = await s.ok<R>("ssh_deploy", { host: "h1", path: p, content_text: "v3" });
    assert.notEqual(r2.backup_path, backup);
    assert.equal(await Deno.readTextFile(String(r2.backup_path)), "v2");
    const n = await s.ok<R>("ssh_deploy", { host: "h1", path: `${root}/fresh`, content_text: "x" });
    assert.equal(n.backup_path, null);
    const before = (await tree(root)).length;
    await s.ok("ssh_deploy", { host: "h1", path: p, content_text: "v4", backup: false });
    assert.equal((await tree(root)).length, before);
    assert.deepEqual(await temps(root), []);
  });
});

Deno.test("ssh_edit: single/all replacement keeps mode; diff returned; check mode changes nothing", async () => {
  await withFiles(async ({ s, root }) => {
    const p = `${root}/cfg.ini`;
    await put(p, "port=80\nhost=a\nport=80\n", { mode: 0o640 });
    await unchanged(root, async () => {
      const c = await s.ok<R>("ssh_edit", {
        host: "h1",
        path: p,
        old_string: "host=a",
        new_string: "host=b",
        check: true,
      });
      assert.deepEqual([c.check, c.changed, c.bytes_written], [true, true, 0]);
      assert.match(String(c.diff), /-host=a\n\+host=b/);
    });
    const r = await s.ok<R>("ssh_edit", {
      host: "h1",
      path: p,
      old_string: "port=80",
      new_string: "port=8080",
      occurrence: "all",
    });
    assert.equal(r.message, "replaced 2 occurrence(s)");
    assert.equal(await Deno.readTextFile(p), "port=8080\nhost=a\nport=8080\n");
    assert.equal((await Deno.stat(p)).mode! & 0o7777, 0o640);
    const one = await s.ok<R>("ssh_edit", {
      host: "h1",
      path: p,
      old_string: "host=a",
      new_string: "host=$&",
    });
    assert.equal(one.message, "replaced 1 occurrence(s)");
    assert.equal(await Deno.readTextFile(p), "port=8080\nhost=$&\nport=8080\n"); // no $& expansion
  });
});

Deno.test("ssh_patch: applies with exact context; check mode; result keeps mode", async () => {
  await withFiles(async ({ s, root }) => {
    const p = `${root}/main.py`;
    await put(p, "a\nb\nc\nd\ne\nf\ng\nh\n", { mode: 0o755 });
    const diff = [
      "--- a/main.py",
      "+++ b/main.py",
      "@@ -1,3 +1,3 @@",
      " a",
      "-b",
      "+B",
      " c",
      "@@ -6,3 +6,4 @@",
      " f",
      " g",
      "+G2",
      " h",
      "",
    ].join("\n");
    await unchanged(root, async () => {
      const c = await s.ok<R>("ssh_patch", {
        host: "h1",
        path: p,
        unified_diff: diff,
        check: true,
      });
      assert.deepEqual([c.changed, c.check], [true, true]);
    });
    const r = await s.ok<R>("ssh_patch", { host: "h1", path: p, unified_diff: diff });
    assert.equal(r.message, "2 hunk(s) applied");
    assert.equal(await Deno.readTextFile(p), "a\nB\nc\nd\ne\nf\ng\nG2\nh\n");
    assert.equal((await Deno.stat(p)).mode! & 0o7777, 0o755);
  });
});

Deno.test("ssh_mkdir: create, parents, existing, check mode; created parents must be allowed", async () => {
  await withFiles(async ({ s, root }) => {
    const r = await s.ok<R>("ssh_mkdir", { host: "h1", path: `${root}/d1` });
    assert.equal(r.message, "created");
    assert.ok((await Deno.stat(`${root}/d1`)).isDirectory);
    assert.equal((await s.err("ssh_mkdir", { host: "h1", path: `${root}/d1` })).code, "WriteError");
    assert.equal(
      (await s.err("ssh_mkdir", { host: "h1", path: `${root}/x/y` })).code,
      "WriteError",
    );
    await unchanged(root, async () => {
      const c = await s.ok<R>("ssh_mkdir", {
        host: "h1",
        path: `${root}/p/q/r`,
        parents: true,
        check: true,
      });
      assert.deepEqual(c.would_create, [`${root}/p`, `${root}/p/q`, `${root}/p/q/r`]);
      assert.equal(c.changed, true);
    });
    const p = await s.ok<R>("ssh_mkdir", {
      host: "h1",
      path: `${root}/p/q/r`,
      parents: true,
      mode: 0o700,
    });
    assert.equal(p.message, "created (with parents)");
    assert.equal((await Deno.stat(`${root}/p/q/r`)).mode! & 0o777, 0o700);
    await put(`${root}/file`, "x");
    assert.equal(
      (await s.err("ssh_mkdir", { host: "h1", path: `${root}/file/sub`, parents: true })).code,
      "WriteError",
    );
  });
  // parents above the allowlist root are never created
  const parent = await userDir("sshmcp-mk-");
  await withFiles(async ({ s }) => {
    const e = await s.err("ssh_mkdir", {
      host: "h1",
      path: `${parent}/allowed/sub`,
      parents: true,
    });
    assert.equal(e.code, "PathNotAllowed");
    assert.equal(await exists(`${parent}/allowed`), false);
  }, { allowlist: () => `path_allowlist = ["${parent}/allowed/sub"]` });
  await Deno.remove(parent, { recursive: true });
});

Deno.test("ssh_delete and ssh_delete_folder: delete, check mode lists, nothing removed in check", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/f`, "x");
    await mkdirUser(`${root}/t/a/b`);
    await put(`${root}/t/a/b/f1`, "1");
    await put(`${root}/t/f2`, "2");
    await mkdirUser(`${root}/empty`);
    await unchanged(root, async () => {
      const c = await s.ok<R>("ssh_delete", { host: "h1", path: `${root}/f`, check: true });
      assert.deepEqual(c.would_delete, [`${root}/f`]);
      const t = await s.ok<R>("ssh_delete_folder", {
        host: "h1",
        path: `${root}/t`,
        recursive: true,
        check: true,
      });
      assert.deepEqual(
        (t.would_delete as string[]).sort(),
        [`${root}/t`, `${root}/t/a`, `${root}/t/a/b`, `${root}/t/a/b/f1`, `${root}/t/f2`],
      );
      const dry = await s.ok<R>("ssh_delete_folder", {
        host: "h1",
        path: `${root}/t`,
        recursive: true,
        dry_run: true,
      });
      assert.equal((dry.would_delete as string[]).length, 5);
      assert.equal(dry.dry_run, true);
    });
    assert.equal(
      (await s.ok<R>("ssh_delete", { host: "h1", path: `${root}/f` })).message,
      "deleted",
    );
    assert.equal(await exists(`${root}/f`), false);
    assert.equal(
      (await s.ok<R>("ssh_delete_folder", { host: "h1", path: `${root}/empty` })).message,
      "rmdir",
    );
    assert.equal(
      (await s.err("ssh_delete_folder", { host: "h1", path: `${root}/t` })).code,
      "WriteError",
    ); // not empty
    const r = await s.ok<R>("ssh_delete_folder", {
      host: "h1",
      path: `${root}/t`,
      recursive: true,
    });
    assert.equal(r.message, "recursively deleted 5 entries");
    assert.equal(await exists(`${root}/t`), false);
  });
});

Deno.test("ssh_cp and ssh_mv: copy file/tree, move, overwrite, check mode; AC-014 mv fallback across filesystems", async () => {
  const shm = await Deno.makeTempDir({ dir: "/dev/shm", prefix: "sshmcp-xdev-" });
  await Deno.chown(shm, (await testUser()).uid, null);
  await withFiles(async ({ s, root }) => {
    await put(`${root}/a`, "AAA", { mode: 0o640 });
    await mkdirUser(`${root}/tree/x`);
    await put(`${root}/tree/x/f`, "f");
    await unchanged(root, async () => {
      const c = await s.ok<R>("ssh_cp", {
        host: "h1",
        src: `${root}/a`,
        dst: `${root}/b`,
        check: true,
      });
      assert.match(String(c.message), /^would copy file/);
      const m = await s.ok<R>("ssh_mv", {
        host: "h1",
        src: `${root}/a`,
        dst: `${root}/b`,
        check: true,
      });
      assert.match(String(m.message), /^would move file/);
    });
    const cp = await s.ok<R>("ssh_cp", { host: "h1", src: `${root}/a`, dst: `${root}/b` });
    assert.deepEqual([cp.bytes_written, cp.message, cp.path], [
      3,
      `copied from ${root}/a`,
      `${root}/b`,
    ]);
    assert.equal((await Deno.stat(`${root}/b`)).mode! & 0o777, 0o640);
    await s.ok("ssh_cp", { host: "h1", src: `${root}/tree`, dst: `${root}/tree2` });
    assert.equal(await Deno.readTextFile(`${root}/tree2/x/f`), "f");
    const mv = await s.ok<R>("ssh_mv", { host: "h1", src: `${root}/b`, dst: `${root}/a` });
    assert.equal(mv.message, `moved from ${root}/b (rename)`);
    assert.equal(await exists(`${root}/b`), false);
    // cross-device: posix-rename fails with SSH_FX_FAILURE -> mv fallback
    const x = await s.ok<R>("ssh_mv", { host: "h1", src: `${root}/a`, dst: `${shm}/a` });
    assert.equal(x.message, `moved from ${root}/a (mv-fallback)`);
    assert.equal(await Deno.readTextFile(`${shm}/a`), "AAA");
  }, { allowlist: (root) => `path_allowlist = ["${root}", "${shm}"]` });
  await Deno.remove(shm, { recursive: true });
});

Deno.test("ssh_link: symbolic (absolute and relative, stored verbatim), hard follow and -P, check mode", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/target`, "t");
    await symlinkUser(`${root}/target`, `${root}/sym`);
    await unchanged(root, async () => {
      const c = await s.ok<R>("ssh_link", {
        host: "h1",
        src: "target",
        dst: `${root}/l0`,
        symbolic: true,
        check: true,
      });
      assert.equal(c.message, "would create symbolic link -> target");
    });
    const a = await s.ok<R>("ssh_link", {
      host: "h1",
      src: `${root}/target`,
      dst: `${root}/l1`,
      symbolic: true,
    });
    assert.equal(a.message, `symbolic link -> ${root}/target`);
    assert.equal(await Deno.readLink(`${root}/l1`), `${root}/target`);
    await s.ok("ssh_link", { host: "h1", src: "target", dst: `${root}/l2`, symbolic: true });
    assert.equal(await Deno.readLink(`${root}/l2`), "target");
    await s.ok("ssh_link", {
      host: "h1",
      src: "does-not-exist-yet",
      dst: `${root}/dangling`,
      symbolic: true,
    });
    assert.equal(await Deno.readLink(`${root}/dangling`), "does-not-exist-yet");
    const h = await s.ok<R>("ssh_link", { host: "h1", src: `${root}/sym`, dst: `${root}/h1` });
    assert.equal(h.message, `hard link (followed symlinks) -> ${root}/target`);
    assert.equal((await Deno.lstat(`${root}/h1`)).ino, (await Deno.lstat(`${root}/target`)).ino);
    const p = await s.ok<R>("ssh_link", {
      host: "h1",
      src: `${root}/sym`,
      dst: `${root}/h2`,
      follow_symlinks: false,
    });
    assert.equal(p.message, `hard link (physical, unfollowed symlinks) -> ${root}/sym`);
    assert.ok((await Deno.lstat(`${root}/h2`)).isSymlink);
  });
});

Deno.test("ssh_transfer: host to host through the server; overwrite rule; check mode; mode kept", async () => {
  await withFiles(async ({ s, root }) => {
    const src = `${root}/src.bin`;
    const data = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => i % 251);
    await put(src, data, { mode: 0o640 });
    // h1 and h2 share this machine's disk; the destination is a different name
    await unchanged(root, async () => {
      const c = await s.ok<R>("ssh_transfer", {
        src_host: "h1",
        src_path: src,
        dst_host: "h2",
        dst_path: `${root}/dst.bin`,
        check: true,
      });
      assert.deepEqual([c.check, c.changed, c.size], [true, true, data.length]);
    });
    const r = await s.ok<R>("ssh_transfer", {
      src_host: "h1",
      src_path: src,
      dst_host: "h2",
      dst_path: `${root}/dst.bin`,
    });
    assert.equal(r.size, data.length);
    assert.equal(typeof r.throughput_mb_s, "number");
    assert.equal(await sha(`${root}/dst.bin`), shaOf(data));
    assert.equal((await Deno.stat(`${root}/dst.bin`)).mode! & 0o777, 0o640);
    const e = await s.err("ssh_transfer", {
      src_host: "h1",
      src_path: src,
      dst_host: "h2",
      dst_path: `${root}/dst.bin`,
    });
    assert.equal(e.code, "ValueError");
    await put(src, "v2");
    await s.ok("ssh_transfer", {
      src_host: "h1",
      src_path: src,
      dst_host: "h2",
      dst_path: `${root}/dst.bin`,
      overwrite: true,
    });
    assert.equal(await Deno.readTextFile(`${root}/dst.bin`), "v2");
    assert.deepEqual(await temps(root), []);
  }, { hosts: 2 });
});

Deno.test("file-ops tools are hidden without ALLOW_LOW_ACCESS_TOOLS and annotated destructive where they overwrite", async () => {
  await withFiles(async ({ s }: FilesCtx) => {
    const tools = (await s.client.listTools()).tools;
    const by = new Map(tools.map((t) => [t.name, t]));
    for (
      const n of [
        "ssh_delete",
        "ssh_delete_folder",
        "ssh_upload",
        "ssh_deploy",
        "ssh_mv",
        "ssh_edit",
        "ssh_patch",
        "ssh_transfer",
        "ssh_cp",
      ]
    ) {
      // a hint equal to the MCP default (destructiveHint: true) is left out of the listing
      assert.equal(by.get(n)?.annotations?.destructiveHint ?? true, true, n);
    }
    for (const n of ["ssh_mkdir", "ssh_link"]) {
      assert.equal(by.get(n)?.annotations?.destructiveHint, false, n);
    }
  });
  await withFiles(async ({ s }) => {
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    assert.ok(!names.some((n) => ["ssh_upload", "ssh_mkdir", "ssh_transfer"].includes(n)));
    // a hidden tool answers exactly like a name that never existed (TIER-5)
    await assert.rejects(
      () => s.call("ssh_upload", { host: "h1", path: "/tmp/x", content_text: "x" }),
      /not found/,
    );
  }, { env: { ALLOW_LOW_ACCESS_TOOLS: "false" } });
});
