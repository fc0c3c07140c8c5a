/**
 * A sudo/doas test bed on this machine (root only; the test hosts are local):
 *
 * - user `sshmcp` (the sshd test user) with a password
 *   ({@link testUserPassword}); sudoers: every command as root WITH the
 *   password, plus a NOPASSWD rule for `/usr/bin/id` (a subset that never
 *   matches ssh-mcp's `sh -c` and so shows up as "some rules" only);
 * - user `sshmcpnp`: every command as root WITHOUT a password (NOPASSWD);
 * - `Defaults:<u> !requiretty, timestamp_timeout=0` so cached credentials
 *   never mask a test;
 * - `/etc/doas.conf`: `permit nopass sshmcpnp as root`, `permit sshmcp as
 *   root` (password: doas reads it only from a terminal), other lines kept;
 * - one sshd admitting both users, a hosts.toml with aliases `pw` (sshmcp),
 *   `np` (sshmcpnp), `doas` (sshmcpnp, become_method doas), `doaspw`
 *   (sshmcp, doas) and `locked` (sshmcp, command_allowlist = ["systemctl"]);
 * - a root-owned test directory (0755) with a root-only subdirectory (0700)
 *   and root-owned 0600 files.
 *
 * Every step is idempotent and safe when several test processes run it at
 * once (files are replaced atomically after `visudo -cf`).
 *
 * @module
 */

import {
  generateKey,
  mustRun,
  type SshdInstance,
  startSshd,
  tempDir,
  testUser,
  testUserPassword,
} from "./sshd.ts";
import { baseEnv, type InProcess, startInProcess } from "./mcp.ts";
import type { AppOptions } from "../../src/app.ts";

/** The NOPASSWD test user. */
export const NOPASS_USER = "sshmcpnp";
const SUDOERS = "/etc/sudoers.d/sshmcp-test";
const DOAS = "/etc/doas.conf";
const PASSWORD_FILE = "/var/lib/sshmcp-test/password";

