/**
 * DOCKER-26/27 (NEW): the escalation scan of a compose project before
 * `compose_up` creates containers. A compose file is just another way to say
 * `docker run --privileged -v /:/host`, and the file may have been written by
 * the same agent (ssh_upload), so `compose_up` applies the `ssh_docker_run`
 * deny-list to it:
 *
 * - the rendered configuration (`<compose> -f F config`: variables from
 *   `.env` interpolated, relative binds made absolute) and the file's own
 *   text are scanned line by line (a light YAML reader, deliberately
 *   conservative: a refused key anywhere refuses the project);
 * - refused keys: `privileged: true`, `cap_add`, `security_opt`, `devices`,
 *   `device_cgroup_rules`, `group_add`, `volumes_from`, `runtime`, `sysctls`,
 *   `cgroup_parent`, `driver_opts` with a `device`, host or `container:`
 *   namespaces (`pid`, `ipc`, `uts`, `userns_mode`, `network_mode`,
 *   `cgroup`), `env_file` outside the project directory;
 * - every absolute bind source must not be sensitive (same list as
 *   `ssh_docker_run`) and must pass the host's path policy (allowlist,
 *   restricted zones): a bind is file access.
 *
 * With ALLOW_DOCKER_PRIVILEGED the scan is skipped.
 *
 * @module
 */

import { posix } from "node:path";
import type { CheckedPath } from "../../checked.ts";
import type { ToolContext } from "../context.ts";
import { type Prefixes, runCli } from "./_cli.ts";
import { normalizeSource, sensitiveSource } from "./_validate.ts";

/** What a scan found. */
export interface ComposeScan {
  /** the first refused setting, or null */
  escalation: string | null;
  /** absolute bind sources (normalized) */
  binds: string[];
}

const DENIED_KEYS = [
  "cap_add",
  "security_opt",
  "devices",
  "device_cgroup_rules",
  "group_add",
  "volumes_from",
  "runtime",
  "sysctls",
  "cgroup_parent",
];
const NAMESPACE_KEYS = ["pid", "ipc", "uts", "userns_mode", "network_mode", "cgroup", "cgroupns"];

function unquote(v: string): string {
  const t = v.trim().replace(/\s+#.*$/, "");
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) {
    return t.slice(1, -1);
  }
  return t;
}

/**
 * Scans compose YAML text (see module docs). `projectDir` resolves relative
 * `env_file` entries; `rendered` marks `config` output (absolute binds).
 */
export function scanComposeText(text: string, projectDir: string): ComposeScan {
  const binds: string[] = [];
  let escalation: string | null = null;
  const found = (what: string) => {
    escalation ??= what;
  };
  let listKey: "volumes" | "env_file" | null = null;
  let listIndent = -1;
  let driverOptsIndent = -1;
  for (const rawLine of text.split("\n")) {
    if (/^\s*(#|$)/.test(rawLine)) continue;
    const indent = rawLine.length - rawLine.trimStart().length;
    const line = rawLine.trim();
    const isItem = line.startsWith("-");
    if (listKey !== null && (indent < listIndent || (indent === listIndent && !isItem))) {
      listKey = null;
    }
    if (driverOptsIndent >= 0 && indent <= driverOptsIndent) driverOptsIndent = -1;
    const kv = /^(?:-\s+)?["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?\s*:(?:\s+(.*))?$/.exec(line);
    if (kv) {
      const key = kv[1]!.toLowerCase();
      const value = kv[2] === undefined ? "" : unquote(kv[2]);
      if (key === "privileged" && /^(true|yes|on)$/i.test(value)) found("privileged: true");
      if (DENIED_KEYS.includes(key)) found(key);
      if (NAMESPACE_KEYS.includes(key)) {
        const v = value.toLowerCase();
        if (v === "host" || v.startsWith("container:") || v.startsWith("ns:")) {
          found(`${key}: ${value}`);
        }
      }
      if (driverOptsIndent >= 0 && key === "device") found("driver_opts device");
      if (key === "driver_opts") driverOptsIndent = indent;
      if ((key === "source" || key === "src") && value.startsWith("/")) {
        binds.push(normalizeSource(value));
      } else if ((key === "source" || key === "src") && value.startsWith(".")) {
        binds.push(normalizeSource(posix.join(projectDir, value)));
      }
      if (key === "env_file" || key === "volumes") {
        if (value.startsWith("[")) {
          for (const item of value.slice(1, -1).split(",")) {
            const v = unquote(item);
            if (key === "env_file") checkEnvFile(v, projectDir, found);
            else volumeItem(v, binds, projectDir);
          }
        } else if (value !== "") {
          if (key === "env_file") checkEnvFile(value, projectDir, found);
        } else {
          listKey = key;
          listIndent = indent;
        }
      }
      continue;
    }
    const item = /^-\s+(.*)$/.exec(line);
    if (!item || listKey === null) continue;
    const v = unquote(item[1]!);
    if (/^[A-Za-z_][A-Za-z0-9_]*\s*:/.test(v)) continue; // long-syntax mapping item
    if (listKey === "volumes") volumeItem(v, binds, projectDir);
    else checkEnvFile(v, projectDir, found);
  }
  for (const b of binds) {
    const why = b === "~" ? "a bind source in a home directory (~)" : sensitiveSource(b);
    if (why) found(why);
  }
  return { escalation, binds: [...new Set(binds)] };
}

function volumeItem(v: string, binds: string[], projectDir: string): void {
  const i = v.indexOf(":");
  const src = i < 0 ? v : v.slice(0, i);
  if (src.startsWith("/")) binds.push(normalizeSource(src));
  // relative binds resolve against the project directory (`./data`, `../../etc`)
  else if (src.startsWith(".")) binds.push(normalizeSource(posix.join(projectDir, src)));
  else if (src.startsWith("~")) binds.push("~");
}

function checkEnvFile(v: string, projectDir: string, found: (w: string) => void): void {
  if (v.includes("$")) {
    found(`env_file ${v} (interpolated path)`);
    return;
  }
  const abs = posix.normalize(v.startsWith("/") ? v : posix.join(projectDir, v));
  if (!(abs === projectDir || abs.startsWith(projectDir + "/"))) {
    found(`env_file ${v} (outside the project directory ${projectDir})`);
  }
}

/**
 * DOCKER-26/27 for `compose_up`: scans the file and its rendered
 * configuration; returns the refused setting, or null when every bind also
 * passed the path policy (which throws its own errors).
 */
export async function composeEscalation(
  ctx: ToolContext,
  p: Prefixes,
  file: CheckedPath,
  v1: boolean,
): Promise<string | null> {
  const dir = posix.dirname(file);
  const fs = await ctx.fs();
  const own = new TextDecoder().decode(await fs.readFile(file, 1024 * 1024, ctx.signal));
  const a = scanComposeText(own, dir);
  if (a.escalation) return a.escalation;
  const r = await runCli(ctx, p.compose(v1), ["-f", file, "config"], { timeout: 60 });
  let binds = a.binds;
  if (r.exitCode === 0 && r.stdout.trim() !== "") {
    const b = scanComposeText(r.stdout, dir);
    if (b.escalation) return b.escalation;
    binds = [...new Set([...binds, ...b.binds])];
  } else if (/\$\{?[A-Za-z_]/.test(own)) {
    // no rendered view (podman-compose has no `config`): interpolation cannot be resolved
    return "variable interpolation that cannot be checked without `config` (use literal values)";
  }
  for (const b of binds) {
    await ctx.checkPath(ctx.host, b, { mustExist: false, audit: null });
  }
  return null;
}
