/**
 * MCP-host paths (SECURITY.md §LOCAL, attack table §24.5 AC-300..AC-312) on
 * the local filesystem, including the swap race of AC-312 (the file replaced
 * by a symbolic link between resolution and open).
 */

import assert from "node:assert/strict";
import { defaultSettings } from "../../src/config/settings.ts";
import type { Settings } from "../../src/config/types.ts";
import { isToolError } from "../../src/errors.ts";
import {
  abortLocalWrite,
  beginLocalWrite,
  commitLocalWrite,
  isInsideLocal,
  openLocalRead,
  resolveLocalPath,
} from "../../src/policy/local_paths.ts";
import { type ServerFile, serverFilesFor } from "../../src/policy/server_files.ts";
import {
  bindServerFiles,
  serverFileError,
  ServerFileGuard,
} from "../../src/policy/server_file_guard.ts";

function settings(roots: string[], over: Partial<Settings> = {}): Settings {
  return { ...defaultSettings(), SSH_LOCAL_TRANSFER_ROOTS: roots, ...over };
}

async function policyError(p: Promise<unknown>, re?: RegExp): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (!isToolError(e)) throw e;
    assert.equal(e.code, "LocalPathPolicyError", e.message);
    if (re) assert.match(e.message, re);
    return e.message;
  }
  throw new Error("expected LocalPathPolicyError");
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function withTree(fn: (d: string, root: string) => Promise<void>) {
  const d = await Deno.makeTempDir({ prefix: "sshmcp-local-" });
  const root = `${d}/xfer`;
  await Deno.mkdir(`${root}/adir`, { recursive: true });
  await Deno.mkdir(`${d}/xfer2`);
  await Deno.writeTextFile(`${root}/file.bin`, "payload");
  await Deno.writeTextFile(`${d}/xfer2/x`, "x");
  await Deno.writeTextFile(`${d}/secret`, "outside");
  await Deno.symlink("/etc/passwd", `${root}/link`);
  await Deno.symlink("/etc", `${root}/dirlink`);
  await Deno.symlink(`${root}/file.bin`, `${root}/innerlink`);
  try {
    await fn(d, root);
  } finally {
    await Deno.remove(d, { recursive: true });
  }
}

const env = { HOME: "/nonexistent-home" };

Deno.test("AC-300 / LOCAL-1: no SSH_LOCAL_TRANSFER_ROOTS -> LocalPathPolicyError naming the setting", async () => {
  for (const roots of [[], [" "]]) {
    const s = settings(roots);
    await policyError(resolveLocalPath("/tmp/x", "read", s, env), /SSH_LOCAL_TRANSFER_ROOTS/);
    await policyError(openLocalRead("/tmp/x", s, env), /SSH_LOCAL_TRANSFER_ROOTS/);
    await policyError(beginLocalWrite("/tmp/x", s, env), /SSH_LOCAL_TRANSFER_ROOTS/);
  }
});

Deno.test("AC-301: /etc/passwd with a root elsewhere -> outside", async () => {
  await withTree(async (_d, root) => {
    const s = settings([root]);
    await policyError(resolveLocalPath("/etc/passwd", "read", s, env), /outside/);
    await policyError(resolveLocalPath(`${root}/../secret`, "read", s, env), /outside/);
    await policyError(resolveLocalPath(`${root}/../secret-new`, "write", s, env), /outside/);
  });
});

Deno.test("AC-302: a symlink in the root to /etc/passwd (read) -> refused (resolved outside)", async () => {
  await withTree(async (_d, root) => {
    await policyError(openLocalRead(`${root}/link`, settings([root]), env), /\/etc\/passwd/);
    // a symlink that stays inside is fine: the resolved target is used
    const r = await openLocalRead(`${root}/innerlink`, settings([root]), env);
    r.file.close();
    assert.equal(r.path, `${root}/file.bin`);
  });
});

Deno.test("AC-303 / LOCAL-5: write through a symlinked parent to /etc -> refused", async () => {
  await withTree(async (_d, root) => {
    await policyError(beginLocalWrite(`${root}/dirlink/new.bin`, settings([root]), env), /outside/);
    assert.ok(!(await exists("/etc/new.bin")));
  });
});

