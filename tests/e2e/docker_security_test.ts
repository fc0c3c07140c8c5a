/**
 * SECURITY.md §DOCKER through the real server and MCP client: every
 * escalation form refused before any I/O (a host whose port has no server
 * proves it: any connection attempt would be a ConnectError) and allowed with
 * ALLOW_DOCKER_PRIVILEGED; bind sources under the path policy; input guards
 * (AC-707..AC-721); inspect masking and the include_env tier rule; compose
 * file path policy (AC-720).
 */

import assert from "node:assert/strict";
import { removeContainers, uniqueName, withDockerFleet } from "../_support/containers.ts";
import { testUser } from "../_support/sshd.ts";

type R = Record<string, unknown>;

/** A configured host nobody listens for: reaching it at all fails with ConnectError. */
const DEAD = `
[hosts.dead]
hostname = "127.0.0.1"
port = 9
user = "nobody"
docker_cmd = "docker"
path_allowlist = ["/srv"]
`;

const ESCALATIONS: string[][] = [
  ["--privileged"],
  ["--cap-add", "SYS_ADMIN"],
  ["--cap-add=NET_ADMIN"],
  ["--pid=host"],
  ["--ipc=host"],
  ["--uts=host"],
  ["--userns=host"],
  ["--network=host"],
  ["--net=host"],
  ["--security-opt", "seccomp=unconfined"],
  ["--device", "/dev/kmsg"],
  ["--group-add", "docker"],
  ["--pid", "host"],
  ["--network", "host"],
  ["--net", "host"],
  ["--userns", "host"],
  ["-v", "/:/host"],
  ["--volume", "/:/host"],
  ["--volume=/:/host"],
  ["--volume=/"],
  ["--mount", "type=bind,source=/,target=/host"],
  ["--mount", "target=/host,src=//,type=bind"],
  ["--pid=container:victim"],
  ["--network", "container:x"],
  ["-v/:/host"],
  ["-v=/:/host"],
  ["-v", "/etc/..:/host"],
  ["-v", "/var/run/docker.sock:/s"],
  ["-v", "/etc:/x"],
  ["--volumes-from", "victim"],
  ["--cgroupns=host"],
  ["--runtime", "runc-unsafe"],
  ["--sysctl", "kernel.x=1"],
];

Deno.test("AC-022/AC-700..AC-703/AC-706: every escalation form is refused before I/O, in args and in run_options", async () => {
  await withDockerFleet(async ({ s }) => {
    const reach = await s.err("ssh_docker_run", { host: "dead", image: "busybox" });
    assert.notEqual(reach.code, "ValueError", "the dead host must fail only when reached");
    for (const tokens of ESCALATIONS) {
      for (const field of ["args", "run_options"]) {
        const e = await s.err("ssh_docker_run", {
          host: "dead",
          image: "busybox",
          [field]: tokens,
        });
        assert.equal(e.code, "ValueError", `${field} ${JSON.stringify(tokens)}: ${e.message}`);
        assert.match(e.message, /ALLOW_DOCKER_PRIVILEGED/);
        assert.equal(e.meta.setting, "ALLOW_DOCKER_PRIVILEGED");
      }
    }
  }, { extraToml: DEAD });
});

