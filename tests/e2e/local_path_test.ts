/**
 * SECURITY.md §24.5 (`local_path`, AC-300..AC-313) through ssh_upload,
 * ssh_deploy and ssh_sftp_download. AC-311 (failure mid-download) lives in
 * interrupted_write_test.ts.
 */

import assert from "node:assert/strict";
import { auditHash } from "../../src/audit/audit.ts";
import { exists, put, sha, shaOf, temps, withDownHost, withFiles } from "./_files_fixture.ts";

type R = Record<string, unknown>;

Deno.test("local_path round trip: upload streams a local file, download writes it atomically with mode 0600", async () => {
  await withFiles(async ({ s, root, local }) => {
    const data = new Uint8Array(5 * 1024 * 1024 + 3).map((_, i) => (i * 31) % 256);
    await Deno.writeFile(`${local}/in.bin`, data);
    const up = await s.ok<R>("ssh_upload", {
      host: "h1",
      path: `${root}/r.bin`,
      local_path: `${local}/in.bin`,
    });
    assert.equal(up.bytes_written, data.length);
    assert.equal(up.message, `uploaded from ${local}/in.bin (atomic, streamed)`);
    assert.equal(await sha(`${root}/r.bin`), shaOf(data));
    const down = await s.ok<R>("ssh_sftp_download", {
      host: "h1",
      path: `${root}/r.bin`,
      local_path: `${local}/out.bin`,
    });
    assert.deepEqual(
      [down.size, down.content_base64, down.truncated, down.local_path_written],
      [data.length, "", false, `${local}/out.bin`],
    );
    assert.equal(await sha(`${local}/out.bin`), shaOf(data));
    assert.equal(
      (await Deno.stat(`${local}/out.bin`)).mode! & 0o077,
      0,
      "downloaded file readable by others",
    );
    assert.deepEqual(await temps(local), []);
    const dep = await s.ok<R>("ssh_deploy", {
      host: "h1",
      path: `${root}/r.bin`,
      local_path: `${local}/in.bin`,
    });
    assert.match(
      String(dep.message),
      /^deployed from .* \(atomic, streamed\); previous version at /,
    );
  });
});

Deno.test("AC-300: no SSH_LOCAL_TRANSFER_ROOTS -> LocalPathPolicyError naming the setting (upload and download)", async () => {
  await withDownHost(async (s) => {
    for (
      const [tool, a] of [
        ["ssh_upload", { path: "/tmp/x", local_path: "/tmp/whatever" }],
        ["ssh_sftp_download", { path: "/tmp/x", local_path: "/tmp/whatever" }],
      ] as [string, R][]
    ) {
      const e = await s.err(tool, { host: "h1", ...a });
      assert.equal(e.code, "LocalPathPolicyError", tool);
      assert.match(e.message, /SSH_LOCAL_TRANSFER_ROOTS/);
    }
  }, { SSH_LOCAL_TRANSFER_ROOTS: "" });
});

