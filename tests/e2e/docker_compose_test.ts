/**
 * The compose tools end to end with the compose implementations Debian 12
 * ships: docker-compose 1.29 (v1, through the Docker CLI host h1, against
 * Podman's API) and podman-compose 1.0.3 (through the Podman host h2).
 * Covers up / ps / logs / restart / stop / start / pull (check) / down, the
 * check plans (nothing changes), and the compose escalation scan
 * (DOCKER-26/27, refused and allowed with ALLOW_DOCKER_PRIVILEGED).
 */

import assert from "node:assert/strict";
import {
  type ContainerBed,
  uniqueName,
  withBedLock,
  withDockerFleet,
} from "../_support/containers.ts";
import { testUser } from "../_support/sshd.ts";
import { eventually } from "./_files_fixture.ts";

type R = Record<string, unknown>;
type Plan = {
  changes: boolean;
  notes: string[];
  items: string[];
  before: Record<string, unknown>;
  after: Record<string, unknown>;
};

/** A project directory owned by the test user with `compose.yml`. */
async function project(root: string, name: string, yaml: string): Promise<string> {
  const user = await testUser();
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/compose.yml`, yaml);
  await Deno.chown(dir, user.uid, null);
  await Deno.chown(`${dir}/compose.yml`, user.uid, null);
  return `${dir}/compose.yml`;
}

function services(image: string): string {
  return `version: "3"
services:
  web:
    image: ${image}
    command: ["sh", "-c", "echo web-up; exec sleep 3600"]
    network_mode: none
    stop_grace_period: 1s
  worker:
    image: ${image}
    command: ["sh", "-c", "echo worker-up; exec sleep 3600"]
    network_mode: none
    stop_grace_period: 1s
`;
}

async function projectStates(bed: ContainerBed, proj: string): Promise<string> {
  const r = await bed.docker([
    "ps",
    "-a",
    "--format",
    "{{.Names}} {{.State}}",
    "--filter",
    `label=com.docker.compose.project=${proj}`,
  ]);
  return r.stdout.split("\n").filter(Boolean).sort().join("\n");
}

Deno.test("compose v1 (docker-compose): up, ps, logs, restart, stop, start, pull, down; check plans change nothing", async () => {
  await withDockerFleet(async ({ bed, s, root }) => {
    const proj = uniqueName("sshmcpc").replace("-", "");
    const file = await project(root, proj, services(bed.image));
    const base = { host: "h1", compose_file: file, compose_v1: true };
    try {
      const plan = await s.ok<{ plan: Plan }>("ssh_docker_compose_up", { ...base, check: true });
      assert.deepEqual(plan.plan.items.sort(), ["web", "worker"]);
      assert.equal(plan.plan.after.web, "created and started");
      assert.equal(await projectStates(bed, proj), "", "check=true created containers");
      const up = await s.ok<R>("ssh_docker_compose_up", { ...base, timeout: 300 });
      assert.equal(up.exit_code, 0, String(up.stderr));
      const ps = await s.ok<{ services: R[] }>("ssh_docker_compose_ps", base);
      assert.equal(ps.services.length, 2, JSON.stringify(ps));
      assert.ok(ps.services.every((x) => !("Labels" in x)));
      const running = await s.ok<{ services: R[] }>("ssh_docker_compose_ps", {
        ...base,
        service: "web",
        status: "running",
      });
      assert.equal(running.services.length, 1);
      const logs = await s.ok<R>("ssh_docker_compose_logs", { ...base, tail: 20 });
      assert.match(String(logs.stdout), /web-up/);
      assert.match(String(logs.stdout), /worker-up/);
      const before = await projectStates(bed, proj);
      // (restart and pull plans: the podman-compose test; docker-compose 1.x is slow per call)
      for (const tool of ["stop", "down", "start"]) {
        const r = await s.ok<{ check: boolean; plan: Plan }>(`ssh_docker_compose_${tool}`, {
          ...base,
          check: true,
        });
        assert.equal(r.check, true);
        if (tool === "stop" || tool === "down") {
          assert.deepEqual(r.plan.items.sort(), ["web", "worker"]);
        }
        if (tool === "start") {
          assert.equal(r.plan.changes, false, "all running: start changes nothing");
        }
      }
      assert.equal(await projectStates(bed, proj), before, "check mode changed the project");
      const restart = await s.ok<R>("ssh_docker_compose_restart", base);
      assert.equal(restart.exit_code, 0, String(restart.stderr));
      // stopped containers must survive until start: no prune of another module meanwhile
      await withBedLock(bed, "shared", async () => {
        const stop = await s.ok<R>("ssh_docker_compose_stop", base);
        assert.equal(stop.exit_code, 0, `${stop.stderr}\n${stop.stdout}`);
        // docker-compose 1.x returns before the engine reports every container stopped
        let stopped: string[] = [];
        await eventually(async () => {
          stopped = (await projectStates(bed, proj)).split("\n").filter(Boolean);
          return stopped.length > 0 && stopped.every((l) => / exited$/.test(l));
        }, 30_000);
        assert.ok(stopped.every((l) => / exited$/.test(l)), stopped.join("; "));
        const startPlan = await s.ok<{ plan: Plan }>("ssh_docker_compose_start", {
          ...base,
          check: true,
        });
        assert.deepEqual(
          startPlan.plan.items.sort(),
          ["web", "worker"],
          JSON.stringify(startPlan.plan),
        );
        const start = await s.ok<R>("ssh_docker_compose_start", base);
        assert.equal(start.exit_code, 0, `${start.stderr}\n${start.stdout}`);
        assert.doesNotMatch(await projectStates(bed, proj), /exited/);
      });
      const down = await s.ok<R>("ssh_docker_compose_down", { ...base, timeout: 120 });
      assert.equal(down.exit_code, 0, String(down.stderr));
      assert.equal(await projectStates(bed, proj), "");
    } finally {
      await s.call("ssh_docker_compose_down", { ...base, timeout: 120 });
    }
  });
});

Deno.test("podman-compose: up, ps (ps -q fallback), down through the Podman CLI host", async () => {
  await withDockerFleet(async ({ bed, s, root }) => {
    const proj = uniqueName("sshmcpp").replace("-", "");
    // podman-compose 1.0.3 cannot combine network_mode: none with its project network
    const file = await project(
      root,
      proj,
      `services:\n  app:\n    image: ${bed.image}\n    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]\n`,
    );
    const base = { host: "h2", compose_file: file, compose_v1: true };
    try {
      const plan = await s.ok<{ plan: Plan }>("ssh_docker_compose_up", { ...base, check: true });
      assert.deepEqual(plan.plan.items, ["app"]);
      assert.ok(plan.plan.notes.some((n) => n.includes("read from the compose file")));
      const up = await s.ok<R>("ssh_docker_compose_up", { ...base, timeout: 300 });
      assert.equal(up.exit_code, 0, String(up.stderr));
      const ps = await s.ok<{ services: R[] }>("ssh_docker_compose_ps", base);
      assert.equal(ps.services.length, 1, JSON.stringify(ps));
      const before = await projectStates(bed, proj);
      for (const tool of ["restart", "pull"]) {
        const r = await s.ok<{ check: boolean; plan: Plan }>(`ssh_docker_compose_${tool}`, {
          ...base,
          check: true,
        });
        assert.deepEqual([r.check, r.plan.items], [true, ["app"]], tool);
      }
      assert.equal(await projectStates(bed, proj), before, "check mode changed the project");
      const down = await s.ok<R>("ssh_docker_compose_down", { ...base, timeout: 120 });
      assert.equal(down.exit_code, 0, String(down.stderr));
    } finally {
      await s.call("ssh_docker_compose_down", { ...base, timeout: 120 });
      await bed.docker(["network", "rm", `${proj}_default`]);
    }
  });
});

Deno.test("DOCKER-26/27: compose_up refuses privileged configurations (file and rendered .env values) unless ALLOW_DOCKER_PRIVILEGED", async () => {
  const cases: [string, string, string | null][] = [
    ["priv", "    privileged: true\n", null],
    ["rootbind", "    volumes:\n      - /:/host\n", null],
    ["envbind", "    volumes:\n      - ${HOSTDIR}:/host\n", "HOSTDIR=/etc\n"],
    ["sock", "    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n", null],
    ["pidhost", "    pid: host\n", null],
    ["envfile", "    env_file: /etc/hostname\n", null],
  ];
  await withDockerFleet(async ({ bed, s, root }) => {
    const user = await testUser();
    for (const [name, extra, dotenv] of cases) {
      const proj = uniqueName(`sshmcpx${name}`).replace("-", "");
      const file = await project(
        root,
        proj,
        `version: "3"\nservices:\n  a:\n    image: ${bed.image}\n    network_mode: none\n${extra}`,
      );
      if (dotenv) {
        const env = `${root}/${proj}/.env`;
        await Deno.writeTextFile(env, dotenv);
        await Deno.chown(env, user.uid, null);
      }
      const e = await s.err("ssh_docker_compose_up", {
        host: "h1",
        compose_file: file,
        compose_v1: true,
      });
      assert.equal(e.code, "ValueError", `${name}: ${e.code} ${e.message}`);
      assert.match(e.message, /ALLOW_DOCKER_PRIVILEGED/);
      assert.equal(await projectStates(bed, proj), "", `${name}: containers were created`);
    }
    // a bind outside the path allowlist is a path-policy refusal (DOCKER-23)
    const proj = uniqueName("sshmcpxopt").replace("-", "");
    const file = await project(
      root,
      proj,
      `version: "3"\nservices:\n  a:\n    image: ${bed.image}\n    network_mode: none\n    volumes:\n      - /opt:/x\n`,
    );
    const e = await s.err("ssh_docker_compose_up", {
      host: "h1",
      compose_file: file,
      compose_v1: true,
    });
    assert.equal(e.code, "PathNotAllowed", e.message);
  });
  await withDockerFleet(async ({ bed, s, root }) => {
    const proj = uniqueName("sshmcpxok").replace("-", "");
    const file = await project(
      root,
      proj,
      `version: "3"\nservices:\n  a:\n    image: ${bed.image}\n    network_mode: none\n    privileged: true\n    stop_grace_period: 1s\n    command: ["sleep", "3600"]\n`,
    );
    const base = { host: "h1", compose_file: file, compose_v1: true };
    try {
      const up = await s.ok<R>("ssh_docker_compose_up", { ...base, timeout: 300 });
      assert.equal(up.exit_code, 0, String(up.stderr));
    } finally {
      await s.call("ssh_docker_compose_down", { ...base, timeout: 120 });
    }
  }, { env: { ALLOW_DOCKER_PRIVILEGED: "true" } });
});

Deno.test("compose check plans: a project whose containers cannot be listed is an error, never a plan of no changes", async () => {
  // a compose CLI that fails every call, as a broken or hanging docker-compose would
  const bin = await Deno.makeTempDir({ prefix: "sshmcp-compose-bin-" });
  await Deno.chmod(bin, 0o755);
  const cli = `${bin}/broken-compose`;
  await Deno.writeTextFile(cli, "#!/bin/sh\necho 'cannot reach the engine' >&2\nexit 3\n");
  await Deno.chmod(cli, 0o755);
  try {
    await withDockerFleet(async ({ bed, s, root }) => {
      const file = await project(root, uniqueName("sshmcpx").replace("-", ""), services(bed.image));
      for (const verb of ["up", "start", "stop", "restart", "down"]) {
        const e = await s.err(`ssh_docker_compose_${verb}`, {
          host: "h1",
          compose_file: file,
          check: true,
        });
        assert.equal(e.code, "RuntimeError", `${verb}: ${e.message}`);
        assert.match(e.message, /Could not list the containers of .*compose\.yml \(exit 3\)/);
        assert.match(e.message, /nothing was changed/);
      }
    }, { env: { SSH_DOCKER_COMPOSE_CMD: cli } });
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});
