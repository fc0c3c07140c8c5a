/**
 * The docker group's pure rules: identifier patterns (TOOLS.md §3), the
 * `ssh_docker_run` escalation guard and `run_options` allowlist (SECURITY.md
 * DOCKER-3/4/5, AC-700..AC-719), `ps_options`, `container_path`, the compose
 * escalation scan (docs/security/docker.md DOCKER-26/27) and the CLI prefix
 * (AC-722). Validation through the real tools is in tests/e2e/docker_*.
 */

import assert from "node:assert/strict";
import { ToolError } from "../../src/errors.ts";
import {
  assertContainerPath,
  assertNoEscalation,
  checkRunOptions,
  escalation,
  isLabel,
  R_DOCKER_FILTER,
  R_DOCKER_NAME,
  R_DOCKER_TIME,
  R_IMAGE,
  R_REF_FILTER,
  splitPsOptions,
} from "../../src/tools/docker/_validate.ts";
import { cliProgram, prefixesFor } from "../../src/tools/docker/_cli.ts";
import { scanComposeText } from "../../src/tools/docker/_compose_scan.ts";
import { servicesFromYaml } from "../../src/tools/docker/_compose.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import type { HostPolicy, Settings } from "../../src/config/types.ts";

function refused(tokens: string[]): void {
  assert.throws(
    () => assertNoEscalation("args", tokens),
    (e: unknown) =>
      e instanceof ToolError && e.code === "ValueError" &&
      e.message.includes("ALLOW_DOCKER_PRIVILEGED"),
    JSON.stringify(tokens),
  );
}

function allowed(tokens: string[]): void {
  assert.equal(escalation(tokens), null, JSON.stringify(tokens));
}

Deno.test("AC-700: each escalation flag is refused, naming the flag and ALLOW_DOCKER_PRIVILEGED", () => {
  for (
    const t of [
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
    ]
  ) refused(t);
  try {
    assertNoEscalation("args", ["--cap-add", "SYS_ADMIN"]);
  } catch (e) {
    assert.ok(e instanceof ToolError);
    assert.match(e.message, /--cap-add/);
    assert.equal(e.attributes.setting, "ALLOW_DOCKER_PRIVILEGED");
  }
});

Deno.test("AC-701: two-token namespace forms are refused", () => {
  for (
    const t of [["--pid", "host"], ["--network", "host"], ["--net", "host"], ["--userns", "host"]]
  ) refused(t);
});

Deno.test("AC-702: volumes of / in every spelling are refused", () => {
  for (
    const t of [["-v", "/:/host"], ["--volume", "/:/host"], ["--volume=/:/host"], ["--volume=/"]]
  ) refused(t);
});

Deno.test("AC-703/AC-024/AC-025: --mount binds of / (any key order, src=, =, //, /./) and container: namespaces", () => {
  for (
    const t of [
      ["--mount", "type=bind,source=/,target=/host"],
      ["--mount", "type=bind,src=/,target=/host"],
      ["--mount=type=bind,source=/,target=/host"],
      ["--mount", "type=bind,source=//,target=/host"],
      ["--mount", "type=bind,source=/./,target=/host"],
      ["--mount", "target=/host,source=/,type=bind"],
      ["--pid=container:victim"],
      ["--ipc=container:x"],
      ["--uts=container:x"],
      ["--userns=container:x"],
      ["--network=container:x"],
      ["--net=container:x"],
      ["--pid", "container:victim"],
    ]
  ) refused(t);
  allowed(["--mount", "type=bind,source=/opt/app,target=/app"]);
  allowed(["--mount", "type=volume,source=data,target=/data"]);
  allowed(["--mount", "type=tmpfs,target=/tmp"]);
});

Deno.test("AC-704: ordinary flags are allowed", () => {
  for (
    const t of [
      ["-e", "FOO=bar"],
      ["-p", "8080:80"],
      ["--name", "nginx"],
      ["--network", "bridge"],
      ["-v", "/opt/app:/data"],
      ["--user", "1000:1000"],
      ["--rm", "-d"],
    ]
  ) allowed(t);
});

Deno.test("AC-705: ALLOW_DOCKER_PRIVILEGED lifts the run_options deny-list", () => {
  assert.deepEqual(checkRunOptions(["--privileged"], true), []);
  assert.throws(() => checkRunOptions(["--privileged"], false), /ALLOW_DOCKER_PRIVILEGED/);
});