Deno.test("AC-301..AC-306: outside roots, symlink escapes, missing/dir sources, missing parent, empty/NUL -> LocalPathPolicyError before SSH I/O", async () => {
  const local = await Deno.makeTempDir({ prefix: "sshmcp-local-" });
  await Deno.symlink("/etc/passwd", `${local}/link`);
  await Deno.symlink("/etc", `${local}/dirlink`);
  await Deno.mkdir(`${local}/adir`);
  try {
    await withDownHost(async (s) => {
      const up = (lp: string) =>
        s.err("ssh_upload", { host: "h1", path: "/tmp/x", local_path: lp });
      const down = (lp: string) =>
        s.err("ssh_sftp_download", { host: "h1", path: "/tmp/x", local_path: lp });
      for (
        const e of [
          await up("/etc/passwd"), // AC-301
          await up(`${local}/link`), // AC-302
          await down(`${local}/dirlink/new.bin`), // AC-303
          await up(`${local}/missing`), // AC-304
          await up(`${local}/adir`), // AC-304
          await down(`${local}/nope/new.bin`), // AC-305
          await up(""), // AC-306
          await up("a\x00b"),
          await down("a\x00b"),
        ]
      ) {
        assert.equal(e.code, "LocalPathPolicyError", e.message);
      }
      assert.equal(await exists("/etc/new.bin"), false);
    }, { SSH_LOCAL_TRANSFER_ROOTS: local });
  } finally {
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("AC-307: download over an existing local file replaces it atomically", async () => {
  await withFiles(async ({ s, root, local }) => {
    await put(`${root}/r`, "remote");
    await Deno.writeTextFile(`${local}/exists`, "old local");
    await s.ok("ssh_sftp_download", {
      host: "h1",
      path: `${root}/r`,
      local_path: `${local}/exists`,
    });
    assert.equal(await Deno.readTextFile(`${local}/exists`), "remote");
  });
});

Deno.test("AC-308/AC-309: local_path is exclusive with inline content; an over-cap local file is refused before SSH I/O", async () => {
  const local = await Deno.makeTempDir({ prefix: "sshmcp-local-" });
  await Deno.writeTextFile(`${local}/f`, "0123456789ABCDEF");
  try {
    await withDownHost(async (s) => {
      for (const extra of [{ content_text: "x" }, { content_base64: "eA==" }]) {
        const e = await s.err("ssh_upload", {
          host: "h1",
          path: "/tmp/x",
          local_path: `${local}/f`,
          ...extra,
        });
        assert.equal(e.code, "WriteError");
      }
      const big = await s.err("ssh_upload", {
        host: "h1",
        path: "/tmp/x",
        local_path: `${local}/f`,
      });
      assert.equal(big.code, "WriteError");
      assert.match(big.message, /SSH_LOCAL_TRANSFER_MAX_BYTES/);
    }, { SSH_LOCAL_TRANSFER_ROOTS: local, SSH_LOCAL_TRANSFER_MAX_BYTES: "8" });
  } finally {
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("AC-310: remote file over the local cap -> SftpDownloadError, local disk untouched", async () => {
  await withFiles(async ({ s, root, local }) => {
    await put(`${root}/big`, "x".repeat(64));
    const e = await s.err("ssh_sftp_download", {
      host: "h1",
      path: `${root}/big`,
      local_path: `${local}/big`,
    });
    assert.equal(e.code, "SftpDownloadError");
    assert.deepEqual([...Deno.readDirSync(local)], []);
  }, { env: { SSH_LOCAL_TRANSFER_MAX_BYTES: "32" } });
});

Deno.test("AC-312: a local file swapped for a symlink while uploads run never sends the link target", async () => {
  await withFiles(async ({ s, root, local }) => {
    const secret = await Deno.readFile("/etc/passwd");
    await Deno.writeTextFile(`${local}/payload`, "benign");
    let stop = false;
    const swapper = (async () => {
      while (!stop) {
        await Deno.remove(`${local}/payload`).catch(() => {});
        await Deno.symlink("/etc/passwd", `${local}/payload`).catch(() => {});
        await new Promise((r) => setTimeout(r, 1));
        await Deno.remove(`${local}/payload`).catch(() => {});
        await Deno.writeTextFile(`${local}/payload`, "benign").catch(() => {});
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    try {
      for (let i = 0; i < 40; i++) {
        const r = await s.call("ssh_upload", {
          host: "h1",
          path: `${root}/out${i}`,
          local_path: `${local}/payload`,
        });
        if (r.isError) {
          const t = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
          assert.match(t, /^LocalPathPolicyError: /, t);
          assert.equal(await exists(`${root}/out${i}`), false);
        } else {
          assert.equal(await sha(`${root}/out${i}`), shaOf("benign"));
        }
      }
    } finally {
      stop = true;
      await swapper;
    }
    assert.ok(secret.length > 0);
  });
});

Deno.test("AC-313: audit of a local_path upload hashes the remote canonical path; the local path is not in the line", async () => {
  await withFiles(async ({ s, root, local, audit }) => {
    await Deno.writeTextFile(`${local}/in`, "data");
    await s.ok("ssh_upload", { host: "h1", path: `${root}/./f`, local_path: `${local}/in` });
    const lines = (await audit()).filter((l) => l.tool === "ssh_upload" && l.result === "ok");
    assert.equal(lines.length >= 1, true);
    const line = lines[lines.length - 1]!;
    assert.equal(line.path_hash, auditHash(`${root}/f`));
    assert.ok(!JSON.stringify(line).includes(local));
    assert.ok(!JSON.stringify(line).includes(root));
  });
});
