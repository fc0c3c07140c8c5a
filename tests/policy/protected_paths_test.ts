/**
 * Built-in protected paths (SECURITY.md PATH-45..PATH-49) in the path chain,
 * with a fake host: the login home is learned once per host (SFTP REALPATH
 * "." first), start-up files and `~/.ssh` are restricted, a start-up file
 * that is a link protects its target, root logins protect the system files,
 * an unknown home fails closed with the fix, previews do not, and
 * `SSH_BUILTIN_PROTECTED_PATHS=false` switches everything off.
 */

import assert from "node:assert/strict";
import path from "node:path";
import { envHostPolicy } from "../../src/config/hosts.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import type { HostPolicy, Settings } from "../../src/config/types.ts";
import { isToolError } from "../../src/errors.ts";
import { Logger } from "../../src/log.ts";
import {
  createPathChecker,
  type PathCheckRequest,
  type PathIo,
  PROTECTED_HOME_ENTRIES,
  PROTECTED_SYSTEM_PATHS,
} from "../../src/policy/paths.ts";

const quiet = new Logger({ level: "CRITICAL", sink: () => {} });
const enc = new TextEncoder();

function settings(over: Partial<Settings> = {}): Settings {
  return { ...defaultSettings(), ...over };
}

function policy(over: Partial<HostPolicy> = {}): HostPolicy {
  return {
    ...envHostPolicy("web01", defaultSettings()),
    user: "deploy",
    path_allowlist: ["/"],
    ...over,
  };
}

interface FakeHome {
  /** SFTP REALPATH "." (throw to refuse) */
  dot?: () => string;
  /** owner of the home */
  uid?: number;
  /** host-side symbolic links: path -> canonical target */
  links?: Record<string, string>;
  /** answer of the shell fallback `cd && pwd -P` */
  shellHome?: string | null;
}

/** A host whose realpath is lexical (plus `links`), counting the home probes. */
function fakeIo(h: FakeHome = {}): PathIo & { dots: number } {
  const links = h.links ?? {};
  const resolve = (p: string) => links[p] ?? p;
  const io = {
    dots: 0,
    exec(cmd: string) {
      const out = (code: number, stdout: string) => ({
        exitCode: code,
        stdout,
        stdoutRaw: enc.encode(stdout),
        stdoutTruncated: false,
        stderr: "",
        timedOut: false,
        cancelled: false,
      });
      const m = /^realpath -[em] -- (.*)$/.exec(cmd);
      if (m) return Promise.resolve(out(0, resolve(path.posix.resolve("/home/u", m[1]!)) + "\n"));
      if (cmd === "cd && pwd -P") {
        return Promise.resolve(h.shellHome ? out(0, h.shellHome + "\n") : out(1, ""));
      }
      return Promise.resolve(out(127, ""));
    },
    sftp() {
      return Promise.resolve({
        realpath(p: string, cb: (e: Error | null, abs: string) => void) {
          if (p === ".") {
            io.dots++;
            try {
              cb(null, (h.dot ?? (() => "/home/u"))());
            } catch (e) {
              cb(e as Error, "");
            }
            return;
          }
          cb(null, resolve(p));
        },
        stat(_p: string, cb: (e: Error | null, st?: { uid: number }) => void) {
          cb(null, { uid: h.uid ?? 1000 });
        },
        lstat(_p: string, cb: (e: Error | null) => void) {
          cb(null);
        },
      });
    },
  };
  return io as unknown as PathIo & { dots: number };
}

function req(p: HostPolicy, raw: string, io: PathIo, over: Partial<PathCheckRequest> = {}) {
  return {
    tool: "ssh_upload",
    policy: p,
    raw,
    mustExist: false,
    redactGate: true,
    follow: true,
    lexical: false,
    io,
    ...over,
  };
}

async function verdict(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (!isToolError(e)) throw e;
    return e.code;
  }
}

Deno.test("PATH-45: start-up files, ~/.ssh and the rest of the list are PathRestricted; other home files are not", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const io = fakeIo();
  for (
    const p of [
      "/home/u/.bashrc",
      "/home/u/.profile",
      "/home/u/.bash_profile",
      "/home/u/.zshenv",
      "/home/u/.ssh",
      "/home/u/.ssh/authorized_keys",
      "/home/u/.config/autostart/evil.desktop",
      "/home/u/.config/systemd/user/x.service",
      "/home/u/.pam_environment",
      "/home/u/.local/bin/ls",
      "/home/u/bin/ls",
      "/home/u/.forward",
      ".bashrc",
      "~/.bashrc", // a literal "~" directory, not the home: allowed below
    ].filter((p) => p !== "~/.bashrc")
  ) {
    let err: unknown = null;
    try {
      await c.check(req(policy(), p, io));
    } catch (e) {
      err = e;
    }
    assert.ok(isToolError(err, "PathRestricted"), `${p}: ${err}`);
    assert.equal(err.attributes.stage, "protected");
    assert.match(err.message, /built-in protected path .* SSH_BUILTIN_PROTECTED_PATHS=false/);
  }
  for (
    const p of ["/home/u/notes.txt", "/home/u/.bashrc.bak", "/home/u/.sshx", "/srv/app/.bashrc"]
  ) {
    assert.equal(await verdict(c.check(req(policy(), p, io))), "ok", p);
  }
  assert.equal(io.dots, 1, "the home is learned once per host");
  assert.ok(PROTECTED_HOME_ENTRIES.includes(".bashrc") && PROTECTED_HOME_ENTRIES.includes(".ssh"));
});