Deno.test("AC-706/DOCKER-4: attached, = and normalized volume forms, sockets, system trees and the NEW flags are refused", () => {
  for (
    const t of [
      ["-v/:/host"],
      ["-v=/:/host"],
      ["-v", "//:/host"],
      ["-v", "/etc/..:/host"],
      ["--volume", "/./:/h"],
      ["-v", "/var/run/docker.sock:/s"],
      ["-v", "/etc:/x"],
      ["--volumes-from", "victim"],
      ["--cgroupns=host"],
      ["--cgroupns", "host"],
      ["--runtime", "runc-unsafe"],
      ["--sysctl", "kernel.x=1"],
      ["--cgroup-parent", "/x"],
      ["--oom-kill-disable"],
      ["--env-file", "/etc/shadow"],
      ["--label-file", "/root/x"],
      ["-dv/:/host"],
    ]
  ) refused(t);
});

Deno.test("DOCKER-21: system trees, engine sockets, devices, ns: namespaces and volume-opt binds are refused", () => {
  for (
    const t of [
      ["-v", "/etc/shadow:/x:ro"],
      ["-v", "/root/.ssh:/k"],
      ["-v", "/proc/1:/p"],
      ["-v", "/run/podman/podman.sock:/s"],
      ["-v", "/srv/x/containerd.sock:/s"],
      ["-v", "/var/lib/containers/storage:/s"],
      ["-v", "/usr:/u"],
      ["--device-cgroup-rule", "a *:* rwm"],
      ["--network=ns:/proc/1/ns/net"],
      ["--mount", "type=volume,source=v,target=/x,volume-opt=device=/,volume-opt=o=bind"],
      ["--volume-driver", "local"],
      ["-v", "../../etc:/x"],
      ["-v", "./x:/x"],
      ["-v", "~/.ssh:/k"],
      ["--mount", "type=bind,source=../../etc,target=/x"],
      ["--mount", "type=glob,src=/etc/*,target=/x"],
      ["--mount", "type=image,source=busybox,target=/x"],
      ["--mount", "type=devpts,target=/dev/pts"],
    ]
  ) refused(t);
  allowed(["-v", "/home/app/data:/data"]);
  allowed(["-v", "named:/data"]);
  allowed(["-v", "/data"]); // anonymous volume at /data
});

Deno.test("DOCKER-22: run_options is a positive allowlist; bare -e NAME, bad --network/--restart and loose words are refused", () => {
  assert.deepEqual(
    checkRunOptions(
      [
        "--restart",
        "unless-stopped",
        "-p",
        "8080:80",
        "-e",
        "A=1",
        "--env=B=2",
        "-v",
        "/srv/app/conf:/etc/app:ro",
        "--mount",
        "type=bind,source=/srv/app/data,target=/data",
        "--read-only",
        "--health-cmd",
        "wget -q -O- localhost",
        "-l",
        "team=ops",
        "--memory=256m",
        "--cpus",
        "0.5",
      ],
      false,
    ),
    ["/srv/app/conf", "/srv/app/data"],
  );
  for (
    const bad of [
      ["--add-host", "x:1.2.3.4"],
      ["-e", "HOME"],
      ["--env", "AWS_SECRET_ACCESS_KEY"],
      ["--network", "host"],
      ["--network", "a;b"],
      ["--restart", "sometimes"],
      ["nginx"],
      ["--read-only=true"],
      ["--log-driver", "syslog"],
      ["-p"],
    ]
  ) {
    assert.throws(() => checkRunOptions(bad, false), ToolError, JSON.stringify(bad));
  }
});

Deno.test("AC-707/AC-708: container names", () => {
  for (
    const bad of [
      "a;rm",
      "$(whoami)",
      "name with space",
      "a`b`",
      "name|pipe",
      "/leading-slash",
      "-rm",
      "x\n",
    ]
  ) {
    assert.ok(!R_DOCKER_NAME.test(bad), bad);
  }
  assert.ok(R_DOCKER_NAME.test("web_1.blue-2"));
});

Deno.test("AC-709/AC-710: label and reference filters", () => {
  for (const bad of ["role=$(whoami)", "role=a;rm", "ro le=foo", "role=val ue", "role=`x`"]) {
    assert.ok(!isLabel(bad), bad);
  }
  assert.ok(isLabel("role"));
  assert.ok(isLabel("com.example/team=ops=x"));
  for (const bad of ["nginx;rm", "nginx`x`", "nginx $(whoami)", "nginx|pipe"]) {
    assert.ok(!R_REF_FILTER.test(bad), bad);
  }
  assert.ok(R_REF_FILTER.test("ghcr.io/org/*:1.?"));
});

