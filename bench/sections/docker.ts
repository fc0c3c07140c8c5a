/**
 * `deno task bench docker`: the docker group against OpenSSH, measured in one
 * run on the same sshd host and the same container engine.
 *
 * 1. Container test-bed start-up (`.ci/testbed_containers.sh start`): the
 *    wall time of this run's call (near zero when the bed already runs; stop
 *    it first with `bash .ci/testbed_containers.sh stop` for a cold number).
 * 2. Per-call latency of `ssh_docker_ps` on a warm pooled connection (median
 *    and p90 of 50 calls through a real MCP client over stdio, the server run
 *    as `deno task start` does) vs `ssh -S <ControlMaster socket> <docker_cmd>
 *    ps --format {{json .}}` with the same CLI prefix, in the same run.
 *
 * @module
 */

import { startFleet } from "../../tests/_support/fleet.ts";
import { containerBed } from "../../tests/_support/containers.ts";
import { opensshArgs, pct, type Row, startServer } from "../_lib.ts";

/** Section name for `deno task bench docker`. */
export const name = "docker";

const CALLS = 50;

async function sh(cmd: string, args: string[]) {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (o.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
  return new TextDecoder().decode(o.stdout);
}

/** Runs the section. */
export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  const bed = await containerBed();
  rows.push({
    section: name,
    metric: "container test bed start (this run; ~0 when already up)",
    value: bed.startMs,
    unit: "ms",
  });
  const fleet = await startFleet(1, {
    perHost: () => `docker_cmd = ${JSON.stringify(bed.dockerCmd)}`,
  });
  const ctn = `sshmcp-bench-${crypto.randomUUID().slice(0, 8)}`;
  await bed.docker(["run", "-d", "--network", "none", "--name", ctn, bed.image, "sleep", "600"]);
  try {
    const s = await startServer({
      SSH_MCP_DISABLE_DOTENV: "1",
      SSH_HOSTS_FILE: fleet.hostsTomlPath,
      SSH_KNOWN_HOSTS: fleet.knownHostsPath,
      SSH_AUDIT_LOG: "off",
      SSH_HOST_NOTES_DIR: "",
    });
    const call = () => s.client.callTool({ name: "ssh_docker_ps", arguments: { host: "h1" } });
    for (let i = 0; i < 5; i++) await call(); // warm the pool and the engine
    const lat: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      const r = await call();
      if (r.isError) throw new Error(JSON.stringify(r.content));
      lat.push(performance.now() - t0);
    }
    await s.client.close();
    const h = fleet.hosts[0]!.sshd;
    const base = opensshArgs({
      knownHostsPath: fleet.knownHostsPath,
      identity: fleet.key.privatePath,
      port: h.port,
      controlPath: `${fleet.dir}/cm.sock`,
    });
    const target = `${h.user.name}@${h.address}`;
    await sh("ssh", [...base, "-o", "ControlMaster=yes", "-o", "ControlPersist=60", "-fN", target]);
    const cmd = `${bed.dockerCmd} ps --format '{{json .}}' --no-trunc`;
    for (let i = 0; i < 5; i++) await sh("ssh", [...base, target, cmd]);
    const peer: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      await sh("ssh", [...base, target, cmd]);
      peer.push(performance.now() - t0);
    }
    await sh("ssh", [...base, "-O", "exit", target]).catch(() => "");
    rows.push({
      section: name,
      metric: `warm ssh_docker_ps, median of ${CALLS} (MCP stdio)`,
      value: pct(lat, 50),
      unit: "ms",
      peer: "ssh -S ControlMaster, same docker ps",
      peerValue: pct(peer, 50),
      ratio: pct(lat, 50) / pct(peer, 50),
      samples: lat,
    });
    rows.push({
      section: name,
      metric: `warm ssh_docker_ps, p90 of ${CALLS}`,
      value: pct(lat, 90),
      unit: "ms",
      peer: "ssh -S p90",
      peerValue: pct(peer, 90),
      ratio: pct(lat, 90) / pct(peer, 90),
    });
  } finally {
    await bed.docker(["rm", "-f", ctn]);
    await fleet.stop();
  }
  return rows;
}
