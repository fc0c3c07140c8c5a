/**
 * `deno task bench services`: the systemctl group against OpenSSH, measured in
 * one run on the same sshd host, the same login user and the same systemctl
 * (the services test bed's implementation, `.ci/testbed_services.sh`).
 *
 * Per-call latency of `ssh_systemctl_is_active` on a warm pooled connection
 * (median and p90 of 50 calls through a real MCP client over stdio, the
 * server run as `deno task start` does) vs `ssh -S <ControlMaster socket>
 * systemctl is-active -- <unit>` in the same run. Both sides pay the same
 * remote work (the bed's systemctl is a Python program: its start-up
 * dominates both numbers); the difference is the server's own overhead.
 *
 * @module
 */

import { createUnit, localSystemctl, startServicesHosts } from "../../tests/_support/services.ts";
import { opensshArgs, pct, type Row, startServer } from "../_lib.ts";

/** Section name for `deno task bench services`. */
export const name = "services";

const CALLS = 50;

async function sh(cmd: string, args: string[]) {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (o.code !== 0 && !(cmd === "ssh" && o.code === 3)) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
  return new TextDecoder().decode(o.stdout);
}

/** Runs the section. */
export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const hosts = await startServicesHosts();
  const unit = await createUnit("ticker", { prefix: "bench", interval: 30 });
  try {
    await localSystemctl("start", "--", unit.name);
    const s = await startServer({
      SSH_MCP_DISABLE_DOTENV: "1",
      SSH_HOSTS_FILE: hosts.hostsTomlPath,
      SSH_KNOWN_HOSTS: hosts.knownHostsPath,
      SSH_AUDIT_LOG: "off",
      SSH_HOST_NOTES_DIR: "",
    });
    const call = () =>
      s.client.callTool({
        name: "ssh_systemctl_is_active",
        arguments: { host: "svc", unit: unit.name },
      });
    for (let i = 0; i < 5; i++) await call(); // warm the pool
    const lat: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      const r = await call();
      if (r.isError) throw new Error(JSON.stringify(r.content));
      if ((r.structuredContent as { state?: string }).state !== "active") {
        throw new Error(`unexpected answer ${JSON.stringify(r.structuredContent)}`);
      }
      lat.push(performance.now() - t0);
    }
    await s.client.close();
    const h = hosts.sshd.stable;
    const base = opensshArgs({
      knownHostsPath: hosts.knownHostsPath,
      identity: `${hosts.dir}/client`,
      port: h.port,
      controlPath: `${hosts.dir}/cm.sock`,
    });
    const target = `${hosts.facts.SVC_USER}@${h.address}`;
    await sh("ssh", [...base, "-o", "ControlMaster=yes", "-o", "ControlPersist=60", "-fN", target]);
    const cmd = `systemctl is-active -- ${unit.name}`;
    for (let i = 0; i < 5; i++) await sh("ssh", [...base, target, cmd]);
    const peer: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      const o = await sh("ssh", [...base, target, cmd]);
      if (o.trim() !== "active") throw new Error(`ssh -S answered ${o}`);
      peer.push(performance.now() - t0);
    }
    await sh("ssh", [...base, "-O", "exit", target]).catch(() => "");
    rows.push({
      section: name,
      metric: `warm ssh_systemctl_is_active, median of ${CALLS} (MCP stdio)`,
      value: pct(lat, 50),
      unit: "ms",
      peer: "ssh -S ControlMaster, systemctl is-active",
      peerValue: pct(peer, 50),
      ratio: pct(lat, 50) / pct(peer, 50),
      samples: lat,
    });
    rows.push({
      section: name,
      metric: `warm ssh_systemctl_is_active, p90 of ${CALLS}`,
      value: pct(lat, 90),
      unit: "ms",
      peer: "ssh -S p90",
      peerValue: pct(peer, 90),
      ratio: pct(lat, 90) / pct(peer, 90),
    });
  } finally {
    await unit.remove();
    await hosts.stop();
  }
  return rows;
}