Deno.test("AC-711/AC-712: times and event filters", () => {
  for (
    const bad of [
      "15 minutes",
      "yesterday",
      "rm -rf /",
      "10m;ls",
      "2026-04-16",
      "-10m",
      "7d",
      "1d2h",
    ]
  ) {
    assert.ok(!R_DOCKER_TIME.test(bad), bad);
  }
  for (const ok of ["1700000000", "1700000000.5", "15m", "1h30m", "2026-04-16T12:00:00Z", "now"]) {
    assert.ok(R_DOCKER_TIME.test(ok), ok);
  }
  for (
    const bad of [
      "container",
      "=foo",
      "container=",
      "container=$(whoami)",
      "container=a;rm",
      "contAIner!=foo",
    ]
  ) {
    assert.ok(!R_DOCKER_FILTER.test(bad), bad);
  }
  assert.ok(R_DOCKER_FILTER.test("type=container"));
});

Deno.test("AC-713: ps_options refuses shell syntax and splits plain options", () => {
  for (
    const bad of [
      "foo | tee /tmp/x",
      "foo && bar",
      "foo; bar",
      "foo `x`",
      "foo $(whoami)",
      "foo > /tmp/x",
      "foo\nbar",
    ]
  ) {
    assert.throws(() => splitPsOptions(bad), ToolError, JSON.stringify(bad));
  }
  assert.deepEqual(splitPsOptions("-o pid,user,args"), ["-o", "pid,user,args"]);
  assert.deepEqual(splitPsOptions("-o 'pid comm'"), ["-o", "pid comm"]);
});

Deno.test("DOCKER-33: ps_options cannot ask for the processes' environment", () => {
  for (
    const bad of ["e", "aux e", "auxeww", "-o pid,env", "-o environ", "--format=pid,ENV", "-oenv"]
  ) {
    assert.throws(() => splitPsOptions(bad), /environment/, bad);
  }
  for (const ok of ["aux", "-ef", "-o pid,user,args", "-o user", "-p 1", "o pid,time"]) {
    assert.doesNotThrow(() => splitPsOptions(ok), ok);
  }
});

Deno.test("AC-715: container_path refuses a leading dash, NUL and control characters", () => {
  for (const bad of ["-a", "x\x00y", "a\nb", "a\x1bb", ""]) {
    assert.throws(() => assertContainerPath(bad), ToolError, JSON.stringify(bad));
  }
  assertContainerPath("/app/logs/error.log");
  assertContainerPath("./-odd");
});

Deno.test("AC-718/AC-719: image references", () => {
  for (
    const ok of [
      "ghcr.io/org/app:1.2",
      "library/nginx",
      `nginx@sha256:${"a".repeat(64)}`,
      "localhost:5000/a/b:c",
      "localhost/busybox:latest",
      "busybox",
      "registry:5000/x",
    ]
  ) {
    assert.ok(R_IMAGE.test(ok), ok);
  }
  for (const bad of ["nginx;rm", "-v", "NGINX", "a//b", "a:b:c", "a".repeat(256), "nginx\n"]) {
    assert.ok(!R_IMAGE.test(bad) || bad.length > 255, bad);
  }
});

Deno.test("AC-722: the CLI prefix comes from docker_cmd > SSH_DOCKER_CMD > docker; compose v1 and SSH_DOCKER_COMPOSE_CMD", () => {
  const s = (extra: Partial<Settings>) => ({ ...defaultSettings(), ...extra }) as Settings;
  const pol = (docker_cmd: string | null) => ({ alias: "h", docker_cmd }) as HostPolicy;
  const a = prefixesFor(pol(null), s({ SSH_DOCKER_CMD: "sudo docker" }));
  assert.deepEqual(a.docker, ["sudo", "docker"]);
  assert.deepEqual(a.compose(true), ["sudo", "docker-compose"]);
  assert.deepEqual(a.compose(false), ["sudo", "docker", "compose"]);
  const b = prefixesFor(pol("env 'DOCKER_HOST=unix:///x y/s' podman"), s({}));
  assert.deepEqual(b.docker, ["env", "DOCKER_HOST=unix:///x y/s", "podman"]);
  assert.deepEqual(b.compose(true), ["env", "DOCKER_HOST=unix:///x y/s", "podman-compose"]);
  const c = prefixesFor(pol(null), s({ SSH_DOCKER_COMPOSE_CMD: "docker-compose --ansi never" }));
  assert.deepEqual(c.docker, ["docker"]);
  assert.deepEqual(c.compose(false), ["docker-compose", "--ansi", "never"]);
  assert.throws(() => prefixesFor(pol("docker 'x"), s({})), /cannot be split/);
});

