/**
 * SECURITY.md §24.4 (remote paths) through the real tools: every row that a
 * POSIX sshd can exercise, plus AC-004, AC-014, AC-056, AC-063 and AC-002.
 * Windows-only rows (AC-222..AC-228) run against a host declared
 * `platform = "windows"` where the outcome is decided before any Windows-only
 * server behaviour matters. "Before I/O" is proven with a stopped sshd: a
 * tool that touched the network would fail with ConnectError instead.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { startFleet } from "../_support/fleet.ts";
import { type InProcess, startInProcess } from "../_support/mcp.ts";
import { testUser } from "../_support/sshd.ts";
import { RemoteFs, SFTP_STATUS, SftpError, type TempPath } from "../../src/ssh/fs.ts";
import type { ToolContext } from "../../src/tools/context.ts";
import type { CheckedPath } from "../../src/checked.ts";
import { commitWithBackup } from "../../src/tools/file-ops/_write.ts";
import { removeTree } from "../../src/tools/file-ops/ssh_delete_folder.ts";
import {
  exists,
  mkdirUser,
  put,
  sha,
  shaOf,
  temps,
  tree,
  userDir,
  withDownHost,
  withFiles,
} from "./_files_fixture.ts";

type R = Record<string, unknown>;

/** A shim directory put first on the test user's PATH (sshd SetEnv). */
async function shimDir(realpathScript: string): Promise<string> {
  const d = await userDir("sshmcp-shim-");
  await Deno.writeTextFile(`${d}/realpath`, `#!/bin/sh\n${realpathScript}\n`);
  await Deno.chmod(`${d}/realpath`, 0o755);
  return d;
}

Deno.test("AC-200/AC-201/AC-202/AC-203: bad characters -> PathNotAllowed before any I/O", async () => {
  await withDownHost(async (s) => {
    const cases: [string, RegExp][] = [
      ["/etc/pass\x00wd", /NUL|0x00/i],
      ["/etc/conf\x1b", /0x1b/i],
      ["/a\nb", /0x0a/i],
      ["/a\tb", /0x09/i],
      ["", /path is empty/],
      ["/opt/app/\u202Etxt.exe", /./],
      ["/opt/app/a\u200Bb", /./],
      ["/opt/app/\u0085", /./],
      ["\x7f", /./],
    ];
    for (const [p, re] of cases) {
      for (
        const [tool, extra] of [
          ["ssh_sftp_stat", {}],
          ["ssh_sftp_download", {}],
          ["ssh_upload", { content_text: "x" }],
          ["ssh_mkdir", {}],
        ] as [string, R][]
      ) {
        const e = await s.err(tool, { host: "h1", path: p, ...extra });
        assert.equal(
          e.code,
          "PathNotAllowed",
          `${tool} ${JSON.stringify(p)}: ${e.code} ${e.message}`,
        );
        assert.match(e.message, re, JSON.stringify(p));
      }
    }
  });
});

