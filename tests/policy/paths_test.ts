/**
 * Remote path policy (SECURITY.md §PATH, attack table §24.4 AC-200..AC-233).
 *
 * Pure parts (characters, normalisation, prefix matching, Windows rules)
 * are tested with a recording fake `PathIo`; the resolution chain is then
 * tested live against real OpenSSH servers: a normal host (GNU realpath), a
 * host whose PATH has no realpath (the shell fails like in a chroot, SFTP
 * REALPATH answers: AC-229) and a host whose realpath rejects `-e`/`-m` like
 * BSD/macOS (portable canonicalizer: AC-230).
 */

import assert from "node:assert/strict";
import path from "node:path";
import { shellSplit } from "../../src/config/env.ts";
import { envHostPolicy } from "../../src/config/hosts.ts";
import { loadConfig } from "../../src/config/load.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import type { HostPolicy, Settings } from "../../src/config/types.ts";
import { ConfigError, isToolError, type ToolError } from "../../src/errors.ts";
import { Logger } from "../../src/log.ts";
import {
  allowlistRoots,
  assertPathChars,
  assertWindowsSafe,
  createPathChecker,
  isAbsoluteRemote,
  isInside,
  matchRestricted,
  MAX_PATH_BYTES,
  normalizeRemote,
  REDACT_WARN_TEXT,
} from "../../src/policy/paths.ts";
import type { PathCheckRequest, PathCheckResult, PathIo } from "../../src/policy/paths.ts";
import type { RawExecResult } from "../../src/ssh/exec.ts";
import type { Connection } from "../../src/ssh/connection.ts";
import { startFleet } from "../_support/fleet.ts";
import { type InProcess, startInProcess } from "../_support/mcp.ts";
import { generateKey, type SshdInstance, startSshd, tempDir } from "../_support/sshd.ts";

// ---------------------------------------------------------------------------
// helpers

const enc = new TextEncoder();

/**
 * Settings for the chain's unit tests. The built-in protected paths are off
 * here (they learn the login home with extra SFTP I/O that the recording fake
 * does not model, and these tests assert exact I/O sequences); they are on in
 * the live tests below and in tests/policy/protected_paths_test.ts.
 */
function settings(over: Partial<Settings> = {}): Settings {
  return { ...defaultSettings(), SSH_BUILTIN_PROTECTED_PATHS: false, ...over };
}

function policy(over: Partial<HostPolicy> = {}): HostPolicy {
  return { ...envHostPolicy("web01", defaultSettings()), ...over };
}

function execResult(code: number, stdout = "", stderr = ""): RawExecResult {
  return {
    exitCode: code,
    signal: null,
    stdout,
    stderr,
    stdoutRaw: enc.encode(stdout),
    stderrRaw: enc.encode(stderr),
    stdoutBytes: stdout.length,
    stderrBytes: stderr.length,
    stdoutTruncated: false,
    stderrTruncated: false,
    timedOut: false,
    cancelled: false,
    durationMs: 1,
  };
}

interface FakeHost {
  /** answer of `realpath <flag> -- <path>`; default: lexical normalisation (every path "exists") */
  realpath?: (p: string, flag: string) => RawExecResult;
  /** SFTP REALPATH; throw to refuse */
  sftpRealpath?: (p: string) => string;
  /** SFTP stat/lstat; false = missing */
  exists?: (p: string) => boolean;
}

/** A PathIo that records every remote operation. */
function fakeIo(h: FakeHost = {}): PathIo & { calls: string[] } {
  const calls: string[] = [];
  const cb = <T>(fn: () => T, done: (e: Error | undefined, v?: T) => void) => {
    try {
      done(undefined, fn());
    } catch (e) {
      done(e as Error);
    }
  };
  const sftp = {
    realpath(p: string, done: (e: Error | undefined, v?: string) => void) {
      calls.push(`sftp.realpath ${p}`);
      cb(() => (h.sftpRealpath ?? ((x: string) => x))(p), done);
    },
    stat(p: string, done: (e: Error | undefined) => void) {
      calls.push(`sftp.stat ${p}`);
      done((h.exists ?? (() => true))(p) ? undefined : new Error("No such file"));
    },
    lstat(p: string, done: (e: Error | undefined) => void) {
      calls.push(`sftp.lstat ${p}`);
      done((h.exists ?? (() => true))(p) ? undefined : new Error("No such file"));
    },
  };
  return {
    calls,
    exec(cmd) {
      calls.push(cmd);
      const argv = shellSplit(cmd);
      if (argv[0] === "realpath" && argv[2] === "--") {
        const p = argv[3]!;
        const answer = h.realpath ??
          ((x: string) => execResult(0, path.posix.resolve("/home/u", x) + "\n"));
        return Promise.resolve(answer(p, argv[1]!));
      }
      return Promise.resolve(execResult(127, "", "unexpected command"));
    },
    sftp() {
      calls.push("sftp");
      return Promise.resolve(sftp as never);
    },
  };
}

function req(
  p: HostPolicy,
  raw: string,
  io: PathIo,
  over: Partial<PathCheckRequest> = {},
): PathCheckRequest {
  return {
    tool: "ssh_sftp_stat",
    policy: p,
    raw,
    mustExist: true,
    redactGate: true,
    follow: true,
    lexical: false,
    io,
    ...over,
  };
}

async function refused(
  p: Promise<unknown>,
  code: string,
  re?: RegExp,
): Promise<ToolError> {
  try {
    const v = await p;
    throw new Error(`expected ${code}, got success: ${JSON.stringify(v)}`);
  } catch (e) {
    if (!isToolError(e)) throw e;
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return e;
  }
}

function refusedSync(fn: () => void, code: string, re?: RegExp): ToolError {
  try {
    fn();
  } catch (e) {
    if (!isToolError(e)) throw e;
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return e;
  }
  throw new Error(`expected ${code}`);
}

const quiet = new Logger({ level: "CRITICAL", sink: () => {} });

// ---------------------------------------------------------------------------
// PATH-1 characters

Deno.test("AC-200: NUL in a path -> PathNotAllowed before any I/O", async () => {
  refusedSync(() => assertPathChars("/etc/pass\x00wd"), "PathNotAllowed", /NUL/);
  const io = fakeIo();
  const c = createPathChecker({ settings: settings(), logger: quiet });
  await refused(
    c.check(req(policy({ path_allowlist: ["/"] }), "/etc/pass\x00wd", io)),
    "PathNotAllowed",
  );
  assert.deepEqual(io.calls, [], "no remote I/O for a rejected character");
});

