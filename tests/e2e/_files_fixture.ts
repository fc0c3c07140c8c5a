/**
 * Fixture for the file-tool end-to-end tests: a fleet of real sshd hosts whose
 * path_allowlist is a fresh directory owned by the test user, the real server
 * in process behind a real MCP client, and helpers that look at the host's
 * disk directly (the hosts are loopback sshd instances on this machine).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { Logger } from "../../src/log.ts";
import { type Fleet, startFleet } from "../_support/fleet.ts";
import { auditLines, type InProcess, startInProcess } from "../_support/mcp.ts";
import { type LoginShell, type SshdOptions, type TestUser, testUser } from "../_support/sshd.ts";

export { testUser };
export type { LoginShell };

/**
 * The login shell of the hosts of the running `withFiles` (one test at a time
 * per test file): the helpers below give files to its user.
 */
let currentShell: LoginShell = "sh";

/** The login user of the hosts of the running `withFiles`. */
export function currentUser(): Promise<TestUser> {
  return testUser(currentShell);
}

/** Everything a file test needs. */
export interface FilesCtx {
  fleet: Fleet;
  s: InProcess;
  /** allowlisted directory on the hosts (owned by the test user) */
  root: string;
  /** SSH_LOCAL_TRANSFER_ROOTS directory on the MCP side */
  local: string;
  user: TestUser;
  auditPath: string;
  /** audit lines written so far */
  audit(): Promise<Record<string, unknown>[]>;
}

/** Options of {@link withFiles}. */
export interface FilesOptions {
  hosts?: number;
  env?: Record<string, string>;
  /** extra hosts.toml lines per host (after path_allowlist) */
  perHost?: (alias: string, root: string) => string;
  /** replaces the default `path_allowlist = [root]` line */
  allowlist?: (root: string) => string;
  extraToml?: (root: string) => string;
  sshd?: SshdOptions;
  /** skip the local transfer root */
  noLocal?: boolean;
  /** login shell of the hosts' test user: `sh` (dash, default) or `bash` */
  shell?: LoginShell;
}

/** A fresh directory owned by the test user (mode 0755). */
export async function userDir(prefix: string): Promise<string> {
  const u = await currentUser();
  const d = await Deno.makeTempDir({ prefix });
  await Deno.chmod(d, 0o755);
  await Deno.chown(d, u.uid, null);
  return d;
}

/** Starts fleet + server, runs `fn`, tears everything down. */
export async function withFiles(
  fn: (c: FilesCtx) => Promise<void>,
  opts: FilesOptions = {},
): Promise<void> {
  currentShell = opts.shell ?? "sh";
  const user = await testUser(currentShell);
  const root = await userDir("sshmcp-files-");
  const local = await Deno.makeTempDir({ prefix: "sshmcp-local-" });
  const fleet = await startFleet(opts.hosts ?? 1, {
    sshd: { ...opts.sshd, loginShell: currentShell },
    perHost: (a) =>
      [
        opts.allowlist ? opts.allowlist(root) : `path_allowlist = ["${root}"]`,
        opts.perHost?.(a, root) ?? "",
      ]
        .join("\n"),
    extraToml: opts.extraToml?.(root),
  });
  const auditPath = `${fleet.dir}/audit.log`;
  const s = await startInProcess(
    fleet.env({
      SSH_AUDIT_LOG: auditPath,
      ALLOW_LOW_ACCESS_TOOLS: "true",
      ...(opts.noLocal ? {} : { SSH_LOCAL_TRANSFER_ROOTS: local }),
      ...opts.env,
    }),
    Deno.env.get("SSHMCP_TEST_LOG") ? { logger: new Logger({ level: "ERROR" }) } : {},
  );
  try {
    await fn({
      fleet,
      s,
      root,
      local,
      user,
      auditPath,
      async audit() {
        try {
          return auditLines(await Deno.readTextFile(auditPath));
        } catch {
          return [];
        }
      },
    });
  } finally {
    await s.close();
    await fleet.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.remove(local, { recursive: true }).catch(() => {});
    await Deno.remove(fleet.dir, { recursive: true }).catch(() => {});
    for (const h of fleet.hosts) await Deno.remove(h.sshd.dir, { recursive: true }).catch(() => {});
    currentShell = "sh";
  }
}