Deno.test("AC-204/AC-205/AC-206/AC-207/AC-002: canonical path decides; siblings and escapes refused; root itself allowed", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/ok`, "x");
    await Deno.symlink("/etc/passwd", `${root}/evil_link`);
    const sibling = `${root}2`;
    await mkdirUser(sibling);
    await put(`${sibling}/x`, "x");
    try {
      const deny: [string, R][] = [
        ["ssh_sftp_stat", { path: `${root}/../../../etc/passwd` }],
        ["ssh_sftp_download", { path: `${root}/evil_link` }],
        ["ssh_sftp_download", { path: "/etc/shadow" }],
        ["ssh_sftp_list", { path: "/root/.ssh" }],
        ["ssh_find", { path: "/" }],
        ["ssh_sftp_stat", { path: `${sibling}/x` }],
        ["ssh_upload", { path: `${sibling}/new`, content_text: "x" }],
      ];
      for (const [tool, a] of deny) {
        const e = await s.err(tool, { host: "h1", ...a });
        assert.equal(e.code, "PathNotAllowed", `${tool} ${JSON.stringify(a)}`);
      }
      assert.equal(await exists(`${sibling}/new`), false);
      const st = await s.ok<R>("ssh_sftp_stat", { host: "h1", path: root });
      assert.deepEqual([st.path, st.kind], [root, "dir"]);
      const st2 = await s.ok<R>("ssh_sftp_stat", { host: "h1", path: `${root}/` });
      assert.equal(st2.path, root);
    } finally {
      await Deno.remove(sibling, { recursive: true });
    }
  }, { allowlist: (root) => `path_allowlist = ["${root}/"]` });
});

Deno.test("AC-208: empty allowlist -> PathNotAllowed naming the settings; AC-209: '*' and '/' allow everything", async () => {
  await withFiles(async ({ s }) => {
    const e = await s.err("ssh_sftp_stat", { host: "h1", path: "/etc/hostname" });
    assert.equal(e.code, "PathNotAllowed");
    assert.match(e.message, /path_allowlist/);
    assert.match(e.message, /SSH_PATH_ALLOWLIST/);
  }, { allowlist: () => "" });
  for (const entry of ["*", "/"]) {
    await withFiles(async ({ s }) => {
      const st = await s.ok<R>("ssh_sftp_stat", { host: "h1", path: "/etc/hostname" });
      assert.equal(st.kind, "file");
    }, { allowlist: (root) => `path_allowlist = ["${root}", "${entry}"]` });
  }
});

Deno.test("AC-210: realpath printing a relative path -> PathNotAllowed; AC-211: ENOENT with must_exist -> PathNotAllowed", async () => {
  const shim = await shimDir('echo "relative/answer"');
  await withFiles(async ({ s, root }) => {
    const e = await s.err("ssh_upload", { host: "h1", path: `${root}/f`, content_text: "x" });
    assert.equal(e.code, "PathNotAllowed");
    assert.equal(await exists(`${root}/f`), false);
  }, { sshd: { extraConfig: [`SetEnv PATH=${shim}:/usr/bin:/bin`] } });
  await withFiles(async ({ s, root }) => {
    const e = await s.err("ssh_sftp_stat", { host: "h1", path: `${root}/missing` });
    assert.equal(e.code, "PathNotAllowed");
  });
  await Deno.remove(shim, { recursive: true });
});

Deno.test("AC-212/AC-213/AC-215/AC-218: restricted prefixes (host + env, de-duplicated), symlinks into zones, prefix reported first", async () => {
  await withFiles(async ({ s, root }) => {
    await mkdirUser(`${root}/shared`);
    await put(`${root}/shared/data.csv`, "x");
    await mkdirUser(`${root}/shared2`);
    await put(`${root}/shared2/x`, "x");
    await mkdirUser(`${root}/envzone`);
    await put(`${root}/envzone/.env`, "x");
    await Deno.symlink(`${root}/shared/data.csv`, `${root}/innocent`);
    for (
      const p of [
        `${root}/shared`,
        `${root}/shared/data.csv`,
        `${root}/innocent`,
        `${root}/envzone`,
      ]
    ) {
      const e = await s.err("ssh_sftp_stat", { host: "h1", path: p });
      assert.equal(e.code, "PathRestricted", p);
    }
    const e = await s.err("ssh_sftp_stat", { host: "h1", path: `${root}/envzone/.env` });
    assert.equal(e.code, "PathRestricted");
    assert.match(e.message, /envzone/); // the prefix wins over the **/.env glob (AC-218)
    assert.equal(
      (await s.ok<R>("ssh_sftp_stat", { host: "h1", path: `${root}/shared2/x` })).kind,
      "file",
    );
  }, {
    perHost: (_a, root) =>
      `restricted_paths = ["${root}/shared", "${root}/envzone", "${root}/shared"]\nrestricted_globs = ["**/.env"]`,
    env: { SSH_RESTRICTED_PATHS: "" },
    extraToml: () => "",
  });
  const root2 = await userDir("sshmcp-envzone-");
  await withFiles(async ({ s }) => {
    await mkdirUser(`${root2}/z`);
    assert.equal(
      (await s.err("ssh_sftp_stat", { host: "h1", path: `${root2}/z` })).code,
      "PathRestricted",
    );
  }, {
    allowlist: () => `path_allowlist = ["${root2}"]`,
    env: { SSH_RESTRICTED_PATHS: `${root2}/z,${root2}/z` },
  });
  await Deno.remove(root2, { recursive: true });
});

Deno.test("AC-214: a relative restricted_paths entry is fatal at startup", async () => {
  const fleet = await startFleet(1, {
    perHost: () => 'path_allowlist = ["/tmp"]\nrestricted_paths = ["mnt/shared"]',
  });
  try {
    await assert.rejects(() => startInProcess(fleet.env()), /restricted_paths|mnt\/shared/);
  } finally {
    await fleet.stop();
  }
});

Deno.test("AC-216/AC-217/AC-219/AC-220/AC-221: restricted globs (recursive **, ancestors, case, NFC)", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/.env`, "x");
    await mkdirUser(`${root}/secrets/a`);
    await put(`${root}/secrets/token.txt`, "x");
    await put(`${root}/secrets/a/b`, "x");
    await put(`${root}/private_data`, "x");
    await put(`${root}/main.py`, "x");
    await put(`${root}/.ENV`, "x");
    await mkdirUser(`${root}/caf\u00e9`);
    await put(`${root}/caf\u00e9/x`, "x");
    for (
      const p of [
        `${root}/.env`,
        `${root}/secrets/token.txt`,
        `${root}/private_data`,
        `${root}/secrets/a/b`,
      ]
    ) {
      assert.equal(
        (await s.err("ssh_sftp_stat", { host: "h1", path: p })).code,
        "PathRestricted",
        p,
      );
    }
    assert.equal(
      (await s.ok<R>("ssh_sftp_stat", { host: "h1", path: `${root}/main.py` })).kind,
      "file",
    );
    // case-sensitive by default
    assert.equal(
      (await s.ok<R>("ssh_sftp_stat", { host: "h1", path: `${root}/.ENV` })).kind,
      "file",
    );
    // NFD spelling of a restricted NFC name
    const nfd = await s.err("ssh_sftp_stat", { host: "h1", path: `${root}/cafe\u0301/x` });
    assert.ok(["PathRestricted", "PathNotAllowed"].includes(nfd.code), nfd.code);
    assert.equal(
      (await s.err("ssh_sftp_stat", { host: "h1", path: `${root}/caf\u00e9/x` })).code,
      "PathRestricted",
    );
    assert.equal(
      (await s.err("ssh_upload", { host: "h1", path: `${root}/cafe\u0301/new`, content_text: "x" }))
        .code,
      "PathRestricted",
    );
  }, {
    perHost: (_a, root) =>
      `restricted_globs = ["**/.env", "**/secrets/*", "**/private*"]\nrestricted_paths = ["${root}/caf\u00e9"]`,
  });
  await withFiles(async ({ s, root }) => {
    await put(`${root}/.ENV`, "x");
    await mkdirUser(`${root}/srv/secrets`);
    await put(`${root}/srv/secrets/k`, "x");
    assert.equal(
      (await s.err("ssh_sftp_stat", { host: "h1", path: `${root}/.ENV` })).code,
      "PathRestricted",
    );
    assert.equal(
      (await s.err("ssh_sftp_stat", { host: "h1", path: `${root}/srv/secrets/k` })).code,
      "PathRestricted",
    );
  }, {
    perHost: () => 'restricted_globs = ["**/.env", "secrets/**"]\ncase_insensitive_paths = true',
  });
});

