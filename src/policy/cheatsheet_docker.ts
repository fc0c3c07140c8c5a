/**
 * Docker commands in the cheatsheet (CHEAT-10..14, replacing CHEAT-6's
 * "second word" rule): which words start a docker command, the global
 * options skipped before the sub-command, the management forms
 * (`docker container ls`, `docker image rm`, ...) and the compose forms, each
 * to the docker tool and its exact call.
 *
 * @module
 */

import {
  type LeadWords,
  OptReader,
  scanOptions,
  type Suggestion,
  toolOnly,
} from "./cheatsheet_call.ts";
import { COMPOSE_FAMILY, composeSuggestion } from "./cheatsheet_compose.ts";
import {
  cp,
  events,
  exec,
  images,
  inspect,
  lifecycle,
  logs,
  prune,
  ps,
  pull,
  rm,
  rmi,
  run,
  stats,
  systemDf,
  top,
  type VerbBuilder,
  volumes,
} from "./cheatsheet_docker_verbs.ts";

/** CHEAT-6: the docker family text. */
export const DOCKER_FAMILY = "ssh_docker_* family";

/** CHEAT-10: the programs of a docker command (v1 compose programs included). */
const PROGRAMS = new Set(["docker", "podman", "docker-compose", "podman-compose"]);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/s;

/**
 * CHEAT-10: the index of the docker program among the command's words, after
 * `env [NAME=value...]`; -1 when the command is no docker command. The
 * program must be written as a bare word (`"docker"` is not matched, CHEAT-8).
 */
export function dockerProgramIndex(lead: LeadWords): number {
  let i = 0;
  if (lead.texts[0] === "env") {
    i = 1;
    while (i < lead.values.length && ASSIGNMENT.test(lead.values[i]!)) i++;
  }
  return PROGRAMS.has(lead.texts[i] ?? "") ? i : -1;
}

/** CHEAT-11: docker / podman options before the sub-command. */
const GLOBAL = {
  value: [
    "-H",
    "--host",
    "-c",
    "--context",
    "--connection",
    "--config",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
    "--url",
    "--identity",
    "--root",
    "--runroot",
    "--storage-driver",
    "--storage-opt",
    "--cgroup-manager",
    "--events-backend",
    "--runtime",
    "--tmpdir",
    "--ssh",
    "--module",
  ],
  flag: ["-D", "--debug", "--tls", "--tlsverify", "--remote", "-r", "--syslog", "--noout"],
};

const volume = volumes(false);
const TOP: Record<string, VerbBuilder> = {
  ps,
  images,
  inspect: inspect(null),
  logs,
  stats,
  top,
  events,
  volumes: volume,
  exec,
  run,
  start: lifecycle("start"),
  stop: lifecycle("stop"),
  restart: lifecycle("restart"),
  kill: lifecycle("kill"),
  rm,
  rmi,
  pull,
  prune: prune("container"),
  cp,
};

/** CHEAT-12: management forms `docker <object> <verb>`. */
const MANAGEMENT: Record<string, Record<string, VerbBuilder>> = {
  container: {
    ls: ps,
    ps,
    list: ps,
    inspect: inspect("container"),
    logs,
    start: TOP.start!,
    stop: TOP.stop!,
    restart: TOP.restart!,
    kill: TOP.kill!,
    rm,
    remove: rm,
    exec,
    run,
    top,
    stats,
    cp,
    prune: prune("container"),
  },
  image: {
    ls: images,
    list: images,
    pull,
    rm: rmi,
    remove: rmi,
    inspect: inspect("image"),
    prune: prune("image"),
  },
  volume: { ls: volume, list: volume, inspect: volumes(true), prune: prune("volume") },
  system: { df: systemDf, prune: prune("system") },
  network: { inspect: inspect("network"), prune: prune("network") },
};

function pick<T>(table: Record<string, T>, key: string | undefined): T | undefined {
  return key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

/** The sub-command's suggestion: the words after the docker program (global options included). */
function subcommand(words: readonly string[]): { sug: Suggestion; globals: string[] } {
  const g = scanOptions(words, GLOBAL, true);
  if (g.ambiguous) return { sug: toolOnly(DOCKER_FAMILY), globals: [] };
  const globals = new OptReader(g).leftovers();
  const [sub, ...rest] = g.pos;
  if (sub === "compose") return { sug: composeSuggestion(rest, false), globals };
  if (sub === "volume" && rest.length === 0) return { sug: volume([]), globals };
  const forms = pick(MANAGEMENT, sub);
  if (forms) {
    const [verb, ...args] = rest;
    const b = pick(forms, verb);
    return { sug: b ? b(args) : toolOnly(DOCKER_FAMILY), globals };
  }
  const b = pick(TOP, sub);
  return { sug: b ? b(rest) : toolOnly(DOCKER_FAMILY), globals };
}

/**
 * CHEAT-10..14: the docker tool (or family text) and exact call for a command
 * whose words start with a docker program at `index`.
 */
export function dockerSuggestion(lead: LeadWords, index: number): Suggestion {
  const program = lead.texts[index]!;
  const words = lead.values.slice(index + 1);
  let sug: Suggestion;
  let globals: string[] = [];
  if (program.endsWith("-compose")) sug = composeSuggestion(words, true);
  else ({ sug, globals } = subcommand(words));
  if (sug.args === null) return sug;
  const notes = [...sug.notes];
  if (globals.length) {
    notes.push({
      text: `global options are not carried over (${
        globals.join(" ")
      }): the docker tools run the host's configured docker command (docker_cmd, else SSH_DOCKER_CMD)`,
    });
  }
  if (program.startsWith("podman")) {
    notes.push({
      text:
        "the docker tools run the host's configured docker command (docker_cmd, else SSH_DOCKER_CMD), which may be podman",
    });
  }
  if (index > 0) {
    const names = lead.values.slice(1, index).map((a) => a.slice(0, a.indexOf("=")));
    notes.push({
      text: `the environment of the command is not carried over${
        names.length ? ` (${names.join(", ")})` : ""
      }`,
    });
  }
  return { ...sug, notes };
}

export { COMPOSE_FAMILY };
