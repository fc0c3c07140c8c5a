/**
 * `ssh-mcp doctor --client NAME`: the MCP client configuration for one client
 * (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf, Zed, Continue) with
 * THIS machine's absolute paths, ready to paste.
 *
 * Two launch forms:
 * - compiled binary: `Deno.execPath()` (the `ssh-mcp` binary itself), no
 *   arguments (`serve` is the default command);
 * - from source: the real `deno` binary (`Deno.execPath()`), `run`, the
 *   `--allow-*` flags of the `start` task of the `deno.json` next to
 *   `main.ts` (read at run time, never hard-coded), the absolute path of
 *   `main.ts` and the task's trailing arguments (`serve`).
 *
 * stdout carries only the snippet (valid JSON for the JSON clients, YAML for
 * Continue, a shell command for Claude Code) so it can be piped; where the
 * file goes on this OS and how to verify go to stderr.
 *
 * @module
 */

import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { expandPath, getEnv, loadDotenv } from "./config/env.ts";
import { mainModuleUrl } from "./permissions.ts";

/** Every client `doctor --client` knows, in README order. */
export const CLIENT_NAMES = [
  "claude-desktop",
  "claude-code",
  "cursor",
  "vscode",
  "windsurf",
  "zed",
  "continue",
] as const;

/** One of {@link CLIENT_NAMES}. */
export type ClientName = typeof CLIENT_NAMES[number];

/** The command a client runs to start the server. */
export interface LaunchCommand {
  /** `binary` = compiled `ssh-mcp`; `source` = `deno run ... main.ts` */
  readonly form: "binary" | "source";
  /** absolute path of the executable */
  readonly command: string;
  readonly args: readonly string[];
}

/** Inputs that default to the running process (tests override them). */
export interface ClientConfigOptions {
  env?: Record<string, string | undefined>;
  /** defaults to `Deno.execPath()` */
  execPath?: string;
  /** defaults to `Deno.mainModule` */
  mainModule?: string;
  /** defaults to `Deno.cwd()`; relative settings resolve against it */
  cwd?: string;
  /** defaults to `Deno.build.os` */
  os?: string;
}

/** Exit codes (as src/cli.ts). */
const EXIT_OK = 0;
const EXIT_USAGE = 2;

/**
 * The `--allow-*` flags and the arguments after the script of the `start`
 * task in a deno.json text. Throws when there is no usable `start` task.
 */
export function startTaskParts(denoJsonText: string): { flags: string[]; scriptArgs: string[] } {
  const parsed = JSON.parse(denoJsonText) as { tasks?: Record<string, unknown> };
  const task = parsed.tasks?.["start"];
  const line = typeof task === "string" ? task : typeof task === "object" && task !== null &&
      typeof (task as { command?: unknown }).command === "string"
    ? (task as { command: string }).command
    : undefined;
  if (line === undefined) throw new Error("deno.json has no string `start` task");
  const words = line.trim().split(/\s+/);
  const script = words.findIndex((w) => /(^|[/\\])main\.ts$/.test(w));
  if (script < 0) throw new Error("the `start` task does not run main.ts");
  return {
    flags: words.slice(0, script).filter((w) =>
      w.startsWith("--allow-") || w === "--no-prompt" || w.startsWith("--unstable-") ||
      w.startsWith("--v8-flags=")
    ),
    scriptArgs: words.slice(script + 1),
  };
}

function isDenoBinary(execPath: string): boolean {
  return /^deno(\.exe)?$/i.test(path.basename(execPath));
}

/**
 * The launch command of the running process: from source when the main
 * module is a local `main.ts` with a readable `deno.json` (with a `start`
 * task) next to it and the executable is `deno`; otherwise the compiled
 * binary (`execPath`, no arguments).
 */
