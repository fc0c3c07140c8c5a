/**
 * Issue 9 §3 and §6 for the audit log (AUDIT-12, AUDIT-14..AUDIT-16): it is
 * written append-only and reopened when the file is renamed away, deleted or
 * replaced (no line lost, none written to a file nobody reads); a sink that
 * cannot be opened stops the start (unless SSH_AUDIT_LOG=off explicitly);
 * while writes fail, tools above the read tier refuse with AuditUnavailable
 * and read tools go on with one WARNING, until the sink works again.
 */

import assert from "node:assert/strict";
import { startFleet } from "../_support/fleet.ts";
import { auditLines, baseEnv, START_PERMS, startInProcess } from "../_support/mcp.ts";
import { Logger } from "../../src/log.ts";
import { userDir } from "./_files_fixture.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

async function lines(p: string): Promise<Record<string, unknown>[]> {
  return auditLines(await Deno.readTextFile(p));
}

/** The flags of this process's open file descriptors that point at `path`. */
async function openFlags(path: string): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc/self/fd")) {
    let target: string;
    try {
      target = await Deno.readLink(`/proc/self/fd/${e.name}`);
    } catch {
      continue;
    }
    if (target !== path) continue;
    const info = await Deno.readTextFile(`/proc/self/fdinfo/${e.name}`).catch(() => "");
    const m = /^flags:\s+([0-7]+)$/m.exec(info);
    if (m) out.push(parseInt(m[1]!, 8));
  }
  return out;
}

const O_APPEND = 0o2000;
const O_TRUNC = 0o1000;

Deno.test("AUDIT-15/AUDIT-16: append-only; renamed away, deleted or replaced under the running server, the next lines land in the new file and none is lost", async () => {
  const fleet = await startFleet(1);
  const log = `${fleet.dir}/audit.log`;
  const s = await startInProcess(fleet.env({ SSH_AUDIT_LOG: log }));
  try {
    const call = async () => {
      await s.ok("ssh_host_list", {});
      const all = [
        ...(await lines(log).catch(() => [])),
      ];
      return String(all.at(-1)?.correlation_id);
    };
    const a = await call();
    const flags = await openFlags(log);
    assert.equal(flags.length, 1, "the audit file is open once");
    assert.ok((flags[0]! & O_APPEND) !== 0, "opened with O_APPEND");
    assert.equal(flags[0]! & O_TRUNC, 0);
    assert.equal((await Deno.stat(log)).mode! & 0o777, 0o600);

    // logrotate style: rename away, the writer follows the path
    await Deno.rename(log, `${log}.1`);
    const b = await call();
    assert.deepEqual((await lines(`${log}.1`)).map((l) => l.correlation_id), [a]);
    assert.deepEqual((await lines(log)).map((l) => l.correlation_id), [b]);

    // deleted: recreated (0600) at the next line
    await Deno.remove(log);
    const c = await call();
    assert.deepEqual((await lines(log)).map((l) => l.correlation_id), [c]);
    assert.equal((await Deno.stat(log)).mode! & 0o777, 0o600);

    // replaced by another file: appended to, never truncated
    await Deno.writeTextFile(`${log}.new`, "kept line of the new file\n");
    await Deno.rename(`${log}.new`, log);
    const d = await call();
    const text = await Deno.readTextFile(log);
    assert.ok(text.startsWith("kept line of the new file\n"), text);
    assert.deepEqual(auditLines(text).map((l) => l.correlation_id), [d]);
    assert.equal(new Set([a, b, c, d]).size, 4);
  } finally {
    await s.close();
    await fleet.stop();
  }
});

Deno.test("AUDIT-12: an audit sink that cannot be opened stops the start (exit 3, how to fix); SSH_AUDIT_LOG=off starts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-auditstart-" });
  try {
    for (const target of [`${dir}/missing-dir/audit.log`, dir]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
        env: baseEnv({ SSH_AUDIT_LOG: target }),
        clearEnv: true,
        cwd: ROOT,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 3, err);
      assert.match(err, /SSH_AUDIT_LOG=.*cannot be opened for appending/);
      assert.match(err, /Fix: .*SSH_AUDIT_LOG=off/);
    }
    // off, explicitly: the server starts and serves (stdin EOF ends it with 0)
    const off = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
      env: baseEnv({ SSH_AUDIT_LOG: "off", LOG_LEVEL: "INFO" }),
      clearEnv: true,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(off.code, 0, new TextDecoder().decode(off.stderr));
    assert.match(new TextDecoder().decode(off.stderr), /serving MCP on stdio/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUDIT-14: while audit writes fail, low-access tools refuse with AuditUnavailable (nothing done), read tools go on with one WARNING; it recovers", async () => {
  const remote = await userDir("sshmcp-auditfail-");
  const fleet = await startFleet(1, { perHost: () => `path_allowlist = ["${remote}"]` });
  const logDir = `${fleet.dir}/logs`;
  await Deno.mkdir(logDir);
  const logs: string[] = [];
  const s = await startInProcess(
    fleet.env({ SSH_AUDIT_LOG: `${logDir}/audit.log`, ALLOW_LOW_ACCESS_TOOLS: "true" }),
    { logger: new Logger({ level: "INFO", sink: (l) => logs.push(l) }) },
  );
  try {
    await s.ok("ssh_mkdir", { host: "h1", path: `${remote}/before` });
    await Deno.remove(logDir, { recursive: true });
    // this read call's own line cannot be written: the sink is now failing
    await s.ok("ssh_sftp_list", { host: "h1", path: remote });
    assert.equal(s.app.audit.healthy, false);
    const e = await s.err("ssh_mkdir", { host: "h1", path: `${remote}/during` });
    assert.equal(e.code, "AuditUnavailable");
    await assert.rejects(Deno.lstat(`${remote}/during`), Deno.errors.NotFound);
    await s.ok("ssh_sftp_list", { host: "h1", path: remote });
    await s.ok("ssh_host_list", {});
    const warned = logs.filter((l) => l.includes("read tools go on"));
    assert.equal(warned.length, 1, logs.join("\n"));
    assert.equal(logs.filter((l) => l.includes("audit log write failed")).length, 1);
    const info = await s.ok<{ audit_dropped: number }>("ssh_server_info", {});
    assert.ok(info.audit_dropped >= 4, String(info.audit_dropped));
    // the operator fixes it: the next line reopens the sink, writes work again
    await Deno.mkdir(logDir);
    await s.ok("ssh_host_list", {});
    assert.equal(s.app.audit.healthy, true);
    assert.ok(logs.some((l) => l.includes("audit log writable again")));
    await s.ok("ssh_mkdir", { host: "h1", path: `${remote}/after` });
    const tools = (await lines(`${logDir}/audit.log`)).map((l) => l.tool);
    assert.deepEqual(tools, ["ssh_host_list", "ssh_mkdir"]);
  } finally {
    await s.close();
    await fleet.stop();
    await Deno.remove(remote, { recursive: true }).catch(() => {});
  }
});
