/**
 * Bench section `files`: SFTP throughput.
 *
 * 1. Cipher sweep: the project's own SFTP pipelining (`readRange` / `writeFrom`
 *    of `src/ssh/transfer.ts` over a pooled connection) for every cipher ssh2
 *    offers under Deno, 256 MiB each way, selected per run with an ssh_config `Ciphers`
 *    line (the same mechanism an operator would use).
 * 2. End to end: a 512 MiB `local_path` download and upload through the real
 *    server (`deno task start`, MCP over stdio), with the server's default
 *    cipher order and with the fastest measured cipher first, against OpenSSH
 *    `sftp -b` on the same host and file (its default cipher, and its fastest).
 *
 * @module
 */

import { startFleet } from "../../tests/_support/fleet.ts";
import { startInProcess } from "../../tests/_support/mcp.ts";
import { mustRun, testUser } from "../../tests/_support/sshd.ts";
import { SftpChannel } from "../../src/ssh/sftp_channel.ts";
import { readRange, writeFrom } from "../../src/ssh/transfer.ts";
import { opensshArgs, out, type Row, startServer } from "../_lib.ts";

/** Section name for `deno task bench files`. */
export const name = "files";

const MiB = 1024 * 1024;
const E2E_BYTES = 512 * MiB;
const SWEEP_BYTES = 256 * MiB;
const CIPHERS = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes256-ctr",
];

function secs(t0: number): number {
  return (performance.now() - t0) / 1000;
}

async function sshConfig(dir: string, ciphers: string[] | null): Promise<string> {
  const p = `${dir}/ssh_config.${ciphers ? ciphers[0] : "default"}`;
  await Deno.writeTextFile(p, ciphers ? `Host *\n  Ciphers ${ciphers.join(",")}\n` : "");
  return p;
}

/** Our pipelined SFTP read and write of `bytes` with one cipher (in process). */
async function sweepOne(
  env: Record<string, string>,
  remote: string,
  bytes: number,
): Promise<{ read: number; write: number }> {
  const s = await startInProcess(env);
  try {
    const policy = s.app.hosts().resolve("h1");
    const fs = await SftpChannel.open(await s.app.pool.acquire(policy));
    // write: a stream of 256 KiB blocks
    const block = new Uint8Array(256 * 1024).map((_, i) => i & 0xff);
    const blocks = function* () {
      for (let o = 0; o < bytes; o += block.length) yield block;
    };
    const path = `${remote}/sweep.bin`;
    let t0 = performance.now();
    await fs.unlink(path).catch(() => {});
    const h = await fs.openHandle(path, "wx", 0o600);
    await writeFrom(fs, h, path, blocks());
    await fs.closeHandle(h, path);
    const write = bytes / MiB / secs(t0);
    t0 = performance.now();
    const r = await fs.openHandle(path, "r");
    let n = 0;
    for await (const c of readRange(fs, r, path, bytes)) n += c.length;
    await fs.closeHandle(r, path);
    const read = n / MiB / secs(t0);
    return { read, write };
  } finally {
    await s.close();
  }
}