export function launchCommand(opts: ClientConfigOptions = {}): LaunchCommand {
  const overridden = opts.execPath !== undefined || opts.mainModule !== undefined;
  const execPath = opts.execPath ?? Deno.execPath();
  const mainModule = opts.mainModule ?? mainModuleUrl();
  const binary: LaunchCommand = { form: "binary", command: execPath, args: [] };
  if (!overridden && Deno.build.standalone) return binary;
  if (!isDenoBinary(execPath)) return binary;
  if (!mainModule.startsWith("file:") || !/main\.ts$/.test(mainModule)) return binary;
  const mainPath = fileURLToPath(mainModule);
  let text: string;
  try {
    text = Deno.readTextFileSync(path.join(path.dirname(mainPath), "deno.json"));
  } catch {
    return binary;
  }
  let parts: { flags: string[]; scriptArgs: string[] };
  try {
    parts = startTaskParts(text);
  } catch {
    return binary;
  }
  return {
    form: "source",
    command: execPath,
    args: ["run", ...parts.flags, mainPath, ...parts.scriptArgs],
  };
}

function homeDir(env: Record<string, string | undefined>): string | undefined {
  for (const k of ["HOME", "USERPROFILE"]) {
    const v = getEnv(env, k);
    if (v !== undefined && v !== "") return v;
  }
  return undefined;
}

function absolute(p: string, env: Record<string, string | undefined>, cwd: string): string {
  const e = expandPath(p, env);
  return path.isAbsolute(e) ? e : path.resolve(cwd, e);
}

/** A suggested audit log file when SSH_AUDIT_LOG is unset. */
function defaultAuditLog(env: Record<string, string | undefined>, os: string, cwd: string): string {
  if (os === "windows") {
    const local = getEnv(env, "LOCALAPPDATA");
    if (local) return path.win32.join(local, "ssh-mcp", "audit.jsonl");
  }
  const state = getEnv(env, "XDG_STATE_HOME");
  if (state && path.isAbsolute(state)) return path.join(state, "ssh-mcp", "audit.jsonl");
  return absolute("~/.local/state/ssh-mcp/audit.jsonl", env, cwd);
}

/**
 * The `env` block: SSH_HOSTS_FILE, SSH_KNOWN_HOSTS and SSH_AUDIT_LOG as
 * absolute paths (from the environment, else the defaults), the two tier
 * flags, and the other path settings only when they are set.
 */
export function clientEnv(
  env: Record<string, string | undefined>,
  cwd: string,
  os: string = Deno.build.os,
): Record<string, string> {
  const out: Record<string, string> = {};
  const hosts = getEnv(env, "SSH_HOSTS_FILE");
  // blank = no hosts file (env-only mode): keep it blank
  out["SSH_HOSTS_FILE"] = hosts === "" ? "" : absolute(hosts ?? "hosts.toml", env, cwd);
  const known = getEnv(env, "SSH_KNOWN_HOSTS");
  out["SSH_KNOWN_HOSTS"] = absolute(known || "~/.ssh/known_hosts", env, cwd);
  const audit = getEnv(env, "SSH_AUDIT_LOG")?.trim();
  out["SSH_AUDIT_LOG"] = audit === undefined || audit === ""
    ? defaultAuditLog(env, os, cwd)
    : audit === "stderr" || audit === "off"
    ? audit
    : absolute(audit, env, cwd);
  for (const k of ["SSH_PINNED_KNOWN_HOSTS", "SSH_CONFIG_FILE", "SSH_HOST_NOTES_DIR"]) {
    const v = getEnv(env, k);
    if (v !== undefined && v !== "") out[k] = absolute(v, env, cwd);
  }
  for (const k of ["ALLOW_LOW_ACCESS_TOOLS", "ALLOW_DANGEROUS_TOOLS"]) {
    out[k] = getEnv(env, k) || "false";
  }
  const sudo = getEnv(env, "ALLOW_SUDO");
  if (sudo) out["ALLOW_SUDO"] = sudo;
  return out;
}

function json(v: unknown): string {
  return JSON.stringify(v, null, 2);
}