Deno.test("AC-304 / LOCAL-4: read of a missing file, of a directory -> refused", async () => {
  await withTree(async (_d, root) => {
    const s = settings([root]);
    await policyError(openLocalRead(`${root}/missing`, s, env), /does not exist/);
    await policyError(openLocalRead(`${root}/adir`, s, env), /directory/);
    await policyError(openLocalRead(root, s, env), /directory/);
  });
});

Deno.test("AC-305: write where the parent directory is missing -> refused", async () => {
  await withTree(async (_d, root) => {
    await policyError(
      beginLocalWrite(`${root}/nope/new.bin`, settings([root]), env),
      /directory/,
    );
  });
});

Deno.test('AC-306 / LOCAL-2: "" and "a\\x00b" -> refused', async () => {
  await withTree(async (_d, root) => {
    const s = settings([root]);
    for (const raw of ["", "a\x00b", `${root}/a\x00b`]) {
      await policyError(resolveLocalPath(raw, "read", s, env));
      await policyError(resolveLocalPath(raw, "write", s, env));
    }
  });
});

Deno.test("AC-307 / LOCAL-8 / LOCAL-10: write over an existing file: exclusive 0600 temp, then atomic replace", async () => {
  await withTree(async (_d, root) => {
    const s = settings([root]);
    const w = await beginLocalWrite(`${root}/file.bin`, s, env);
    assert.equal(w.finalPath, `${root}/file.bin`);
    assert.match(w.tmpPath, new RegExp(`^${root}/file\\.bin\\.ssh-mcp-tmp\\.[0-9a-f]{16}$`));
    assert.equal((await Deno.stat(w.tmpPath)).mode! & 0o777, 0o600);
    await w.file.write(new TextEncoder().encode("new content"));
    assert.equal(
      await Deno.readTextFile(`${root}/file.bin`),
      "payload",
      "final untouched until commit",
    );
    await commitLocalWrite(w);
    assert.equal(await Deno.readTextFile(`${root}/file.bin`), "new content");
    assert.ok(!(await exists(w.tmpPath)));
    // a new file, and the caller closing the file before commit
    const w2 = await beginLocalWrite(`${root}/adir/new.bin`, s, env);
    await w2.file.write(new TextEncoder().encode("n"));
    w2.file.close();
    await commitLocalWrite(w2);
    assert.equal(await Deno.readTextFile(`${root}/adir/new.bin`), "n");
    assert.equal((await Deno.stat(`${root}/adir/new.bin`)).mode! & 0o777, 0o600);
  });
});

Deno.test("AC-309 / LOCAL-7: the opened file's size comes from fstat, before any SSH I/O", async () => {
  await withTree(async (_d, root) => {
    const s = settings([root], { SSH_LOCAL_TRANSFER_MAX_BYTES: 3 });
    const r = await openLocalRead(`${root}/file.bin`, s, env);
    try {
      assert.equal(r.size, 7);
      assert.ok(r.size > s.SSH_LOCAL_TRANSFER_MAX_BYTES, "the caller refuses it (WriteError)");
    } finally {
      r.file.close();
    }
  });
});

Deno.test("AC-311 / LOCAL-8: a failed download removes the temp file and leaves no partial final file", async () => {
  await withTree(async (_d, root) => {
    const s = settings([root]);
    const w = await beginLocalWrite(`${root}/partial.bin`, s, env);
    await w.file.write(new TextEncoder().encode("half"));
    await abortLocalWrite(w);
    await abortLocalWrite(w); // idempotent, never throws
    assert.ok(!(await exists(w.tmpPath)));
    assert.ok(!(await exists(`${root}/partial.bin`)));
    const left = [];
    for await (const e of Deno.readDir(root)) left.push(e.name);
    assert.ok(!left.some((n) => n.includes(".ssh-mcp-tmp.")), left.join(","));
  });
});

