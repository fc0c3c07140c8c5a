/**
 * Built-in protected paths (SECURITY.md PATH-45..PATH-49): places where a
 * write by the file tools would turn the file tier into code execution,
 * persistence or a new way in, treated as restricted zones by every file
 * tool (reads, writes, subtree checks, listings) unless the operator sets
 * `SSH_BUILTIN_PROTECTED_PATHS=false`.
 *
 * - The login user's start-up and trust files, relative to the login home
 *   ({@link PROTECTED_HOME_ENTRIES}). The home is learned on the host, once per
 *   host: SFTP `REALPATH "."` (the canonical login directory, i.e. `$HOME`),
 *   else the shell's `cd && pwd -P`. Each entry is also resolved on the host,
 *   so a `~/.bashrc` that is a symbolic link protects its target too.
 * - For a root login (home `/root` or owned by uid 0) also the system-wide
 *   start-up, scheduling, loader and authentication files
 *   ({@link PROTECTED_SYSTEM_PATHS}); other users cannot write them, so for
 *   them protecting the files would only block harmless reads.
 *
 * When the home cannot be learned the check fails closed (PathNotAllowed with
 * the fix), except for lexical previews, which use what is known.
 *
 * @module
 */

import type { HostPolicy, Settings } from "../config/types.ts";
import type { Logger } from "../log.ts";
import { sh } from "../checked.ts";
import type { PathIo, PathSftp, PathStats } from "./canonicalize.ts";
import { isAbsoluteRemote, normalizeRemote, notAllowed } from "./path_syntax.ts";

/**
 * Entries below the login home (POSIX). Each is read and run (or trusted for
 * authentication) by a program that starts on its own: the login shells and
 * their start-up files, sshd (`~/.ssh/authorized_keys`, `rc`, `environment`),
 * PAM (`.pam_environment`), desktop autostart, systemd user units, mail
 * delivery (`.forward` pipes to programs), r-command and Kerberos trust
 * files, GnuPG (agent programs), directories that Debian's `.profile` puts
 * first on `PATH` (`bin`, `.local/bin`), and the configuration of git and the
 * usual editors (hooks, pagers, fsmonitor, vimrc run code when used).
 */
export const PROTECTED_HOME_ENTRIES: readonly string[] = [
  // shells
  ".profile",
  ".bash_profile",
  ".bash_login",
  ".bash_logout",
  ".bashrc",
  ".bashrc.d",
  ".bash_aliases",
  ".bash_completion",
  ".shrc",
  ".kshrc",
  ".mkshrc",
  ".zshenv",
  ".zprofile",
  ".zshrc",
  ".zlogin",
  ".zlogout",
  ".cshrc",
  ".tcshrc",
  ".login",
  ".logout",
  ".inputrc",
  ".config/fish",
  // login environment, sshd, PAM
  ".ssh",
  ".pam_environment",
  ".config/environment.d",
  // sessions, autostart, user services
  ".config/autostart",
  ".config/systemd",
  ".local/share/systemd",
  ".config/plasma-workspace/env",
  ".xinitrc",
  ".xsession",
  ".xsessionrc",
  ".xprofile",
  // programs on PATH, mail delivery, trust
  "bin",
  ".local/bin",
  ".forward",
  ".procmailrc",
  ".rhosts",
  ".shosts",
  ".k5login",
  ".k5users",
  ".gnupg",
  // tools that run configured programs
  ".gitconfig",
  ".config/git",
  ".vimrc",
  ".exrc",
  ".emacs",
];

/** Entries below the login home on Windows hosts (OpenSSH for Windows). */
export const PROTECTED_WINDOWS_HOME_ENTRIES: readonly string[] = [
  ".ssh",
  "AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup",
  "Documents/WindowsPowerShell",
  "Documents/PowerShell",
];