Deno.test("AC-201: control characters are named (0x1b, 0x0a, 0x09) before any I/O", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  for (const [raw, code] of [["/etc/conf\x1b", "0x1b"], ["/a\nb", "0x0a"], ["/a\tb", "0x09"]]) {
    const io = fakeIo();
    const e = await refused(
      c.check(req(policy({ path_allowlist: ["/"] }), raw!, io)),
      "PathNotAllowed",
      new RegExp(code!),
    );
    assert.equal(e.attributes.code_point, code);
    assert.deepEqual(io.calls, []);
  }
});

Deno.test('AC-202: "" -> PathNotAllowed "path is empty"', async () => {
  refusedSync(() => assertPathChars(""), "PathNotAllowed", /path is empty/);
  const io = fakeIo();
  await refused(
    createPathChecker({ settings: settings(), logger: quiet }).check(
      req(policy({ path_allowlist: ["/"] }), "", io),
    ),
    "PathNotAllowed",
    /path is empty/,
  );
  assert.deepEqual(io.calls, []);
});

Deno.test("AC-203: bidi, zero-width, C1, DEL, BOM, direction marks, lone surrogates are refused (REF accepts)", () => {
  for (
    const [raw, code] of [
      ["/opt/app/\u202Etxt.exe", "0x202e"],
      ["/opt/app/a\u200Bb", "0x200b"],
      ["/opt/app/\u0085", "0x85"],
      ["\x7f", "0x7f"],
      ["/opt/app/\u2066x", "0x2066"],
      ["/opt/app/\u200Ex", "0x200e"],
      ["/opt/app/\uFEFFx", "0xfeff"],
      ["/opt/app/\u200Dx", "0x200d"],
      ["/opt/app/\uD800x", "0xd800"],
    ]
  ) {
    const e = refusedSync(() => assertPathChars(raw!), "PathNotAllowed", new RegExp(code!));
    assert.equal(e.attributes.code_point, code);
  }
  // ordinary non-ASCII names are fine
  assertPathChars("/opt/app/caf\u00e9/\u{1F600}/\uFF41pp");
});

Deno.test("PATH-1: paths longer than 4096 UTF-8 bytes are refused", () => {
  assertPathChars("/" + "a".repeat(MAX_PATH_BYTES - 1));
  refusedSync(() => assertPathChars("/" + "a".repeat(MAX_PATH_BYTES)), "PathNotAllowed", /4096/);
  // bytes, not code units: 1366 x "é" (2 bytes) + "/" = 2733 ok; 2100 x "€" (3 bytes) > 4096
  assertPathChars("/" + "\u00e9".repeat(1366));
  refusedSync(() => assertPathChars("/" + "\u20ac".repeat(1400)), "PathNotAllowed");
});

// ---------------------------------------------------------------------------
// normalisation and prefix matching

Deno.test("normalizeRemote: POSIX and Windows lexical rules (CONFIG.md §4.6)", () => {
  const posix: [string, string][] = [
    ["/opt/app/", "/opt/app"],
    ["/opt//app/./x/../y", "/opt/app/y"],
    ["//opt/app", "/opt/app"],
    ["/", "/"],
    ["///", "/"],
    ["/../..", "/"],
    ["a/../../b", "../b"],
    ["/opt/app/ａpp", "/opt/app/ａpp"],
  ];
  for (const [i, o] of posix) assert.equal(normalizeRemote(i, "posix"), o, i);
  const win: [string, string][] = [
    ["C:\\opt\\app\\", "C:/opt/app"],
    ["/C:/opt/app", "C:/opt/app"],
    ["c:/OPT/App/../x", "c:/OPT/x"],
    ["C:\\", "C:/"],
    ["C:", "C:/"],
    ["\\\\server\\share\\x\\..\\y", "//server/share/y"],
    ["//server/share/", "//server/share"],
    ["C:/a/./b//c", "C:/a/b/c"],
  ];
  for (const [i, o] of win) assert.equal(normalizeRemote(i, "windows"), o, i);
  assert.ok(isAbsoluteRemote("C:\\x", "windows"));
  assert.ok(isAbsoluteRemote("/C:/x", "windows"));
  assert.ok(isAbsoluteRemote("\\\\srv\\share\\x", "windows"));
  assert.ok(!isAbsoluteRemote("foo\\bar", "windows"));
  assert.ok(!isAbsoluteRemote("\\foo", "windows"));
  assert.ok(!isAbsoluteRemote("C:foo", "windows"));
  assert.ok(isAbsoluteRemote("/x", "posix"));
  assert.ok(!isAbsoluteRemote("x", "posix"));
});

Deno.test("AC-206/AC-207 / PATH-7: isInside uses separator boundaries", () => {
  const yes: [string, string][] = [
    ["/opt/app", "/opt/app"],
    ["/opt/app", "/opt/app/"],
    ["/opt/app/", "/opt/app"],
    ["/opt/app/x/y", "/opt/app"],
    ["/anything", "/"],
    ["/", "/"],
    ["/opt/app/x", "*"],
  ];
  for (const [p, r] of yes) assert.ok(isInside(p, r, "posix"), `${p} in ${r}`);
  const no: [string, string][] = [
    ["/opt/app2", "/opt/app"],
    ["/opt/app2/x", "/opt/app"],
    ["/opt/ap", "/opt/app"],
    ["/opt", "/opt/app"],
    ["/opt/App", "/opt/app"],
    ["relative/x", "/"],
  ];
  for (const [p, r] of no) assert.ok(!isInside(p, r, "posix"), `${p} not in ${r}`);
});

Deno.test("AC-222/AC-223: Windows prefix matching is separator- and case-insensitive", () => {
  for (const p of ["C:/opt/app/x", "c:/OPT/APP/foo", "C:\\opt\\app\\x", "C:/opt/app"]) {
    assert.ok(isInside(p, "C:\\opt\\app", "windows"), p);
  }
  assert.ok(!isInside("C:/opt/appmalicious/x", "C:\\opt\\app", "windows"));
  assert.ok(!isInside("D:/opt/app/x", "C:\\opt\\app", "windows"));
  assert.ok(isInside("D:/x", "D:\\", "windows"));
  assert.ok(!isInside("//attacker/share/x", "C:\\opt\\app", "windows"));
  assert.ok(isInside("//srv/share/x", "\\\\SRV\\Share", "windows"));
});