Deno.test("DOCKER-20: the program named by a missing-CLI error skips wrappers", () => {
  assert.equal(cliProgram(["docker"]), "docker");
  assert.equal(cliProgram(["sudo", "-n", "-u", "ops", "docker"]), "docker");
  assert.equal(cliProgram(["env", "DOCKER_HOST=unix:///s", "podman"]), "podman");
  assert.equal(cliProgram(["X=1", "nice", "-n", "5", "docker-compose"]), "docker-compose");
});

Deno.test("DOCKER-26: compose escalation keys and sensitive binds are found in file and rendered text", () => {
  const dir = "/srv/app";
  const bad: [string, string][] = [
    ["services:\n  a:\n    image: x\n    privileged: true\n", "privileged"],
    ["services:\n  a:\n    cap_add:\n      - SYS_ADMIN\n", "cap_add"],
    ["services:\n  a:\n    network_mode: host\n", "network_mode"],
    ["services:\n  a:\n    pid: 'container:db'\n", "pid"],
    ["services:\n  a:\n    volumes:\n      - /:/host\n", "bind source /"],
    ["services:\n  a:\n    volumes:\n      - /var/run/docker.sock:/s:ro\n", "/var/run"],
    [
      "services:\n  a:\n    volumes:\n      - type: bind\n        source: /etc\n        target: /x\n",
      "/etc",
    ],
    ['services:\n  a:\n    volumes: ["/root:/r"]\n', "/root"],
    ["services:\n  a:\n    devices:\n      - /dev/sda:/dev/sda\n", "devices"],
    [
      "volumes:\n  v:\n    driver_opts:\n      type: none\n      o: bind\n      device: /\n",
      "driver_opts",
    ],
    ['services:\n  a:\n    security_opt: ["seccomp:unconfined"]\n', "security_opt"],
  ];
  for (const [text, what] of bad) {
    const r = scanComposeText(text, dir);
    assert.ok(r.escalation?.includes(what), `${JSON.stringify(text)} -> ${r.escalation}`);
  }
  const ok = scanComposeText(
    "services:\n  web:\n    image: nginx\n    volumes:\n      - /srv/app/conf:/etc/nginx/conf.d:ro\n      - data:/data\n    network_mode: none\n",
    dir,
  );
  assert.equal(ok.escalation, null);
  assert.deepEqual(ok.binds, ["/srv/app/conf"]);
  const rel = scanComposeText(
    "services:\n  a:\n    volumes:\n      - ./data:/data\n      - type: bind\n        source: ./conf\n        target: /c\n",
    dir,
  );
  assert.deepEqual([rel.escalation, rel.binds], [null, ["/srv/app/data", "/srv/app/conf"]]);
  for (const up of ["../../etc:/x", "../../:/host", "~/.ssh:/k"]) {
    const r = scanComposeText(`services:\n  a:\n    volumes:\n      - ${up}\n`, dir);
    assert.ok(r.escalation, `relative bind ${up} was not refused`);
  }
});

Deno.test("DOCKER-27: env_file must stay in the project directory and not be interpolated", () => {
  const dir = "/srv/app";
  for (
    const t of [
      "services:\n  a:\n    env_file: /etc/shadow\n",
      "services:\n  a:\n    env_file:\n      - ../other/.env\n",
      "services:\n  a:\n    env_file: ${HOME}/.env\n",
    ]
  ) {
    assert.ok(scanComposeText(t, dir).escalation?.startsWith("env_file"), t);
  }
  assert.equal(scanComposeText("services:\n  a:\n    env_file: .env\n", dir).escalation, null);
});

Deno.test("compose service names read from a file when the CLI has no config command", () => {
  assert.deepEqual(
    servicesFromYaml(
      'version: "3"\nservices:\n  web:\n    image: x\n  "worker":\n    image: y\nvolumes:\n  data: {}\n',
    ),
    ["web", "worker"],
  );
});
