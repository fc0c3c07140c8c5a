/**
 * Pure parsers of docker/podman output (TOOLS.md §10.0, SECURITY.md DOCKER-9,
 * OUT-6): one JSON value per line (Docker's `--format {{json .}}`), a JSON
 * array (Podman prints arrays for `ps`, `images`, `volume ls`, `stats`; older
 * compose prints one for `ps --format json`), or a mix; label stripping with
 * the `stdout` rewrite; `Config.Env` masking for inspect; string values of
 * parsed objects sanitized (ANSI/NUL stripped, the rest flagged).
 *
 * Tested against captured real output in `tests/fixtures/docker/`.
 *
 * @module
 */

import { keyMatches } from "../../policy/redact.ts";
import { mergeWarnings, sanitize } from "../../policy/sanitize.ts";

/** A parsed JSON object of docker output. */
export type DockerObject = Record<string, unknown>;

function isObject(v: unknown): v is DockerObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function pushValue(v: unknown, out: DockerObject[]): void {
  if (Array.isArray(v)) {
    for (const x of v) if (isObject(x)) out.push(x);
  } else if (isObject(v)) {
    out.push(v);
  }
}

/**
 * Parses docker output: the whole text as one JSON value (object or array)
 * when it is one, else one JSON value per non-empty line (invalid lines are
 * skipped). Arrays contribute their objects; other values are ignored.
 */
export function parseJsonOutput(text: string): DockerObject[] {
  const t = text.trim();
  if (t === "") return [];
  const out: DockerObject[] = [];
  if (t.startsWith("[") || t.startsWith("{")) {
    try {
      pushValue(JSON.parse(t), out);
      return out;
    } catch {
      // NDJSON, or a truncated document: fall through to lines
    }
  }
  for (const line of t.split("\n")) {
    const l = line.trim();
    if (!l) continue;
    try {
      pushValue(JSON.parse(l), out);
    } catch {
      // invalid line skipped (a usage text, a truncated last line)
    }
  }
  return out;
}

/** True when `text` holds at least one JSON value docker would print. */
export function looksLikeJson(text: string): boolean {
  const t = text.trim();
  return t.startsWith("[") || t.startsWith("{");
}

/** Deletes `Labels` from each object (returns new objects). */
export function stripLabels(objs: readonly DockerObject[]): DockerObject[] {
  return objs.map((o) => {
    const { Labels: _drop, ...rest } = o;
    return rest;
  });
}

/** Compact NDJSON of `objs` (with a trailing newline when non-empty). */
export function ndjson(objs: readonly DockerObject[]): string {
  return objs.length ? objs.map((o) => JSON.stringify(o)).join("\n") + "\n" : "";
}

/** Sanitizes every string inside `v` (OUT-6): ANSI/NUL stripped, other findings flagged. */
export function sanitizeDeep<T>(v: T, warnings: string[]): T {
  if (typeof v === "string") {
    const s = sanitize(v);
    if (s.warnings.length) warnings.push(...s.warnings);
    return s.text as T;
  }
  if (Array.isArray(v)) return v.map((x) => sanitizeDeep(x, warnings)) as T;
  if (isObject(v)) {
    const out: DockerObject = {};
    for (const [k, x] of Object.entries(v)) {
      out[sanitizeDeep(k, warnings)] = sanitizeDeep(x, warnings);
    }
    return out as T;
  }
  return v;
}

/** Parses, sanitizes and returns objects plus the merged warnings. */
export function parseSanitized(text: string): { objects: DockerObject[]; warnings: string[] } {
  const warnings: string[] = [];
  const objects = parseJsonOutput(text).map((o) => sanitizeDeep(o, warnings));
  return { objects, warnings: mergeWarnings(warnings.map((w) => `parsed output: ${w}`)) };
}

/** The marker that replaces a masked environment value. */
export const REDACTED = "<redacted>";

const ENV_FLAG = /^(?:-e|--env)$/;

function maskAssignment(s: string, keys: readonly string[]): { text: string; masked: boolean } {
  const i = s.indexOf("=");
  if (i <= 0) return { text: s, masked: false };
  const name = s.slice(0, i);
  if (!keyMatches(name, keys)) return { text: s, masked: false };
  return { text: `${name}=${REDACTED}`, masked: true };
}

/**
 * DOCKER-9: masks `Config.Env` values whose variable name matches the redact
 * key list, and the same assignments where Podman repeats them
 * (`Config.CreateCommand`: `-e NAME=v`, `--env NAME=v`, `--env=NAME=v`).
 * Returns new objects and the number of masked values.
 */