Deno.test("allowlistRoots: host and env entries, normalised, de-duplicated; * -> /", () => {
  const s = settings({ SSH_PATH_ALLOWLIST: ["/srv/data/", "/opt/app"] });
  assert.deepEqual(allowlistRoots(policy({ path_allowlist: ["/opt/app/", "/var/./log"] }), s), [
    "/opt/app",
    "/var/log",
    "/srv/data",
  ]);
  assert.deepEqual(allowlistRoots(policy({ path_allowlist: ["*"] }), settings()), ["/"]);
  assert.deepEqual(
    allowlistRoots(policy({ platform: "windows", path_allowlist: ["C:\\opt\\app\\"] }), settings()),
    ["C:/opt/app"],
  );
});

Deno.test("AC-212/AC-213/AC-221 / PATH-8/12: restricted prefixes (root itself, children, not siblings; NFC/NFD)", () => {
  const roots = ["/mnt/shared", "/srv/caf\u00e9"];
  assert.equal(matchRestricted("/mnt/shared", roots, "posix", false), "/mnt/shared");
  assert.equal(matchRestricted("/mnt/shared/data.csv", roots, "posix", false), "/mnt/shared");
  assert.equal(matchRestricted("/mnt/shared2/x", roots, "posix", false), null);
  assert.equal(matchRestricted("/srv/cafe\u0301/x", roots, "posix", false), "/srv/caf\u00e9");
  assert.equal(matchRestricted("/MNT/Shared/x", roots, "posix", false), null);
  assert.equal(matchRestricted("/MNT/Shared/x", roots, "posix", true), "/mnt/shared");
  assert.equal(matchRestricted("c:/SECRET/x", ["C:\\secret"], "windows", true), "C:\\secret");
  assert.equal(matchRestricted("C:/secret./x", ["C:\\secret"], "windows", true), "C:\\secret");
});

// ---------------------------------------------------------------------------
// the chain with a fake host

Deno.test("AC-208: empty allowlist -> PathNotAllowed naming path_allowlist and SSH_PATH_ALLOWLIST, no I/O", async () => {
  const io = fakeIo();
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const e = await refused(c.check(req(policy(), "/opt/app/x", io)), "PathNotAllowed");
  assert.match(e.message, /path_allowlist/);
  assert.match(e.message, /SSH_PATH_ALLOWLIST/);
  assert.deepEqual(io.calls, []);
});

Deno.test("AC-209: allowlist * or / (alone or with other roots) allows every canonical path", async () => {
  for (const list of [["*"], ["/"], ["/opt/app", "*"], ["/", "/srv"]]) {
    const c = createPathChecker({ settings: settings(), logger: quiet });
    const r = await c.check(req(policy({ path_allowlist: list }), "/etc/hostname", fakeIo()));
    assert.equal(r.path, "/etc/hostname");
  }
  const c = createPathChecker({
    settings: settings({ SSH_PATH_ALLOWLIST: ["*"] }),
    logger: quiet,
  });
  assert.equal((await c.check(req(policy(), "/var/x", fakeIo()))).path, "/var/x");
});

Deno.test("AC-210: realpath printing a relative path -> PathNotAllowed", async () => {
  const io = fakeIo({ realpath: () => execResult(0, "relative/x\n") });
  const c = createPathChecker({ settings: settings(), logger: quiet });
  await refused(
    c.check(req(policy({ path_allowlist: ["/"] }), "/opt/app/x", io)),
    "PathNotAllowed",
    /not absolute/,
  );
});

Deno.test("PATH-2: a realpath answer with a newline (symlink target with \\n) is refused", async () => {
  const io = fakeIo({ realpath: () => execResult(0, "/etc/passwd\n/opt/app/x\n") });
  const c = createPathChecker({ settings: settings(), logger: quiet });
  await refused(
    c.check(req(policy({ path_allowlist: ["/"] }), "/opt/app/link", io)),
    "PathNotAllowed",
    /resolved path contains the control character 0x0a/,
  );
});

Deno.test("PATH-2: the command is realpath -e/-m with the path quoted after --", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const p = policy({ path_allowlist: ["/"] });
  const io = fakeIo();
  await c.check(req(p, "/opt/a b/$(reboot)", io, { mustExist: true }));
  await c.check(req(p, "-rf", io, { mustExist: false }));
  assert.equal(io.calls[0], `realpath -e -- '/opt/a b/$(reboot)'`);
  assert.equal(io.calls[1], `realpath -m -- -rf`);
  assert.deepEqual(shellSplit(io.calls[1]!), ["realpath", "-m", "--", "-rf"]);
});

Deno.test("AC-218 / PATH-11: allowlist first, then restricted prefix, then glob, then redact gate", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const base = policy({
    path_allowlist: ["/opt/app"],
    restricted_paths: ["/opt/app/secrets"],
    restricted_globs: ["**/secrets/*", "**/*.key"],
    redact_paths_globs: ["**/*.key", "**/.env"],
    redact_bypass_policy: "block",
  });
  // outside the allowlist AND restricted: the allowlist failure is reported
  const other = { ...base, restricted_paths: ["/etc"] };
  await refused(c.check(req(other, "/etc/shadow", fakeIo())), "PathNotAllowed");
  const e1 = await refused(
    c.check(req(base, "/opt/app/secrets/token.txt", fakeIo())),
    "PathRestricted",
    /restricted zone \/opt\/app\/secrets/,
  );
  assert.equal(e1.attributes.rule, "/opt/app/secrets");
  const e2 = await refused(c.check(req(base, "/opt/app/tls.key", fakeIo())), "PathRestricted");
  assert.equal(e2.attributes.rule, "**/*.key", "restricted glob before the redact gate");
  const e3 = await refused(c.check(req(base, "/opt/app/.env", fakeIo())), "RedactBypassBlocked");
  assert.equal(e3.attributes.rule, "**/.env");
});