Deno.test("AC-222..AC-228, AC-034: Windows path rules on a platform=windows host (policy decided before any file I/O)", async () => {
  // the host is a POSIX sshd declared windows: policy verdicts are the Windows ones; an
  // allowed path then fails only at the file system (WriteError), never in the policy
  await withFiles(async ({ s }) => {
    const verdict = async (p: string) =>
      (await s.err("ssh_mkdir", { host: "h1", path: p, check: true })).code;
    // AC-222 separators and case; AC-034 one leading / before the drive
    for (const p of ["C:/opt/app/x", "c:/OPT/APP/foo", "/C:/opt/app/x"]) {
      assert.equal(await verdict(p), "WriteError", p);
    }
    assert.equal(await verdict("C:/opt/appmalicious/x"), "PathNotAllowed"); // AC-223
    assert.equal(await verdict("c:/SECRET/x"), "PathRestricted"); // AC-224
    assert.equal(await verdict("foo\\bar"), "PathNotAllowed"); // AC-225
    // AC-226: must_exist and SFTP stat fails
    assert.equal(
      (await s.err("ssh_sftp_stat", { host: "h1", path: "C:/opt/app/x" })).code,
      "PathNotAllowed",
    );
    for (
      const p of [
        "C:\\opt\\app\\f.txt:hidden",
        "C:\\opt\\app\\CON",
        "//?/C:/opt/app/x",
        "C:/opt/app/SECRET~1/x",
      ]
    ) {
      assert.equal(await verdict(p), "PathNotAllowed", p); // AC-227
    }
    assert.equal(await verdict("C:/opt/app/.env."), "PathRestricted"); // AC-227 trailing dot
    assert.equal(await verdict("//attacker/share/x"), "PathNotAllowed"); // AC-228
    // POSIX-only tools are gated before I/O
    assert.equal(
      (await s.err("ssh_cp", { host: "h1", src: "C:/opt/app/a", dst: "C:/opt/app/b" })).code,
      "PlatformNotSupported",
    );
  }, {
    allowlist: () => 'platform = "windows"\npath_allowlist = ["C:\\\\opt\\\\app", "C:\\\\secret"]',
    perHost: () => 'restricted_paths = ["C:\\\\secret"]\nrestricted_globs = ["**/.env"]',
  });
});

Deno.test("AC-229/AC-063: shell realpath fails, SFTP REALPATH answers -> SFTP canonical used", async () => {
  const shim = await shimDir('echo "realpath: $*: No such file or directory" >&2; exit 1');
  await withFiles(async ({ s, root }) => {
    await put(`${root}/f`, "x");
    const st = await s.ok<R>("ssh_sftp_stat", { host: "h1", path: `${root}/f` });
    assert.equal(st.path, `${root}/f`);
    const e = await s.err("ssh_sftp_stat", { host: "h1", path: `${root}/missing` });
    assert.equal(e.code, "PathNotAllowed");
    assert.equal(
      (await s.err("ssh_sftp_stat", { host: "h1", path: "/etc/passwd" })).code,
      "PathNotAllowed",
    );
  }, { sshd: { extraConfig: [`SetEnv PATH=${shim}:/usr/bin:/bin`] } });
  await Deno.remove(shim, { recursive: true });
});

Deno.test("AC-230: realpath without -e/-m (BSD/BusyBox) -> portable canonicalizer; upload to a new file works", async () => {
  const shim = await shimDir(
    'case "$1" in -e|-m) echo "realpath: illegal option -- ${1#-}" >&2; exit 1;; esac; exec /usr/bin/realpath "$@"',
  );
  await withFiles(async ({ s, root }) => {
    await mkdirUser(`${root}/d`);
    const r = await s.ok<R>("ssh_upload", {
      host: "h1",
      path: `${root}/d/../d/new.txt`,
      content_text: "ok",
    });
    assert.equal(r.path, `${root}/d/new.txt`);
    assert.equal(await Deno.readTextFile(`${root}/d/new.txt`), "ok");
  }, { sshd: { extraConfig: [`SetEnv PATH=${shim}:/usr/bin:/bin`] } });
  await Deno.remove(shim, { recursive: true });
});

