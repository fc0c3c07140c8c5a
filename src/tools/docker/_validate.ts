/**
 * Validation of the docker group's words (TOOLS.md §3, SECURITY.md §DOCKER),
 * pure and run before any I/O: the identifier patterns as zod schemas, the
 * `ps_options` splitter, `container_path`, and the `ssh_docker_run`
 * escalation guard (DOCKER-3/4, the NEW DOCKER-20.. rules of
 * docs/security/docker.md) with the positive allowlist of `run_options`
 * (DOCKER-5).
 *
 * Every value that passes is still POSIX-quoted by the `sh` template; these
 * rules decide what docker may be asked to do, not how it is quoted.
 *
 * @module
 */

import { DOCKER_RUN_OPTIONS } from "../../policy/docker_run_options.ts";
import { posix } from "node:path";
import { z } from "zod";
import { shellSplit } from "../../config/env.ts";
import { ToolError } from "../../errors.ts";

/** R_DOCKER_NAME (NEW: at most 255 characters; a leading `-` cannot match). */
export const R_DOCKER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

const COMPONENT = "[a-z0-9]+(?:[._-][a-z0-9]+)*";
const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?";
const PORT = "(?::[0-9]{1,5})";
/** a registry host: `localhost[:port]`, a dotted name `[:port]`, or `name:port` */
const DOMAIN = `(?:localhost${PORT}?|${LABEL}(?:\\.${LABEL})+${PORT}?|${LABEL}${PORT})`;
const TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";

/**
 * R_IMAGE (NEW grammar): `[registry[:port]/]path[/path...][:tag][@sha256:<64 hex>]`,
 * path components `[a-z0-9]+([._-][a-z0-9]+)*`, at most 255 characters.
 */
export const R_IMAGE = new RegExp(
  `^(?:${DOMAIN}/)?${COMPONENT}(?:/${COMPONENT})*(?::${TAG})?(?:@sha256:[0-9a-f]{64})?$`,
);

/** R_LABEL key and value. */
const R_LABEL_KEY = /^[A-Za-z0-9._/-]{1,128}$/;
const R_LABEL_VALUE = /^[A-Za-z0-9._:/=+-]{1,256}$/;

/** R_REF_FILTER. */
export const R_REF_FILTER = /^[A-Za-z0-9._/:*?@-]{1,256}$/;

/** R_DOCKER_TIME: epoch, Go durations without `d`, ISO date-time, or `now`. */
export const R_DOCKER_TIME =
  /^(?:\d+(?:\.\d+)?|(?:\d+[smh])+|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?|now)$/;

/** R_DOCKER_FILTER. */
export const R_DOCKER_FILTER = /^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9._\-:/ ]{1,256}$/;

/** True when `s` is a valid R_LABEL (`key` or `key=value`, split at the first `=`). */
export function isLabel(s: string): boolean {
  const i = s.indexOf("=");
  if (i < 0) return R_LABEL_KEY.test(s);
  return R_LABEL_KEY.test(s.slice(0, i)) && R_LABEL_VALUE.test(s.slice(i + 1));
}

/** A container, volume, service or network name. */
export function nameArg(what: string): z.ZodString {
  return z.string().min(1).max(255).regex(
    R_DOCKER_NAME,
    "must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$ (R_DOCKER_NAME)",
  ).describe(what);
}

/** A container name or id. */
export const ContainerArg = nameArg("Container name or id");

/** An image reference. */
export const ImageArg = z.string().min(1).max(255).regex(
  R_IMAGE,
  "must be an image reference [registry[:port]/]path[:tag][@sha256:<64 hex>] with lower-case path components (R_IMAGE)",
).describe("Image reference, e.g. nginx:1.27");

/** A label filter. */
export const LabelArg = z.string().max(400).refine(
  isLabel,
  "must be key or key=value; key [A-Za-z0-9._/-]{1,128}, value [A-Za-z0-9._:/=+-]{1,256} (R_LABEL)",
);

/** A docker time (since/until). */
export function timeArg(what: string): z.ZodString {
  return z.string().max(64).regex(
    R_DOCKER_TIME,
    "must be an epoch (1700000000), a duration such as 15m or 1h30m (s/m/h only), an ISO date-time (2026-04-16T12:00:00Z) or now (R_DOCKER_TIME)",
  ).describe(what);
}