Deno.test("PATH-46: a start-up file that is a link protects its target (as the host resolves it)", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const io = fakeIo({
    links: { "/home/u/.bashrc": "/srv/dotfiles/bashrc", "/home/u/.ssh": "/data/ssh" },
  });
  for (const p of ["/srv/dotfiles/bashrc", "/data/ssh/authorized_keys"]) {
    let err: unknown = null;
    try {
      await c.check(req(policy(), p, io));
    } catch (e) {
      err = e;
    }
    assert.ok(isToolError(err, "PathRestricted"), `${p}: ${err}`);
    assert.match(err.message, /through a symbolic link/);
  }
  assert.equal(await verdict(c.check(req(policy(), "/srv/dotfiles/vimrc", io))), "ok");
});

Deno.test("PATH-48: a root login also protects the system start-up, cron, sudoers, sshd and loader files", async () => {
  const probe = [
    "/etc/cron.d/evil",
    "/etc/profile.d/x.sh",
    "/etc/ld.so.preload",
    "/etc/sudoers.d/x",
  ];
  const root = createPathChecker({ settings: settings(), logger: quiet });
  for (const p of probe) {
    assert.equal(
      await verdict(
        root.check(req(policy({ user: "root" }), p, fakeIo({ dot: () => "/root", uid: 0 }))),
      ),
      "PathRestricted",
      p,
    );
  }
  assert.equal(
    await verdict(
      root.check(req(policy({ user: "root" }), "/root/.bashrc", fakeIo({ dot: () => "/root" }))),
    ),
    "PathRestricted",
  );
  const user = createPathChecker({ settings: settings(), logger: quiet });
  for (const p of probe) {
    assert.equal(await verdict(user.check(req(policy(), p, fakeIo()))), "ok", `${p} (not root)`);
  }
  assert.ok(PROTECTED_SYSTEM_PATHS.includes("/etc/cron.d"));
});

Deno.test("PATH-49: an unknown home fails closed with the fix; the shell fallback answers when SFTP cannot; previews use what is known", async () => {
  const none = () => {
    throw new Error("no sftp");
  };
  const c = createPathChecker({ settings: settings(), logger: quiet });
  let err: unknown = null;
  try {
    await c.check(req(policy(), "/srv/x", fakeIo({ dot: none })));
  } catch (e) {
    err = e;
  }
  assert.ok(isToolError(err, "PathNotAllowed"), String(err));
  assert.match(err.message, /login home of web01 cannot be determined/);
  assert.match(err.message, /SSH_BUILTIN_PROTECTED_PATHS=false/);
  // a lexical preview is not refused for it
  assert.equal(
    await verdict(c.check(req(policy(), "/srv/x", fakeIo({ dot: none }), { lexical: true }))),
    "ok",
  );
  // SFTP cannot answer, the shell can
  const c2 = createPathChecker({ settings: settings(), logger: quiet });
  const io = fakeIo({ dot: none, shellHome: "/home/u" });
  assert.equal(await verdict(c2.check(req(policy(), "/home/u/.bashrc", io))), "PathRestricted");
});

Deno.test("PATH-47: SSH_BUILTIN_PROTECTED_PATHS=false: no probe, nothing protected", async () => {
  const c = createPathChecker({
    settings: settings({ SSH_BUILTIN_PROTECTED_PATHS: false }),
    logger: quiet,
  });
  const io = fakeIo();
  assert.equal(await verdict(c.check(req(policy(), "/home/u/.bashrc", io))), "ok");
  assert.equal(io.dots, 0);
});

Deno.test("PATH-45 (Windows): the login home's .ssh and Startup folder are protected, case-insensitively", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const win = policy({
    platform: "windows",
    path_allowlist: ["C:/"],
    case_insensitive_paths: true,
  });
  const io = fakeIo({ dot: () => "/C:/Users/u" });
  const sftpOnly = {
    ...io,
    exec: () => Promise.reject(new Error("no shell on Windows")),
  } as unknown as PathIo;
  for (const p of ["C:/Users/u/.ssh/authorized_keys", "c:/users/U/.SSH/x"]) {
    assert.equal(await verdict(c.check(req(win, p, sftpOnly))), "PathRestricted", p);
  }
  assert.equal(await verdict(c.check(req(win, "C:/Users/u/Desktop/x.txt", sftpOnly))), "ok");
});