Deno.test("AC-231/AC-232: option-like and shell-meta names are literal files, never options or code", async () => {
  const u = await testUser();
  await withFiles(async ({ s, root }) => {
    for (const name of ["-rf", "--help", "-"]) {
      const r = await s.ok<R>("ssh_upload", { host: "h1", path: name, content_text: name });
      assert.equal(r.path, `${u.home}/${name}`);
      assert.equal(await Deno.readTextFile(`${u.home}/${name}`), name);
      const h = await s.ok<R>("ssh_file_hash", { host: "h1", path: name });
      assert.equal(h.digest, shaOf(name));
      await s.ok("ssh_delete", { host: "h1", path: name });
      assert.equal(await exists(`${u.home}/${name}`), false);
    }
    for (const name of ["$(touch pwned)", "a'b", "a b", "*", "`id`"]) {
      await s.ok("ssh_upload", { host: "h1", path: `${root}/${name}`, content_text: "v" });
      assert.equal(await Deno.readTextFile(`${root}/${name}`), "v");
      assert.equal(
        (await s.ok<R>("ssh_file_hash", { host: "h1", path: `${root}/${name}` })).digest,
        shaOf("v"),
      );
      await s.ok("ssh_cp", { host: "h1", src: `${root}/${name}`, dst: `${root}/${name}.copy` });
    }
    assert.equal(await exists(`${root}/pwned`), false);
    assert.equal(await exists(`${u.home}/pwned`), false);
  }, { allowlist: (root) => `path_allowlist = ["${root}", "${u.home}"]` });
});

Deno.test("AC-233: a fullwidth look-alike is a different name: inside the root it is a child, beside it it is refused", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/\uff41pp`, "x");
    assert.equal(
      (await s.ok<R>("ssh_sftp_stat", { host: "h1", path: `${root}/\uff41pp` })).path,
      `${root}/\uff41pp`,
    );
    const parent = root.slice(0, root.lastIndexOf("/"));
    const lookalike = `${parent}/\uff53${root.slice(parent.length + 2)}`;
    assert.equal(
      (await s.err("ssh_upload", { host: "h1", path: `${lookalike}/x`, content_text: "x" })).code,
      "PathNotAllowed",
    );
  });
});

Deno.test("AC-234/AC-235: every path-bearing tool routes through the chain; hash uses the canonical path", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/f`, "x");
    const calls: [string, R][] = [
      ["ssh_sftp_list", { path: "/etc" }],
      ["ssh_sftp_stat", { path: "/etc/passwd" }],
      ["ssh_sftp_download", { path: "/etc/passwd" }],
      ["ssh_find", { path: "/etc" }],
      ["ssh_file_hash", { path: "/etc/passwd" }],
      ["ssh_read_redacted", { path: "/etc/passwd" }],
      ["ssh_mkdir", { path: "/etc/x" }],
      ["ssh_delete", { path: "/etc/passwd" }],
      ["ssh_delete_folder", { path: "/etc" }],
      ["ssh_cp", { src: "/etc/passwd", dst: `${root}/p` }],
      ["ssh_cp", { src: `${root}/f`, dst: "/etc/x" }],
      ["ssh_mv", { src: `${root}/f`, dst: "/etc/x" }],
      ["ssh_link", { src: "/etc/passwd", dst: `${root}/l` }],
      ["ssh_link", { src: `${root}/f`, dst: "/etc/l" }],
      ["ssh_upload", { path: "/etc/x", content_text: "x" }],
      ["ssh_deploy", { path: "/etc/x", content_text: "x" }],
      ["ssh_edit", { path: "/etc/passwd", old_string: "root", new_string: "toor" }],
      ["ssh_patch", { path: "/etc/passwd", unified_diff: "--- a\n+++ b\n@@ -1 +1 @@\n-a\n+b\n" }],
    ];
    for (const [tool, a] of calls) {
      const e = await s.err(tool, { host: "h1", ...a });
      assert.equal(e.code, "PathNotAllowed", `${tool} ${JSON.stringify(a)}`);
    }
    const t = await s.err("ssh_transfer", {
      src_host: "h1",
      src_path: "/etc/passwd",
      dst_host: "h2",
      dst_path: `${root}/p`,
    });
    assert.equal(t.code, "PathNotAllowed");
    const t2 = await s.err("ssh_transfer", {
      src_host: "h1",
      src_path: `${root}/f`,
      dst_host: "h2",
      dst_path: "/etc/p",
    });
    assert.equal(t2.code, "PathNotAllowed");
    assert.deepEqual(await tree(root), ["f"]);
  }, { hosts: 2 });
});

Deno.test("AC-236/AC-237: ssh_delete refuses directories; symlinks: target by default, the link with follow_symlinks=false", async () => {
  await withFiles(async ({ s, root }) => {
    await mkdirUser(`${root}/dir`);
    const e = await s.err("ssh_delete", { host: "h1", path: `${root}/dir` });
    assert.equal(e.code, "WriteError");
    assert.match(e.message, /ssh_delete_folder/);
    await put(`${root}/real`, "r");
    await Deno.symlink(`${root}/real`, `${root}/link`);
    await s.ok("ssh_delete", { host: "h1", path: `${root}/link`, follow_symlinks: false });
    assert.deepEqual([await exists(`${root}/link`), await exists(`${root}/real`)], [false, true]);
    await Deno.symlink(`${root}/real`, `${root}/link`);
    await s.ok("ssh_delete", { host: "h1", path: `${root}/link` });
    assert.deepEqual([await exists(`${root}/link`), await exists(`${root}/real`)], [true, false]);
  });
});