async function opensshSftp(
  args: string[],
  target: string,
  batch: string,
): Promise<number> {
  const t0 = performance.now();
  const p = new Deno.Command("sftp", {
    args: [...args, "-b", "-", target],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(batch + "\n"));
  await w.close();
  const o = await p.output();
  if (o.code !== 0) throw new Error(`sftp failed: ${new TextDecoder().decode(o.stderr)}`);
  return secs(t0);
}

/** Runs the section. */
export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const user = await testUser();
  const remote = await Deno.makeTempDir({ prefix: "sshmcp-bench-remote-" });
  await Deno.chmod(remote, 0o755);
  await Deno.chown(remote, user.uid, null);
  const local = await Deno.makeTempDir({ prefix: "sshmcp-bench-local-" });
  const fleet = await startFleet(1, { perHost: () => `path_allowlist = ["${remote}"]` });
  const h = fleet.hosts[0]!.sshd;
  const baseEnv = {
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOSTS_FILE: fleet.hostsTomlPath,
    SSH_KNOWN_HOSTS: fleet.knownHostsPath,
    SSH_AUDIT_LOG: "off",
    SSH_HOST_NOTES_DIR: "",
    LOG_LEVEL: "ERROR",
    ALLOW_LOW_ACCESS_TOOLS: "true",
    SSH_LOCAL_TRANSFER_ROOTS: local,
  };
  try {
    // ---- 1. cipher sweep (our pipelining, in process)
    const sweep: { cipher: string; read: number; write: number }[] = [];
    for (const c of CIPHERS) {
      const cfg = await sshConfig(fleet.dir, [c]);
      const r = await sweepOne(
        {
          ...baseEnv,
          PATH: Deno.env.get("PATH") ?? "",
          HOME: Deno.env.get("HOME") ?? "/root",
          SSH_CONFIG_FILE: cfg,
        },
        remote,
        SWEEP_BYTES,
      );
      sweep.push({ cipher: c, ...r });
      out(
        `  cipher ${c.padEnd(32)} read ${r.read.toFixed(0)} MiB/s  write ${
          r.write.toFixed(0)
        } MiB/s`,
      );
      rows.push({ section: name, metric: `sftp read 256 MiB, ${c}`, value: r.read, unit: "MiB/s" });
      rows.push({
        section: name,
        metric: `sftp write 256 MiB, ${c}`,
        value: r.write,
        unit: "MiB/s",
      });
    }
    await Deno.remove(`${remote}/sweep.bin`).catch(() => {});
    const best = [...sweep].sort((a, b) => (b.read + b.write) - (a.read + a.write))[0]!;
    out(`  fastest under Deno: ${best.cipher}`);

    // ---- 2. 512 MiB end to end through the real server vs OpenSSH sftp
    await mustRun("sh", ["-c", `head -c ${E2E_BYTES} /dev/urandom > ${local}/src.bin`]);
    await mustRun("sh", [
      "-c",
      `cp ${local}/src.bin ${remote}/remote.bin && chown ${user.name} ${remote}/remote.bin`,
    ]);
    const sshArgs = opensshArgs({
      knownHostsPath: fleet.knownHostsPath,
      identity: fleet.key.privatePath,
      port: h.port,
      portFlag: "-P",
    });
    const target = `${user.name}@${h.address}`;
    const peer = async (extra: string[]) => {
      const down = await opensshSftp(
        [...sshArgs, ...extra],
        target,
        `get ${remote}/remote.bin ${local}/peer.bin`,
      );
      const up = await opensshSftp(
        [...sshArgs, ...extra],
        target,
        `put ${local}/src.bin ${remote}/peer-up.bin`,
      );
      await Deno.remove(`${local}/peer.bin`).catch(() => {});
      await Deno.remove(`${remote}/peer-up.bin`).catch(() => {});
      return { down: E2E_BYTES / MiB / down, up: E2E_BYTES / MiB / up };
    };
    const peerDefault = await peer([]);
    const peerGcm = await peer(["-c", "aes128-gcm@openssh.com"]);
    const peerBest = {
      down: Math.max(peerDefault.down, peerGcm.down),
      up: Math.max(peerDefault.up, peerGcm.up),
    };

    for (
      const [label, ciphers] of [["default cipher order", null], [`${best.cipher} first`, [
        best.cipher,
        ...CIPHERS.filter((c) => c !== best.cipher),
      ]]] as const
    ) {
      const cfg = await sshConfig(fleet.dir, ciphers as string[] | null);
      const srv = await startServer({ ...baseEnv, ...(ciphers ? { SSH_CONFIG_FILE: cfg } : {}) });
      try {
        const call = async (tool: string, args: Record<string, unknown>) => {
          const t0 = performance.now();
          const r = await srv.client.callTool({ name: tool, arguments: args }, undefined, {
            timeout: 600_000,
          });
          if (r.isError) throw new Error(`${tool}: ${JSON.stringify(r.content)}`);
          return secs(t0);
        };
        await call("ssh_host_ping", { host: "h1" }); // warm the pool
        const downs: number[] = [];
        const ups: number[] = [];
        for (let i = 0; i < 2; i++) {
          downs.push(
            E2E_BYTES / MiB /
              await call("ssh_sftp_download", {
                host: "h1",
                path: `${remote}/remote.bin`,
                local_path: `${local}/down.bin`,
              }),
          );
          ups.push(
            E2E_BYTES / MiB /
              await call("ssh_upload", {
                host: "h1",
                path: `${remote}/up.bin`,
                local_path: `${local}/src.bin`,
              }),
          );
        }
        const down = Math.max(...downs);
        const up = Math.max(...ups);
        rows.push({
          section: name,
          metric: `512 MiB download via local_path, ${label}`,
          value: down,
          unit: "MiB/s",
          peer: "OpenSSH sftp get (default cipher)",
          peerValue: peerDefault.down,
          ratio: down / peerDefault.down,
          samples: downs,
        });
        rows.push({
          section: name,
          metric: `  vs OpenSSH's fastest (${
            peerBest.down === peerGcm.down ? "aes128-gcm" : "default"
          })`,
          value: down,
          unit: "MiB/s",
          peer: "OpenSSH sftp get, fastest cipher",
          peerValue: peerBest.down,
          ratio: down / peerBest.down,
        });
        rows.push({
          section: name,
          metric: `512 MiB upload via local_path, ${label}`,
          value: up,
          unit: "MiB/s",
          peer: "OpenSSH sftp put (default cipher)",
          peerValue: peerDefault.up,
          ratio: up / peerDefault.up,
          samples: ups,
        });
        rows.push({
          section: name,
          metric: `  vs OpenSSH's fastest (${
            peerBest.up === peerGcm.up ? "aes128-gcm" : "default"
          })`,
          value: up,
          unit: "MiB/s",
          peer: "OpenSSH sftp put, fastest cipher",
          peerValue: peerBest.up,
          ratio: up / peerBest.up,
        });
      } finally {
        await srv.client.close();
      }
    }
  } finally {
    await fleet.stop();
    await Deno.remove(remote, { recursive: true }).catch(() => {});
    await Deno.remove(local, { recursive: true }).catch(() => {});
  }
  return rows;
}