function shellQuote(s: string, os: string): string {
  if (/^[A-Za-z0-9_@%+=:,./\\-]+$/.test(s)) return s;
  if (os === "windows") return `"${s.replaceAll('"', '\\"')}"`;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A YAML scalar: plain when unambiguous, else a (JSON = YAML) double-quoted string. */
function yamlScalar(s: string): string {
  const plain = /^[A-Za-z0-9_/.~-][A-Za-z0-9_/.~:@+-]*$/.test(s) && !s.startsWith("---") &&
    !/^(true|false|yes|no|on|off|null|~|-|[-+.0-9][-+.0-9eE_]*)$/i.test(s);
  return plain ? s : JSON.stringify(s);
}

/** The snippet (stdout) for one client. */
export function clientSnippet(
  client: ClientName,
  launch: LaunchCommand,
  env: Record<string, string>,
  os: string = Deno.build.os,
): string {
  const server = { command: launch.command, args: [...launch.args], env };
  switch (client) {
    case "claude-desktop":
    case "cursor":
    case "windsurf":
      return json({ mcpServers: { "ssh-mcp": server } });
    case "vscode":
      return json({ servers: { "ssh-mcp": { type: "stdio", ...server } } });
    case "zed":
      return json({ context_servers: { "ssh-mcp": server } });
    case "claude-code": {
      const cont = os === "windows" ? " `" : " \\";
      const lines = ["claude mcp add --transport stdio --scope user ssh-mcp"];
      for (const [k, v] of Object.entries(env)) {
        lines.push(`  --env ${shellQuote(`${k}=${v}`, os)}`);
      }
      lines.push(
        `  -- ${[launch.command, ...launch.args].map((a) => shellQuote(a, os)).join(" ")}`,
      );
      return lines.join(`${cont}\n`);
    }
    case "continue": {
      const lines = [
        "name: ssh-mcp",
        "version: 0.0.1",
        "schema: v1",
        "mcpServers:",
        "  - name: ssh-mcp",
        "    type: stdio",
        `    command: ${yamlScalar(launch.command)}`,
      ];
      if (launch.args.length === 0) lines.push("    args: []");
      else {
        lines.push("    args:");
        for (const a of launch.args) lines.push(`      - ${yamlScalar(a)}`);
      }
      lines.push("    env:");
      for (const [k, v] of Object.entries(env)) lines.push(`      ${k}: ${yamlScalar(v)}`);
      return lines.join("\n");
    }
  }
}

/** Where the snippet goes for `client` on `os` (absolute where the path is fixed). */
export function clientConfigLocation(
  client: ClientName,
  os: string,
  env: Record<string, string | undefined>,
): string {
  const home = homeDir(env) ?? "~";
  const win = os === "windows";
  const join = win ? path.win32.join : path.posix.join;
  const appData = getEnv(env, "APPDATA") || "%APPDATA%";
  switch (client) {
    case "claude-desktop":
      return win
        ? `${path.win32.join(appData, "Claude", "claude_desktop_config.json")} (key mcpServers)`
        : os === "darwin"
        ? `${
          join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json")
        } (key mcpServers)`
        : `Claude Desktop is published for macOS and Windows; unofficial Linux builds read ${
          join(getEnv(env, "XDG_CONFIG_HOME") || join(home, ".config"), "Claude")
        }/claude_desktop_config.json (key mcpServers)`;
    case "claude-code":
      return `no file to edit: run the command; --scope user stores it in ${
        join(home, ".claude.json")
      } (--scope project writes .mcp.json in the project instead)`;
    case "cursor":
      return `${join(home, ".cursor", "mcp.json")} (all projects) or .cursor${
        win ? "\\" : "/"
      }mcp.json in a project (merge into the mcpServers key)`;
    case "vscode":
      return `.vscode${
        win ? "\\" : "/"
      }mcp.json in the workspace (key servers; or the command "MCP: Open User Configuration")`;
    case "windsurf":
      return `${join(home, ".codeium", "windsurf", "mcp_config.json")} (key mcpServers)`;
    case "zed":
      return `${
        win
          ? path.win32.join(appData, "Zed", "settings.json")
          : join(getEnv(env, "XDG_CONFIG_HOME") || join(home, ".config"), "zed", "settings.json")
      } (merge into the context_servers key)`;
    case "continue":
      return `.continue${win ? "\\" : "/"}mcpServers${
        win ? "\\" : "/"
      }ssh-mcp.yaml in the workspace (or the mcpServers list of ${
        join(home, ".continue", "config.yaml")
      }, without the three metadata lines)`;
  }
}

function verifyHint(client: ClientName): string {
  const restart = client === "claude-code"
    ? "run `claude mcp list` (ssh-mcp should be connected), then"
    : "restart or reload the client, then";
  return `${restart} ask the agent to call the ssh_host_list tool; it lists the hosts of SSH_HOSTS_FILE.`;
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function usage(): string {
  return `usage: ssh-mcp doctor --client NAME\nNAME is one of: ${CLIENT_NAMES.join(", ")}`;
}

function isClientName(s: string): s is ClientName {
  return (CLIENT_NAMES as readonly string[]).includes(s);
}

/**
 * `ssh-mcp doctor --client NAME` (`args` are the words after `doctor`):
 * prints the snippet on `io.out` and where it goes plus how to verify on
 * `io.err`. Returns 0, or 2 on a usage error (missing or unknown NAME).
 */
export function runDoctorClient(
  args: readonly string[],
  io: { out: (text: string) => void; err: (text: string) => void },
  opts: ClientConfigOptions = {},
): Promise<number> {
  return Promise.resolve(doctorClient(args, io, opts));
}

function doctorClient(
  args: readonly string[],
  io: { out: (text: string) => void; err: (text: string) => void },
  opts: ClientConfigOptions,
): number {
  let name: string | undefined;
  const extra: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--client") {
      if (name !== undefined) {
        io.err(`ssh-mcp: --client given twice\n${usage()}`);
        return EXIT_USAGE;
      }
      name = args[i + 1] ?? "";
      i++;
    } else if (a.startsWith("--client=")) {
      name = a.slice("--client=".length);
    } else if (a !== "--json") {
      extra.push(a);
    }
  }
  if (name === undefined || name === "") {
    io.err(`ssh-mcp: doctor --client needs a client name\n${usage()}`);
    return EXIT_USAGE;
  }
  const wanted = name.toLowerCase();
  if (!isClientName(wanted)) {
    io.err(`ssh-mcp: unknown client ${JSON.stringify(name)}\n${usage()}`);
    return EXIT_USAGE;
  }
  if (extra.length > 0) {
    io.err(`ssh-mcp: doctor --client takes no other arguments (got ${extra.join(" ")})`);
    return EXIT_USAGE;
  }
  const os = opts.os ?? Deno.build.os;
  const cwd = opts.cwd ?? Deno.cwd();
  let env: Record<string, string | undefined>;
  if (opts.env !== undefined) env = opts.env;
  else {
    // the server reads .env in ITS working directory, which a client does not
    // share: fold this directory's .env into the block so nothing is lost
    const real = Deno.env.toObject();
    try {
      env = loadDotenv(real, cwd).vars;
    } catch {
      env = real;
    }
  }
  const launch = launchCommand(opts);
  const block = clientEnv(env, cwd, os);
  io.out(clientSnippet(wanted, launch, block, os));
  const lines = [
    `# ${wanted}: ${
      launch.form === "binary" ? "compiled binary" : "from source (deno run ... main.ts)"
    } form, with this machine's absolute paths`,
    `# Put it in: ${clientConfigLocation(wanted, os, env)}`,
  ];
  if (launch.form === "source") {
    lines.push(
      `# Run \`deno install\` once in ${
        path.dirname(launch.args.find((a) => /main\.ts$/.test(a)) ?? ".")
      } so the first start does not download the npm dependencies.`,
    );
  }
  const hostsFile = block["SSH_HOSTS_FILE"]!;
  if (hostsFile !== "" && !exists(hostsFile)) {
    lines.push(
      `# ${hostsFile} does not exist yet: write it (ssh-mcp init writes a starter one) or set SSH_HOSTS_FILE.`,
    );
  }
  const audit = block["SSH_AUDIT_LOG"]!;
  if (path.isAbsolute(audit) || path.win32.isAbsolute(audit)) {
    if (!exists(path.dirname(audit))) {
      lines.push(
        `# Create ${
          path.dirname(audit)
        } first: the server refuses to start when it cannot open SSH_AUDIT_LOG (or set it to stderr).`,
      );
    }
  }
  lines.push(
    '# Hosts with method = "agent": add SSH_AUTH_SOCK to env (GUI clients do not read your shell profile).',
  );
  lines.push(`# Verify: ${verifyHint(wanted)}`);
  io.err(lines.join("\n"));
  return EXIT_OK;
}