Deno.test("AC-238/AC-239/AC-240: delete_folder cap, allowlist roots and / refused, symlinked dirs never entered", async () => {
  await withFiles(async ({ s, root }) => {
    await mkdirUser(`${root}/big`);
    for (let i = 0; i < 6; i++) await put(`${root}/big/f${i}`, "x");
    const e = await s.err("ssh_delete_folder", {
      host: "h1",
      path: `${root}/big`,
      recursive: true,
    });
    assert.equal(e.code, "WriteError");
    assert.match(e.message, /SSH_DELETE_FOLDER_MAX_ENTRIES/);
    assert.equal((await tree(`${root}/big`)).length, 6);
    for (const p of [root, `${root}/`, "/", root.slice(0, root.lastIndexOf("/"))]) {
      const r = await s.err("ssh_delete_folder", { host: "h1", path: p, recursive: true });
      assert.ok(["WriteError", "PathNotAllowed"].includes(r.code), `${p}: ${r.code}`);
      if (p === root || p === "/") assert.equal(r.code, "WriteError", p);
    }
    assert.ok(await exists(root));
    await mkdirUser(`${root}/t`);
    await Deno.symlink("/etc", `${root}/t/etc-link`);
    await put(`${root}/t/f`, "x");
    const dry = await s.ok<R>("ssh_delete_folder", {
      host: "h1",
      path: `${root}/t`,
      recursive: true,
      dry_run: true,
    });
    assert.deepEqual((dry.would_delete as string[]).sort(), [
      `${root}/t`,
      `${root}/t/etc-link`,
      `${root}/t/f`,
    ]);
    await s.ok("ssh_delete_folder", { host: "h1", path: `${root}/t`, recursive: true });
    assert.equal(await exists(`${root}/t`), false);
    assert.ok(await exists("/etc/passwd"));
  }, {
    env: { SSH_DELETE_FOLDER_MAX_ENTRIES: "5" },
    allowlist: (root) => `path_allowlist = ["${root}", "*"]`,
  });
});

Deno.test("AC-004: directory swapped for a symlink between the walk and rm -rf -> WriteError, nothing removed", async () => {
  await withFiles(async ({ s, root }) => {
    await mkdirUser(`${root}/victim/sub`);
    await put(`${root}/victim/sub/keep`, "k");
    await mkdirUser(`${root}/other`);
    await put(`${root}/other/precious`, "p");
    const policy = s.app.hosts().resolve("h1");
    const fs = await RemoteFs.open(await s.app.pool.acquire(policy));
    const ctx = fakeCtx(s, policy);
    const path = `${root}/victim` as CheckedPath;
    await assert.rejects(
      () =>
        removeTree(ctx, fs, path, path, true, {
          afterWalk: async () => {
            await Deno.rename(`${root}/victim`, `${root}/victim.moved`);
            await Deno.symlink(`${root}/other`, `${root}/victim`);
          },
        }),
      (e: Error & { code?: string }) => e.code === "WriteError" && /resolves to/.test(e.message),
    );
    assert.equal(await Deno.readTextFile(`${root}/other/precious`), "p");
    assert.equal(await Deno.readTextFile(`${root}/victim.moved/sub/keep`), "k");
  });
});

Deno.test("AC-260: a component swapped for a symlink after canonicalization -> re-check refuses remove/rename", async () => {
  await withFiles(async ({ s, root }) => {
    await mkdirUser(`${root}/d`);
    await put(`${root}/d/f`, "x");
    await mkdirUser(`${root}/elsewhere`);
    await put(`${root}/elsewhere/f`, "precious");
    const policy = s.app.hosts().resolve("h1");
    const fs = await RemoteFs.open(await s.app.pool.acquire(policy));
    const p = `${root}/d/f` as CheckedPath;
    await recheckPath(fs, p, "resolved"); // unchanged: passes
    await Deno.rename(`${root}/d`, `${root}/d.old`);
    await Deno.symlink(`${root}/elsewhere`, `${root}/d`);
    await assert.rejects(() => recheckPath(fs, p, "resolved"), /changed since it was checked/);
    await assert.rejects(() => recheckPath(fs, p, "leaf"), /changed since it was checked/);
    assert.equal(await Deno.readTextFile(`${root}/elsewhere/f`), "precious");
  });
});

Deno.test("AC-241: setuid/setgid/sticky mode bits refused unless ALLOW_SPECIAL_MODE_BITS", async () => {
  await withDownHost(async (s) => {
    const a = await s.err("ssh_upload", {
      host: "h1",
      path: "/tmp/x",
      content_text: "x",
      mode: 0o4755,
    });
    assert.equal(a.code, "ValueError");
    assert.match(a.message, /ALLOW_SPECIAL_MODE_BITS/);
    assert.equal(
      (await s.err("ssh_mkdir", { host: "h1", path: "/tmp/x", mode: 0o7777 })).code,
      "ValueError",
    );
    assert.equal(
      (await s.err("ssh_deploy", { host: "h1", path: "/tmp/x", content_text: "x", mode: 0o2755 }))
        .code,
      "ValueError",
    );
    assert.equal(
      (await s.err("ssh_upload", { host: "h1", path: "/tmp/x", content_text: "x", mode: 0o10000 }))
        .code,
      "ValueError",
    );
  });
  await withFiles(async ({ s, root }) => {
    await s.ok("ssh_upload", { host: "h1", path: `${root}/suid`, content_text: "x", mode: 0o4755 });
    assert.equal((await Deno.stat(`${root}/suid`)).mode! & 0o7777, 0o4755);
  }, { env: { ALLOW_SPECIAL_MODE_BITS: "true" } });
});