Deno.test("AC-665..AC-668 / PATH-10: redact gate block / warn / audit_only / no match", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const p = (mode: "block" | "warn" | "audit_only") =>
    policy({
      path_allowlist: ["/opt/app"],
      redact_paths_globs: ["**/.env"],
      redact_bypass_policy: mode,
    });
  const e = await refused(
    c.check(req(p("block"), "/opt/app/.env", fakeIo(), { tool: "ssh_sftp_download" })),
    "RedactBypassBlocked",
    /ssh_read_redacted/,
  );
  assert.equal(e.attributes.suggested_tool, "ssh_read_redacted");
  const w: PathCheckResult = await c.check(req(p("warn"), "/opt/app/.env", fakeIo()));
  assert.deepEqual(w.warnings, [REDACT_WARN_TEXT]);
  assert.equal(
    REDACT_WARN_TEXT,
    "redact-list path: prefer ssh_read_redacted (this delivered raw secrets to the LLM)",
  );
  assert.equal(w.redactBypass, true);
  const a = await c.check(req(p("audit_only"), "/opt/app/.env", fakeIo()));
  assert.deepEqual(a.warnings, []);
  assert.equal(a.redactBypass, true);
  for (const mode of ["block", "warn", "audit_only"] as const) {
    const n = await c.check(req(p(mode), "/opt/app/main.py", fakeIo()));
    assert.deepEqual(n.warnings, []);
    assert.equal(n.redactBypass, false, mode);
  }
  // env policy when the host sets none (RED-1; NEW default block)
  const inherit = policy({ path_allowlist: ["/opt/app"], redact_paths_globs: ["**/.env"] });
  await refused(c.check(req(inherit, "/opt/app/.env", fakeIo())), "RedactBypassBlocked");
  const warnEnv = createPathChecker({
    settings: settings({ SSH_REDACT_BYPASS_POLICY: "warn", SSH_REDACT_PATHS_GLOBS: ["*.pem"] }),
    logger: quiet,
  });
  const r = await warnEnv.check(req(inherit, "/opt/app/k.pem", fakeIo()));
  assert.equal(r.redactBypass, true, "env redact globs are unioned");
});

Deno.test("AC-669 / RED-6: the redacted readers skip only the redact gate; restricted still wins", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const p = policy({
    path_allowlist: ["/opt/app"],
    restricted_globs: ["**/secrets/*"],
    restricted_paths: ["/opt/app/private"],
    redact_paths_globs: ["**/secrets/*", "**/private/*", "**/.env"],
    redact_bypass_policy: "block",
  });
  const gateOff = { redactGate: false, tool: "ssh_read_redacted" };
  await refused(c.check(req(p, "/opt/app/secrets/x", fakeIo(), gateOff)), "PathRestricted");
  await refused(c.check(req(p, "/opt/app/private/x", fakeIo(), gateOff)), "PathRestricted");
  const ok = await c.check(req(p, "/opt/app/.env", fakeIo(), gateOff));
  assert.equal(ok.redactBypass, false);
  assert.deepEqual(ok.warnings, []);
});

Deno.test("AC-220/AC-221 through the chain: case folding only with case_insensitive_paths; NFD vs NFC", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const p = policy({ path_allowlist: ["/opt", "/srv"], restricted_globs: ["**/.env"] });
  assert.equal((await c.check(req(p, "/opt/app/.ENV", fakeIo()))).path, "/opt/app/.ENV");
  await refused(
    c.check(req({ ...p, case_insensitive_paths: true }, "/opt/app/.ENV", fakeIo())),
    "PathRestricted",
  );
  const nfc = policy({ path_allowlist: ["/srv"], restricted_paths: ["/srv/caf\u00e9"] });
  await refused(c.check(req(nfc, "/srv/cafe\u0301/x", fakeIo())), "PathRestricted");
});

Deno.test("AC-233: a fullwidth name stays distinct; normalisation never widens the allow side", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const p = policy({ path_allowlist: ["/opt/app"] });
  assert.equal((await c.check(req(p, "/opt/app/\uFF41pp", fakeIo()))).path, "/opt/app/\uFF41pp");
  await refused(c.check(req(p, "/opt/\uFF41pp/x", fakeIo())), "PathNotAllowed");
  // NFC/NFD and case variants of the ROOT do not admit other spellings
  const nfcRoot = policy({ path_allowlist: ["/srv/caf\u00e9"], case_insensitive_paths: true });
  await refused(c.check(req(nfcRoot, "/srv/cafe\u0301/x", fakeIo())), "PathNotAllowed");
  await refused(c.check(req(nfcRoot, "/SRV/caf\u00e9/x", fakeIo())), "PathNotAllowed");
});

Deno.test("PATH-22: lexical mode normalises an absolute path without remote I/O", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const p = policy({ path_allowlist: ["/opt/app"], restricted_globs: ["**/.env"] });
  const io = fakeIo();
  const r = await c.check(req(p, "/opt/app/x/../y//z/", io, { lexical: true }));
  assert.equal(r.path, "/opt/app/y/z");
  await refused(c.check(req(p, "/opt/app/../etc/x", io, { lexical: true })), "PathNotAllowed");
  await refused(c.check(req(p, "x/y", io, { lexical: true })), "PathNotAllowed", /not absolute/);
  await refused(c.check(req(p, "/opt/app/.env", io, { lexical: true })), "PathRestricted");
  assert.deepEqual(io.calls, []);
});

Deno.test("PATH-24: follow=false canonicalizes the parent and keeps the leaf", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const p = policy({ path_allowlist: ["/opt/app"] });
  // the parent resolves through a symlink; the leaf is kept as written
  const io = fakeIo({
    realpath: (x) => execResult(0, (x === "/opt/link" ? "/opt/app/real" : x) + "\n"),
  });
  const r = await c.check(req(p, "/opt/link/leaf-link/", io, { follow: false }));
  assert.equal(r.path, "/opt/app/real/leaf-link");
  assert.ok(io.calls.includes("realpath -e -- /opt/link"), io.calls.join("\n"));
  assert.ok(io.calls.includes("sftp.lstat /opt/app/real/leaf-link"));
  for (const bad of ["/", "/opt/app/..", "/opt/app/.", "///"]) {
    await refused(c.check(req(p, bad, fakeIo(), { follow: false })), "PathNotAllowed", /name/);
  }
  // missing leaf with must_exist
  await refused(
    c.check(req(p, "/opt/app/nope", fakeIo({ exists: (x) => x !== "/opt/app/nope" }), {
      follow: false,
    })),
    "PathNotAllowed",
    /does not exist/,
  );
  // may-not-exist leaf: no lstat
  const io2 = fakeIo({ exists: () => false });
  const r2 = await c.check(req(p, "/opt/app/new", io2, { follow: false, mustExist: false }));
  assert.equal(r2.path, "/opt/app/new");
});

// ---------------------------------------------------------------------------
// Windows (PATH-5, PATH-13) with a fake SFTP server

