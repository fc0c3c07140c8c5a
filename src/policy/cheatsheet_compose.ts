/**
 * Compose commands (CHEAT-13): `docker compose [opts] <verb>` (v2) and
 * `docker-compose` / `podman-compose [opts] <verb>` (v1, `compose_v1=true`)
 * -> `ssh_docker_compose_<verb>` with `-f FILE` as `compose_file`.
 *
 * @module
 */

import {
  CallBuilder,
  OptReader,
  scanOptions,
  setInt,
  type Suggestion,
  toolOnly,
} from "./cheatsheet_call.ts";

/** CHEAT-6: the compose family text. */
export const COMPOSE_FAMILY = "ssh_docker_compose_* family";

/** Compose options before the verb (v1 and v2). */
const GLOBAL = {
  value: [
    "-f",
    "--file",
    "-p",
    "--project-name",
    "--project-directory",
    "--env-file",
    "--profile",
    "--ansi",
    "--parallel",
    "--progress",
    "-H",
    "--host",
    "-c",
    "--context",
    "--log-level",
  ],
  flag: [
    "--compatibility",
    "--dry-run",
    "--all-resources",
    "--verbose",
    "--no-ansi",
    "--tls",
    "--tlsverify",
    "--skip-hostname-check",
  ],
};

/** Per verb: its options, and what the verb-specific part of the call reads. */
interface VerbSpec {
  value?: string[];
  flag?: string[];
  quiet?: string[];
  read?(b: CallBuilder, r: OptReader, services: string[]): void;
}

function servicesNote(b: CallBuilder, services: string[]): void {
  if (services.length) {
    b.note(`${b.tool} acts on every service of the project (not only ${services.join(", ")})`);
  }
}

function oneService(b: CallBuilder, services: string[]): void {
  const [first, ...rest] = services;
  if (first !== undefined) b.set("service", first);
  if (rest.length) b.note(`${b.tool} takes one service: call it once more for ${rest.join(", ")}`);
}

const VERBS: Record<string, VerbSpec> = {
  up: {
    value: ["--scale", "-t", "--timeout", "--exit-code-from", "--pull", "--wait-timeout"],
    flag: [
      "-d",
      "--detach",
      "--build",
      "--no-build",
      "--force-recreate",
      "--no-recreate",
      "--remove-orphans",
      "--no-deps",
      "--wait",
      "-V",
      "--renew-anon-volumes",
      "--quiet-pull",
      "--abort-on-container-exit",
      "-y",
      "--no-start",
      "--no-color",
      "--no-log-prefix",
      "--timestamps",
    ],
    quiet: ["-d", "--detach", "--quiet-pull", "--no-color", "--no-log-prefix", "-y"],
    read(b, r, services) {
      if (r.has("--build")) b.set("build", true);
      servicesNote(b, services);
    },
  },
  down: {
    value: ["--rmi", "-t", "--timeout"],
    flag: ["-v", "--volumes", "--remove-orphans"],
    read(b, r, services) {
      if (r.has("-v", "--volumes")) {
        b.set("volumes", true);
        b.note("volumes=true deletes the project's volumes with their data");
      }
      servicesNote(b, services);
    },
  },
  pull: {
    value: ["--policy"],
    flag: ["-q", "--quiet", "--ignore-pull-failures", "--include-deps", "--ignore-buildable"],
    quiet: ["-q", "--quiet"],
    read: (b, _r, services) => servicesNote(b, services),
  },
  start: { read: (b, _r, services) => servicesNote(b, services) },
  stop: { value: ["-t", "--timeout"], read: (b, _r, services) => servicesNote(b, services) },
  restart: {
    value: ["-t", "--timeout"],
    flag: ["--no-deps"],
    read: (b, _r, services) => servicesNote(b, services),
  },
  ps: {
    value: ["--format", "--filter", "--status"],
    flag: ["-a", "--all", "-q", "--quiet", "--services", "--no-trunc", "--orphans"],
    quiet: ["--format", "-q", "--quiet", "--no-trunc"],
    read(b, r, services) {
      oneService(b, services);
      const status = r.last("--status") ??
        r.values("--filter").find((f) => f.startsWith("status="))?.slice(7) ?? null;
      if (status !== null) b.set("status", status);
    },
  },
  logs: {
    value: ["-n", "--tail", "--since", "--until", "--index"],
    flag: ["-f", "--follow", "-t", "--timestamps", "--no-color", "--no-log-prefix"],
    quiet: ["--no-color", "--no-log-prefix"],
    read(b, r, services) {
      oneService(b, services);
      const tail = r.last("-n", "--tail");
      if (tail === "all") b.note("tail takes 1..10000 (the command asked for all lines)");
      else setInt(b, "tail", tail, 1, 10_000);
      if (r.has("-f", "--follow")) b.note("the tool does not follow: it returns the last lines");
    },
  },
};

/**
 * The call for the words after `docker compose` (v2) or after
 * `docker-compose` / `podman-compose` (v1).
 */
export function composeSuggestion(words: readonly string[], v1: boolean): Suggestion {
  const g = scanOptions(words, GLOBAL, true);
  if (g.ambiguous) return toolOnly(COMPOSE_FAMILY);
  const [verb, ...rest] = g.pos;
  const spec = verb !== undefined && Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
  if (!spec) return toolOnly(COMPOSE_FAMILY);
  const b = new CallBuilder(`ssh_docker_compose_${verb}`);
  const gr = new OptReader(g);
  const files = gr.values("-f", "--file");
  if (files.length === 1) b.set("compose_file", files[0]!);
  else if (files.length === 0) {
    b.note(
      "compose_file= is required: the path of the project's compose file (the command used the default file of its working directory)",
    );
  } else {
    b.note(`${b.tool} takes one compose_file (the command merged ${files.join(", ")})`);
  }
  const s = scanOptions(rest, spec);
  if (s.ambiguous) b.inexact();
  const r = new OptReader(s, spec.quiet ?? []);
  spec.read?.(b, r, s.pos);
  if (v1) b.set("compose_v1", true);
  const left = gr.leftovers();
  if (left.length) b.note(`compose options not carried over: ${left.join(" ")}`);
  r.noteLeftovers(b);
  return b.done();
}
