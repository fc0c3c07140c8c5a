/**
 * The shared container test bed of the docker tool group: rootful Podman
 * (runc, vfs storage, cgroupfs) with its API service on a unix socket, the
 * image `localhost/busybox:latest` built locally from busybox-static, the
 * machine's Docker CLI talking to that socket (`DOCKER_HOST`), Podman itself
 * in remote mode (`CONTAINER_HOST`), docker-compose v1 and podman-compose.
 *
 * `.ci/testbed_containers.sh` installs and starts it (idempotent, under a
 * lock); {@link containerBed} runs its `start` step once per test module and
 * every module shares the same running service. Nothing here is mocked, and
 * a missing piece FAILS the test with the command that fixes it.
 *
 * Tests must name their containers and projects uniquely ({@link uniqueName})
 * and remove what they create: other modules use the same engine at the same
 * time.
 *
 * @module
 */

import { type Fleet, startFleet } from "./fleet.ts";
import { auditLines, type InProcess, startInProcess } from "./mcp.ts";
import { testUser } from "./sshd.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const SCRIPT = `${ROOT}.ci/testbed_containers.sh`;

/** Facts about the running bed. */
export interface ContainerBed {
  dir: string;
  socket: string;
  containersConf: string;
  image: string;
  dockerCli: string | null;
  dockerCompose: string | null;
  podmanCompose: string | null;
  /** `docker_cmd` for the Docker CLI path */
  dockerCmd: string;
  /** `docker_cmd` for the Podman CLI path (remote mode) */
  podmanCmd: string;
  /** wall time of the `start` step in this process (ms) */
  startMs: number;
  /** runs the Docker CLI locally against the bed (test set-up and assertions) */
  docker(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

let bed: Promise<ContainerBed> | undefined;

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function start(): Promise<ContainerBed> {
  if (Deno.uid() !== 0) {
    throw new Error("the container test bed needs root (rootful podman); run the tests as root");
  }
  const t0 = performance.now();
  const r = await run("bash", [SCRIPT, "start"]);
  const startMs = Math.round(performance.now() - t0);
  if (r.code !== 0) {
    throw new Error(
      `container test bed did not start (bash ${SCRIPT} start, exit ${r.code}): ${r.stderr}${r.stdout}` +
        `\nInstall it with: bash ${SCRIPT} install`,
    );
  }
  const facts = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) facts.set(line.slice(0, i), line.slice(i + 1));
  }
  const need = (k: string) => {
    const v = facts.get(k);
    if (!v) throw new Error(`${SCRIPT} start printed no ${k}`);
    return v;
  };
  const socket = need("SOCKET");
  const conf = need("CONTAINERS_CONF");
  const dockerCli = facts.get("DOCKER_CLI") || null;
  if (!dockerCli) {
    throw new Error(
      "no docker CLI on this machine (the test bed drives the Podman service through it)",
    );
  }
  return {
    dir: need("BED"),
    socket,
    containersConf: conf,
    image: need("IMAGE"),
    dockerCli,
    dockerCompose: facts.get("DOCKER_COMPOSE") || null,
    podmanCompose: facts.get("PODMAN_COMPOSE") || null,
    dockerCmd: `env DOCKER_HOST=unix://${socket} docker`,
    podmanCmd: `env CONTAINER_HOST=unix://${socket} CONTAINERS_CONF=${conf} podman`,
    startMs,
    docker: (args) => run(dockerCli, args, { DOCKER_HOST: `unix://${socket}` }),
  };
}

/** The running bed (started at most once per test module; shared across modules). */
export function containerBed(): Promise<ContainerBed> {
  bed ??= start();
  return bed;
}

/** A name unique to this test run: `<prefix>-<8 hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Runs `fn` holding the bed's stopped-container lock. The bed is one engine
 * shared by test modules running at the same time, and a real container
 * prune removes EVERY stopped container on it, including ones another module
 * has just stopped and is about to start again. A test that keeps stopped
 * containers it still needs holds the lock `shared`; a test that prunes for
 * real holds it `exclusive`, so the prune waits until no such window is open.
 */
export async function withBedLock<T>(
  b: ContainerBed,
  mode: "shared" | "exclusive",
  fn: () => Promise<T>,
): Promise<T> {
  const f = await Deno.open(`${b.dir}/stopped-containers.lock`, { create: true, write: true });
  try {
    await f.lock(mode === "exclusive");
    return await fn();
  } finally {
    f.close(); // closing releases the lock
  }
}

/** Removes containers (force) and ignores the ones already gone. */
export async function removeContainers(b: ContainerBed, names: string[]): Promise<void> {
  if (names.length) await b.docker(["rm", "-f", ...names]);
}

// --- a fleet whose hosts reach the bed ------------------------------------------