function winPolicy(over: Partial<HostPolicy> = {}): HostPolicy {
  return policy({
    platform: "windows",
    case_insensitive_paths: true,
    path_allowlist: ["C:\\opt\\app"],
    ...over,
  });
}

/** Win32-OpenSSH answers REALPATH with `/C:/...` and forward slashes. */
const winSftp = (x: string) => "/" + x.replaceAll("\\", "/").replace(/^\//, "");

Deno.test("AC-222: Windows paths inside C:\\opt\\app are allowed (/C:/ stripped, INC-034)", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  for (const raw of ["C:/opt/app/x", "c:/OPT/APP/foo", "C:\\opt\\app\\x"]) {
    const io = fakeIo({ sftpRealpath: winSftp });
    const r = await c.check(req(winPolicy(), raw, io));
    assert.ok(!r.path.startsWith("/"), r.path);
    assert.match(r.path, /^[cC]:\//);
    assert.ok(io.calls.every((x) => x.startsWith("sftp")), "no shell on Windows");
  }
});

Deno.test("AC-223/AC-224: Windows sibling prefix refused; restricted zone matched case-insensitively", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  await refused(
    c.check(req(winPolicy(), "C:/opt/appmalicious/x", fakeIo({ sftpRealpath: winSftp }))),
    "PathNotAllowed",
  );
  const p = winPolicy({ path_allowlist: ["C:\\"], restricted_paths: ["C:\\secret"] });
  await refused(
    c.check(req(p, "c:/SECRET/x", fakeIo({ sftpRealpath: winSftp }))),
    "PathRestricted",
  );
});

Deno.test("AC-225/AC-226: Windows without SFTP REALPATH: relative refused, absolute normalised; must_exist needs stat", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const refuse = () => {
    throw new Error("Failure");
  };
  await refused(
    c.check(req(winPolicy(), "foo\\bar", fakeIo({ sftpRealpath: refuse }))),
    "PathNotAllowed",
    /not absolute/,
  );
  const r = await c.check(
    req(winPolicy(), "C:\\opt\\app\\x\\..\\y", fakeIo({ sftpRealpath: refuse })),
  );
  assert.equal(r.path, "C:/opt/app/y");
  await refused(
    c.check(
      req(
        winPolicy(),
        "C:\\opt\\app\\missing",
        fakeIo({ sftpRealpath: winSftp, exists: () => false }),
      ),
    ),
    "PathNotAllowed",
    /does not exist/,
  );
  // may-not-exist: no stat needed
  const ok = await c.check(
    req(winPolicy(), "C:\\opt\\app\\new", fakeIo({ exists: () => false, sftpRealpath: winSftp }), {
      mustExist: false,
    }),
  );
  assert.equal(ok.path, "C:/opt/app/new");
});

Deno.test("AC-227 / PATH-13: ADS, device names, \\\\?\\ and 8.3 names refused; .env. is .env", async () => {
  for (
    const raw of [
      "C:\\opt\\app\\f.txt:hidden",
      "C:\\opt\\app\\CON",
      "C:\\opt\\app\\nul.txt",
      "C:\\opt\\app\\COM1 .log",
      "\\\\?\\C:\\opt\\app\\x",
      "\\\\.\\C:\\opt\\app\\x",
      "C:\\opt\\app\\SECRET~1\\x",
      "C:\\opt\\app\\PROGRA~1",
    ]
  ) {
    refusedSync(() => assertWindowsSafe(raw), "PathNotAllowed");
    const io = fakeIo({ sftpRealpath: winSftp });
    await refused(
      createPathChecker({ settings: settings(), logger: quiet }).check(req(winPolicy(), raw, io)),
      "PathNotAllowed",
    );
    assert.deepEqual(io.calls, [], `${raw}: refused before I/O`);
  }
  assertWindowsSafe("C:\\opt\\app\\console.txt");
  assertWindowsSafe("/C:/opt/app/x");
  const c = createPathChecker({ settings: settings(), logger: quiet });
  await refused(
    c.check(
      req(
        winPolicy({ restricted_globs: ["**/.env"] }),
        "C:\\opt\\app\\.env.",
        fakeIo({ sftpRealpath: winSftp }),
      ),
    ),
    "PathRestricted",
  );
  // the SFTP answer is hardened too (a server resolving to a short name)
  await refused(
    c.check(
      req(winPolicy(), "C:\\opt\\app\\x", fakeIo({ sftpRealpath: () => "/C:/opt/app/ABCDEF~1" })),
    ),
    "PathNotAllowed",
  );
});

Deno.test("AC-228: UNC paths are refused unless that UNC root is allowlisted", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const io = () => fakeIo({ sftpRealpath: (x) => x.replaceAll("\\", "/") });
  await refused(c.check(req(winPolicy(), "\\\\attacker\\share\\x", io())), "PathNotAllowed");
  const r = await c.check(
    req(winPolicy({ path_allowlist: ["\\\\files\\share"] }), "\\\\FILES\\share\\x", io()),
  );
  assert.equal(r.path, "//FILES/share/x");
});

// ---------------------------------------------------------------------------
// configuration (AC-214)