Deno.test("AC-704/AC-705: ordinary flags run; ALLOW_DOCKER_PRIVILEGED lets --privileged through", async () => {
  await withDockerFleet(async ({ bed, s }) => {
    const name = uniqueName("sshmcp-priv");
    try {
      // attached runs go through Podman's CLI (h2): Docker CLI 28 against Podman 4.3's compat
      // API can lose the attach race of a container that exits at once (409 on upgrade)
      const r = await s.ok<R>("ssh_docker_run", {
        host: "h2",
        image: bed.image,
        name,
        args: ["sh", "-c", "echo privileged-ok"],
        run_options: ["--privileged", "--network", "none"],
      });
      assert.equal(r.exit_code, 0, String(r.stderr));
      assert.match(String(r.stdout), /privileged-ok/);
      const args = await s.ok<R>("ssh_docker_run", {
        host: "h2",
        image: bed.image,
        args: ["echo", "--privileged"],
        run_options: ["--network", "none"],
      });
      assert.equal(String(args.stdout).trim(), "--privileged");
    } finally {
      await removeContainers(bed, [name]);
    }
  }, { env: { ALLOW_DOCKER_PRIVILEGED: "true" } });
  await withDockerFleet(async ({ bed, s }) => {
    const r = await s.ok<R>("ssh_docker_run", {
      host: "h2",
      image: bed.image,
      args: ["sh", "-c", "echo $FOO"],
      run_options: [
        "-e",
        "FOO=bar",
        "-p",
        "127.0.0.1::80",
        "--user",
        "1000:1000",
        "--network",
        "bridge",
      ],
    });
    assert.equal(r.exit_code, 0, String(r.stderr));
    assert.equal(String(r.stdout).trim(), "bar");
  });
});

Deno.test("DOCKER-23: bind sources must pass the host's path policy", async () => {
  await withDockerFleet(async ({ bed, s, root, restricted }) => {
    const user = await testUser();
    const data = `${root}/data`;
    await Deno.mkdir(data);
    await Deno.writeTextFile(`${data}/hello.txt`, "bound\n");
    await Deno.chown(data, user.uid, null);
    const out = await s.err("ssh_docker_run", {
      host: "h1",
      image: bed.image,
      args: ["true"],
      run_options: ["-v", "/opt:/x"],
    });
    assert.equal(out.code, "PathNotAllowed", out.message);
    const zone = await s.err("ssh_docker_run", {
      host: "h1",
      image: bed.image,
      args: ["true"],
      run_options: ["--mount", `type=bind,source=${restricted},target=/x`],
    });
    assert.equal(zone.code, "PathRestricted", zone.message);
    const ok = await s.ok<R>("ssh_docker_run", {
      host: "h2",
      image: bed.image,
      args: ["cat", "/data/hello.txt"],
      run_options: ["--network", "none", "-v", `${data}:/data:ro`],
    });
    assert.equal(ok.stdout, "bound\n");
  });
});

Deno.test("AC-707..AC-719/AC-721: input guards answer ValueError before I/O", async () => {
  await withDockerFleet(async ({ s }) => {
    const cases: [string, R][] = [
      ["ssh_docker_logs", { container: "a;rm" }],
      ["ssh_docker_logs", { container: "$(whoami)" }],
      ["ssh_docker_logs", { container: "-rm" }],
      ["ssh_docker_logs", { container: "x".repeat(256) }],
      ["ssh_docker_logs", { container: "web", tail: 0 }],
      ["ssh_docker_logs", { container: "web", tail: 10001 }],
      ["ssh_docker_logs", { container: "web", max_bytes: 1023 }],
      ["ssh_docker_logs", { container: "web", max_bytes: 10485761 }],
      ["ssh_docker_logs", { container: "web", since: "$(id)" }],
      ["ssh_docker_ps", { label: "role=$(whoami)" }],
      ["ssh_docker_ps", { label: "ro le=foo" }],
      ["ssh_docker_images", { reference: "nginx;rm" }],
      ["ssh_docker_images", { reference: "nginx $(whoami)" }],
      ["ssh_docker_events", { since: "7d" }],
      ["ssh_docker_events", { until: "10m;ls" }],
      ["ssh_docker_events", { filters: ["container=$(whoami)"] }],
      ["ssh_docker_top", { container: "web", ps_options: "foo | tee /tmp/x" }],
      ["ssh_docker_top", { container: "web", ps_options: "foo\nbar" }],
      ["ssh_docker_pull", { image: "nginx;rm" }],
      ["ssh_docker_pull", { image: "NGINX" }],
      ["ssh_docker_rmi", { image: "a:b:c" }],
      ["ssh_docker_inspect", { target: "a//b", kind: "image" }],
      ["ssh_docker_inspect", { target: "nginx:1", kind: "container" }],
      ["ssh_docker_prune", { scope: "volume" }],
      ["ssh_docker_run", { image: "busybox", run_options: ["-e", "HOME"] }],
      ["ssh_docker_run", { image: "busybox", run_options: ["--add-host", "a:1.2.3.4"] }],
    ];
    for (const [tool, args] of cases) {
      const e = await s.err(tool, { host: "dead", ...args });
      assert.equal(e.code, "ValueError", `${tool} ${JSON.stringify(args)}: ${e.code} ${e.message}`);
    }
    const prune = await s.err("ssh_docker_prune", { host: "dead", scope: "volume" });
    assert.match(prune.message, /confirm_volume_prune=true/);
    for (
      const image of ["ghcr.io/org/app:1.2", "library/nginx", `nginx@sha256:${"a".repeat(64)}`]
    ) {
      const e = await s.err("ssh_docker_pull", { host: "dead", image });
      assert.notEqual(e.code, "ValueError", `AC-718 ${image} must be accepted`);
    }
  }, { extraToml: DEAD });
});