Deno.test("AC-312 / LOCAL-10: the file swapped for a symlink between resolve and open -> identity mismatch", async () => {
  await withTree(async (d, root) => {
    const s = settings([root]);
    await policyError(
      openLocalRead(`${root}/file.bin`, s, env, {
        afterResolve: async (p) => {
          await Deno.remove(p);
          await Deno.symlink(`${d}/secret`, p);
        },
      }),
      /changed while it was being opened/,
    );
  });
  await withTree(async (d, root) => {
    // swapped for another regular file (rename over it): a different inode
    const s = settings([root]);
    await policyError(
      openLocalRead(`${root}/file.bin`, s, env, {
        afterResolve: async (p) => {
          await Deno.copyFile(`${d}/secret`, `${p}.x`);
          await Deno.rename(`${p}.x`, p);
        },
      }),
      /changed/,
    );
  });
  await withTree(async (d, root) => {
    // write side: the parent directory swapped for a symlink to outside the root
    const s = settings([root]);
    await policyError(
      beginLocalWrite(`${root}/adir/new.bin`, s, env, {
        afterResolve: async () => {
          await Deno.rename(`${root}/adir`, `${root}/adir.orig`);
          await Deno.symlink(`${d}/xfer2`, `${root}/adir`);
        },
      }),
      /changed/,
    );
    const left = [];
    for await (const e of Deno.readDir(`${d}/xfer2`)) left.push(e.name);
    assert.deepEqual(left, ["x"], "no temp file left outside the root");
  });
});

Deno.test("LOCAL-3: roots are resolved per call (symlinked root, ~ expansion, missing roots ignored)", async () => {
  await withTree(async (d, root) => {
    await Deno.symlink(root, `${d}/rootlink`);
    const s = settings([`${d}/missing-root`, `${d}/rootlink`]);
    assert.equal(await resolveLocalPath(`${root}/file.bin`, "read", s, env), `${root}/file.bin`);
    assert.equal(
      await resolveLocalPath(`${d}/rootlink/file.bin`, "read", s, env),
      `${root}/file.bin`,
    );
    const home = settings(["~/xfer"]);
    assert.equal(
      await resolveLocalPath(`${root}/file.bin`, "read", home, { HOME: d }),
      `${root}/file.bin`,
    );
    await policyError(
      resolveLocalPath(`${root}/file.bin`, "read", settings([`${d}/missing-root`]), env),
      /exists/,
    );
    // mounted later: the same settings start working without a restart
    const late = settings([`${d}/late`]);
    await policyError(resolveLocalPath(`${d}/late/f`, "write", late, env));
    await Deno.mkdir(`${d}/late`);
    assert.equal(await resolveLocalPath(`${d}/late/f`, "write", late, env), `${d}/late/f`);
  });
});

Deno.test("LOCAL-6: inside is component-wise, never a string prefix; the root itself is not a write target", async () => {
  assert.ok(isInsideLocal("/srv/xfer", "/srv/xfer"));
  assert.ok(isInsideLocal("/srv/xfer/a/b", "/srv/xfer"));
  assert.ok(isInsideLocal("/srv/xfer/..foo", "/srv/xfer"));
  assert.ok(!isInsideLocal("/srv/xfer2/x", "/srv/xfer"));
  assert.ok(!isInsideLocal("/srv", "/srv/xfer"));
  assert.ok(!isInsideLocal("/etc/passwd", "/srv/xfer"));
  await withTree(async (d, root) => {
    const s = settings([root]);
    await policyError(resolveLocalPath(`${d}/xfer2/x`, "read", s, env), /outside/);
    await policyError(resolveLocalPath(root, "write", s, env));
    await policyError(resolveLocalPath(`${root}/adir`, "write", s, env), /directory/);
    await policyError(resolveLocalPath(`${root}/adir/`, "write", s, env));
  });
});