/** What {@link withDockerFleet} hands to a test. */
export interface DockerFleet {
  bed: ContainerBed;
  fleet: Fleet;
  s: InProcess;
  /** path_allowlist root on the hosts (owned by the test user) */
  root: string;
  /** restricted zone inside root */
  restricted: string;
  auditPath: string;
  audit(): Promise<Record<string, unknown>[]>;
}

/** Options of {@link withDockerFleet}. */
export interface DockerFleetOptions {
  /** server env on top of the defaults (dangerous tier on, audit to a file) */
  env?: Record<string, string>;
  /** extra TOML appended after the hosts */
  extraToml?: string;
  /** hold the bed lock ({@link withBedLock}) this way for the whole test */
  bedLock?: "shared" | "exclusive";
}

/**
 * Starts the bed, three real sshd hosts and the server in process:
 *
 * - `h1`: `docker_cmd` = the Docker 28 CLI against the bed (`env DOCKER_HOST=... docker`);
 * - `h2`: `docker_cmd` = Podman in remote mode against the same service;
 * - `h3`: `docker_cmd = "nerdctl"`, a CLI this machine does not have.
 *
 * Every host: `path_allowlist = [root]`, `restricted_paths = [root/secret]`,
 * `restricted_globs = ["**\/*.key"]`, `command_allowlist` for the exec tests,
 * tags `docker` (h1, h2) and `all-docker` (h1..h3).
 */
export async function withDockerFleet(
  fn: (c: DockerFleet) => Promise<void>,
  opts: DockerFleetOptions = {},
): Promise<void> {
  const bed = await containerBed();
  const user = await testUser();
  const root = await Deno.makeTempDir({ prefix: "sshmcp-docker-" });
  await Deno.chmod(root, 0o755);
  await Deno.chown(root, user.uid, null);
  const restricted = `${root}/secret`;
  await Deno.mkdir(restricted);
  await Deno.chown(restricted, user.uid, null);
  const cmd: Record<string, string> = {
    h1: bed.dockerCmd,
    h2: bed.podmanCmd,
    h3: "nerdctl",
  };
  const fleet = await startFleet(3, {
    extraToml: opts.extraToml ?? "",
    perHost: (alias) =>
      [
        `docker_cmd = ${JSON.stringify(cmd[alias])}`,
        `path_allowlist = [${JSON.stringify(root)}]`,
        `restricted_paths = [${JSON.stringify(restricted)}]`,
        `restricted_globs = ["**/*.key"]`,
        `command_allowlist = ["echo", "cat", "id", "hostname", "ls"]`,
        `tags = [${alias === "h3" ? "" : '"docker", '}"all-docker"]`,
      ].join("\n"),
  });
  const auditPath = `${fleet.dir}/audit.log`;
  try {
    const s = await startInProcess(fleet.env({
      SSH_AUDIT_LOG: auditPath,
      ALLOW_LOW_ACCESS_TOOLS: "true",
      ALLOW_DANGEROUS_TOOLS: "true",
      ...opts.env,
    }));
    const run = () =>
      fn({
        bed,
        fleet,
        s,
        root,
        restricted,
        auditPath,
        audit: async () => auditLines(await Deno.readTextFile(auditPath).catch(() => "")),
      });
    try {
      await (opts.bedLock ? withBedLock(bed, opts.bedLock, run) : run());
    } finally {
      await s.close();
    }
  } finally {
    await fleet.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

/** Names of the containers (all states) whose name starts with `prefix`. */
export async function containersNamed(b: ContainerBed, prefix: string): Promise<string[]> {
  const r = await b.docker(["ps", "-a", "--format", "{{.Names}}", "--filter", `name=${prefix}`]);
  return r.stdout.split("\n").map((l) => l.trim()).filter((l) => l.startsWith(prefix)).sort();
}

/** A snapshot of the engine for "check mode changed nothing" comparisons. */
export async function engineState(b: ContainerBed, prefix: string): Promise<string> {
  const ps = await b.docker([
    "ps",
    "-a",
    "--no-trunc",
    "--format",
    "{{.Names}} {{.ID}} {{.State}} {{.Image}}",
    "--filter",
    `name=${prefix}`,
  ]);
  const img = await b.docker([
    "images",
    "--no-trunc",
    "--format",
    "{{.Repository}}:{{.Tag}} {{.ID}}",
    "--filter",
    `reference=localhost/${prefix}*`,
  ]);
  const vol = await b.docker([
    "volume",
    "ls",
    "--format",
    "{{.Name}}",
    "--filter",
    `name=${prefix}`,
  ]);
  const sort = (t: string) => t.split("\n").filter(Boolean).sort().join("\n");
  return [sort(ps.stdout), sort(img.stdout), sort(vol.stdout)].join("\n--\n");
}