export function maskEnv(
  objs: readonly DockerObject[],
  keys: readonly string[],
): { objects: DockerObject[]; masked: number } {
  let masked = 0;
  const objects = objs.map((o) => {
    const cfg = o.Config;
    if (!isObject(cfg)) return o;
    const c: DockerObject = { ...cfg };
    if (Array.isArray(c.Env)) {
      c.Env = c.Env.map((e) => {
        if (typeof e !== "string") return e;
        const m = maskAssignment(e, keys);
        if (m.masked) masked++;
        return m.text;
      });
    }
    if (Array.isArray(c.CreateCommand)) {
      const cmd = c.CreateCommand as unknown[];
      c.CreateCommand = cmd.map((t, i) => {
        if (typeof t !== "string") return t;
        const prev = i > 0 ? cmd[i - 1] : undefined;
        if (typeof prev === "string" && ENV_FLAG.test(prev)) {
          const m = maskAssignment(t, keys);
          if (m.masked) masked++;
          return m.text;
        }
        const long = /^--env=(.*)$/s.exec(t) ?? /^-e(.+)$/s.exec(t);
        if (long) {
          const m = maskAssignment(long[1]!.replace(/^=/, ""), keys);
          if (m.masked) {
            masked++;
            return `${t.startsWith("--") ? "--env=" : "-e"}${m.text}`;
          }
        }
        return t;
      });
    }
    return { ...o, Config: c };
  });
  return { objects, masked };
}

/** The `State` of an inspected container in a small, stable shape. */
export interface ContainerState {
  exists: boolean;
  status: string | null;
  running: boolean;
  exit_code: number | null;
  oom_killed: boolean | null;
  restarting: boolean | null;
  health: string | null;
  image: string | null;
  image_id: string | null;
  name: string | null;
  restart_count: number | null;
}

/** The state of the first inspected container in `objs` (none -> `exists: false`). */
export function containerState(objs: readonly DockerObject[]): ContainerState {
  const o = objs[0];
  if (!o) {
    return {
      exists: false,
      status: null,
      running: false,
      exit_code: null,
      oom_killed: null,
      restarting: null,
      health: null,
      image: null,
      image_id: null,
      name: null,
      restart_count: null,
    };
  }
  const st = isObject(o.State) ? o.State : {};
  const cfg = isObject(o.Config) ? o.Config : {};
  const health = isObject(st.Health) ? st.Health.Status : null;
  const name = typeof o.Name === "string" ? o.Name.replace(/^\//, "") : null;
  return {
    exists: true,
    status: typeof st.Status === "string" ? st.Status : null,
    running: st.Running === true,
    exit_code: typeof st.ExitCode === "number" ? st.ExitCode : null,
    oom_killed: typeof st.OOMKilled === "boolean" ? st.OOMKilled : null,
    restarting: typeof st.Restarting === "boolean" ? st.Restarting : null,
    health: typeof health === "string" && health !== "" ? health : null,
    image: typeof cfg.Image === "string" ? cfg.Image : null,
    image_id: typeof o.Image === "string" ? o.Image : null,
    name,
    restart_count: typeof o.RestartCount === "number" ? o.RestartCount : null,
  };
}

/** The container id of a `ps` row (Docker `ID`, Podman `Id`). */
export function rowId(o: DockerObject): string {
  const v = o.ID ?? o.Id ?? o.id;
  return typeof v === "string" ? v : "";
}

/** The container names of a `ps` row (Docker: comma string, Podman: array). */
export function rowNames(o: DockerObject): string[] {
  const v = o.Names ?? o.Name;
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  if (typeof v === "string") return v.split(",").map((s) => s.replace(/^\//, "")).filter(Boolean);
  return [];
}

/** The state word of a `ps` row (`running`, `exited`, ...). */
export function rowState(o: DockerObject): string {
  const v = o.State;
  if (typeof v === "string") return v.toLowerCase();
  return "";
}

/** The compose service of a `ps` row (compose v2 `Service`, or the compose label). */
export function rowService(o: DockerObject): string | null {
  if (typeof o.Service === "string") return o.Service;
  const labels = o.Labels;
  if (isObject(labels) && typeof labels["com.docker.compose.service"] === "string") {
    return labels["com.docker.compose.service"] as string;
  }
  if (typeof labels === "string") {
    const m = /(?:^|,)com\.docker\.compose\.service=([^,]*)/.exec(labels);
    if (m) return m[1]!;
  }
  return null;
}

/** Service names printed by `config --services` (one per line). */
export function parseServices(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter((l) =>
    /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(l)
  );
}

/** Container ids printed by `ps -q` (hex words). */
export function parseIds(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter((l) => /^[0-9a-f]{12,64}$/.test(l));
}