/**
 * System-wide paths protected when the login user is root: login-shell
 * start-up files, the dynamic loader's preload and search path, every cron
 * and at spool, sudo/doas rules, sshd and PAM configuration, the account
 * databases, boot-time and login-time scripts.
 */
export const PROTECTED_SYSTEM_PATHS: readonly string[] = [
  "/etc/profile",
  "/etc/profile.d",
  "/etc/bash.bashrc",
  "/etc/bash.bash_logout",
  "/etc/bashrc",
  "/etc/environment",
  "/etc/zsh",
  "/etc/zshenv",
  "/etc/zprofile",
  "/etc/zshrc",
  "/etc/zlogin",
  "/etc/zlogout",
  "/etc/csh.cshrc",
  "/etc/csh.login",
  "/etc/csh.logout",
  "/etc/ksh.kshrc",
  "/etc/ld.so.preload",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/crontab",
  "/etc/cron.d",
  "/etc/cron.hourly",
  "/etc/cron.daily",
  "/etc/cron.weekly",
  "/etc/cron.monthly",
  "/etc/anacrontab",
  "/var/spool/cron",
  "/var/spool/at",
  "/etc/sudoers",
  "/etc/sudoers.d",
  "/etc/doas.conf",
  "/etc/ssh",
  "/etc/pam.d",
  "/etc/security",
  "/etc/passwd",
  "/etc/shadow",
  "/etc/group",
  "/etc/gshadow",
  "/etc/systemd",
  "/etc/init.d",
  "/etc/rc.local",
  "/etc/update-motd.d",
  "/etc/xdg/autostart",
];

/** One protected zone: its canonical path and why it is protected. */
export interface ProtectedZone {
  path: string;
  why: string;
}

/** What is known about one host. */
interface HostZones {
  zones: ProtectedZone[];
  home: string | null;
}

function sftpCall<T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    fn((err, v) => (err ? reject(err) : resolve(v as T)));
  });
}

function join(dir: string, rel: string): string {
  return dir.endsWith("/") ? dir + rel : `${dir}/${rel}`;
}

/** The built-in protected zones of each host (see module docs). */
export class ProtectedPaths {
  readonly #settings: Settings;
  readonly #logger: Logger;
  readonly #cache = new Map<string, Promise<HostZones>>();
  readonly #known = new Map<string, HostZones>();

  constructor(settings: Settings, logger: Logger) {
    this.#settings = settings;
    this.#logger = logger;
  }

  /** True when the operator left the built-in protected paths on (the default). */
  get enabled(): boolean {
    return this.#settings.SSH_BUILTIN_PROTECTED_PATHS !== false;
  }