async function ensureUser(name: string): Promise<void> {
  const has = async () =>
    (await new Deno.Command("getent", { args: ["passwd", name], stdout: "null", stderr: "null" })
      .output()).success;
  if (await has()) return;
  const r = await new Deno.Command("useradd", {
    args: ["-m", "-s", "/bin/sh", name],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!r.success && !(await has())) {
    throw new Error(`useradd ${name} failed: ${new TextDecoder().decode(r.stderr)}`);
  }
  await mustRun("usermod", ["-p", "*", name]);
}

async function installAtomically(path: string, text: string, mode: number, validate?: string[]) {
  try {
    if ((await Deno.readTextFile(path)) === text) return;
  } catch {
    // absent
  }
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, text, { mode });
  await Deno.chmod(tmp, mode);
  try {
    if (validate) await mustRun(validate[0]!, [...validate.slice(1), tmp]);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** The sudoers drop-in text. */
export function sudoersText(user: string): string {
  return [
    "# ssh-mcp test rules (tests/_support/sudo.ts); safe to delete",
    `Defaults:${user} !requiretty, timestamp_timeout=0`,
    `Defaults:${NOPASS_USER} !requiretty, timestamp_timeout=0`,
    `${user} ALL=(root) ALL`,
    `${user} ALL=(root) NOPASSWD: /usr/bin/id`,
    `${NOPASS_USER} ALL=(root) NOPASSWD: ALL`,
    "",
  ].join("\n");
}

/** Installs users, sudoers and doas rules; returns the password of the test user. */
export async function ensureSudoTestbed(): Promise<{ user: string; password: string }> {
  if (Deno.uid() !== 0) throw new Error("the sudo tests need root (they install sudoers rules)");
  const user = (await testUser()).name;
  await ensureUser(NOPASS_USER);
  const password = await testUserPassword();
  await installAtomically(SUDOERS, sudoersText(user), 0o440, ["visudo", "-cf"]);
  let doas = "";
  try {
    doas = await Deno.readTextFile(DOAS);
  } catch {
    // absent
  }
  const begin = "# BEGIN ssh-mcp tests";
  const end = "# END ssh-mcp tests";
  const kept = doas.replace(new RegExp(`${begin}[\\s\\S]*?${end}\\n?`), "");
  const block = `${begin}\npermit nopass ${NOPASS_USER} as root\npermit ${user} as root\n${end}\n`;
  await installAtomically(DOAS, kept + (kept && !kept.endsWith("\n") ? "\n" : "") + block, 0o600);
  return { user, password };
}

/** A running sudo test host. */
export interface SudoBed {
  sshd: SshdInstance;
  dir: string;
  /** root-owned 0755 directory inside the path allowlist */
  root: string;
  password: string;
  user: string;
  hostsTomlPath: string;
  knownHostsPath: string;
  /** env for a server on this bed (extra keys override) */
  env(extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

/** Starts one sshd for both test users and writes hosts.toml (see module docs). */
export async function startSudoBed(opts: { extraToml?: string } = {}): Promise<SudoBed> {
  const { user, password } = await ensureSudoTestbed();
  const dir = await tempDir("sshmcp-sudo-");
  const key = await generateKey(dir, { type: "ed25519", name: "client" });
  const sshd = await startSshd({
    authorizedKeys: [key.publicLine],
    extraConfig: [`AllowUsers ${NOPASS_USER}`, "MaxSessions 64"],
  });
  const root = `${dir}/root`;
  await Deno.mkdir(`${root}/private`, { recursive: true });
  await Deno.chmod(root, 0o755);
  await Deno.chmod(`${root}/private`, 0o700);
  const knownHostsPath = `${dir}/known_hosts`;
  await Deno.writeTextFile(knownHostsPath, sshd.knownHostsLines().join("\n") + "\n");
  const host = (alias: string, u: string, extra: string[] = []) =>
    [
      `[hosts.${alias}]`,
      `hostname = "${sshd.address}"`,
      `port = ${sshd.port}`,
      `user = "${u}"`,
      `path_allowlist = ["${root}"]`,
      `restricted_paths = ["${root}/restricted"]`,
      `redact_paths_globs = ["**/*.env"]`,
      ...extra,
      `[hosts.${alias}.auth]`,
      `method = "key"`,
      `key = "${key.privatePath}"`,
      "",
    ].join("\n");
  const hostsTomlPath = `${dir}/hosts.toml`;
  await Deno.writeTextFile(
    hostsTomlPath,
    [
      host("pw", user),
      host("np", NOPASS_USER),
      host("doas", NOPASS_USER, ['become_method = "doas"']),
      host("doaspw", user, ['become_method = "doas"']),
      host("locked", user, ['command_allowlist = ["systemctl"]']),
      opts.extraToml ?? "",
    ].join("\n"),
  );
  return {
    sshd,
    dir,
    root,
    password,
    user,
    hostsTomlPath,
    knownHostsPath,
    env(extra = {}) {
      return baseEnv({
        SSH_HOSTS_FILE: hostsTomlPath,
        SSH_KNOWN_HOSTS: knownHostsPath,
        ALLOW_LOW_ACCESS_TOOLS: "true",
        ALLOW_DANGEROUS_TOOLS: "true",
        ALLOW_SUDO: "true",
        ALLOW_ANY_COMMAND: "true",
        SSH_SUDO_PASSWORD_CMD: `cat ${PASSWORD_FILE}`,
        ...extra,
      });
    },
    async stop() {
      await sshd.stop();
    },
  };
}

/** Writes a root-owned file with `mode` (and optional owner). */
export async function rootFile(
  path: string,
  content: string | Uint8Array,
  mode = 0o600,
  owner?: { uid: number; gid: number },
): Promise<void> {
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  // chown clears setuid/setgid bits, so it comes first
  await Deno.chown(path, owner?.uid ?? 0, owner?.gid ?? 0);
  await Deno.chmod(path, mode);
}

/** `{mode, uid, gid}` of a file. */
export async function statOf(path: string): Promise<{ mode: number; uid: number; gid: number }> {
  const st = await Deno.stat(path);
  return { mode: (st.mode ?? 0) & 0o7777, uid: st.uid ?? -1, gid: st.gid ?? -1 };
}

/** Starts the real server in-process for a bed. */
export async function startBedServer(
  bed: SudoBed,
  extra: Record<string, string> = {},
  opts: AppOptions = {},
): Promise<InProcess> {
  return await startInProcess(bed.env(extra), opts);
}