Deno.test("LOCAL-12 / LOCAL-15: settings that no server bound still protect what they name (hosts file, audit log and rotated siblings, known_hosts, notes, secrets)", async () => {
  await withTree(async (_d, root) => {
    for (const f of ["hosts.toml", "audit.log", "audit.log.1", "kh", "kh.old"]) {
      await Deno.writeTextFile(`${root}/${f}`, f);
    }
    await Deno.mkdir(`${root}/notes`);
    await Deno.writeTextFile(`${root}/notes/a.md`, "n");
    await Deno.mkdir(`${root}/secrets`);
    const s = settings([root], {
      SSH_HOSTS_FILE: `${root}/hosts.toml`,
      SSH_AUDIT_LOG: `${root}/audit.log`,
      SSH_KNOWN_HOSTS: `${root}/kh`,
      SSH_HOST_NOTES_DIR: `${root}/notes`,
      SSH_SECRETS_DIR: `${root}/secrets`,
    });
    const cases: [string, "read" | "write", RegExp][] = [
      ["hosts.toml", "read", /hosts file/],
      ["hosts.toml", "write", /hosts file/],
      ["audit.log", "write", /audit log/],
      ["audit.log.1", "read", /rotated/],
      ["audit.log-20250101.gz", "write", /rotated/],
      ["kh.old", "read", /known_hosts/],
      ["notes/a.md", "read", /notes directory/],
      ["notes/b.md", "write", /notes directory/],
      ["secrets/new", "write", /secrets directory/],
    ];
    for (const [rel, mode, re] of cases) {
      const m = await policyError(resolveLocalPath(`${root}/${rel}`, mode, s, env), re);
      assert.match(m, /one of the server's own files/);
    }
    // not a rotation sibling: a different name in the same directory
    assert.equal(await resolveLocalPath(`${root}/file.bin`, "read", s, env), `${root}/file.bin`);
    assert.equal(
      await resolveLocalPath(`${root}/my-audit.log`, "write", s, env),
      `${root}/my-audit.log`,
    );
  });
});

Deno.test("LOCAL-13: identity, not names: a hard link to a protected file and a bind mount of a protected directory are refused; a swap to a hard link at open is caught", async () => {
  await withTree(async (d, root) => {
    await Deno.mkdir(`${d}/cfg`);
    await Deno.writeTextFile(`${d}/cfg/hosts.toml`, "[hosts]\n");
    await Deno.mkdir(`${d}/cfg/notes`);
    await Deno.writeTextFile(`${d}/cfg/notes/h.md`, "note");
    const s = settings([root], {
      SSH_HOSTS_FILE: `${d}/cfg/hosts.toml`,
      SSH_HOST_NOTES_DIR: `${d}/cfg/notes`,
    });
    await Deno.link(`${d}/cfg/hosts.toml`, `${root}/hl`);
    await policyError(openLocalRead(`${root}/hl`, s, env), /hosts file/);
    await Deno.link(`${d}/cfg/notes/h.md`, `${root}/hl-note`);
    await policyError(openLocalRead(`${root}/hl-note`, s, env), /notes directory/);
    await Deno.mkdir(`${root}/mnt`);
    const mount = await new Deno.Command("mount", {
      args: ["--bind", `${d}/cfg/notes`, `${root}/mnt`],
    }).output();
    assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
    try {
      await policyError(openLocalRead(`${root}/mnt/h.md`, s, env), /notes directory/);
      await policyError(beginLocalWrite(`${root}/mnt/new.md`, s, env), /notes directory/);
    } finally {
      await new Deno.Command("umount", { args: [`${root}/mnt`] }).output();
    }
    // the checked file is replaced by a hard link to the hosts file between resolve and open
    await policyError(
      openLocalRead(`${root}/file.bin`, s, env, {
        afterResolve: async (p) => {
          await Deno.remove(p);
          await Deno.link(`${d}/cfg/hosts.toml`, p);
        },
      }),
    );
  });
});

Deno.test("LOCAL-14: a server binds its set to its settings object; the provider is read per call (reload)", async () => {
  await withTree(async (_d, root) => {
    const s = Object.freeze(settings([root]));
    assert.equal(await resolveLocalPath(`${root}/file.bin`, "read", s, env), `${root}/file.bin`);
    let files: ServerFile[] = [{ path: `${root}/file.bin`, kind: "file", what: "a test key" }];
    bindServerFiles(s, () => files);
    await policyError(resolveLocalPath(`${root}/file.bin`, "read", s, env), /a test key/);
    files = [];
    assert.equal(await resolveLocalPath(`${root}/file.bin`, "read", s, env), `${root}/file.bin`);
  });
});

Deno.test("LOCAL-16: serverFilesFor reads the ssh_config (Include, IdentityFile patterns, known_hosts, agent) and every *_cmd of the configuration", async () => {
  await withTree(async (d) => {
    const home = `${d}/home`;
    await Deno.mkdir(`${home}/.ssh/inc`, { recursive: true });
    await Deno.writeTextFile(
      `${d}/ssh_config`,
      [
        "Include inc/*.conf",
        "Host *",
        "  IdentityFile ~/keys/id_%h",
        "  CertificateFile /etc/certs/",
        "  UserKnownHostsFile ~/kh1 ~/kh2",
        "  IdentityAgent ~/agent.sock",
        "  ProxyCommand /bin/sh -c true",
      ].join("\n"),
    );
    await Deno.writeTextFile(`${home}/.ssh/inc/a.conf`, "IdentityFile /opt/keys/nested\n");
    await Deno.writeTextFile(`${d}/pw.sh`, "#!/bin/sh\necho x\n");
    await Deno.chmod(`${d}/pw.sh`, 0o755);
    await Deno.writeTextFile(`${d}/pw.gpg`, "x");
    const s = {
      ...settings([]),
      SSH_CONFIG_FILE: `${d}/ssh_config`,
      SSH_SUDO_PASSWORD_CMD: `${d}/pw.sh --in ${d}/pw.gpg`,
      SSH_AUDIT_LOG: "stderr",
    };
    const files = await serverFilesFor({
      settings: s,
      env: { HOME: home, PATH: "/usr/bin:/bin" },
      cwd: d,
      hosts: null,
    });
    const has = (p: string, kind: string) =>
      assert.ok(
        files.some((f) => f.path === p && f.kind === kind),
        `${kind} ${p} missing: ${JSON.stringify(files.map((f) => [f.kind, f.path]))}`,
      );
    has(`${d}/ssh_config`, "file");
    has(`${home}/.ssh/inc`, "dir");
    has(`${home}/.ssh/inc/a.conf`, "file");
    has(`/opt/keys/nested`, "prefix");
    has(`${home}/keys/id_`, "prefix");
    has(`/etc/certs`, "prefix");
    has(`${home}/kh1`, "file");
    has(`${home}/kh2`, "file");
    has(`${home}/agent.sock`, "file");
    has(`/bin/sh`, "file");
    has(`${d}/pw.sh`, "file");
    has(`${d}/pw.gpg`, "file");
    has(`${home}/.ssh`, "dir");
    has(`${d}/hosts.toml`, "file");
    has(`${d}/.env`, "file");
    assert.ok(!files.some((f) => f.what.includes("audit")), "stderr audit is no file");
  });
});

Deno.test("LOCAL-17: a multiply-linked file is compared with every file of the protected directories; past the walk budget it is refused (fail closed)", async () => {
  await withTree(async (d, root) => {
    await Deno.mkdir(`${d}/notes/deep/er`, { recursive: true });
    for (let i = 0; i < 20; i++) await Deno.writeTextFile(`${d}/notes/n${i}.md`, "n");
    await Deno.writeTextFile(`${d}/notes/deep/er/target.md`, "t");
    await Deno.link(`${d}/notes/deep/er/target.md`, `${root}/linked`);
    await Deno.writeTextFile(`${root}/other`, "o");
    await Deno.link(`${root}/other`, `${root}/other2`);
    const guard = await ServerFileGuard.resolve([
      { path: `${d}/notes`, kind: "dir", what: "the notes" },
    ]);
    const linked = await Deno.stat(`${root}/linked`);
    assert.equal(((await guard.byLinkWalk(linked)) as ServerFile).what, "the notes");
    assert.equal(await guard.byLinkWalk(linked, 5), "unverified");
    // a multiply-linked file that is not theirs passes a complete walk
    assert.equal(await guard.byLinkWalk(await Deno.stat(`${root}/other`)), null);
    assert.match(serverFileError("x", "unverified").message, /could not verify/);
    const s = settings([root], { SSH_HOST_NOTES_DIR: `${d}/notes` });
    await policyError(resolveLocalPath(`${root}/linked`, "read", s, env), /notes directory/);
    assert.equal(await resolveLocalPath(`${root}/other2`, "read", s, env), `${root}/other2`);
  });
});