Deno.test("AC-242/AC-243/AC-244/AC-245: payload rules (exactly one source, strict base64, empty allowed, inline cap)", async () => {
  await withDownHost(async (s) => {
    for (
      const a of [
        { content_text: "x", content_base64: "eA==" },
        { content_text: "x", content_base64: "eA==", local_path: "/tmp/x" },
        {},
      ]
    ) {
      const e = await s.err("ssh_upload", { host: "h1", path: "/tmp/x", ...a });
      assert.equal(e.code, "WriteError", JSON.stringify(a));
      assert.match(e.message, /content_text.*content_base64.*local_path/);
    }
    const d = await s.err("ssh_deploy", { host: "h1", path: "/tmp/x" });
    assert.equal(d.code, "WriteError");
    for (const b of ["@@@", "eA=", "e A==", "eA==\n"]) {
      assert.equal(
        (await s.err("ssh_upload", { host: "h1", path: "/tmp/x", content_base64: b })).code,
        "ValueError",
        b,
      );
    }
  });
  await withFiles(async ({ s, root }) => {
    await s.ok("ssh_upload", { host: "h1", path: `${root}/empty`, content_text: "" });
    assert.equal((await Deno.stat(`${root}/empty`)).size, 0);
    const e = await s.err("ssh_upload", {
      host: "h1",
      path: `${root}/big`,
      content_text: "x".repeat(101),
    });
    assert.equal(e.code, "WriteError");
    assert.match(e.message, /SSH_UPLOAD_MAX_FILE_BYTES/);
    assert.equal(await exists(`${root}/big`), false);
    assert.deepEqual(await temps(root), []);
  }, { env: { SSH_UPLOAD_MAX_FILE_BYTES: "100" } });
});

Deno.test("AC-246/AC-248/AC-010: edit rule failures leave the file untouched; non-UTF-8 names the byte offset", async () => {
  await withFiles(async ({ s, root }) => {
    const p = `${root}/f.txt`;
    await put(p, "x x x\n");
    const h = await sha(p);
    const a = await s.err("ssh_edit", { host: "h1", path: p, old_string: "", new_string: "y" });
    assert.equal(a.code, "ValueError");
    const b = await s.err("ssh_edit", { host: "h1", path: p, old_string: "x", new_string: "x" });
    assert.equal(b.code, "ValueError");
    const c = await s.err("ssh_edit", { host: "h1", path: p, old_string: "zzz", new_string: "y" });
    assert.equal(c.code, "WriteError");
    const d = await s.err("ssh_edit", { host: "h1", path: p, old_string: "x", new_string: "y" });
    assert.equal(d.code, "WriteError");
    assert.match(d.message, /3 times/);
    assert.equal(await sha(p), h);
    await put(`${root}/latin1.txt`, new Uint8Array([0x61, 0x62, 0xe9, 0x63]));
    for (
      const [tool, extra] of [
        ["ssh_edit", { old_string: "a", new_string: "b" }],
        ["ssh_patch", { unified_diff: "--- a\n+++ b\n@@ -1 +1 @@\n-ab\n+xy\n" }],
      ] as [string, R][]
    ) {
      const e = await s.err(tool, { host: "h1", path: `${root}/latin1.txt`, ...extra });
      assert.equal(e.code, "WriteError", tool);
      assert.match(e.message, /offset 2/);
    }
    await put(`${root}/bin`, new Uint8Array([0, 0xff, 0xfe]));
    assert.match(
      (await s.err("ssh_edit", {
        host: "h1",
        path: `${root}/bin`,
        old_string: "a",
        new_string: "b",
      })).message,
      /offset 1/,
    );
    await put(`${root}/large.txt`, "a".repeat(200));
    const big = await s.err("ssh_edit", {
      host: "h1",
      path: `${root}/large.txt`,
      old_string: "a",
      new_string: "b",
      occurrence: "all",
    });
    assert.equal(big.code, "WriteError");
    assert.match(big.message, /SSH_EDIT_MAX_FILE_BYTES/);
    assert.deepEqual(await temps(root), []);
  }, { env: { SSH_EDIT_MAX_FILE_BYTES: "100" } });
});

Deno.test("AC-247: bad patches rejected (two files, malformed, context/removal mismatch, overlapping hunks); file untouched", async () => {
  await withFiles(async ({ s, root }) => {
    const p = `${root}/f`;
    await put(p, "1\n2\n3\n4\n5\n6\n");
    const h = await sha(p);
    const bad: [string, string][] = [
      [
        "ValueError",
        "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-1\n+one\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-1\n+one\n",
      ],
      ["ValueError", "this is not a diff\n"],
      ["ValueError", "--- a\n+++ b\n@@ -1,2 +1,2 @@\n 1\n"],
      ["WriteError", "--- a\n+++ b\n@@ -1,3 +1,3 @@\n 1\n-2\n+two\n x3\n"],
      ["WriteError", "--- a\n+++ b\n@@ -1,3 +1,3 @@\n 1\n-9\n+two\n 3\n"],
      [
        "WriteError",
        "--- a\n+++ b\n@@ -2,3 +2,3 @@\n 2\n-3\n+three\n 4\n@@ -3,2 +3,2 @@\n-3\n+x\n 4\n",
      ],
      [
        "WriteError",
        "--- a\n+++ b\n@@ -3,2 +3,2 @@\n 3\n-4\n+four\n@@ -1,2 +1,2 @@\n 1\n-2\n+two\n",
      ],
    ];
    for (const [code, diff] of bad) {
      const e = await s.err("ssh_patch", { host: "h1", path: p, unified_diff: diff });
      assert.equal(e.code, code, diff);
      assert.equal(await sha(p), h, diff);
    }
  });
});

