/**
 * The server's own files (issue 9 §3, SECURITY rules LOCAL-12..LOCAL-17):
 * what `local_path` must never read or write, whatever
 * `SSH_LOCAL_TRANSFER_ROOTS` says.
 *
 * The set, computed from the loaded configuration (and again after every
 * reload, so it follows the hosts file):
 *
 * - configuration: the hosts file (even when missing: creating it would widen
 *   the policy at the next reload), `.env` in the working directory, the
 *   known_hosts file (and `known_hosts.old`, ...), the server's pin file
 *   `SSH_PINNED_KNOWN_HOSTS` (and its `.tmp-*` write siblings: whoever can
 *   write it decides which host keys are trusted), the ssh_config file, every
 *   file its `Include` lines can reach, and the `IdentityFile` /
 *   `CertificateFile` / known-hosts / `IdentityAgent` paths it names;
 * - state: the audit log and every name in its directory that starts with its
 *   name (rotation siblings `audit.log.1`, `audit.log-20250101.gz`), the notes
 *   directory, the skills and runbooks directories;
 * - secrets: `SSH_SECRETS_DIR`, `SSH_DEFAULT_KEY`, every host's `auth.key`
 *   (with its `.pub` / `-cert.pub` siblings) and `identity_agent` socket, the
 *   program (first word, resolved on PATH) and every existing file argument
 *   of each `*_cmd` (`passphrase_cmd`, `password_cmd`, `sudo_password_cmd`,
 *   `SSH_SUDO_PASSWORD_CMD`), the `~/.ssh` directory of the server's user;
 * - code: the `SSH_HOOKS_COMMAND` program and its file arguments, the runtime
 *   executable, the source tree the server runs from, and the runtime's
 *   module cache (`DENO_DIR`).
 *
 * The checks against this set live in `server_file_guard.ts`.
 *
 * @module
 */

import * as path from "../util/local_path.ts";
import { expandPath, shellSplit } from "../config/env.ts";
import type { LoadedConfig } from "../config/load.ts";
import { findExecutable } from "../config/settings.ts";
import type { HostPolicy, Settings } from "../config/types.ts";

/** How an entry protects: one file, a whole directory, or every name starting with a prefix. */
export type ServerFileKind = "file" | "dir" | "prefix";

/** One of the server's own files or directories. */
export interface ServerFile {
  /** absolute path, expanded but not canonicalized (that happens per check) */
  readonly path: string;
  readonly kind: ServerFileKind;
  /** what it is, for the refusal: "the hosts file (SSH_HOSTS_FILE)" */
  readonly what: string;
  /**
   * false for directories of public code (the source tree, the module
   * cache): a hard link into them reveals nothing secret and cannot change
   * them (downloads replace names, never write into an existing inode), so
   * the multiply-linked-file walk skips them (LOCAL-17)
   */
  readonly linkWalk?: false;
}

/** What {@link serverFilesFor} reads from a configuration. */
export type ServerFilesSource = Pick<LoadedConfig, "settings" | "env" | "cwd"> & {
  /** hosts.toml policies and source; null when only the settings are known */
  readonly hosts: {
    readonly source: string | null;
    readonly hosts: ReadonlyMap<string, HostPolicy>;
  } | null;
};

/** `Include` nesting followed in the ssh_config scan (OpenSSH uses 16). */
const INCLUDE_DEPTH_MAX = 16;

type Env = Readonly<Record<string, string | undefined>>;

function absolute(p: string, env: Env, base: string): string {
  const e = expandPath(p.trim(), env);
  return path.resolve(base, e);
}

/** The directory the server's source tree lives in (null when not on disk, e.g. compiled). */
function sourceRoot(): string | null {
  const u = new URL("../../", import.meta.url);
  return u.protocol === "file:" ? path.resolve(decodeURIComponent(u.pathname)) : null;
}

function denoDir(env: Env): string | null {
  if (env.DENO_DIR) return env.DENO_DIR;
  const home = env.HOME;
  if (Deno.build.os === "darwin") return home ? `${home}/Library/Caches/deno` : null;
  if (Deno.build.os === "windows") return env.LOCALAPPDATA ? `${env.LOCALAPPDATA}\\deno` : null;
  const cache = env.XDG_CACHE_HOME || (home ? `${home}/.cache` : null);
  return cache ? `${cache}/deno` : null;
}

function isRegularFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/**
 * A `*_cmd` / hooks command line: its program (resolved on PATH) and every
 * argument that names an existing regular file (`gpg -d ~/.pw.gpg`).
 */
