/**
 * Least privilege (docs/PERMISSIONS.md): the Deno permissions each command
 * runs with, computed from the configuration before any agent-facing code
 * runs.
 *
 * The process is started with broad static grants (deno.json `start`, baked
 * into the compiled binary); `launcher.ts` loads the configuration, calls
 * {@link planPermissions} and runs the real program (`cli.ts`) in a Worker
 * whose permissions are this plan. The Worker can never gain more: Deno
 * refuses a write outside `write`, a program outside `run`, a system query
 * outside `sys` with `NotCapable`, whatever the code (ours or a dependency's)
 * tries.
 *
 * - write: only the locations the configuration names for the command
 *   (audit log file, pinned known_hosts directory, host notes directory,
 *   `SSH_LOCAL_TRANSFER_ROOTS`; `init`: the directory of the hosts file it
 *   writes; `bridge`: the default client key it may generate).
 * - run: only what the configuration runs locally: the `SSH_HOOKS_COMMAND`
 *   program, and the shell (`/bin/sh`, Windows `cmd.exe`) when a secret
 *   command (`passphrase_cmd`, `password_cmd`, `sudo_password_cmd`,
 *   `SSH_SUDO_PASSWORD_CMD`, the sudo keyring lookup) or an ssh_config
 *   ProxyCommand can run. Nothing when none is configured.
 * - sys: the few system facts the code reads ({@link SYS_GRANTS}).
 * - read, env, net: not narrowed (see docs/PERMISSIONS.md for why).
 *
 * Paths and programs are fixed at start: a SIGHUP reload that names a new
 * write location or a new secret command is refused by Deno until restart.
 *
 * @module
 */

import * as path from "./util/local_path.ts";
import { expandPath, getEnv, shellSplit } from "./config/env.ts";
import type { LoadedConfig } from "./config/load.ts";

/** One granted location or program, with the setting that needs it. */
export interface Grant {
  /** absolute path (write) or absolute program path (run) */
  value: string;
  /** the setting or feature that needs it */
  why: string;
}

/** The permissions one command runs with. */
export interface PermissionPlan {
  /** the command (`serve`, `doctor`, `init`, ...) */
  command: string;
  write: Grant[];
  run: Grant[];
  /** `Deno.permissions` sys names (hostname, uid, ...) */
  sys: string[];
  /** not narrowed: the reason is in docs/PERMISSIONS.md */
  read: "all";
  env: "all";
  net: "all";
  ffi: "none";
  /** what could not be computed (e.g. a configuration error: the command then runs with no write/run) */
  notes: string[];
}

/**
 * System facts the code and its libraries read: `uid` (ssh_config `%i`,
 * init's ownership checks), `hostname` (bridge key comment; node:os users),
 * `homedir` (node:os `homedir()`, the same value as `HOME`). Everything else
 * (`osRelease`, `osUptime`, `loadavg`, `networkInterfaces`, `systemMemoryInfo`,
 * `cpus`, `gid`, `getPriority`, ...) stays refused.
 */
export const SYS_GRANTS: readonly string[] = ["hostname", "uid", "homedir"];

/** The shell a secret command or ProxyCommand runs through (secrets.ts, handshake.ts). */
export function shellProgram(): string {
  return Deno.build.os === "windows" ? "cmd.exe" : "/bin/sh";
}

/** A configured path as the server resolves it (`~`, `${VAR}`, relative to cwd). */
function resolveLike(p: string, env: Record<string, string | undefined>, cwd: string): string {
  const e = expandPath(p.trim(), env);
  return path.isAbsolute(e) ? path.normalize(e) : path.resolve(cwd, e);
}

function realOrNull(p: string): string | null {
  try {
    return Deno.realPathSync(p);
  } catch {
    return null;
  }
}