Deno.test("AC-214: a relative restricted_paths entry is fatal at startup (hosts.toml and env)", async () => {
  const d = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${d}/hosts.toml`,
      `[hosts.web01]\nhostname = "127.0.0.9"\nrestricted_paths = ["mnt/shared"]\n`,
    );
    const base = {
      SSH_MCP_DISABLE_DOTENV: "1",
      SSH_HOSTS_FILE: `${d}/hosts.toml`,
      SSH_KNOWN_HOSTS: `${d}/kh`,
    };
    await assert.rejects(loadConfig({ env: base, cwd: d }), ConfigError);
    await Deno.writeTextFile(`${d}/hosts.toml`, `[hosts.web01]\nhostname = "127.0.0.9"\n`);
    await assert.rejects(
      loadConfig({ env: { ...base, SSH_RESTRICTED_PATHS: "mnt/shared" }, cwd: d }),
      ConfigError,
    );
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// live: real sshd

/** A PathIo on a pooled connection of the in-process App. */
function connIo(conn: Connection): PathIo {
  return {
    exec: (cmd, t) =>
      conn.exec(cmd, { timeoutMs: t ?? 15_000, stdoutCap: 65536, stderrCap: 65536 }),
    sftp: () => conn.sftp(),
  };
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** The test tree (created as the test runner, readable by the SSH test user). */
async function makeTree(): Promise<string> {
  const d = await tempDir("sshmcp-paths-");
  for (const dir of ["app/sub", "app/secrets", "app2", "outside", "mnt/shared", "mnt/shared2"]) {
    await Deno.mkdir(`${d}/${dir}`, { recursive: true });
  }
  for (
    const f of [
      "app/file.txt",
      "app/.env",
      "app/secrets/token.txt",
      "app2/x",
      "outside/target.txt",
      "mnt/shared/data.csv",
      "mnt/shared2/x",
      "app/-rf",
      "app/a b",
      "app/c'd",
    ]
  ) {
    await Deno.writeTextFile(`${d}/${f}`, "x\n");
  }
  await Deno.symlink("/etc/passwd", `${d}/app/evil_link`);
  await Deno.symlink(`${d}/mnt/shared/data.csv`, `${d}/app/to_restricted`);
  await Deno.symlink(`${d}/outside/target.txt`, `${d}/app/link_out`);
  await Deno.symlink(`${d}/app/sub`, `${d}/app/subdirlink`);
  await Deno.symlink(`${d}/outside`, `${d}/app/dirlink_out`);
  await Deno.symlink(`${d}/nowhere`, `${d}/app/dangling`);
  await Deno.symlink(`${d}/app/file.txt`, `${d}/app/filelink`);
  return d;
}

Deno.test("live §PATH chain on a real sshd (GNU realpath)", async (t) => {
  const d = await makeTree();
  const fleet = await startFleet(1);
  const s: InProcess = await startInProcess(fleet.env());
  try {
    const base = s.app.hosts().get("h1")!;
    const conn = await s.app.pool.acquire(base);
    const io = connIo(conn);
    const home = fleet.hosts[0]!.sshd.user.home;
    const c = s.app.paths;
    const p = (over: Partial<HostPolicy> = {}) => ({
      ...base,
      path_allowlist: [`${d}/app`],
      ...over,
    });
    const check = (pol: HostPolicy, raw: string, over: Partial<PathCheckRequest> = {}) =>
      c.check(req(pol, raw, io, over));

    await t.step(
      "PATH-2: an existing file resolves to itself; a symlinked dir is resolved",
      async () => {
        assert.equal((await check(p(), `${d}/app/file.txt`)).path, `${d}/app/file.txt`);
        assert.equal((await check(p(), `${d}/app//./sub/`)).path, `${d}/app/sub`);
        assert.equal(
          (await check(p(), `${d}/app/subdirlink/new.txt`, { mustExist: false })).path,
          `${d}/app/sub/new.txt`,
        );
      },
    );

    await t.step("AC-204: ../ traversal is judged on the canonical path", async () => {
      const e = await refused(
        check(p(), `${d}/app/../../../etc/passwd`),
        "PathNotAllowed",
        /resolved to \/etc\/passwd/,
      );
      assert.match(e.message, /outside the allowlist/);
      assert.match(e.message, /ssh_describe_host/);
    });

    await t.step(
      "AC-205: a symlink out of the allowlist is refused (canonical checked)",
      async () => {
        await refused(check(p(), `${d}/app/evil_link`), "PathNotAllowed", /\/etc\/passwd/);
        await refused(check(p(), `${d}/app/link_out`), "PathNotAllowed");
        await refused(
          check(p(), `${d}/app/dirlink_out/new.bin`, { mustExist: false }),
          "PathNotAllowed",
        );
      },
    );

    await t.step(
      "AC-206/AC-207: sibling prefix refused; the root itself allowed (root written with /)",
      async () => {
        await refused(check(p(), `${d}/app2/x`), "PathNotAllowed");
        const r = await check(p({ path_allowlist: [`${d}/app/`] }), `${d}/app`);
        assert.equal(r.path, `${d}/app`);
      },
    );

    await t.step("AC-208: empty allowlist", async () => {
      await refused(
        check(p({ path_allowlist: [] }), `${d}/app/file.txt`),
        "PathNotAllowed",
        /SSH_PATH_ALLOWLIST/,
      );
    });

    await t.step("AC-209: allowlist * reaches any canonical path", async () => {
      assert.equal(
        (await check(p({ path_allowlist: ["*"] }), "/etc/hostname")).path,
        "/etc/hostname",
      );
    });

    await t.step(
      "AC-211: a missing path with must_exist -> PathNotAllowed after the SFTP fallback",
      async () => {
        const e = await refused(check(p(), `${d}/app/missing.txt`), "PathNotAllowed");
        assert.match(e.message, /realpath/);
        assert.match(e.message, /SFTP REALPATH/);
        // may-not-exist: fine
        assert.equal(
          (await check(p(), `${d}/app/missing.txt`, { mustExist: false })).path,
          `${d}/app/missing.txt`,
        );
      },
    );

    await t.step(
      "AC-212/AC-213: restricted zone (host + env union, duplicates), not its sibling",
      async () => {
        const pol = p({
          path_allowlist: [d],
          restricted_paths: [`${d}/mnt/shared`, `${d}/mnt/shared/`],
        });
        await refused(check(pol, `${d}/mnt/shared`), "PathRestricted");
        const e = await refused(
          check(pol, `${d}/mnt/shared/data.csv`),
          "PathRestricted",
          /exec tier/,
        );
        assert.equal(e.attributes.rule, `${d}/mnt/shared`);
        assert.equal((await check(pol, `${d}/mnt/shared2/x`)).path, `${d}/mnt/shared2/x`);
        const envChecker = createPathChecker({
          settings: { ...s.app.settings, SSH_RESTRICTED_PATHS: [`${d}/app2`, `${d}/mnt/shared`] },
          logger: quiet,
        });
        await refused(envChecker.check(req(pol, `${d}/app2/x`, io)), "PathRestricted");
        await refused(envChecker.check(req(pol, `${d}/mnt/shared/data.csv`, io)), "PathRestricted");
      },
    );

    await t.step(
      "AC-215: a symlink inside the allowlist into a restricted zone -> PathRestricted",
      async () => {
        const pol = p({ path_allowlist: [d], restricted_paths: [`${d}/mnt/shared`] });
        await refused(check(pol, `${d}/app/to_restricted`), "PathRestricted");
      },
    );

    await t.step(
      "AC-216/AC-217/AC-218/AC-219: globs on canonical paths; prefix reported first",
      async () => {
        const pol = p({ restricted_globs: ["**/.env", "**/secrets/*"] });
        await refused(check(pol, `${d}/app/.env`), "PathRestricted");
        await refused(check(pol, `${d}/app/secrets/token.txt`), "PathRestricted");
        await refused(
          check(pol, `${d}/app/secrets/deep/new`, { mustExist: false }),
          "PathRestricted",
        );
        assert.equal((await check(pol, `${d}/app/file.txt`)).path, `${d}/app/file.txt`);
        const both = p({
          restricted_paths: [`${d}/app/secrets`],
          restricted_globs: ["**/secrets/*"],
        });
        const e = await refused(check(both, `${d}/app/secrets/token.txt`), "PathRestricted");
        assert.equal(e.attributes.rule, `${d}/app/secrets`);
      },
    );

    await t.step(
      "AC-231: -rf / --help / - are literal relative names resolved against the login dir",
      async () => {
        const pol = p({ path_allowlist: [home] });
        for (const name of ["-rf", "--help", "-"]) {
          const r = await check(pol, name, { mustExist: false });
          assert.equal(r.path, `${home}/${name}`);
        }
        await refused(check(p(), "-rf", { mustExist: false }), "PathNotAllowed");
        // an existing file called -rf
        assert.equal((await check(p(), `${d}/app/-rf`)).path, `${d}/app/-rf`);
      },
    );

    await t.step(
      "AC-232: $(...), backticks, quotes, spaces and * stay literal (nothing runs, nothing expands)",
      async () => {
        const raws = [
          `${d}/app/$(touch ${d}/pwned1)`,
          `${d}/app/\`touch ${d}/pwned2\``,
          `${d}/app/x; touch ${d}/pwned3`,
          `${d}/app/$(reboot)`,
          `${d}/app/*`,
          `${d}/app/?ile.txt`,
          `${d}/app/~`,
        ];
        for (const raw of raws) {
          const r = await check(p(), raw, { mustExist: false });
          assert.equal(r.path, path.posix.normalize(raw), raw);
        }
        for (const n of ["pwned1", "pwned2", "pwned3"]) assert.ok(!(await exists(`${d}/${n}`)), n);
        assert.equal((await check(p(), `${d}/app/a b`)).path, `${d}/app/a b`);
        assert.equal((await check(p(), `${d}/app/c'd`)).path, `${d}/app/c'd`);
        await refused(check(p(), `${d}/app/*`), "PathNotAllowed", /could not be resolved/);
      },
    );

    await t.step(
      "PATH-24: follow=false keeps the link itself; follow=true follows it out",
      async () => {
        await refused(check(p(), `${d}/app/link_out`), "PathNotAllowed");
        const r = await check(p(), `${d}/app/link_out`, { follow: false });
        assert.equal(r.path, `${d}/app/link_out`);
        assert.equal(
          (await check(p(), `${d}/app/subdirlink/../dangling`, { follow: false })).path,
          `${d}/app/dangling`,
          "parent resolved physically (subdirlink/.. = app)",
        );
        await refused(
          check(p(), `${d}/app/nothere`, { follow: false }),
          "PathNotAllowed",
          /does not exist/,
        );
        await refused(check(p(), `${d}/app/..`, { follow: false }), "PathNotAllowed");
        await refused(check(p(), `${d}/outside/target.txt`, { follow: false }), "PathNotAllowed");
      },
    );

    await t.step("PATH-22: lexical mode does no remote I/O", async () => {
      const noIo: PathIo = {
        exec: () => Promise.reject(new Error("remote I/O in lexical mode")),
        sftp: () => Promise.reject(new Error("remote I/O in lexical mode")),
      };
      const r = await c.check(req(p(), `${d}/app/x/../dangling-target`, noIo, { lexical: true }));
      assert.equal(r.path, `${d}/app/dangling-target`);
    });

    await t.step("AC-665..AC-668: redact gate through app.paths", async () => {
      const pol = (mode: "block" | "warn" | "audit_only") =>
        p({ redact_paths_globs: ["**/.env"], redact_bypass_policy: mode });
      const e = await refused(
        check(pol("block"), `${d}/app/.env`, { tool: "ssh_sftp_download" }),
        "RedactBypassBlocked",
        /ssh_read_redacted/,
      );
      assert.equal(e.attributes.suggested_tool, "ssh_read_redacted");
      const w = await check(pol("warn"), `${d}/app/.env`);
      assert.deepEqual([w.warnings, w.redactBypass], [[REDACT_WARN_TEXT], true]);
      const a = await check(pol("audit_only"), `${d}/app/.env`);
      assert.deepEqual([a.warnings, a.redactBypass], [[], true]);
      const n = await check(pol("warn"), `${d}/app/file.txt`);
      assert.deepEqual([n.warnings, n.redactBypass], [[], false]);
      // the gate looks at the canonical path: a link named innocently to .env is caught
      await Deno.symlink(`${d}/app/.env`, `${d}/app/innocent`);
      await refused(check(pol("block"), `${d}/app/innocent`), "RedactBypassBlocked");
    });

    await t.step("AC-669: ssh_read_redacted (gate off) still gets PathRestricted", async () => {
      const pol = p({
        restricted_globs: ["**/secrets/*"],
        redact_paths_globs: ["**/secrets/*"],
      });
      await refused(
        check(pol, `${d}/app/secrets/token.txt`, { redactGate: false, tool: "ssh_read_redacted" }),
        "PathRestricted",
      );
    });
  } finally {
    await s.close();
    await fleet.stop();
    await Deno.remove(d, { recursive: true });
  }
});