/** Writes a file on the host as the test user (or root). */
export async function put(
  path: string,
  content: string | Uint8Array,
  opts: { mode?: number; owner?: "user" | "root"; gid?: number } = {},
): Promise<void> {
  const u = await currentUser();
  if (typeof content === "string") await Deno.writeTextFile(path, content);
  else await Deno.writeFile(path, content);
  await Deno.chmod(path, opts.mode ?? 0o644);
  if (opts.owner !== "root") await Deno.chown(path, u.uid, opts.gid ?? null);
  else if (opts.gid !== undefined) await Deno.chown(path, 0, opts.gid);
}

/** A directory (and its missing parents) on the host owned by the test user. */
export async function mkdirUser(path: string): Promise<void> {
  const u = await currentUser();
  const parts = path.split("/").filter(Boolean);
  let cur = "";
  for (const part of parts) {
    cur += `/${part}`;
    try {
      await Deno.mkdir(cur);
      await Deno.chown(cur, u.uid, null);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
  }
}

/** A symlink on the host owned by the test user (`chown -h`). */
export async function symlinkUser(target: string, path: string): Promise<void> {
  const u = await currentUser();
  await Deno.symlink(target, path);
  const o = await new Deno.Command("chown", { args: ["-h", String(u.uid), path] }).output();
  if (o.code !== 0) throw new Error(`chown -h ${path} failed`);
}

/** sha256 hex of a local (= host) file, or null when missing. */
export async function sha(path: string): Promise<string | null> {
  try {
    return createHash("sha256").update(await Deno.readFile(path)).digest("hex");
  } catch {
    return null;
  }
}

/** sha256 hex of bytes or text. */
export function shaOf(b: string | Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Names in `dir` that look like our temp files. */
export async function temps(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (/\.ssh-mcp-tmp\./.test(e.name)) out.push(e.name);
  }
  return out;
}

/** Every name under `dir`, recursively, sorted (snapshot for "nothing changed"). */
export async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory) await walk(`${d}/${e.name}`, r);
    }
  };
  await walk(dir, "");
  return out.sort();
}

/** Exists (without following a final symlink)? */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Polls `cond` until true or `ms` passed (a wait, not a timing assertion). */
export async function eventually(cond: () => Promise<boolean>, ms = 15_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return await cond();
}

/** A server whose only host is down: any remote I/O would be a ConnectError. */
export async function withDownHost(
  fn: (s: InProcess) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const fleet = await startFleet(1, { perHost: () => 'path_allowlist = ["/tmp"]' });
  await fleet.stop();
  const s = await startInProcess(fleet.env({ ALLOW_LOW_ACCESS_TOOLS: "true", ...env }));
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

/**
 * Runs `fn`, then puts the given files of a test user's home back exactly as
 * they were (content, mode, owner) and removes the ones that did not exist,
 * so a failing run (or one against a server without protection) never leaves
 * a poisoned start-up file for other tests. Directories are removed when
 * they did not exist before.
 */
export async function guardHome(paths: string[], fn: () => Promise<void>): Promise<void> {
  const saved = new Map<string, { data: Uint8Array; st: Deno.FileInfo } | "dir" | null>();
  for (const f of paths) {
    try {
      const st = await Deno.lstat(f);
      saved.set(f, st.isDirectory ? "dir" : { data: await Deno.readFile(f), st });
    } catch {
      saved.set(f, null);
    }
  }
  try {
    await fn();
  } finally {
    for (const [f, v] of saved) {
      if (v === "dir") continue;
      await Deno.remove(f, { recursive: true }).catch(() => {});
      if (v) {
        await Deno.writeFile(f, v.data);
        await Deno.chmod(f, v.st.mode! & 0o7777);
        await Deno.chown(f, v.st.uid, v.st.gid);
      }
    }
  }
}
