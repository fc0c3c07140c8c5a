/**
 * The exact docker tool call for one docker sub-command (CHEAT-9, CHEAT-12):
 * each builder reads the words after the sub-command (`docker logs --tail
 * 100 web` -> `--tail 100 web`) with the parameter names of the tools in
 * `src/tools/docker/` (TOOLS.md §10).
 *
 * @module
 */

import { DOCKER_RUN_OPTIONS } from "./docker_run_options.ts";
import {
  CallBuilder,
  noteOnePerCall,
  OptReader,
  type Scanned,
  scanOptions,
  setInt,
  shellJoin,
  type Suggestion,
} from "./cheatsheet_call.ts";

/** A builder: the words after the sub-command -> the suggestion. */
export type VerbBuilder = (words: readonly string[]) => Suggestion;

/** `-f`/`--filter key=value` values by key (the docker tools take one value per key). */
function filters(r: OptReader): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of r.values("-f", "--filter")) {
    const eq = f.indexOf("=");
    const key = eq > 0 ? f.slice(0, eq) : f;
    out.set(key, [...(out.get(key) ?? []), eq > 0 ? f.slice(eq + 1) : ""]);
  }
  return out;
}

/** Sets `param` from the filter `key`; other keys and repeats are noted. */
function filterArgs(
  b: CallBuilder,
  r: OptReader,
  map: Record<string, string>,
  convert: (key: string, v: string) => string | boolean | null = (_k, v) => v,
): void {
  const left: string[] = [];
  for (const [key, vals] of filters(r)) {
    const param = Object.hasOwn(map, key) ? map[key] : undefined;
    const v = param ? convert(key, vals[0]!) : null;
    if (param && v !== null) b.set(param, v);
    for (const x of param && v !== null ? vals.slice(1) : vals) left.push(`${key}=${x}`);
  }
  if (left.length) b.note(`${b.tool} does not take the filter(s) ${left.join(", ")}`);
}

function begin(
  tool: string,
  words: readonly string[],
  spec: { value?: string[]; flag?: string[]; quiet?: string[] },
  stopAtPositional = false,
): { b: CallBuilder; r: OptReader; s: Scanned } {
  const b = new CallBuilder(tool);
  const s = scanOptions(words, spec, stopAtPositional);
  if (s.ambiguous) b.inexact();
  return { b, r: new OptReader(s, spec.quiet ?? []), s };
}

function finish(b: CallBuilder, r: OptReader, extra: readonly string[] = []): Suggestion {
  if (extra.length) b.note(`not carried over: ${extra.join(" ")}`);
  r.noteLeftovers(b);
  return b.done();
}

function required(b: CallBuilder, param: string, v: string | undefined): void {
  if (v === undefined) b.note(`${param}= is required (the command did not name one)`);
  else b.set(param, v);
}

export function ps(words: readonly string[]): Suggestion {
  const { b, r } = begin("ssh_docker_ps", words, {
    value: ["-f", "--filter", "--format", "-n", "--last"],
    flag: ["-a", "--all", "-q", "--quiet", "-s", "--size", "--no-trunc", "-l", "--latest"],
    quiet: ["--format", "-q", "--quiet", "--no-trunc"],
  });
  if (r.has("-a", "--all")) b.set("all_", true);
  filterArgs(b, r, { name: "name", status: "status", label: "label", ancestor: "ancestor" });
  return finish(b, r, r.scanned.pos);
}

export function images(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_images", words, {
    value: ["-f", "--filter", "--format"],
    flag: ["-a", "--all", "-q", "--quiet", "--digests", "--no-trunc", "--tree"],
    quiet: ["--format", "-q", "--quiet", "--no-trunc"],
  });
  const [ref, ...rest] = s.pos;
  if (ref !== undefined) b.set("reference", ref);
  filterArgs(
    b,
    r,
    { reference: "reference", dangling: "dangling", label: "label" },
    (k, v) => k !== "dangling" ? v : v === "true" ? true : v === "false" ? false : null,
  );
  return finish(b, r, rest);
}