/** An sshd whose sessions get PATH=<bin> (SetEnv), plus an in-process App for it. */
async function slimHost(
  bin: string,
  dir: string,
  logger: Logger,
): Promise<{ sshd: SshdInstance; s: InProcess }> {
  const key = await generateKey(dir, { type: "ed25519" });
  const sshd = await startSshd({
    authorizedKeys: [key.publicLine],
    extraConfig: [`SetEnv PATH=${bin}`],
  });
  await Deno.writeTextFile(`${dir}/kh`, sshd.knownHostsLines().join("\n") + "\n");
  await Deno.writeTextFile(
    `${dir}/hosts.toml`,
    `[hosts.slim]\nhostname = "${sshd.address}"\nport = ${sshd.port}\nuser = "${sshd.user.name}"\n` +
      `[hosts.slim.auth]\nmethod = "key"\nkey = "${key.privatePath}"\n`,
  );
  const s = await startInProcess({
    SSH_MCP_DISABLE_DOTENV: "1",
    SSH_HOSTS_FILE: `${dir}/hosts.toml`,
    SSH_KNOWN_HOSTS: `${dir}/kh`,
    SSH_AUDIT_LOG: "off",
    SSH_HOST_NOTES_DIR: "",
  }, { logger });
  return { sshd, s };
}

