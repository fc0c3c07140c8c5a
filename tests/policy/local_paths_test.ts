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