Deno.test("AC-723/DOCKER-28: inspect masks secret env values; include_env needs the dangerous tier", async () => {
  const name = uniqueName("sshmcp-env");
  await withDockerFleet(async ({ bed, s }) => {
    await bed.docker([
      "run",
      "-d",
      "--network",
      "none",
      "--name",
      name,
      "-e",
      "DB_PASSWORD=hunter2-x",
      "-e",
      "PORT=8080",
      bed.image,
      "sleep",
      "600",
    ]);
    const r = await s.ok<{ objects: R[]; env_masked: number; stdout: string }>(
      "ssh_docker_inspect",
      { host: "h1", target: name },
    );
    assert.ok(!JSON.stringify(r).includes("hunter2-x"));
    assert.ok(JSON.stringify(r.objects).includes("DB_PASSWORD=<redacted>"));
    assert.ok(r.stdout.includes("PORT=8080"));
    const full = await s.ok<R>("ssh_docker_inspect", {
      host: "h1",
      target: name,
      include_env: true,
    });
    assert.ok(JSON.stringify(full).includes("hunter2-x"));
  });
  await withDockerFleet(async ({ bed, s }) => {
    try {
      const e = await s.err("ssh_docker_inspect", { host: "h1", target: name, include_env: true });
      assert.equal(e.code, "ValueError");
      assert.match(e.message, /ALLOW_DANGEROUS_TOOLS/);
    } finally {
      await removeContainers(bed, [name]);
    }
  }, { env: { ALLOW_DANGEROUS_TOOLS: "false" } });
});

Deno.test("AC-720: compose file outside the allowlist, in a restricted zone, or a symlink into one", async () => {
  await withDockerFleet(async ({ s, root, restricted }) => {
    const user = await testUser();
    await Deno.writeTextFile(`${restricted}/compose.yml`, "services: {}\n");
    await Deno.symlink(`${restricted}/compose.yml`, `${root}/link.yml`);
    await Deno.chown(`${restricted}/compose.yml`, user.uid, null);
    const outside = await s.err("ssh_docker_compose_ps", {
      host: "h1",
      compose_file: "/etc/hostname",
      compose_v1: true,
    });
    assert.equal(outside.code, "PathNotAllowed");
    const zone = await s.err("ssh_docker_compose_up", {
      host: "h1",
      compose_file: `${restricted}/compose.yml`,
      compose_v1: true,
    });
    assert.equal(zone.code, "PathRestricted");
    const link = await s.err("ssh_docker_compose_logs", {
      host: "h1",
      compose_file: `${root}/link.yml`,
      compose_v1: true,
    });
    assert.equal(link.code, "PathRestricted");
    const missing = await s.err("ssh_docker_compose_down", {
      host: "h1",
      compose_file: `${root}/nope.yml`,
      compose_v1: true,
    });
    assert.equal(missing.code, "PathNotAllowed", missing.message);
  });
});