/** `tail` of the log tools (1..10000). */
export const TailArg = z.number().int().min(1).max(10_000).default(50).describe(
  "Last N lines",
);

/** `max_bytes` of the log tools (1 KiB..10 MiB). */
export const MaxBytesArg = z.number().int().min(1024).max(10_485_760).default(65_536).describe(
  "stdout cap, bytes",
);

/** `compose_v1`: use `<docker>-compose` instead of `<docker> compose`. */
export const ComposeV1Arg = z.boolean().default(false).describe(
  "Use docker-compose v1",
);

/** `include_labels`. */
export const IncludeLabelsArg = z.boolean().default(false).describe(
  "Keep labels",
);

/** `check` (NEW dry run) of the mutating docker tools. */
export const CheckArg = z.boolean().default(false).describe(
  "Dry run",
);

const PS_FORBIDDEN = /[|&;<>`$\n\r]/;
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** PS_OPTIONS: no shell metacharacters or newline, then POSIX word splitting. */
export function splitPsOptions(raw: string): string[] {
  if (PS_FORBIDDEN.test(raw) || CONTROL.test(raw.replaceAll("\t", " "))) {
    throw new ToolError(
      "ValueError",
      'ps_options must not contain | & ; < > ` $, a newline or control characters (PS_OPTIONS); give plain ps options such as "-o pid,user,args".',
    );
  }
  let words: string[];
  try {
    words = shellSplit(raw);
  } catch (e) {
    throw new ToolError(
      "ValueError",
      `ps_options cannot be split into words: ${(e as Error).message}.`,
    );
  }
  assertNoEnvironment(words);
  return words;
}

/** ps options whose next word is a value (a format list, a pid, a user, a sort key). */
const PS_VALUE_OPTS = new Set([
  "-o",
  "-O",
  "o",
  "O",
  "--format",
  "-p",
  "p",
  "--pid",
  "-u",
  "U",
  "-U",
  "--user",
  "-g",
  "-G",
  "--group",
  "-C",
  "--sort",
  "k",
  "-t",
  "t",
]);

/**
 * DOCKER-33 (NEW): `docker top` runs `ps` with these options over the
 * container's processes; asking for their environment (BSD `e`, an `env` /
 * `environ` format) would print the secrets that ssh_docker_inspect masks.
 */
function assertNoEnvironment(words: readonly string[]): void {
  let prev = "";
  for (const w of words) {
    const isValue = PS_VALUE_OPTS.has(prev);
    const bsdCluster = !isValue && /^[A-Za-z]+$/.test(w) && w.includes("e");
    if (/env/i.test(w) || bsdCluster) {
      throw new ToolError(
        "ValueError",
        `ps_options ${
          JSON.stringify(w)
        } would print the processes' environment (secrets that ssh_docker_inspect masks); use ssh_docker_inspect for the configuration.`,
      );
    }
    prev = w;
  }
}

/** DOCKER-8: `container_path` has no NUL or control characters and no leading `-`. */
export function assertContainerPath(p: string): void {
  if (p === "") throw new ToolError("ValueError", "container_path must not be empty.");
  if (CONTROL.test(p)) {
    throw new ToolError(
      "ValueError",
      "container_path must not contain NUL or control characters.",
    );
  }
  if (p.startsWith("-")) {
    throw new ToolError(
      "ValueError",
      "container_path must not start with - (it would be read as an option); use ./-name or an absolute path.",
    );
  }
}

// --- the ssh_docker_run escalation guard --------------------------------------

/** Flags refused in any form (`X`, `X=...`, `X value`) unless ALLOW_DOCKER_PRIVILEGED. */
const ALWAYS_DENIED = [
  "--privileged",
  "--cap-add",
  "--security-opt",
  "--device",
  "--device-cgroup-rule",
  "--device-read-bps",
  "--device-read-iops",
  "--device-write-bps",
  "--device-write-iops",
  "--group-add",
  "--volumes-from",
  "--runtime",
  "--sysctl",
  "--cgroup-parent",
  "--oom-kill-disable",
  "--env-file",
  "--label-file",
  "--volume-driver",
];

