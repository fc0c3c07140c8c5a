/**
 * Interrupted transfers (PATH-28, AC-039, AC-249, AC-256, AC-311): a TCP proxy
 * in front of a real sshd cuts the first connection after N bytes; the
 * original file must be intact and no temp file may remain (checked on the
 * host's disk and over a fresh connection). Cancellation from the MCP client
 * removes the temp file too. A 1 GiB `local_path` upload and download keep the
 * server's memory bounded (RSS sampled during the transfer).
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type Fleet, startFleet } from "../_support/fleet.ts";
import { type InProcess, startInProcess, startStdio, type StdioServer } from "../_support/mcp.ts";
import type { SshdInstance } from "../_support/sshd.ts";
import { eventually, put, temps, userDir } from "./_files_fixture.ts";

type R = Record<string, unknown>;

/** A loopback TCP proxy that cuts its first connection after `cutAfter` bytes in one direction. */
class CuttingProxy {
  #listener: Deno.Listener;
  #conns: Deno.Conn[] = [];
  target: { address: string; port: number } | null = null;
  /** bytes after which connection #1 is cut (null: never) */
  cutAfter: number | null = null;
  direction: "up" | "down" = "up";
  accepted = 0;
  cut = false;

  constructor() {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accept();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #accept() {
    for await (const c of this.#listener) {
      const index = this.accepted++;
      this.#conns.push(c);
      this.#serve(c, index).catch(() => {});
    }
  }

  async #serve(client: Deno.Conn, index: number) {
    const t = this.target!;
    const server = await Deno.connect({ hostname: t.address, port: t.port });
    this.#conns.push(server);
    let counted = 0;
    const kill = () => {
      this.cut = true;
      try {
        client.close();
      } catch { /* closed */ }
      try {
        server.close();
      } catch { /* closed */ }
    };
    const pump = async (from: Deno.Conn, to: Deno.Conn, dir: "up" | "down") => {
      const buf = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await from.read(buf);
          if (n === null) break;
          let o = 0;
          while (o < n) o += await to.write(buf.subarray(o, n));
          if (index === 0 && this.cutAfter !== null && dir === this.direction) {
            counted += n;
            if (counted >= this.cutAfter) {
              kill();
              return;
            }
          }
        }
      } catch {
        // peer gone
      }
      kill();
    };
    await Promise.all([pump(client, server, "up"), pump(server, client, "down")]);
  }

  close() {
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }
}

interface Setup {
  fleet: Fleet;
  s: InProcess;
  root: string;
  local: string;
  proxy: CuttingProxy;
  sshd: SshdInstance;
}

/**
 * Host `h1` direct, `h2` a second sshd, host `px` = h1's sshd through the
 * cutting proxy; all share the allowlisted `root`.
 */
async function withProxy(fn: (c: Setup) => Promise<void>, env: Record<string, string> = {}) {
  const root = await userDir("sshmcp-cut-");
  const local = await Deno.makeTempDir({ prefix: "sshmcp-cut-local-" });
  const fleet = await startFleet(2, { perHost: () => `path_allowlist = ["${root}"]` });
  const sshd = fleet.hosts[0]!.sshd;
  const proxy = new CuttingProxy();
  proxy.target = { address: sshd.address, port: sshd.port };
  await fleet.writeHostsToml(
    [
      "[hosts.px]",
      'hostname = "127.0.0.1"',
      `port = ${proxy.port}`,
      `user = "${sshd.user.name}"`,
      `path_allowlist = ["${root}"]`,
      "[hosts.px.auth]",
      'method = "key"',
      `key = "${fleet.key.privatePath}"`,
    ].join("\n"),
    () => `path_allowlist = ["${root}"]`,
  );
  await Deno.writeTextFile(
    fleet.knownHostsPath,
    sshd.hostKeys.map((k) => `[127.0.0.1]:${proxy.port} ${k.publicKey}\n`).join(""),
    { append: true },
  );
  const s = await startInProcess(
    fleet.env({
      ALLOW_LOW_ACCESS_TOOLS: "true",
      SSH_LOCAL_TRANSFER_ROOTS: local,
      ...env,
    }),
  );
  try {
    await fn({ fleet, s, root, local, proxy, sshd });
  } finally {
    await s.close();
    proxy.close();
    await fleet.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.remove(local, { recursive: true }).catch(() => {});
  }
}

/** No temp file on the host: on its disk and over a fresh, direct connection. */
async function assertNoTemps(s: InProcess, root: string) {
  assert.deepEqual(await temps(root), []);
  const l = await s.ok<{ entries: { name: string }[] }>("ssh_sftp_list", {
    host: "h1",
    path: root,
    limit: 1000,
  });
  assert.deepEqual(l.entries.filter((e) => e.name.includes(".ssh-mcp-tmp.")), []);
}