/** `inspect`; `kind` from a management form (`image inspect`), else `--type`. */
export function inspect(kind: string | null): VerbBuilder {
  return (words) => {
    const { b, r, s } = begin("ssh_docker_inspect", words, {
      value: ["-f", "--format", "--type"],
      flag: ["-s", "--size"],
    });
    const [target, ...rest] = s.pos;
    required(b, "target", target);
    const type = r.last("--type");
    const k = kind ?? type;
    if (k && ["container", "image", "network", "volume"].includes(k)) {
      if (k !== "container" || type !== null) b.set("kind", k);
    } else if (k) b.note(`kind takes container, image, network or volume (the command gave ${k})`);
    if (r.last("-f", "--format") !== null) {
      b.note("the tool returns the whole object as JSON (no --format template)");
    }
    noteOnePerCall(b, "target", rest);
    return finish(b, r);
  };
}

export function logs(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_logs", words, {
    value: ["-n", "--tail", "--since", "--until"],
    flag: ["-f", "--follow", "-t", "--timestamps", "--details"],
  });
  const [container, ...rest] = s.pos;
  required(b, "container", container);
  setInt(b, "tail", r.last("-n", "--tail"), 1, 10_000);
  const since = r.last("--since");
  if (since !== null) b.set("since", since);
  if (r.has("-t", "--timestamps")) b.set("timestamps", true);
  if (r.has("-f", "--follow")) b.note("the tool does not follow: it returns the last lines");
  return finish(b, r, rest);
}

export function stats(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_stats", words, {
    value: ["--format"],
    flag: ["-a", "--all", "--no-stream", "--no-trunc"],
    quiet: ["--format", "--no-stream", "--no-trunc", "-a", "--all"],
  });
  if (s.pos.length) {
    b.note(`the tool reports every running container (not only ${s.pos.join(", ")})`);
  }
  return finish(b, r);
}

export function top(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_top", words, {}, true);
  const [container, ...psWords] = s.pos;
  required(b, "container", container);
  if (psWords.length) {
    if (psWords.some((w) => /\s/.test(w))) b.note(`ps options with spaces are not carried over`);
    else b.set("ps_options", psWords.join(" "));
  }
  return finish(b, r);
}

export function events(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_events", words, {
    value: ["-f", "--filter", "--since", "--until", "--format"],
    quiet: ["--format"],
  });
  const since = r.last("--since");
  if (since !== null) b.set("since", since);
  const until = r.last("--until");
  if (until !== null) b.set("until", until);
  const f = r.values("-f", "--filter");
  if (f.length) b.set("filters", f);
  return finish(b, r, s.pos);
}

/** `volume ls` (no name) and `volume inspect NAME`. */
export function volumes(inspectForm: boolean): VerbBuilder {
  return (words) => {
    const { b, r, s } = begin("ssh_docker_volumes", words, {
      value: ["-f", "--filter", "--format"],
      flag: ["-q", "--quiet"],
      quiet: ["--format", "-q", "--quiet"],
    });
    if (inspectForm) {
      const [name, ...rest] = s.pos;
      required(b, "name", name);
      noteOnePerCall(b, "name", rest);
    } else if (s.pos.length) b.note(`not carried over: ${s.pos.join(" ")}`);
    filterArgs(b, r, {});
    return finish(b, r);
  };
}

const SHELLS = new Set(["sh", "bash", "/bin/sh", "/bin/bash", "ash", "dash"]);