/** Namespace flags whose value must not be `host`, `container:...` or `ns:...`. */
const NAMESPACE_FLAGS = ["--pid", "--ipc", "--uts", "--userns", "--network", "--net", "--cgroupns"];

/** DOCKER-4 sensitive bind sources (exact after normalization). */
const SENSITIVE_EXACT = [
  "/",
  "/etc",
  "/root",
  "/home",
  "/proc",
  "/sys",
  "/dev",
  "/boot",
  "/var/lib/docker",
  "/run",
  "/var/run",
  "/usr",
  "/var",
  "/var/lib",
];

/** DOCKER-21 (NEW): sources at or below these are refused too. */
const SENSITIVE_TREES = [
  "/etc",
  "/root",
  "/proc",
  "/sys",
  "/dev",
  "/boot",
  "/var/lib/docker",
  "/var/lib/containers",
  "/run",
  "/var/run",
];

const SOCKET_NAMES = /(?:docker|containerd|podman|crio|cri-dockerd)\.sock$/;

/** Normalizes a bind source lexically (`//`, `/./`, `/x/..`). */
export function normalizeSource(src: string): string {
  const n = posix.normalize(src);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/** Why a host bind source is refused, or null. */
export function sensitiveSource(src: string): string | null {
  if (!src.startsWith("/")) return null;
  const n = normalizeSource(src);
  if (SENSITIVE_EXACT.includes(n)) return `bind source ${n}`;
  for (const t of SENSITIVE_TREES) {
    if (n === t || n.startsWith(t + "/")) return `bind source ${n} (inside ${t})`;
  }
  if (SOCKET_NAMES.test(n)) return `bind source ${n} (a container engine socket)`;
  return null;
}

/** The host source of a `-v`/`--volume` value (`src:dst[:opts]`), or null for an anonymous volume. */
export function volumeSource(value: string): string | null {
  const i = value.indexOf(":");
  if (i < 0) return value === "" ? null : (normalizeSource(value) === "/" ? "/" : null);
  return value.slice(0, i);
}

/** The bind source of a `--mount` value, or null (volume/tmpfs mounts). */
export function mountSource(
  value: string,
): { source: string | null; volumeOpt: boolean; type: string } {
  let type = "volume";
  let source: string | null = null;
  let volumeOpt = false;
  for (const part of value.split(",")) {
    const i = part.indexOf("=");
    const k = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
    const v = i < 0 ? "" : part.slice(i + 1).trim();
    if (k === "type") type = v.toLowerCase();
    else if (k === "source" || k === "src") source = v;
    else if (k.startsWith("volume-opt") || k === "volume-driver") volumeOpt = true;
  }
  if (type === "bind" || (source !== null && source.startsWith("/"))) {
    return { source, volumeOpt, type };
  }
  return { source: null, volumeOpt, type };
}

/** `--mount` types that cannot reach the host's files (Podman's `glob`, `image`, `devpts` can). */
const MOUNT_TYPES = new Set(["bind", "volume", "tmpfs"]);

/**
 * DOCKER-21: a bind source that is neither absolute nor a volume name (`./x`,
 * `../../etc`, `~/x`): Docker CLI 23+ and Podman resolve it against the CLI's
 * working directory on the host, out of sight of a lexical check.
 */
function relativeBind(src: string): boolean {
  return src !== "" && !src.startsWith("/") && !R_DOCKER_NAME.test(src);
}

/** Short flags of `docker run` that take a value (for bundles such as `-dv/:/x`). */
const SHORT_WITH_VALUE = new Set(["a", "c", "e", "h", "l", "m", "p", "u", "v", "w"]);

/** One option occurrence: the flag and its value (null for booleans / missing). */
interface Occurrence {
  flag: string;
  value: string | null;
  /** the value came from the next token */
  twoToken: boolean;
}

/**
 * Reads option occurrences out of tokens the way docker's flag parser would
 * (`--x=v`, `--x v`, `-v v`, `-v=v`, `-vVALUE`, bundles `-dit`, `-dv/:/x`).
 * `valueFlags` decides which long flags take the next token as their value.
 */
function occurrences(
  tokens: readonly string[],
  valueFlags: (flag: string) => boolean,
): Occurrence[] {
  const out: Occurrence[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.startsWith("--") && t.length > 2) {
      const eq = t.indexOf("=");
      if (eq > 0) {
        out.push({ flag: t.slice(0, eq), value: t.slice(eq + 1), twoToken: false });
      } else if (valueFlags(t) && i + 1 < tokens.length) {
        out.push({ flag: t, value: tokens[i + 1]!, twoToken: true });
        i++;
      } else {
        out.push({ flag: t, value: null, twoToken: false });
      }
    } else if (t.startsWith("-") && t.length > 1 && t !== "--") {
      for (let k = 1; k < t.length; k++) {
        const c = t[k]!;
        if (SHORT_WITH_VALUE.has(c)) {
          let v = t.slice(k + 1);
          let two = false;
          if (v.startsWith("=")) v = v.slice(1);
          else if (v === "" && i + 1 < tokens.length) {
            v = tokens[i + 1]!;
            i++;
            two = true;
          }
          out.push({ flag: `-${c}`, value: v, twoToken: two });
          break;
        }
        out.push({ flag: `-${c}`, value: null, twoToken: false });
      }
    }
  }
  return out;
}