function commandFiles(cmd: string, what: string, env: Env, cwd: string): ServerFile[] {
  let words: string[];
  try {
    words = shellSplit(cmd);
  } catch {
    return [];
  }
  const out: ServerFile[] = [];
  const [prog, ...args] = words;
  if (prog) {
    const exe = findExecutable(expandPath(prog, env), env, cwd);
    if (exe) out.push({ path: exe, kind: "file", what: `the program of ${what}` });
  }
  for (const a of args) {
    if (!(a.startsWith("/") || a.startsWith("~/") || a.startsWith("./") || a.startsWith("../"))) {
      continue;
    }
    const p = absolute(a, env, cwd);
    if (isRegularFile(p)) out.push({ path: p, kind: "file", what: `a file named by ${what}` });
  }
  return out;
}

/** A key file plus its `.pub` / `-cert.pub` siblings. */
function keyFile(p: string, what: string): ServerFile {
  return { path: p, kind: "prefix", what };
}

/** Splits an ssh_config value like OpenSSH (whitespace, double quotes). */
function configWords(v: string): string[] {
  const out: string[] = [];
  for (const m of v.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? "");
  return out.filter((w) => w !== "");
}

/**
 * A path value of ssh_config: `~` and `${VAR}` expanded; when it holds `%`
 * tokens or glob characters, everything up to the first of them is protected
 * as a prefix (`~/.ssh/id_%h` protects every `~/.ssh/id_*`).
 */