Deno.test("AC-249: deploy whose final rename fails after the backup rename restores the live file", async () => {
  await withFiles(async ({ s, root }) => {
    const live = `${root}/app.conf` as CheckedPath;
    await put(live, "LIVE");
    await put(`${root}/app.conf.ssh-mcp-tmp.0123456789abcdef`, "NEW");
    const policy = s.app.hosts().resolve("h1");
    const real = await RemoteFs.open(await s.app.pool.acquire(policy));
    // a server without hard links whose rename of the new file fails (faults sshd cannot produce)
    let renames = 0;
    const faulty = new Proxy(real, {
      get(t, k) {
        if (k === "hardlink") {
          return () =>
            Promise.reject(
              new SftpError("hardlink", live, SFTP_STATUS.OP_UNSUPPORTED, "unsupported"),
            );
        }
        if (k === "rename") {
          return (from: TempPath, to: CheckedPath) => {
            renames++;
            if (renames === 2) {
              return Promise.reject(new Error("injected failure of the final rename"));
            }
            return t.rename(from, to);
          };
        }
        const v = Reflect.get(t, k);
        return typeof v === "function" ? v.bind(t) : v;
      },
    });
    const backup = `${root}/app.conf.bak-20260101T000000Z` as CheckedPath;
    await assert.rejects(
      () =>
        commitWithBackup(
          faulty,
          `${root}/app.conf.ssh-mcp-tmp.0123456789abcdef` as TempPath,
          live,
          backup,
        ),
      /injected failure/,
    );
    assert.equal(await Deno.readTextFile(live), "LIVE");
    assert.equal(await exists(backup), false);
  });
});

Deno.test("AC-250/AC-014: mv outside the allowlist refused; permission denied propagates without shell fallback", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/f`, "x");
    assert.equal(
      (await s.err("ssh_mv", { host: "h1", src: `${root}/f`, dst: "/etc/f" })).code,
      "PathNotAllowed",
    );
    await Deno.mkdir(`${root}/locked`);
    await put(`${root}/locked/g`, "g", { owner: "root" });
    await Deno.chmod(`${root}/locked`, 0o755); // owned by root: the user cannot rename inside it
    const e = await s.err("ssh_mv", { host: "h1", src: `${root}/locked/g`, dst: `${root}/g` });
    assert.equal(e.code, "WriteError");
    assert.equal(e.meta.sftp_status, "PERMISSION_DENIED");
    assert.ok(!/mv-fallback|mv -- /.test(e.message));
    assert.ok(await exists(`${root}/locked/g`));
  });
});

Deno.test("AC-251: ssh_cp non-zero exit -> WriteError carrying stderr", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/unreadable`, "x", { owner: "root", mode: 0o600 });
    const e = await s.err("ssh_cp", { host: "h1", src: `${root}/unreadable`, dst: `${root}/copy` });
    assert.equal(e.code, "WriteError");
    assert.match(e.message, /Permission denied/);
  });
});

Deno.test("AC-252/AC-253/AC-254/AC-255: transfer endpoint, overwrite and size rules", async () => {
  await withFiles(async ({ s, root, fleet }) => {
    await put(`${root}/src`, "0123456789".repeat(20));
    await put(`${root}/dst`, "keep");
    // same alias: refused by the schema, before I/O
    await fleet.hosts[0]!.sshd.stop();
    const same = await s.err("ssh_transfer", {
      src_host: "h1",
      src_path: `${root}/src`,
      dst_host: "h1",
      dst_path: `${root}/x`,
    });
    assert.equal(same.code, "ValueError");
    // alias + hostname of the same machine: refused before I/O too
    const addr = fleet.hosts[0]!.sshd.address;
    const alias = await s.err("ssh_transfer", {
      src_host: "h1",
      src_path: `${root}/src`,
      dst_host: addr,
      dst_path: `${root}/x`,
    });
    assert.equal(alias.code, "ValueError");
    assert.match(alias.message, /same endpoint/);
    await fleet.hosts[0]!.sshd.start();
    const ex = await s.err("ssh_transfer", {
      src_host: "h1",
      src_path: `${root}/src`,
      dst_host: "h2",
      dst_path: `${root}/dst`,
    });
    assert.equal(ex.code, "ValueError");
    assert.equal(await Deno.readTextFile(`${root}/dst`), "keep");
    const big = await s.err("ssh_transfer", {
      src_host: "h1",
      src_path: `${root}/src`,
      dst_host: "h2",
      dst_path: `${root}/new`,
      overwrite: true,
    });
    assert.equal(big.code, "ValueError");
    assert.match(big.message, /SSH_UPLOAD_MAX_FILE_BYTES/);
    assert.equal(await exists(`${root}/new`), false);
  }, { hosts: 2, env: { SSH_UPLOAD_MAX_FILE_BYTES: "100" } });
});