/** Long flags known to take a value (two-token form). */
const LONG_WITH_VALUE = new Set([
  ...NAMESPACE_FLAGS,
  "--cap-add",
  "--security-opt",
  "--device",
  "--device-cgroup-rule",
  "--group-add",
  "--volumes-from",
  "--runtime",
  "--sysctl",
  "--cgroup-parent",
  "--env-file",
  "--label-file",
  "--volume-driver",
  "--volume",
  "--mount",
  "--env",
  "--publish",
  "--restart",
  "--label",
  "--user",
  "--workdir",
  "--entrypoint",
  "--memory",
  "--memory-reservation",
  "--cpus",
  "--tmpfs",
  "--health-cmd",
  "--health-interval",
  "--health-retries",
  "--health-timeout",
  "--health-start-period",
  "--health-start-interval",
  "--hostname",
  "--stop-timeout",
  "--stop-signal",
  "--cap-drop",
  "--pids-limit",
  "--shm-size",
  "--name",
]);

/** An escalation found by {@link escalation}. */
export interface Escalation {
  flag: string;
  detail: string;
}

/**
 * DOCKER-3/4 and the NEW rules: the first escalation in `tokens`, or null.
 * `hostPaths` receives every absolute bind source (for the path policy).
 */
export function escalation(tokens: readonly string[], hostPaths?: string[]): Escalation | null {
  for (const o of occurrences(tokens, (f) => LONG_WITH_VALUE.has(f))) {
    const f = o.flag;
    for (const d of ALWAYS_DENIED) {
      if (f === d) return { flag: d, detail: `${d} grants host privileges` };
    }
    if (f.startsWith("--device")) return { flag: f, detail: `${f} exposes host devices` };
    if (NAMESPACE_FLAGS.includes(f)) {
      const v = (o.value ?? "").toLowerCase();
      if (v === "host" || v.startsWith("container:") || v.startsWith("ns:")) {
        return { flag: `${f}=${o.value}`, detail: `${f} joins a host or foreign namespace` };
      }
      continue;
    }
    if (f === "-v" || f === "--volume") {
      const v = o.value ?? "";
      const src = volumeSource(v);
      if (src === null) continue;
      if (relativeBind(src)) {
        return { flag: `${f} ${v}`, detail: "a relative bind source (give an absolute path)" };
      }
      const why = sensitiveSource(src);
      if (why) return { flag: `${f} ${v}`, detail: why };
      if (src.startsWith("/")) hostPaths?.push(normalizeSource(src));
      continue;
    }
    if (f === "--mount") {
      const m = mountSource(o.value ?? "");
      if (m.volumeOpt) {
        return { flag: `--mount ${o.value}`, detail: "volume-opt can bind any host path" };
      }
      if (!MOUNT_TYPES.has(m.type)) {
        return { flag: `--mount ${o.value}`, detail: `mount type ${m.type} can reach host files` };
      }
      if (m.source === null) continue;
      if (m.type === "bind" && !m.source.startsWith("/")) {
        return { flag: `--mount ${o.value}`, detail: "a bind mount needs an absolute source" };
      }
      const why = m.source === "" ? "bind mount without a source" : sensitiveSource(m.source);
      if (why) return { flag: `--mount ${o.value}`, detail: why };
      if (m.source.startsWith("/")) hostPaths?.push(normalizeSource(m.source));
    }
  }
  return null;
}