export function exec(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_exec", words, {
    value: ["-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir", "--detach-keys"],
    flag: ["-i", "--interactive", "-t", "--tty", "-d", "--detach", "--privileged"],
  }, true);
  const [container, ...cmd] = s.pos;
  required(b, "container", container);
  if (cmd.length === 3 && SHELLS.has(cmd[0]!) && cmd[1] === "-c") b.set("command", cmd[2]!);
  else if (cmd.length) b.set("command", shellJoin(cmd));
  else b.note("command= is required (the command did not give one)");
  if (r.has("-i", "--interactive")) b.set("interactive", true);
  if (r.has("-t", "--tty")) b.note("no TTY is allocated (-t is not carried over)");
  return finish(b, r);
}

/** Other `docker run` options that take a value (skipped, never carried over). */
const RUN_OTHER_VALUE = [
  "--add-host",
  "-a",
  "--attach",
  "--blkio-weight",
  "--cap-add",
  "--cgroup-parent",
  "--cgroupns",
  "--cidfile",
  "--cpu-period",
  "--cpu-quota",
  "--cpu-shares",
  "-c",
  "--cpuset-cpus",
  "--cpuset-mems",
  "--device",
  "--device-cgroup-rule",
  "--dns",
  "--dns-option",
  "--dns-search",
  "--domainname",
  "--env-file",
  "--expose",
  "--gpus",
  "--group-add",
  "--ip",
  "--ip6",
  "--ipc",
  "--isolation",
  "--label-file",
  "--link",
  "--log-driver",
  "--log-opt",
  "--mac-address",
  "--memory-swap",
  "--memory-swappiness",
  "--network-alias",
  "--oom-score-adj",
  "--pid",
  "--platform",
  "--pull",
  "--runtime",
  "--security-opt",
  "--storage-opt",
  "--sysctl",
  "--ulimit",
  "--userns",
  "--uts",
  "--volume-driver",
  "--volumes-from",
  "--detach-keys",
  "--name",
  "--net",
];
const RUN_OTHER_FLAG = [
  "-d",
  "--detach",
  "-i",
  "--interactive",
  "-t",
  "--tty",
  "--rm",
  "--privileged",
  "-P",
  "--publish-all",
  "-q",
  "--quiet",
  "--oom-kill-disable",
  "--disable-content-trust",
];

export function run(words: readonly string[]): Suggestion {
  const allowed = Object.keys(DOCKER_RUN_OPTIONS);
  const { b, r, s } = begin("ssh_docker_run", words, {
    value: [...allowed.filter((k) => DOCKER_RUN_OPTIONS[k]), ...RUN_OTHER_VALUE],
    flag: [...allowed.filter((k) => !DOCKER_RUN_OPTIONS[k]), ...RUN_OTHER_FLAG],
    quiet: ["-q", "--quiet"],
  }, true);
  const [image, ...args] = s.pos;
  required(b, "image", image);
  if (args.length) b.set("args", args);
  const name = r.last("--name");
  if (name !== null) b.set("name", name);
  b.set("remove", r.has("--rm"));
  if (r.has("-d", "--detach")) b.set("detached", true);
  const runOptions: string[] = [];
  for (const o of s.opts) {
    if (!Object.hasOwn(DOCKER_RUN_OPTIONS, o.name)) continue;
    r.has(o.name);
    if (o.text.includes(" ")) runOptions.push(o.name, o.value ?? "");
    else runOptions.push(o.text);
  }
  if (runOptions.length) b.set("run_options", runOptions);
  if (r.has("-i", "--interactive", "-t", "--tty")) {
    b.note("no TTY or stdin is attached (-i/-t are not carried over)");
  }
  const left = r.leftovers();
  if (left.length) {
    b.note(
      `ssh_docker_run does not accept ${left.join(" ")} (run_options takes only DOCKER-5 flags)`,
    );
  }
  return b.done();
}

