/**
 * The sudo path tools end to end (TOOLS.md §9, SECURITY.md SUDO-8..11,
 * §24.9): real sshd, real sudo, the real server and path policy, a real MCP
 * client. Files live in a root-owned directory inside the path allowlist
 * (tests/_support/sudo.ts); `private/` is root-only (0700).
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { PathCheckRequest, PathCheckResult } from "../../src/policy/paths.ts";
import type { InProcess } from "../_support/mcp.ts";
import { rootFile, startBedServer, startSudoBed, statOf, type SudoBed } from "../_support/sudo.ts";

type Write = { success: boolean; path: string; message: string; output_warnings: string[] };

async function withServer(
  fn: (bed: SudoBed, s: InProcess) => Promise<void>,
  extra: Record<string, string> = {},
) {
  const bed = await startSudoBed();
  const s = await startBedServer(bed, extra);
  try {
    await fn(bed, s);
  } finally {
    await s.close();
    await bed.stop();
  }
}

async function tempLeftovers(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.startsWith(".ssh-mcp-tmp.")) out.push(e.name);
  return out;
}

const DAEMON = { uid: 1, gid: 1 };

Deno.test("AC-612/SUDO-8: a file in a root-only directory is canonicalized and read as root", async () => {
  await withServer(async (bed, s) => {
    const f = `${bed.root}/private/secret.txt`;
    await rootFile(f, "top secret\n");
    const r = await s.ok<{ path: string; size: number; content_base64: string }>("ssh_sudo_read", {
      host: "pw",
      path: `${bed.root}/private/../private/secret.txt`,
    });
    assert.equal(r.path, f);
    assert.equal(r.size, 11);
    assert.equal(Buffer.from(r.content_base64, "base64").toString(), "top secret\n");
    assert.ok(!JSON.stringify(r).includes(bed.password));
  });
});

Deno.test("AC-610/AC-611/PATH-6: redact-listed path blocked for ssh_sudo_read; restricted and outside paths refused", async () => {
  await withServer(async (bed, s) => {
    await rootFile(`${bed.root}/app.env`, "DB_PASSWORD=hunter2hunter2\n");
    await Deno.mkdir(`${bed.root}/restricted`, { recursive: true });
    await rootFile(`${bed.root}/restricted/x.txt`, "x");
    const blocked = await s.err("ssh_sudo_read", { host: "pw", path: `${bed.root}/app.env` });
    assert.equal(blocked.code, "RedactBypassBlocked");
    const restricted = await s.err("ssh_sudo_read", {
      host: "pw",
      path: `${bed.root}/restricted/x.txt`,
    });
    assert.equal(restricted.code, "PathRestricted");
    const outside = await s.err("ssh_sudo_read", { host: "pw", path: "/etc/shadow" });
    assert.equal(outside.code, "PathNotAllowed");
    const list = await s.err("ssh_sudo_sftp_list", { host: "pw", path: "/root" });
    assert.equal(list.code, "PathNotAllowed");
  });
});

Deno.test("AC-610/AC-611: ssh_sudo_read_redacted reads a redact-listed root file with secrets redacted; restricted stays refused", async () => {
  await withServer(async (bed, s) => {
    await rootFile(`${bed.root}/private/app.env`, "DB_HOST=db1\nDB_PASSWORD=hunter2hunter2\n");
    const r = await s.ok<{
      content: string;
      format_detected: string;
      redactions: { key: string | null; line: number | null }[];
      size_original: number;
    }>("ssh_sudo_read_redacted", { host: "pw", path: `${bed.root}/private/app.env` });
    assert.equal(r.format_detected, "env");
    assert.ok(r.content.startsWith("DB_HOST=db1\nDB_PASSWORD=<sha:"), r.content);
    assert.ok(!r.content.includes("hunter2"));
    assert.equal(r.redactions[0]!.key, "DB_PASSWORD");
    assert.equal(r.size_original, 39);
    await Deno.mkdir(`${bed.root}/restricted`, { recursive: true });
    await rootFile(`${bed.root}/restricted/app.env`, "A=1\n");
    const e = await s.err("ssh_sudo_read_redacted", {
      host: "pw",
      path: `${bed.root}/restricted/app.env`,
    });
    assert.equal(e.code, "PathRestricted");
  });
});

Deno.test("AC-613/SUDO-8: a symlink swapped to /etc/shadow between check and use -> SudoFileOpError 'path changed during operation'", async () => {
  await withServer(async (bed, s) => {
    const good = `${bed.root}/good.txt`;
    await rootFile(good, "fine\n");
    const link = `${bed.root}/link`;
    const paths = s.app.paths!;
    const check = paths.check.bind(paths);
    let armed = false;
    // the swap happens right after the policy admitted the path, before the operation
    (paths as { check: (r: PathCheckRequest) => Promise<PathCheckResult> }).check = async (req) => {
      const r = await check(req);
      if (armed) {
        armed = false;
        await Deno.remove(link);
        await Deno.symlink("/etc/shadow", link);
      }
      return r;
    };
    for (
      const [tool, args] of [
        ["ssh_sudo_read", {}],
        ["ssh_sudo_sftp_list", {}],
        ["ssh_sudo_write", { content_text: "pwned\n" }],
        ["ssh_sudo_edit", { old_string: "root", new_string: "toor" }],
      ] as const
    ) {
      await Deno.remove(link).catch(() => {});
      await Deno.symlink(good, link);
      armed = true;
      const shadowBefore = await Deno.readFile("/etc/shadow");
      const e = await s.err(tool, { host: "pw", path: link, ...args });
      assert.equal(e.code, "SudoFileOpError", tool);
      assert.match(e.message, /path changed during operation/, tool);
      assert.ok(!e.message.includes("root:"), "no shadow content in the error");
      assert.deepEqual(
        await Deno.readFile("/etc/shadow"),
        shadowBefore,
        `${tool} touched /etc/shadow`,
      );
    }
    assert.equal(await Deno.readTextFile(good), "fine\n");
  });
});

Deno.test("AC-618/AC-619/SUDO-10: write and edit keep a 0600 file 0600 and keep its owner", async () => {
  await withServer(async (bed, s) => {
    const f = `${bed.root}/private/secret.conf`;
    await rootFile(f, "token = old\n", 0o600, DAEMON);
    const w = await s.ok<Write>("ssh_sudo_write", {
      host: "pw",
      path: f,
      content_text: "token = new\n",
    });
    assert.equal(w.success, true);
    assert.equal(w.message, "sudo-wrote (atomic, owner daemon:daemon)");
    assert.deepEqual(await statOf(f), { mode: 0o600, ...DAEMON });
    assert.equal(await Deno.readTextFile(f), "token = new\n");
    const e = await s.ok<Write>("ssh_sudo_edit", {
      host: "pw",
      path: f,
      old_string: "new",
      new_string: "newer",
    });
    assert.equal(e.message, "sudo-edited (replaced 1 occurrence(s))");
    assert.equal(await Deno.readTextFile(f), "token = newer\n");
    assert.deepEqual(await statOf(f), { mode: 0o600, ...DAEMON });
    // explicit mode and owner win
    await s.ok("ssh_sudo_write", {
      host: "pw",
      path: f,
      content_text: "x",
      mode: 0o640,
      chown_user: "root",
      chown_group: "1",
    });
    assert.deepEqual(await statOf(f), { mode: 0o640, uid: 0, gid: 1 });
    assert.deepEqual(await tempLeftovers(`${bed.root}/private`), []);
  });
});

Deno.test("SUDO-10: a new file is root:root 0644 with a warning; base64 payloads are byte-exact", async () => {
  await withServer(async (bed, s) => {
    const f = `${bed.root}/private/new.bin`;
    const bytes = new Uint8Array([0, 1, 2, 255, 10, 13]);
    const w = await s.ok<Write>("ssh_sudo_write", {
      host: "pw",
      path: f,
      content_base64: Buffer.from(bytes).toString("base64"),
    });
    assert.deepEqual(w.output_warnings, [
      "file did not exist, created as root:root; pass chown_user/chown_group to set explicitly.",
    ]);
    assert.deepEqual(await Deno.readFile(f), bytes);
    assert.deepEqual(await statOf(f), { mode: 0o644, uid: 0, gid: 0 });
  });
});

Deno.test("AC-607/SUDO-4: NOPASSWD write with a password configured: the file contains exactly the payload", async () => {
  await withServer(async (bed, s) => {
    const f = `${bed.root}/nopass.txt`;
    await s.ok("ssh_sudo_write", { host: "np", path: f, content_text: "data" });
    assert.equal(await Deno.readTextFile(f), "data");
    const list = await s.ok<{ entries: { name: string }[] }>("ssh_sudo_sftp_list", {
      host: "np",
      path: bed.root,
    });
    assert.ok(list.entries.some((e) => e.name === "nopass.txt"));
  });
});

Deno.test("AC-608/SUDO-5: wrong password -> SudoFileOpError, payload never written, target untouched", async () => {
  await withServer(async (bed, s) => {
    const f = `${bed.root}/private/keep.conf`;
    await rootFile(f, "original\n");
    const e = await s.err("ssh_sudo_write", { host: "pw", path: f, content_text: "PAYLOAD" });
    assert.equal(e.code, "SudoFileOpError");
    assert.match(e.message, /authentication failed/);
    assert.equal(await Deno.readTextFile(f), "original\n");
    assert.deepEqual(await tempLeftovers(`${bed.root}/private`), []);
    assert.ok(!e.message.includes("wrong-password"));
  }, { SSH_SUDO_PASSWORD_CMD: "printf 'wrong-password'" });
});

Deno.test("AC-614/AC-617/PATH-27: payload count, owner names and special mode bits are validated before I/O", async () => {
  await withServer(async (bed, s) => {
    const p = `${bed.root}/v.txt`;
    for (
      const args of [
        {},
        { content_text: "a", content_base64: "YQ==" },
        { content_text: "a", local_path: "/etc/hosts" },
      ]
    ) {
      const e = await s.err("ssh_sudo_write", { host: "pw", path: p, ...args });
      assert.equal(e.code, "ValueError", JSON.stringify(args));
    }
    for (const bad of ["--reference=/etc/shadow", "a b", "root;id"]) {
      for (const field of ["chown_user", "chown_group"]) {
        const e = await s.err("ssh_sudo_write", {
          host: "pw",
          path: p,
          content_text: "a",
          [field]: bad,
        });
        assert.equal(e.code, "ValueError", `${field}=${bad}`);
      }
    }
    const suid = await s.err("ssh_sudo_write", {
      host: "pw",
      path: p,
      content_text: "a",
      mode: 0o4755,
    });
    assert.equal(suid.code, "ValueError");
    assert.match(suid.message, /ALLOW_SPECIAL_MODE_BITS/);
    const b64 = await s.err("ssh_sudo_write", { host: "pw", path: p, content_base64: "!!" });
    assert.equal(b64.code, "ValueError");
    await assert.rejects(Deno.stat(p), "nothing was written");
  });
});

Deno.test("SUDO-10: an existing setuid file keeps its bits only with an explicit mode", async () => {
  await withServer(async (bed, s) => {
    const f = `${bed.root}/tool`;
    await rootFile(f, "#!/bin/sh\n", 0o4755);
    const e = await s.err("ssh_sudo_write", { host: "pw", path: f, content_text: "x" });
    assert.equal(e.code, "SudoFileOpError");
    assert.match(e.message, /setuid/);
    assert.equal(await Deno.readTextFile(f), "#!/bin/sh\n");
    await s.ok("ssh_sudo_write", { host: "pw", path: f, content_text: "y", mode: 0o755 });
    assert.equal((await statOf(f)).mode, 0o755);
  });
});

Deno.test("AC-615: inline payload over SSH_UPLOAD_MAX_FILE_BYTES and local file over SSH_LOCAL_TRANSFER_MAX_BYTES -> SudoFileOpError", async () => {
  const local = await Deno.makeTempDir({ prefix: "sshmcp-local-" });
  try {
    await Deno.writeTextFile(`${local}/big.txt`, "0123456789abcdef");
    await Deno.writeTextFile(`${local}/ok.txt`, "small");
    await withServer(async (bed, s) => {
      const p = `${bed.root}/cap.txt`;
      const e = await s.err("ssh_sudo_write", {
        host: "pw",
        path: p,
        content_text: "x".repeat(11),
      });
      assert.equal(e.code, "SudoFileOpError");
      const l = await s.err("ssh_sudo_write", {
        host: "pw",
        path: p,
        local_path: `${local}/big.txt`,
      });
      assert.equal(l.code, "SudoFileOpError");
      const ok = await s.ok<Write>("ssh_sudo_write", {
        host: "pw",
        path: p,
        local_path: `${local}/ok.txt`,
      });
      assert.match(ok.message, /^sudo-wrote from .*ok\.txt \(atomic, owner root:root\)$/);
      assert.equal(await Deno.readTextFile(p), "small");
      const outside = await s.err("ssh_sudo_write", {
        host: "pw",
        path: p,
        local_path: "/etc/hosts",
      });
      assert.equal(outside.code, "LocalPathPolicyError");
      // reads over the cap fail before any byte travels
      await rootFile(`${bed.root}/private/big.txt`, "x".repeat(20));
      const r = await s.err("ssh_sudo_read", { host: "pw", path: `${bed.root}/private/big.txt` });
      assert.equal(r.code, "SudoFileOpError");
      assert.match(r.message, /SSH_UPLOAD_MAX_FILE_BYTES/);
    }, {
      SSH_UPLOAD_MAX_FILE_BYTES: "10",
      SSH_LOCAL_TRANSFER_MAX_BYTES: "10",
      SSH_LOCAL_TRANSFER_ROOTS: local,
    });
  } finally {
    await Deno.remove(local, { recursive: true });
  }
});

Deno.test("AC-616/SUDO-9: failing stages are named and leave no temp file; the original stays", async () => {
  await withServer(async (bed, s) => {
    const f = `${bed.root}/private/stage.conf`;
    await rootFile(f, "original\n");
    const chown = await s.err("ssh_sudo_write", {
      host: "pw",
      path: f,
      content_text: "x",
      chown_user: "nosuchuser42",
    });
    assert.equal(chown.code, "SudoFileOpError");
    assert.match(chown.message, /stage chown/);
    assert.equal(await Deno.readTextFile(f), "original\n");
    assert.deepEqual(await tempLeftovers(`${bed.root}/private`), []);
    const mktemp = await s.err("ssh_sudo_write", {
      host: "pw",
      path: `${bed.root}/no-such-dir/f.txt`,
      content_text: "x",
    });
    assert.equal(mktemp.code, "SudoFileOpError");
    assert.match(mktemp.message, /stage mktemp/);
    const dir = await s.err("ssh_sudo_write", {
      host: "pw",
      path: `${bed.root}/private`,
      content_text: "x",
    });
    assert.equal(dir.code, "SudoFileOpError");
    assert.match(dir.message, /not a regular file/);
  });
});

Deno.test("AC-010: ssh_sudo_edit of a Latin-1 file -> SudoFileOpError naming the byte offset; edit rules; file untouched", async () => {
  await withServer(async (bed, s) => {
    const f = `${bed.root}/private/latin1.txt`;
    const latin1 = new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]);
    await rootFile(f, latin1);
    const e = await s.err("ssh_sudo_edit", {
      host: "pw",
      path: f,
      old_string: "caf",
      new_string: "tea",
    });
    assert.equal(e.code, "SudoFileOpError");
    assert.match(e.message, /byte offset 3/);
    assert.deepEqual(await Deno.readFile(f), latin1);
    const g = `${bed.root}/private/multi.txt`;
    await rootFile(g, "a a a\n");
    const many = await s.err("ssh_sudo_edit", {
      host: "pw",
      path: g,
      old_string: "a",
      new_string: "b",
    });
    assert.match(many.message, /occurs 3 times/);
    const none = await s.err("ssh_sudo_edit", {
      host: "pw",
      path: g,
      old_string: "z",
      new_string: "b",
    });
    assert.match(none.message, /not found/);
    const same = await s.err("ssh_sudo_edit", {
      host: "pw",
      path: g,
      old_string: "a",
      new_string: "a",
    });
    assert.equal(same.code, "ValueError");
    const all = await s.ok<Write>("ssh_sudo_edit", {
      host: "pw",
      path: g,
      old_string: "a",
      new_string: "b",
      occurrence: "all",
    });
    assert.equal(all.message, "sudo-edited (replaced 3 occurrence(s))");
    assert.equal(await Deno.readTextFile(g), "b b b\n");
  });
});

Deno.test("AC-620/AC-621: sudo_sftp_list paging, validation, device rows skipped, symlinks", async () => {
  await withServer(async (bed, s) => {
    const d = `${bed.root}/private/listing`;
    await Deno.mkdir(d);
    for (const n of ["b.txt", "a.txt", "c d.txt"]) await rootFile(`${d}/${n}`, n);
    await Deno.symlink("a.txt", `${d}/link`);
    await new Deno.Command("mknod", { args: [`${d}/null`, "c", "1", "3"] }).output();
    for (const bad of [{ limit: 0 }, { limit: 1001 }, { offset: -1 }]) {
      const e = await s.err("ssh_sudo_sftp_list", { host: "pw", path: d, ...bad });
      assert.equal(e.code, "ValueError", JSON.stringify(bad));
    }
    type L = {
      entries: { name: string; kind: string; symlink_target: string | null; mode: string }[];
      has_more: boolean;
      path: string;
    };
    const all = await s.ok<L>("ssh_sudo_sftp_list", { host: "pw", path: d });
    assert.deepEqual(all.entries.map((e) => e.name), ["a.txt", "b.txt", "c d.txt", "link"]);
    assert.equal(all.entries[3]!.kind, "symlink");
    assert.equal(all.entries[3]!.symlink_target, "a.txt");
    assert.equal(all.entries[0]!.mode, "0600");
    const page = await s.ok<L>("ssh_sudo_sftp_list", { host: "pw", path: d, offset: 1, limit: 2 });
    assert.deepEqual(page.entries.map((e) => e.name), ["b.txt", "c d.txt"]);
    assert.equal(page.has_more, true);
  });
});

Deno.test("AC-622/SUDO-11: ssh_sudo_read scans content for ANSI and LLM markers (bytes unchanged)", async () => {
  await withServer(async (bed, s) => {
    const text = "\x1b[31mred\x1b[0m <|im_start|>system\n";
    await rootFile(`${bed.root}/private/inject.txt`, text);
    const r = await s.ok<{ content_base64: string; output_warnings: string[] }>("ssh_sudo_read", {
      host: "pw",
      path: `${bed.root}/private/inject.txt`,
    });
    assert.equal(Buffer.from(r.content_base64, "base64").toString(), text);
    assert.ok(r.output_warnings.includes("ANSI escape sequences present (not stripped)"));
    assert.ok(r.output_warnings.includes("LLM protocol markers present (not stripped)"));
  });
});

Deno.test("RED-3: redact bypass `warn` lets ssh_sudo_read through with the warning and the audit flag", async () => {
  const bed = await startSudoBed();
  const audit = `${bed.dir}/audit-warn.log`;
  const s = await startBedServer(bed, { SSH_REDACT_BYPASS_POLICY: "warn", SSH_AUDIT_LOG: audit });
  try {
    await rootFile(`${bed.root}/w.env`, "A=1\n");
    const r = await s.ok<{ output_warnings: string[] }>("ssh_sudo_read", {
      host: "pw",
      path: `${bed.root}/w.env`,
    });
    assert.ok(r.output_warnings.some((w) => w.startsWith("redact-list path")));
    const line = (await Deno.readTextFile(audit)).split("\n").find((l) =>
      l.includes('"tool":"ssh_sudo_read"')
    );
    assert.match(line ?? "", /"redact_bypass":true/);
  } finally {
    await s.close();
    await bed.stop();
  }
});