function isSymlink(p: string): boolean {
  try {
    return Deno.lstatSync(p).isSymlink;
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

class Builder {
  readonly write: Grant[] = [];
  readonly run: Grant[] = [];
  readonly notes: string[] = [];

  addWrite(value: string, why: string): void {
    if (!this.write.some((g) => g.value === value)) this.write.push({ value, why });
    // Deno checks the path as opened; code that resolves symlinks first opens the target
    const real = realOrNull(value);
    if (real !== null && real !== value && !this.write.some((g) => g.value === real)) {
      this.write.push({ value: real, why: `${why} (symlink target)` });
    }
  }

  addRun(value: string, why: string): void {
    const g = this.run.find((r) => r.value === value);
    if (g) {
      if (!g.why.includes(why)) g.why += `; ${why}`;
    } else this.run.push({ value, why });
  }
}

function base(command: string, b: Builder): PermissionPlan {
  return {
    command,
    write: b.write,
    run: b.run,
    sys: [...SYS_GRANTS],
    read: "all",
    env: "all",
    net: "all",
    ffi: "none",
    notes: b.notes,
  };
}

/** The plan for a command that must not write or run anything (help, version, a broken config). */
export function minimalPlan(command: string, note?: string): PermissionPlan {
  const b = new Builder();
  if (note) b.notes.push(note);
  return base(command, b);
}

/**
 * The plan of the server commands (`serve` stdio/HTTP, `serve-ssh`, `tools`,
 * `doctor`): every write location and local program the configuration names.
 * `doctor` also gets the audit log's directory (its writability probe creates
 * and removes a sibling file; the server itself only appends to the file).
 */
export async function planServer(cfg: LoadedConfig, command: string): Promise<PermissionPlan> {
  // settings.ts is loaded with the configuration anyway; --version does not need it
  const { findExecutable } = await import("./config/settings.ts");
  const b = new Builder();
  const s = cfg.settings;
  const env = cfg.env;
  const cwd = cfg.cwd;

  const audit = s.SSH_AUDIT_LOG.trim();
  if (audit !== "" && audit !== "stderr" && audit !== "off") {
    const target = resolveLike(audit, env, cwd);
    b.addWrite(target, "SSH_AUDIT_LOG (append)");
    if (command === "doctor") b.addWrite(path.dirname(target), "doctor's SSH_AUDIT_LOG probe");
  }

  // host_pins.ts resolves a symlinked pin file, then writes <target>.tmp-* beside it and renames
  let pin = resolveLike(s.SSH_PINNED_KNOWN_HOSTS, env, cwd);
  if (isSymlink(pin)) pin = realOrNull(pin) ?? pin;
  b.addWrite(path.dirname(pin), "SSH_PINNED_KNOWN_HOSTS (first-contact pins: temp file + rename)");

  if (s.SSH_HOST_NOTES_DIR && s.SSH_HOST_NOTES_DIR.trim() !== "") {
    b.addWrite(resolveLike(s.SSH_HOST_NOTES_DIR, env, cwd), "SSH_HOST_NOTES_DIR (agent notes)");
  }

  for (const r of s.SSH_LOCAL_TRANSFER_ROOTS) {
    const e = expandPath(r.trim(), env);
    if (!e || !path.isAbsolute(e)) continue; // local_paths.ts ignores these too
    b.addWrite(path.normalize(e), "SSH_LOCAL_TRANSFER_ROOTS (local_path downloads)");
  }

  if (s.SSH_HOOKS_COMMAND !== null) {
    try {
      const prog = shellSplit(s.SSH_HOOKS_COMMAND)[0];
      const found = prog === undefined ? null : findExecutable(prog, env, cwd);
      if (found !== null) b.addRun(found, "SSH_HOOKS_COMMAND");
      else b.notes.push("SSH_HOOKS_COMMAND names no executable: no program granted for it");
    } catch {
      b.notes.push("SSH_HOOKS_COMMAND cannot be split: no program granted for it");
    }
  }

  const sh = shellProgram();
  if (s.SSH_SUDO_PASSWORD_CMD) b.addRun(sh, "SSH_SUDO_PASSWORD_CMD");
  if (s.ALLOW_SUDO) b.addRun(sh, "ALLOW_SUDO (OS keyring lookup of the sudo password)");
  if (s.ALLOW_SSH_CONFIG_PROXYCOMMAND) b.addRun(sh, "ALLOW_SSH_CONFIG_PROXYCOMMAND");
  const cmdHosts: Record<string, string[]> = {};
  for (const p of cfg.hosts.hosts.values()) {
    for (
      const [k, v] of [
        ["passphrase_cmd", p.auth.passphrase_cmd],
        ["password_cmd", p.auth.password_cmd],
        ["sudo_password_cmd", p.sudo_password_cmd],
      ] as const
    ) {
      if (v) (cmdHosts[k] ??= []).push(p.alias);
    }
  }
  for (const [k, aliases] of Object.entries(cmdHosts)) {
    const list = aliases.length > 3
      ? `${aliases.slice(0, 3).join(", ")} +${aliases.length - 3}`
      : aliases.join(", ");
    b.addRun(sh, `${k} (${list})`);
  }
  // the grants are directories: say so when one of them holds a file the server must never write
  const own: [string | null, string][] = [
    [cfg.hosts.source, "the hosts file"],
    [resolveLike(s.SSH_KNOWN_HOSTS, env, cwd), "SSH_KNOWN_HOSTS"],
    [path.join(cwd, ".env"), "the .env file"],
  ];
  for (const [file, what] of own) {
    if (file === null || !exists(file)) continue;
    const g = b.write.find((w) => file === w.value || file.startsWith(w.value + path.sep));
    if (g) {
      b.notes.push(
        `${what} ${file} lies inside a writable location (${g.value}, ${g.why}); give that ` +
          "setting a directory of its own (e.g. SSH_PINNED_KNOWN_HOSTS=~/.config/ssh-mcp/pins/pinned_known_hosts)",
      );
    }
  }
  return base(command, b);
}

/**
 * `init`: the directory of the hosts file it writes (mirrors init.ts: `--out`,
 * else `SSH_HOSTS_FILE`, else `$XDG_CONFIG_HOME/ssh-mcp/hosts.toml` or
 * `~/.config/ssh-mcp/hosts.toml`). init creates the directory when missing, then
 * writes a temp file beside the target and links it into place.
 */
export function planInit(
  args: readonly string[],
  env: Record<string, string | undefined>,
  cwd: string,
): PermissionPlan {
  const b = new Builder();
  let out: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const m = /^--out(?:=(.*))?$/.exec(args[i]!);
    if (m) out = m[1] ?? args[++i] ?? null;
  }
  const named = getEnv(env, "SSH_HOSTS_FILE")?.trim() ?? "";
  let spec = out ?? (named !== "" ? named : null);
  if (spec === null) {
    const xdg = getEnv(env, "XDG_CONFIG_HOME")?.trim();
    spec = xdg && path.isAbsolute(xdg)
      ? path.join(xdg, "ssh-mcp", "hosts.toml")
      : "~/.config/ssh-mcp/hosts.toml";
  }
  const home = getEnv(env, "HOME") || getEnv(env, "USERPROFILE");
  if ((spec === "~" || spec.startsWith("~/")) && !home) {
    b.notes.push("HOME is not set: no hosts file location granted");
    return base("init", b);
  }
  const file = resolveLike(spec, env, cwd);
  b.addWrite(path.dirname(file), "init's hosts file (--out / SSH_HOSTS_FILE / default)");
  return base("init", b);
}

/**
 * `bridge`: the client key it generates on first use (`key` and `key.pub`;
 * its directory instead when that does not exist yet, for the mkdir), the
 * directory of its pin file (`--tofu` pins the key server's host key into
 * `SSH_PINNED_KNOWN_HOSTS`), and the shell when a passphrase or ProxyCommand
 * can run (`--passphrase-cmd`, or the hosts.toml alias's commands).
 */
export async function planBridge(
  defaultKey: string | null,
  passphraseCommand: boolean,
  cfg: LoadedConfig | null,
): Promise<PermissionPlan> {
  const b = new Builder();
  if (defaultKey !== null) {
    const dir = path.dirname(defaultKey);
    if (!exists(dir)) b.addWrite(dir, "bridge: directory of the default client key (created)");
    else {
      b.addWrite(defaultKey, "bridge: the default client key (generated on first use)");
      b.addWrite(`${defaultKey}.pub`, "bridge: the default client key (generated on first use)");
    }
  }
  if (passphraseCommand) b.addRun(shellProgram(), "bridge --passphrase-cmd");
  if (cfg !== null) {
    const server = await planServer(cfg, "bridge");
    for (const g of server.write) {
      if (g.why.startsWith("SSH_PINNED_KNOWN_HOSTS")) b.addWrite(g.value, g.why);
    }
    for (const g of server.run) if (g.value === shellProgram()) b.addRun(g.value, g.why);
    b.notes.push(...server.notes);
  } else {
    b.notes.push("the configuration did not load: no pin file location granted");
  }
  return base("bridge", b);
}

/** The Worker `deno.permissions` object of a plan. */
export function workerPermissions(plan: PermissionPlan): Record<string, unknown> {
  return {
    read: true,
    env: true,
    net: true,
    ffi: false,
    import: false,
    sys: plan.sys.length ? [...plan.sys] : false,
    write: plan.write.length ? plan.write.map((g) => g.value) : false,
    run: plan.run.length ? plan.run.map((g) => g.value) : false,
  };
}

let active: PermissionPlan | null = null;

/** Called once by the Worker entry with the plan it was started with. */
export function setActivePlan(plan: PermissionPlan): void {
  active = plan;
}

let launchMain: string | null = null;

/** Called once by the Worker entry with the launcher's `Deno.mainModule`. */
export function setLaunchMainModule(url: string): void {
  launchMain = url;
}

/**
 * The process's main module (`file:///.../main.ts` from source): the
 * launcher's when running in the Worker, where `Deno.mainModule` is undefined.
 */
export function mainModuleUrl(): string {
  return launchMain ?? Deno.mainModule ?? "";
}

/** The plan this process runs under, or null when it was not started through the launcher. */
export function activePlan(): PermissionPlan | null {
  return active;
}

/** Deno's own answer for a write to `p` (the proof doctor shows next to the plan). */
export async function writeState(p: string): Promise<Deno.PermissionState> {
  return (await Deno.permissions.query({ name: "write", path: p })).state;
}

/** Deno's own answer for running `p`. */
export async function runState(p: string): Promise<Deno.PermissionState> {
  return (await Deno.permissions.query({ name: "run", command: p })).state;
}

/** Lines describing the report for doctor's text output. */
export function describeReport(r: PermissionReport): string[] {
  const out: string[] = [];
  if (!r.narrowed) {
    out.push(
      "permissions: NOT NARROWED (not started through main.ts with --unstable-worker-options; " +
        "the process holds every grant of its deno command line; docs/PERMISSIONS.md)",
    );
  } else {
    out.push(`permissions: narrowed for ${r.command} (docs/PERMISSIONS.md)`);
    out.push(`  write: ${r.write.length ? "" : "nothing"}`);
    for (const g of r.write) out.push(`    ${g.value}  <- ${g.why}`);
    out.push(`  run  : ${r.run.length ? "" : "nothing"}`);
    for (const g of r.run) out.push(`    ${g.value}  <- ${g.why}`);
    out.push(`  sys  : ${r.sys.join(", ") || "nothing"}`);
    out.push("  net  : all (SSH to any configured host, HTTP listen, OTLP, OAuth, state store)");
    out.push("  read : all (keys, known_hosts, ssh_config, secrets, local transfer roots)");
    out.push("  env  : all (the configuration is the environment)");
    out.push("  ffi  : none");
    for (const n of r.notes) out.push(`  note : ${n}`);
  }
  for (const c of r.checks) {
    out.push(`  check: ${c.kind} ${c.target}: ${c.allowed ? "allowed" : "refused"} (Deno)`);
  }
  return out;
}

/** doctor's view: the plan plus Deno's own answer for sample locations and programs. */
export interface PermissionReport {
  narrowed: boolean;
  command: string | null;
  write: Grant[];
  run: Grant[];
  sys: string[];
  net: string;
  read: string;
  env: string;
  notes: string[];
  /** Deno.permissions.query answers: every grant (allowed) and places outside them (refused) */
  checks: { kind: "write" | "run"; target: string; allowed: boolean }[];
}

/**
 * Builds doctor's report. `outside` are places that are not grants (the hosts
 * file, the working directory, the home directory, the temp directory, the
 * shell): Deno must answer "denied" for them when narrowed.
 */
export async function permissionReport(
  outside: { write: string[]; run: string[] },
): Promise<PermissionReport> {
  const plan = activePlan();
  const checks: PermissionReport["checks"] = [];
  const seen = new Set<string>();
  const add = async (kind: "write" | "run", target: string) => {
    if (seen.has(`${kind}:${target}`)) return;
    seen.add(`${kind}:${target}`);
    const state = kind === "write" ? await writeState(target) : await runState(target);
    checks.push({ kind, target, allowed: state === "granted" });
  };
  for (const g of plan?.write ?? []) await add("write", g.value);
  for (const g of plan?.run ?? []) await add("run", g.value);
  for (const w of outside.write) await add("write", w);
  for (const r of outside.run) await add("run", r);
  return {
    narrowed: plan !== null,
    command: plan?.command ?? null,
    write: plan?.write ?? [],
    run: plan?.run ?? [],
    sys: plan?.sys ?? [],
    net: plan ? "all" : "as the deno command line grants",
    read: plan ? "all" : "as the deno command line grants",
    env: plan ? "all" : "as the deno command line grants",
    notes: plan?.notes ?? [],
    checks,
  };
}