/** Throws the DOCKER-3 `ValueError` for the first escalation of `tokens` (field = args/run_options). */
export function assertNoEscalation(
  field: string,
  tokens: readonly string[],
  hostPaths?: string[],
): void {
  const e = escalation(tokens, hostPaths);
  if (e) {
    throw new ToolError(
      "ValueError",
      `${field} contains ${e.flag}: ${e.detail}. ssh_docker_run refuses privilege escalation (--privileged, --cap-add, --device, host or container: namespaces, binds of /, system directories or an engine socket, --volumes-from, --env-file, ...) unless the operator sets ALLOW_DOCKER_PRIVILEGED=true.`,
      { flag: e.flag, setting: "ALLOW_DOCKER_PRIVILEGED" },
    );
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*=/;
const RESTART = /^(?:no|always|unless-stopped|on-failure(?::\d{1,4})?)$/;

/**
 * DOCKER-5 + DOCKER-22/23: validates `run_options` (placed before `--`):
 * every token is an allowlisted flag or its value, the deny-list holds, `-e`
 * values are `NAME=value` (a bare name would copy the docker CLI's own
 * environment into the container), `--network` names a network, `--restart`
 * is a restart policy. Returns the absolute bind sources (for the path
 * policy). With `privileged` (ALLOW_DOCKER_PRIVILEGED) only the shape rules
 * apply.
 */
export function checkRunOptions(tokens: readonly string[], privileged: boolean): string[] {
  const hostPaths: string[] = [];
  if (!privileged) assertNoEscalation("run_options", tokens, hostPaths);
  const bad = (msg: string): never => {
    throw new ToolError("ValueError", `run_options: ${msg}`);
  };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (CONTROL.test(t)) bad("tokens must not contain control characters.");
    if (!t.startsWith("-") || t === "-" || t === "--") {
      bad(
        `unexpected word ${
          JSON.stringify(t)
        }: give flags with their values (e.g. ["-e", "A=1", "--restart=unless-stopped"]); the image and its command are separate parameters.`,
      );
    }
    let flag = t;
    let value: string | null = null;
    const eq = t.indexOf("=");
    if (t.startsWith("--") && eq > 0) {
      flag = t.slice(0, eq);
      value = t.slice(eq + 1);
    } else if (!t.startsWith("--") && t.length > 2) {
      // -eA=1 / -v/x:/y attached short form
      flag = t.slice(0, 2);
      value = t.slice(2).replace(/^=/, "");
    }
    if (!Object.hasOwn(DOCKER_RUN_OPTIONS, flag)) {
      if (privileged) continue;
      bad(
        `${flag} is not an allowed run option (allowed: ${
          Object.keys(DOCKER_RUN_OPTIONS).join(", ")
        }).`,
      );
    }
    const takesValue = DOCKER_RUN_OPTIONS[flag]!;
    if (!takesValue) {
      if (value !== null) bad(`${flag} takes no value.`);
      continue;
    }
    if (value === null) {
      if (i + 1 >= tokens.length) bad(`${flag} needs a value.`);
      value = tokens[++i]!;
    }
    if (CONTROL.test(value)) bad("values must not contain control characters.");
    if ((flag === "-e" || flag === "--env") && !ENV_NAME.test(value)) {
      bad(
        `${flag} ${
          JSON.stringify(value)
        }: give NAME=value; a bare NAME copies the variable from the docker CLI's environment on the host.`,
      );
    }
    if (
      flag === "--network" && !privileged &&
      !/^(?:none|bridge|[A-Za-z0-9][A-Za-z0-9_.-]{0,254})$/.test(value)
    ) {
      bad(`--network ${JSON.stringify(value)} is not a network name.`);
    }
    if (flag === "--restart" && !RESTART.test(value)) {
      bad(`--restart ${JSON.stringify(value)}: use no, always, unless-stopped or on-failure[:N].`);
    }
  }
  return [...new Set(hostPaths)];
}