function configPath(v: string, env: Env, base: string, what: string): ServerFile | null {
  const e = expandPath(v, env);
  const cut = e.search(/[%*?[]/);
  if (cut === 0) return null;
  if (cut < 0) return { path: path.resolve(base, e), kind: "file", what };
  const stem = e.slice(0, cut);
  if (stem.endsWith("/")) return { path: path.resolve(base, stem), kind: "dir", what };
  return { path: path.resolve(base, stem), kind: "prefix", what };
}

function globRe(pattern: string): RegExp {
  const esc = pattern.replace(/[.+^${}()|\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".");
  return new RegExp(`^${esc}$`);
}

/** Files an `Include` pattern matches now (glob only in the last component). */
async function includeMatches(pattern: string): Promise<string[]> {
  if (!/[*?[]/.test(pattern)) return [pattern];
  const dir = path.dirname(pattern);
  if (/[*?[]/.test(dir)) return [];
  const re = globRe(path.basename(pattern));
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) if (re.test(e.name)) out.push(path.join(dir, e.name));
  } catch {
    // no directory: nothing to read
  }
  return out;
}

/**
 * The files an ssh_config names (see module docs), following `Include`
 * (relative to `~/.ssh`) up to 16 levels. Never throws.
 */
async function sshConfigFiles(file: string, env: Env, depth = 0): Promise<ServerFile[]> {
  const home = env.HOME ?? "/";
  const out: ServerFile[] = [{
    path: file,
    kind: "file",
    what: "the ssh_config file (SSH_CONFIG_FILE)",
  }];
  if (depth > INCLUDE_DEPTH_MAX) return out;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    return out;
  }
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const words = configWords(m[2]!.replace(/\s+#.*$/, ""));
    if (key === "include") {
      for (const w of words) {
        const e = expandPath(w, env);
        const full = path.isAbsolute(e) ? e : path.join(home, ".ssh", e);
        const f = configPath(full, env, "/", "a file included by the ssh_config file");
        if (f) out.push(f);
        for (const inc of await includeMatches(full)) {
          out.push(
            ...(await sshConfigFiles(inc, env, depth + 1)).map((x) =>
              x.what.startsWith("the ssh_config file")
                ? { ...x, what: "a file included by the ssh_config file" }
                : x
            ),
          );
        }
      }
    } else if (key === "identityfile" || key === "certificatefile") {
      const f = words[0]
        ? configPath(words[0], env, home, `a key file named by the ssh_config file`)
        : null;
      if (f) out.push(f.kind === "file" ? keyFile(f.path, f.what) : f);
    } else if (key === "userknownhostsfile" || key === "globalknownhostsfile") {
      for (const w of words) {
        const f = configPath(w, env, home, "a known_hosts file named by the ssh_config file");
        if (f) out.push(f);
      }
    } else if (key === "identityagent" && words[0] && words[0] !== "none") {
      const f = configPath(words[0], env, home, "an agent socket named by the ssh_config file");
      if (f) out.push(f);
    } else if (key === "proxycommand" && words[0] && words[0] !== "none") {
      out.push(...commandFiles(m[2]!, "a ProxyCommand of the ssh_config file", env, home));
    }
  }
  return out;
}

function settingsFiles(
  s: Settings,
  env: Env,
  cwd: string,
  hostsSource: string | null,
): ServerFile[] {
  const out: ServerFile[] = [];
  const add = (p: string | null | undefined, kind: ServerFileKind, what: string) => {
    if (p && p.trim()) out.push({ path: absolute(p, env, cwd), kind, what });
  };
  add(hostsSource ?? s.SSH_HOSTS_FILE, "file", "the hosts file (SSH_HOSTS_FILE)");
  add(path.join(cwd, ".env"), "file", "the .env file of the server");
  add(s.SSH_KNOWN_HOSTS, "prefix", "the known_hosts file (SSH_KNOWN_HOSTS)");
  add(
    s.SSH_PINNED_KNOWN_HOSTS,
    "prefix",
    "the server's host-key pin file (SSH_PINNED_KNOWN_HOSTS)",
  );
  const audit = s.SSH_AUDIT_LOG.trim();
  if (audit !== "" && audit !== "stderr" && audit !== "off") {
    add(audit, "prefix", "the audit log (SSH_AUDIT_LOG) or one of its rotated files");
  }
  add(s.SSH_HOST_NOTES_DIR, "dir", "the host notes directory (SSH_HOST_NOTES_DIR)");
  add(s.SSH_SECRETS_DIR, "dir", "the secrets directory (SSH_SECRETS_DIR)");
  add(s.SSH_SKILLS_DIR, "dir", "the skills directory (SSH_SKILLS_DIR)");
  add(s.SSH_RUNBOOKS_DIR, "dir", "the runbooks directory (SSH_RUNBOOKS_DIR)");
  if (s.SSH_DEFAULT_KEY) {
    out.push(keyFile(absolute(s.SSH_DEFAULT_KEY, env, cwd), "a key file (SSH_DEFAULT_KEY)"));
  }
  if (env.HOME) {
    add(path.join(env.HOME, ".ssh"), "dir", "the ~/.ssh directory of the server's user");
  }
  if (env.SSH_AUTH_SOCK) add(env.SSH_AUTH_SOCK, "file", "the ssh-agent socket (SSH_AUTH_SOCK)");
  if (s.SSH_SUDO_PASSWORD_CMD) {
    out.push(...commandFiles(s.SSH_SUDO_PASSWORD_CMD, "SSH_SUDO_PASSWORD_CMD", env, cwd));
  }
  if (s.SSH_HOOKS_COMMAND) {
    out.push(
      ...commandFiles(s.SSH_HOOKS_COMMAND, "the hooks program (SSH_HOOKS_COMMAND)", env, cwd),
    );
  }
  try {
    add(Deno.execPath(), "file", "the runtime executable of the server");
  } catch {
    // no permission to ask: the source tree below still covers a checkout
  }
  for (
    const [p, what] of [[sourceRoot(), "the server's own source tree"], [
      denoDir(env),
      "the runtime's module cache (DENO_DIR)",
    ]] as const
  ) {
    if (p) out.push({ path: absolute(p, env, cwd), kind: "dir", what, linkWalk: false });
  }
  return out;
}

function hostFiles(p: HostPolicy, env: Env, cwd: string): ServerFile[] {
  const out: ServerFile[] = [];
  const who = `host ${p.alias}`;
  const a = p.auth;
  if (a.key) out.push(keyFile(absolute(a.key, env, cwd), `the key file of ${who} (auth.key)`));
  if (a.identity_agent && a.identity_agent !== "none" && !a.identity_agent.startsWith("$")) {
    out.push({
      path: absolute(a.identity_agent, env, cwd),
      kind: "file",
      what: `the agent socket of ${who} (auth.identity_agent)`,
    });
  }
  const cmds: [string | null, string][] = [
    [a.passphrase_cmd, `auth.passphrase_cmd of ${who}`],
    [a.password_cmd, `auth.password_cmd of ${who}`],
    [p.sudo_password_cmd, `sudo_password_cmd of ${who}`],
  ];
  for (const [c, what] of cmds) if (c) out.push(...commandFiles(c, what, env, cwd));
  return out;
}

/**
 * The server's own files for a configuration (see module docs). Reads the
 * ssh_config file (and its includes) to find the files it names; never throws.
 */
export async function serverFilesFor(src: ServerFilesSource): Promise<ServerFile[]> {
  const { settings: s, env, cwd } = src;
  const out = settingsFiles(s, env, cwd, src.hosts?.source ?? null);
  for (const p of src.hosts?.hosts.values() ?? []) out.push(...hostFiles(p, env, cwd));
  if (s.SSH_CONFIG_FILE && s.SSH_CONFIG_FILE.trim()) {
    out.push(...(await sshConfigFiles(absolute(s.SSH_CONFIG_FILE, env, cwd), env)));
  }
  const seen = new Set<string>();
  return out.filter((f) => {
    const k = `${f.kind}\0${f.path}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
