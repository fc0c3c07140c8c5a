/**
 * Pipeline stages "prepare" and "paths" on a fake host: payload and local_path
 * validation run before the path stage (no realpath, no connection); a path
 * outside the allowlist is refused after canonicalization, with only the
 * `realpath` command on the host and never the tool's own action; admitted
 * paths work over OpenSSH's real sftp-server.
 */

import assert from "node:assert/strict";
import { type PipeCtx, PROBE_MARKER_PREFIX, q, withFakeHosts } from "./_fixture.ts";

function withPathHost(fn: (c: PipeCtx, local: string) => Promise<void>): Promise<void> {
  let local = "";
  return withFakeHosts(
    [{ alias: "h1", toml: (f) => `path_allowlist = [${q(f.home)}]` }],
    async (c) => {
      try {
        await fn(c, local);
      } finally {
        await Deno.remove(local, { recursive: true }).catch(() => {});
      }
    },
    {
      tier: "low-access",
      env: () => {
        local = Deno.makeTempDirSync({ prefix: "sshmcp-pipe-local-" });
        return { SSH_LOCAL_TRANSFER_ROOTS: local };
      },
    },
  );
}

Deno.test("pipeline prepare: bad payloads and local_path outside SSH_LOCAL_TRANSFER_ROOTS fail before the path stage (nothing on the host)", async () => {
  await withPathHost(async (c, local) => {
    const { s } = c;
    const f = c.fakes.h1!;
    const target = `${f.home}/new.txt`;

    const two = await s.err("ssh_upload", {
      host: "h1",
      path: target,
      content_text: "a",
      content_base64: "YQ==",
    });
    assert.equal(two.code, "WriteError");
    assert.match(
      two.message,
      /exactly one of content_text, content_base64 or local_path \(got 2\)/,
    );

    const none = await s.err("ssh_upload", { host: "h1", path: target });
    assert.equal(none.code, "WriteError");

    const b64 = await s.err("ssh_upload", { host: "h1", path: target, content_base64: "a b" });
    assert.equal(b64.code, "ValueError");
    assert.match(b64.message, /content_base64 is not valid base64/);

    const outside = `${f.home}/outside-local.txt`; // exists, but not under the local roots
    await Deno.writeTextFile(outside, "secret");
    const lp = await s.err("ssh_upload", { host: "h1", path: target, local_path: outside });
    assert.equal(lp.code, "LocalPathPolicyError");

    const lines = await c.fresh();
    assert.deepEqual(lines.map((l) => [l.type, l.error]), [
      ["audit", "WriteError"],
      ["audit", "WriteError"],
      ["audit", "ValueError"],
      ["audit", "LocalPathPolicyError"],
    ]);
    for (const l of lines) {
      assert.equal(l.path_hash, undefined, "the path stage ran");
      assert.equal(l.alias, "h1");
    }
    assert.equal(f.connections, 0, "prepare must fail before the path stage connects");
    assert.equal(f.records.length, 0, "no realpath may run for a call refused in prepare");

    // a valid local file passes prepare; the path stage then runs on the host
    await Deno.writeTextFile(`${local}/payload.txt`, "from local\n");
    const up = await s.ok("ssh_upload", {
      host: "h1",
      path: target,
      local_path: `${local}/payload.txt`,
    });
    assert.equal(up.success, true);
    assert.equal(await Deno.readTextFile(target), "from local\n");
    assert.equal(f.commands()[0], `realpath -m -- ${target}`);
  });
});

Deno.test("pipeline paths: outside the allowlist -> PathNotAllowed after realpath only; inside works over the real sftp-server", async () => {
  await withPathHost(async (c) => {
    const { s } = c;
    const f = c.fakes.h1!;

    const e = await s.err("ssh_sftp_stat", { host: "h1", path: "/etc/hostname" });
    assert.equal(e.code, "PathNotAllowed");
    assert.match(e.message, /\/etc\/hostname/);
    let lines = await c.fresh();
    assert.deepEqual(
      lines.map((l) => [l.type, l.decision ?? l.error]),
      [["policy_decision", "deny"], ["audit", "PathNotAllowed"]],
    );
    assert.equal(lines[0]!.reason, "PathNotAllowed");
    assert.match(String(lines[0]!.path_hash), /^sha256:/);
    assert.ok(!JSON.stringify(lines).includes("/etc/hostname"), "path text in the audit log");
    // on the host: the canonicalization (carrying the login-shell probe), nothing else
    assert.deepEqual(f.records.map((r) => r.kind), ["exec"]);
    assert.match(f.records[0]!.command, PROBE_MARKER_PREFIX);
    assert.deepEqual(f.commands(), ["realpath -e -- /etc/hostname"]);

    // a relative path that climbs out is resolved by the host first, then refused
    const up = await s.err("ssh_sftp_stat", { host: "h1", path: "../../etc/passwd" });
    assert.equal(up.code, "PathNotAllowed");
    assert.deepEqual(f.commands().slice(1), ["realpath -e -- ../../etc/passwd"]);
    assert.ok(!f.records.some((r) => r.kind === "subsystem"), "the tool's own action ran");

    // a write tool refused by the path policy: realpath only, no sftp, nothing written
    const w = await s.err("ssh_upload", { host: "h1", path: "/tmp/x-outside", content_text: "x" });
    assert.equal(w.code, "PathNotAllowed");
    assert.deepEqual(f.commands().slice(2), ["realpath -m -- /tmp/x-outside"]);
    assert.ok(!f.records.some((r) => r.kind === "subsystem"));
    await c.fresh();

    // admitted: canonicalized by the host, then stat over sftp-server
    await Deno.writeTextFile(`${f.home}/data.txt`, "12345");
    const st = await s.ok("ssh_sftp_stat", { host: "h1", path: "data.txt" });
    assert.deepEqual([st.path, st.kind, st.size], [`${f.home}/data.txt`, "file", 5]);
    assert.equal(st.owner, String(Deno.uid()));
    // the path stage canonicalized first; the handler's own I/O (a pinned lstat where the
    // host allows it) comes after
    assert.equal(f.commands()[3], "realpath -e -- data.txt");
    assert.ok(f.records.filter((r) => r.kind === "subsystem").length <= 1);
    lines = await c.fresh();
    assert.deepEqual(lines.map((l) => [l.type, l.result]), [["audit", "ok"]]);
    assert.match(String(lines[0]!.path_hash), /^sha256:/);
    assert.equal(lines[0]!.target_ip, "127.0.0.1");
  });
});