  #key(p: HostPolicy): string {
    return `${p.user}@${p.hostname}:${p.port}`;
  }

  /**
   * The zones of `policy`'s host, learned through `io` once per host. With
   * `lexical` (no canonicalization ran, e.g. a policy preview) a host whose
   * home cannot be learned gets the zones known so far instead of an error.
   */
  async zones(
    policy: HostPolicy,
    io: PathIo,
    opts: { lexical: boolean },
  ): Promise<ProtectedZone[]> {
    if (!this.enabled) return [];
    const key = this.#key(policy);
    const known = this.#known.get(key);
    if (known) return known.zones;
    let p = this.#cache.get(key);
    if (!p) {
      p = this.#learn(policy, io);
      this.#cache.set(key, p);
      p.then((z) => this.#known.set(key, z), () => this.#cache.delete(key));
    }
    try {
      return (await p).zones;
    } catch (e) {
      if (opts.lexical) return [];
      throw e;
    }
  }

  async #learn(policy: HostPolicy, io: PathIo): Promise<HostZones> {
    const platform = policy.platform;
    let sftp: PathSftp | null = null;
    let home: string | null = null;
    let owner: number | null = null;
    const failures: string[] = [];
    try {
      sftp = await io.sftp();
      const dot = await sftpCall<string>((cb) => sftp!.realpath(".", cb));
      if (isAbsoluteRemote(dot, platform)) home = normalizeRemote(dot, platform);
      else failures.push(`SFTP REALPATH "." answered ${JSON.stringify(dot.slice(0, 80))}`);
    } catch (e) {
      failures.push(`SFTP REALPATH ".": ${(e as Error).message}`);
    }
    if (home === null && platform === "posix") {
      try {
        const r = await io.exec(sh`cd && pwd -P`);
        const out = r.stdout.replace(/\n$/, "");
        if (r.exitCode === 0 && out.startsWith("/") && !out.includes("\n")) {
          home = normalizeRemote(out, "posix");
        } else failures.push(`cd && pwd -P: exit ${r.exitCode}`);
      } catch (e) {
        failures.push(`cd && pwd -P: ${(e as Error).message}`);
      }
    }
    if (home === null) {
      if (platform === "windows") {
        this.#logger.warn(
          `path policy: the login home of ${policy.alias} is unknown (${
            failures.join("; ")
          }); its built-in protected home paths are not enforced`,
        );
        return { zones: [], home: null };
      }
      throw notAllowed(
        `The login home of ${policy.alias} cannot be determined (${
          failures.join("; ")
        }), so the built-in protected paths (shell start-up files, ~/.ssh, ...) cannot be enforced and file tools are refused on this host. ` +
          `Ask the operator to check the host's SFTP subsystem, or to set SSH_BUILTIN_PROTECTED_PATHS=false.`,
        { stage: "protected" },
      );
    }
    if (sftp && platform === "posix") {
      try {
        const st = await sftpCall<PathStats>((cb) => sftp!.stat(home!, cb));
        owner = typeof st?.uid === "number" ? st.uid : null;
      } catch {
        // unknown owner: decided by the path and the user name
      }
    }
    const zones: ProtectedZone[] = [];
    const entries = platform === "windows"
      ? PROTECTED_WINDOWS_HOME_ENTRIES
      : PROTECTED_HOME_ENTRIES;
    const why = (e: string) =>
      `the login user's ${
        e.startsWith(".ssh") ? "sshd trust directory" : "start-up or trust file"
      }`;
    for (const e of entries) {
      zones.push({ path: normalizeRemote(join(home, e), platform), why: why(e) });
    }
    if (sftp) {
      // an entry that is (or lies below) a symbolic link protects its target too
      const resolved = await Promise.all(entries.map(async (e) => {
        const lexical = normalizeRemote(join(home!, e), platform);
        const real = await this.#resolve(sftp!, lexical, platform);
        return real !== null && real !== lexical
          ? { path: real, why: `${why(e)} ${lexical} (through a symbolic link)` }
          : null;
      }));
      for (const r of resolved) if (r) zones.push(r);
    }
    const root = platform === "posix" &&
      (policy.user === "root" || home === "/root" || owner === 0);
    if (root) {
      for (const p of PROTECTED_SYSTEM_PATHS) {
        zones.push({
          path: p,
          why: "a system start-up, scheduling or authentication file (root login)",
        });
      }
    }
    return { zones, home };
  }

  /** The host's view of `p` (REALPATH of it, or of its parent plus the leaf), or null. */
  async #resolve(
    sftp: PathSftp,
    p: string,
    platform: HostPolicy["platform"],
  ): Promise<string | null> {
    const abs = (s: string) => isAbsoluteRemote(s, platform) ? normalizeRemote(s, platform) : null;
    try {
      return abs(await sftpCall<string>((cb) => sftp.realpath(p, cb)));
    } catch {
      const cut = p.lastIndexOf("/");
      if (cut <= 0) return null;
      try {
        const parent = abs(await sftpCall<string>((cb) => sftp.realpath(p.slice(0, cut), cb)));
        return parent === null ? null : normalizeRemote(join(parent, p.slice(cut + 1)), platform);
      } catch {
        return null;
      }
    }
  }
}