/** start / stop / restart, and kill -> ssh_docker_stop. */
export function lifecycle(verb: "start" | "stop" | "restart" | "kill"): VerbBuilder {
  return (words) => {
    const tool = verb === "kill" ? "ssh_docker_stop" : `ssh_docker_${verb}`;
    const { b, r, s } = begin(tool, words, {
      value: ["-t", "--time", "--timeout", "-s", "--signal", "--detach-keys"],
      flag: ["-a", "--attach", "-i", "--interactive"],
    });
    const [container, ...rest] = s.pos;
    required(b, "container", container);
    if (verb === "kill") {
      b.note("ssh_docker_stop sends SIGTERM, then SIGKILL after the grace period");
    }
    noteOnePerCall(b, "container", rest);
    return finish(b, r);
  };
}

export function rm(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_rm", words, {
    flag: ["-f", "--force", "-v", "--volumes", "-l", "--link"],
  });
  const [container, ...rest] = s.pos;
  required(b, "container", container);
  if (r.has("-f", "--force")) b.set("force", true);
  noteOnePerCall(b, "container", rest);
  return finish(b, r);
}

export function rmi(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_rmi", words, {
    value: ["--platform"],
    flag: ["-f", "--force", "--no-prune"],
  });
  const [image, ...rest] = s.pos;
  required(b, "image", image);
  if (r.has("-f", "--force")) b.set("force", true);
  noteOnePerCall(b, "image", rest);
  return finish(b, r);
}

export function pull(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_pull", words, {
    value: ["--platform"],
    flag: ["-a", "--all-tags", "-q", "--quiet", "--disable-content-trust"],
    quiet: ["-q", "--quiet", "--disable-content-trust"],
  });
  const [image, ...rest] = s.pos;
  required(b, "image", image);
  return finish(b, r, rest);
}

/** `<scope> prune` (and the bare `docker prune` of CHEAT-6): always a `check=true` first. */
export function prune(scope: "container" | "image" | "volume" | "network" | "system"): VerbBuilder {
  return (words) => {
    const { b, r, s } = begin("ssh_docker_prune", words, {
      value: ["--filter"],
      flag: ["-f", "--force", "-a", "--all", "--volumes"],
      quiet: ["-f", "--force"],
    });
    b.set("scope", scope);
    const all = r.has("-a", "--all");
    if (all && (scope === "image" || scope === "system")) b.set("all_", true);
    b.set("check", true);
    b.note("check=true lists what would be removed; run it again with check=false to prune");
    if (scope === "system") {
      b.note(
        'scope="system" removes stopped containers, unused networks, dangling images and build cache, never volumes',
      );
    }
    if (scope === "volume" || r.has("--volumes")) {
      b.note(
        'volume data is deleted only with scope="volume" and confirm_volume_prune=true, which needs a human decision: ask the user, never set it on your own',
      );
    }
    if (all && scope === "volume") b.note("-a (named volumes too) is not carried over");
    return finish(b, r, s.pos);
  };
}

const CONTAINER_SIDE = /^([A-Za-z0-9][A-Za-z0-9_.-]*):(.*)$/s;

export function cp(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_cp", words, {
    flag: ["-a", "--archive", "-L", "--follow-link", "-q", "--quiet"],
    quiet: ["-q", "--quiet"],
  });
  const [src, dst, ...rest] = s.pos;
  const from = src !== undefined ? CONTAINER_SIDE.exec(src) : null;
  const to = dst !== undefined ? CONTAINER_SIDE.exec(dst) : null;
  if (src === undefined || dst === undefined || (from === null) === (to === null)) {
    return b.inexact().done();
  }
  const [c, inner, hostPath] = from ? [from[1]!, from[2]!, dst] : [to![1]!, to![2]!, src];
  if (hostPath === "-") return b.inexact().done();
  b.set("container", c).set("container_path", inner).set("host_path", hostPath);
  b.set("direction", from ? "from_container" : "to_container");
  return finish(b, r, rest);
}

export function systemDf(words: readonly string[]): Suggestion {
  const { b, r, s } = begin("ssh_docker_system_df", words, {
    value: ["--format"],
    flag: ["-v", "--verbose"],
    quiet: ["--format"],
  });
  return finish(b, r, s.pos);
}