Deno.test("AC-229 / PATH-3: no usable shell realpath (chroot-like): SFTP REALPATH answers, with a WARNING", async (t) => {
  const d = await makeTree();
  const cfg = await tempDir("sshmcp-slim-");
  const bin = `${cfg}/bin`;
  await Deno.mkdir(bin); // empty: `realpath` is not found (exit 127) like inside a chroot
  const lines: string[] = [];
  const logger = new Logger({ level: "WARNING", sink: (l) => lines.push(l) });
  const { sshd, s } = await slimHost(bin, cfg, logger);
  try {
    const base = s.app.hosts().get("slim")!;
    const io = connIo(await s.app.pool.acquire(base));
    const pol = { ...base, path_allowlist: [`${d}/app`] };
    const check = (raw: string, over: Partial<PathCheckRequest> = {}) =>
      s.app.paths.check(req(pol, raw, io, over));

    await t.step(
      "an existing path resolves through SFTP REALPATH (symlinks followed)",
      async () => {
        assert.equal((await check(`${d}/app/subdirlink/../file.txt`)).path, `${d}/app/file.txt`);
        assert.ok(
          lines.some((l) => /WARNING/.test(l) && /SFTP REALPATH/.test(l) && /slim/.test(l)),
          lines.join("\n"),
        );
        assert.ok(!lines.some((l) => l.includes(d)), "the path itself is not logged");
      },
    );

    await t.step("the SFTP answer is checked like any other (symlink out refused)", async () => {
      await refused(check(`${d}/app/evil_link`), "PathNotAllowed", /\/etc\/passwd/);
    });

    await t.step(
      "AC-211: must_exist on a missing file: SFTP stat refuses; both failures named",
      async () => {
        const e = await refused(check(`${d}/app/missing`), "PathNotAllowed");
        assert.match(e.message, /realpath exit 127/);
        assert.match(e.message, /SFTP REALPATH/);
        assert.equal((await check(`${d}/app/new`, { mustExist: false })).path, `${d}/app/new`);
      },
    );
  } finally {
    await s.close();
    await sshd.stop();
    await Deno.remove(d, { recursive: true });
    await Deno.remove(cfg, { recursive: true });
  }
});

Deno.test("AC-230 / PATH-4: realpath without -e/-m (BSD-like): portable POSIX-sh canonicalizer", async (t) => {
  const d = await makeTree();
  const cfg = await tempDir("sshmcp-bsd-");
  const bin = `${cfg}/bin`;
  await Deno.mkdir(bin);
  await Deno.writeTextFile(
    `${bin}/realpath`,
    '#!/bin/sh\necho "realpath: illegal option -- ${1#-}" >&2\necho "usage: realpath [-q] [path ...]" >&2\nexit 1\n',
  );
  await Deno.chmod(`${bin}/realpath`, 0o755);
  const { sshd, s } = await slimHost(bin, cfg, quiet);
  try {
    const base = s.app.hosts().get("slim")!;
    const io = connIo(await s.app.pool.acquire(base));
    const home = sshd.user.home;
    const pol = { ...base, path_allowlist: [`${d}/app`, home] };
    const check = (raw: string, over: Partial<PathCheckRequest> = {}) =>
      s.app.paths.check(req(pol, raw, io, over));

    await t.step(
      "upload to a new file under a symlinked directory resolves physically",
      async () => {
        assert.equal(
          (await check(`${d}/app/subdirlink/new.txt`, { mustExist: false })).path,
          `${d}/app/sub/new.txt`,
        );
        assert.equal(
          (await check(`${d}/app/subdirlink/a/b/c`, { mustExist: false })).path,
          `${d}/app/sub/a/b/c`,
        );
      },
    );

    await t.step(
      "existing file and directory; .. inside the existing part resolved physically",
      async () => {
        assert.equal((await check(`${d}/app/file.txt`)).path, `${d}/app/file.txt`);
        assert.equal((await check(`${d}/app/sub/`)).path, `${d}/app/sub`);
        assert.equal((await check(`${d}/app/subdirlink/../file.txt`)).path, `${d}/app/file.txt`);
        assert.equal((await check(`${d}/app/-rf`)).path, `${d}/app/-rf`);
      },
    );

    await t.step(
      "out of the allowlist through a symlinked directory -> PathNotAllowed",
      async () => {
        await refused(
          check(`${d}/app/dirlink_out/new.bin`, { mustExist: false }),
          "PathNotAllowed",
        );
        await refused(check(`${d}/app/../app2/x`), "PathNotAllowed");
      },
    );

    await t.step(
      "remainder with .. or a symlink leaf is refused; missing with must_exist refused",
      async () => {
        await refused(
          check(`${d}/app/missing/../../etc/x`, { mustExist: false }),
          "PathNotAllowed",
          /"\.\."/,
        );
        await refused(
          check(`${d}/app/dangling`, { mustExist: false }),
          "PathNotAllowed",
          /symbolic link/,
        );
        await refused(check(`${d}/app/filelink`), "PathNotAllowed", /symbolic link/);
        await refused(check(`${d}/app/missing`), "PathNotAllowed", /does not exist/);
        await refused(
          check(`${d}/app/file.txt/x`, { mustExist: false }),
          "PathNotAllowed",
          /not a directory/,
        );
      },
    );

    await t.step(
      "relative paths resolve against the login directory; literal names stay literal",
      async () => {
        assert.equal((await check("-rf", { mustExist: false })).path, `${home}/-rf`);
        await refused(check("./x/../y", { mustExist: false }), "PathNotAllowed", /"\.\."/);
        const r = await check(`${d}/app/$(touch ${d}/pwned)`, { mustExist: false });
        assert.equal(r.path, `${d}/app/$(touch ${d}/pwned)`);
        assert.ok(!(await exists(`${d}/pwned`)));
      },
    );

    await t.step("follow=false on the portable host keeps a symlink leaf", async () => {
      assert.equal((await check(`${d}/app/filelink`, { follow: false })).path, `${d}/app/filelink`);
    });
  } finally {
    await s.close();
    await sshd.stop();
    await Deno.remove(d, { recursive: true });
    await Deno.remove(cfg, { recursive: true });
  }
});