Deno.test("AC-056/AC-257/AC-258/AC-259: link policy (targets, hard-link sources, no overwrite, Windows)", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/f`, "x");
    await put(`${root}/.env`, "SECRET=1");
    await mkdirUser(`${root}/d`);
    const cases: [R, string][] = [
      [{ src: "/etc/shadow", dst: `${root}/l1`, symbolic: true }, "PathNotAllowed"],
      [
        { src: "../../../../../../../etc/shadow", dst: `${root}/l2`, symbolic: true },
        "PathNotAllowed",
      ],
      [{ src: "a\x00b", dst: `${root}/l3`, symbolic: true }, "PathNotAllowed"],
      [{ src: `${root}/d/`, dst: `${root}/l4`, follow_symlinks: false }, "ValueError"],
      [{ src: `${root}/missing`, dst: `${root}/l5`, follow_symlinks: false }, "ValueError"],
      [{ src: `${root}/f`, dst: `${root}/f` }, "WriteError"],
      [{ src: `${root}/.env`, dst: `${root}/l6`, symbolic: true }, "PathRestricted"],
      [{ src: ".env", dst: `${root}/l7`, symbolic: true }, "PathRestricted"],
      [{ src: `${root}/.env`, dst: `${root}/l8` }, "PathRestricted"],
    ];
    for (const [a, code] of cases) {
      const e = await s.err("ssh_link", { host: "h1", ...a });
      assert.equal(e.code, code, JSON.stringify(a));
    }
    assert.deepEqual((await tree(root)).sort(), [".env", "d", "f"]);
  }, { perHost: () => 'restricted_globs = ["**/.env"]' });
  await withFiles(async ({ s }) => {
    const e = await s.err("ssh_link", { host: "h1", src: "C:/a", dst: "C:/b", symbolic: true });
    assert.equal(e.code, "PlatformNotSupported");
  }, { allowlist: () => 'platform = "windows"\npath_allowlist = ["C:\\\\a"]' });
});

Deno.test("AC-261/AC-262/AC-263/AC-264: list and find parameter validation", async () => {
  await withDownHost(async (s) => {
    for (const a of [{ limit: 0 }, { limit: 1001 }, { offset: -1 }]) {
      assert.equal(
        (await s.err("ssh_sftp_list", { host: "h1", path: "/tmp", ...a })).code,
        "ValueError",
      );
    }
    for (
      const a of [
        { max_depth: -1 },
        { max_depth: 0 },
        { name_pattern: "*; rm -rf /" },
        { name_pattern: "$(id)" },
        { name_pattern: "a b" },
        { name_pattern: "x".repeat(129) },
        { kind: "x" },
      ]
    ) {
      assert.equal(
        (await s.err("ssh_find", { host: "h1", path: "/tmp", ...a })).code,
        "ValueError",
        JSON.stringify(a),
      );
    }
  });
});

Deno.test("redact bypass gate applies to raw readers and writers (RED-5), not to ssh_read_redacted", async () => {
  await withFiles(async ({ s, root }) => {
    await put(`${root}/.env`, "A=1\n");
    for (
      const [tool, a] of [
        ["ssh_sftp_download", { path: `${root}/.env` }],
        ["ssh_sftp_stat", { path: `${root}/.env` }],
        ["ssh_upload", { path: `${root}/.env`, content_text: "x" }],
        ["ssh_edit", { path: `${root}/.env`, old_string: "A", new_string: "B" }],
        ["ssh_link", { src: ".env", dst: `${root}/l`, symbolic: true }],
      ] as [string, R][]
    ) {
      const e = await s.err(tool, { host: "h1", ...a });
      assert.equal(e.code, "RedactBypassBlocked", tool);
      assert.match(e.message, /ssh_read_redacted/);
    }
    assert.equal(
      (await s.ok<R>("ssh_read_redacted", { host: "h1", path: `${root}/.env` })).content,
      "A=1\n",
    );
    assert.equal(await Deno.readTextFile(`${root}/.env`), "A=1\n");
  }, { perHost: () => 'redact_paths_globs = ["**/.env"]\nredact_bypass_policy = "block"' });
  await withFiles(async ({ s, root }) => {
    await put(`${root}/.env`, "A=1\n");
    const r = await s.ok<R>("ssh_sftp_download", { host: "h1", path: `${root}/.env` });
    assert.equal(Buffer.from(String(r.content_base64), "base64").toString(), "A=1\n");
    assert.ok((r.output_warnings as string[]).includes(
      "redact-list path: prefer ssh_read_redacted (this delivered raw secrets to the LLM)",
    ));
  }, { perHost: () => 'redact_paths_globs = ["**/.env"]\nredact_bypass_policy = "warn"' });
});

/** The PATH-30 re-check of a checked path (RemoteFs.recheck). */
function recheckPath(fs: RemoteFs, p: CheckedPath, mode: "resolved" | "leaf"): Promise<void> {
  return fs.recheck(p, mode);
}

/** The subset of ToolContext that removeTree uses, backed by the real app. */
function fakeCtx(
  s: InProcess,
  policy: ReturnType<InProcess["app"]["hosts"]>["resolve"] extends (...a: never[]) => infer P ? P
    : never,
): ToolContext {
  const app = s.app;
  const conn = () => app.pool.acquire(policy);
  const ctx = {
    settings: app.settings,
    signal: new AbortController().signal,
    host: { requested: policy.alias, policy },
    async exec(cmd: never) {
      const c = await conn();
      return await c.exec(cmd, { timeoutMs: 30_000, stdoutCap: 1 << 20, stderrCap: 1 << 20 });
    },
    async checkPath(_p: unknown, raw: string) {
      const r = await app.paths!.check({
        tool: "test",
        policy,
        raw,
        mustExist: true,
        redactGate: true,
        follow: true,
        lexical: false,
        io: {
          exec: async (cmd, timeoutMs) =>
            await (await conn()).exec(cmd, {
              timeoutMs: timeoutMs ?? 30_000,
              stdoutCap: 1 << 20,
              stderrCap: 1 << 20,
            }),
          sftp: async () => await (await conn()).sftp(),
        },
      });
      return r.path;
    },
  };
  return ctx as unknown as ToolContext;
}