const big = (n: number) => new Uint8Array(n).map((_, i) => (i * 131 + 7) % 256);

/** One field (in KiB) of /proc/<pid>/status, e.g. VmRSS or VmHWM. */
async function procKiB(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  if (!m) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return Number(m[1]);
}

/** Free bytes on the file system holding `dir` (df -Pk). */
async function freeBytes(dir: string): Promise<number> {
  const out = await new Deno.Command("df", { args: ["-Pk", dir], stdout: "piped" }).output();
  const cols = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!.split(/\s+/);
  return Number(cols[3]) * 1024;
}

// The server runs as its own process (exactly `deno task start`): its RSS is
// read from /proc, so test modules running in parallel in this process (and
// this process's own garbage) cannot blur the reading.
Deno.test("1 GiB local_path upload and download keep the server's memory bounded (child's peak RSS < 300 MiB over baseline)", async () => {
  const GiB = 1024 * 1024 * 1024;
  const root = await userDir("sshmcp-big-");
  const local = await Deno.makeTempDir({ prefix: "sshmcp-big-local-" });
  // the host's copy and the downloaded copy are real (not sparse) files
  const free = Math.min(await freeBytes(root), await freeBytes(local));
  assert.ok(
    free > 2.5 * GiB,
    `this test writes 2 GiB: ${root} / ${local} have only ${(free / GiB).toFixed(1)} GiB free`,
  );
  const fleet = await startFleet(1, { perHost: () => `path_allowlist = ["${root}"]` });
  let s: StdioServer | null = null;
  try {
    s = await startStdio(
      fleet.env({ ALLOW_LOW_ACCESS_TOOLS: "true", SSH_LOCAL_TRANSFER_ROOTS: local }),
    );
    const f = await Deno.open(`${local}/1g.bin`, { create: true, write: true });
    await f.truncate(GiB); // sparse: reads as zeros
    f.close();
    // warm up: connection, SFTP channel, the upload and download code paths
    await Deno.writeFile(`${local}/small.bin`, big(4 * 1024 * 1024));
    await s.ok("ssh_upload", {
      host: "h1",
      path: `${root}/small.bin`,
      local_path: `${local}/small.bin`,
    });
    await s.ok("ssh_sftp_download", {
      host: "h1",
      path: `${root}/small.bin`,
      local_path: `${local}/small-back.bin`,
    });
    // reset the child's peak RSS (VmHWM) to its current RSS, then take the baseline
    await Deno.writeTextFile(`/proc/${s.pid}/clear_refs`, "5");
    const baseline = await procKiB(s.pid, "VmRSS");

    const progress: string[] = [];
    const up = await s.client.callTool(
      {
        name: "ssh_upload",
        arguments: { host: "h1", path: `${root}/1g.bin`, local_path: `${local}/1g.bin` },
      },
      undefined,
      { timeout: 600_000, onprogress: (p) => progress.push(String(p.message ?? "")) },
    );
    // long transfers report progress every 64 MiB when the client asks for it
    assert.ok(
      progress.some((m) => /^uploaded \d+ of 1024 MiB$/.test(m)),
      JSON.stringify(progress),
    );
    assert.ok(!up.isError, JSON.stringify(up.content));
    assert.equal((up.structuredContent as R).bytes_written, GiB);
    assert.equal((await Deno.stat(`${root}/1g.bin`)).size, GiB);
    await Deno.remove(`${local}/1g.bin`);
    const down = await s.client.callTool(
      {
        name: "ssh_sftp_download",
        arguments: { host: "h1", path: `${root}/1g.bin`, local_path: `${local}/back.bin` },
      },
      undefined,
      { timeout: 600_000 },
    );
    assert.ok(!down.isError, JSON.stringify(down.content));
    assert.equal((down.structuredContent as R).size, GiB);
    assert.equal((await Deno.stat(`${local}/back.bin`)).size, GiB);

    const peak = await procKiB(s.pid, "VmHWM");
    const grew = (peak - baseline) / 1024;
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `1 GiB up+down: server RSS baseline ${(baseline / 1024).toFixed(0)} MiB, peak +${
          grew.toFixed(0)
        } MiB\n`,
      ),
    );
    assert.ok(grew < 300, `the server's RSS grew by ${grew.toFixed(0)} MiB moving 2 GiB`);
  } finally {
    await s?.close();
    await fleet.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.remove(local, { recursive: true }).catch(() => {});
  }
});

Deno.test("PATH-28/AC-039: upload cut mid-transfer -> original intact, temp removed", async () => {
  await withProxy(async ({ s, root, proxy }) => {
    await put(`${root}/target`, "ORIGINAL");
    proxy.cutAfter = 3 * 1024 * 1024;
    const payload = big(16 * 1024 * 1024);
    const e = await s.err("ssh_upload", {
      host: "px",
      path: `${root}/target`,
      content_base64: Buffer.from(payload).toString("base64"),
    });
    assert.ok(proxy.cut, `the proxy never cut the connection: ${e.code} ${e.message}`);
    assert.ok(["ConnectError", "WriteError"].includes(e.code), `${e.code}: ${e.message}`);
    assert.equal(await Deno.readTextFile(`${root}/target`), "ORIGINAL");
    await assertNoTemps(s, root);
    // the host is usable again right away
    await s.ok("ssh_upload", { host: "px", path: `${root}/target`, content_text: "NEXT" });
    assert.equal(await Deno.readTextFile(`${root}/target`), "NEXT");
  });
});

Deno.test("AC-249/PATH-28: deploy cut mid-transfer -> live file intact, no temp, no backup", async () => {
  await withProxy(async ({ s, root, proxy, local }) => {
    await put(`${root}/app.bin`, "LIVE");
    await Deno.writeFile(`${local}/new.bin`, big(24 * 1024 * 1024));
    proxy.cutAfter = 4 * 1024 * 1024;
    const e = await s.err("ssh_deploy", {
      host: "px",
      path: `${root}/app.bin`,
      local_path: `${local}/new.bin`,
    });
    assert.ok(proxy.cut);
    assert.ok(["ConnectError", "WriteError"].includes(e.code), `${e.code}: ${e.message}`);
    assert.equal(await Deno.readTextFile(`${root}/app.bin`), "LIVE");
    assert.deepEqual([...Deno.readDirSync(root)].map((d) => d.name), ["app.bin"]);
    await assertNoTemps(s, root);
  });
});

Deno.test("AC-256: ssh_transfer failing mid-stream -> destination untouched, its temp removed", async () => {
  await withProxy(async ({ s, root, proxy }) => {
    await put(`${root}/src.bin`, big(20 * 1024 * 1024));
    await put(`${root}/dst.bin`, "DST");
    proxy.cutAfter = 2 * 1024 * 1024;
    const e = await s.err("ssh_transfer", {
      src_host: "h2",
      src_path: `${root}/src.bin`,
      dst_host: "px",
      dst_path: `${root}/dst.bin`,
      overwrite: true,
    });
    assert.ok(proxy.cut);
    assert.ok(["ConnectError", "WriteError"].includes(e.code), `${e.code}: ${e.message}`);
    assert.equal(await Deno.readTextFile(`${root}/dst.bin`), "DST");
    await assertNoTemps(s, root);
  });
});

Deno.test("AC-311: download failing mid-stream -> no partial local file, local temp removed", async () => {
  await withProxy(async ({ s, root, proxy, local }) => {
    await put(`${root}/big.bin`, big(20 * 1024 * 1024));
    await Deno.writeTextFile(`${local}/keep`, "previous");
    proxy.direction = "down";
    proxy.cutAfter = 4 * 1024 * 1024;
    const e = await s.err("ssh_sftp_download", {
      host: "px",
      path: `${root}/big.bin`,
      local_path: `${local}/keep`,
    });
    assert.ok(proxy.cut);
    assert.ok(["ConnectError", "SftpDownloadError"].includes(e.code), `${e.code}: ${e.message}`);
    assert.deepEqual([...Deno.readDirSync(local)].map((d) => d.name), ["keep"]);
    assert.equal(await Deno.readTextFile(`${local}/keep`), "previous");
  });
});

Deno.test("AC-039: cancelling an upload from the MCP client removes the temp file; the original survives", async () => {
  await withProxy(async ({ s, root, local }) => {
    await put(`${root}/target`, "ORIGINAL");
    const f = await Deno.open(`${local}/huge`, { create: true, write: true });
    await f.truncate(512 * 1024 * 1024);
    f.close();
    const ac = new AbortController();
    const call = s.client.callTool(
      {
        name: "ssh_upload",
        arguments: { host: "h1", path: `${root}/target`, local_path: `${local}/huge` },
      },
      undefined,
      { signal: ac.signal, timeout: 600_000 },
    );
    call.catch(() => {});
    assert.ok(
      await eventually(async () => (await temps(root)).length > 0),
      "the upload never started",
    );
    ac.abort();
    await assert.rejects(call);
    assert.ok(
      await eventually(async () => (await temps(root)).length === 0),
      "temp file left behind",
    );
    assert.equal(await Deno.readTextFile(`${root}/target`), "ORIGINAL");
  });
});
