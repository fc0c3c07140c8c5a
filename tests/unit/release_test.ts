/**
 * Release tooling (docs/RELEASE.md): the Homebrew and winget generators on a
 * fixture SHA256SUMS, scripts/install.sh against a local HTTP server (installs,
 * refuses a tampered binary or a machine without a sha256 tool), the
 * `deno task compile` command line and permission flags, the release workflow's
 * structure, the stdio/doctor smoke scripts, and (slow) a real host-target
 * compile whose SHA256SUMS matches the file and which embeds the skills.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import {
  checkBakedNarrowing,
  checkBakedPermissions,
  countBytes,
  embeddedFiles,
  executableKind,
  isRuntimeDownloadFailure,
  NPM_PACKING,
  parseCompileArgs,
  realDenoBinary,
  ROOT,
  SKILL_MARKER,
  startPermissionFlags,
  startRuntimeFlags,
} from "../../scripts/compile.ts";
import { homebrewFormula } from "../../scripts/release/homebrew.ts";
import { WINGET_MANIFEST_VERSION, wingetManifests } from "../../scripts/release/winget.ts";
import {
  artifactName,
  findTarget,
  formatSums,
  parseGeneratorArgs,
  parseSums,
  TARGETS,
} from "../../scripts/release/targets.ts";
import { VERSION } from "../../src/version.ts";
import { freePort } from "../_support/port.ts";

const V = "1.2.3";
const BASE = "https://github.com/acme/ssh-mcp/releases/download/v1.2.3";
const dec = new TextDecoder();

/** A distinct fake sha256 per target (64 hex chars). */
function fakeSha(i: number): string {
  return (i + 1).toString(16).repeat(64).slice(0, 64).replace(/^./, "a");
}

function fixtureSums(skip?: string): Map<string, string> {
  const m = new Map<string, string>();
  TARGETS.forEach((t, i) => {
    if (t.triple !== skip) m.set(artifactName(V, t), fakeSha(i));
  });
  return m;
}

function shaOf(triple: string): string {
  return fakeSha(TARGETS.findIndex((t) => t.triple === triple));
}

async function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; clearEnv?: boolean; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...opts,
  }).output();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// --- SHA256SUMS and targets ---------------------------------------------------------------

Deno.test("release: five targets, artifact names, SHA256SUMS round trip and rejects malformed lines", () => {
  assert.deepEqual(TARGETS.map((t) => t.triple), [
    "x86_64-unknown-linux-gnu",
    "aarch64-unknown-linux-gnu",
    "x86_64-apple-darwin",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
  ]);
  assert.equal(
    artifactName(V, findTarget("windows-x64")),
    "ssh-mcp-1.2.3-x86_64-pc-windows-msvc.exe",
  );
  assert.equal(
    artifactName(V, findTarget("linux-arm64")),
    "ssh-mcp-1.2.3-aarch64-unknown-linux-gnu",
  );
  const sums = fixtureSums();
  const text = formatSums(sums);
  assert.match(text, /^[0-9a-f]{64} {2}ssh-mcp-1\.2\.3-\S+\n/);
  assert.deepEqual(parseSums(text), sums);
  assert.deepEqual(
    parseSums(`${"AB".repeat(32)} *ssh-mcp-x\n\n`),
    new Map([["ssh-mcp-x", "ab".repeat(32)]]),
  );
  assert.throws(() => parseSums("deadbeef  file\n"), /line 1 is not/);
  assert.throws(() => parseSums(`${"a".repeat(64)}  f\n${"b".repeat(64)}  f\n`), /twice/);
  assert.throws(() => findTarget("x86_64-unknown-freebsd"), /unknown target.*valid targets/);
});

// --- Homebrew -----------------------------------------------------------------------------

Deno.test("release: the Homebrew formula has one url and sha256 per macOS/Linux arch from SHA256SUMS", () => {
  const rb = homebrewFormula({ version: V, sums: fixtureSums(), baseUrl: BASE });
  assert.match(rb, /^class SshMcp < Formula$/m);
  assert.match(rb, /^ {2}version "1\.2\.3"$/m);
  assert.match(rb, /^ {2}homepage "https:\/\/github\.com\/acme\/ssh-mcp"$/m);
  const block = (os: string, cpu: string, triple: string) => {
    const osBody = new RegExp(`on_${os} do\\n([\\s\\S]*?)\\n {2}end\\n`).exec(rb)?.[1];
    assert.ok(osBody, `on_${os} block`);
    const cpuBody = new RegExp(`on_${cpu} do\\n([\\s\\S]*?)\\n {4}end`).exec(osBody)?.[1];
    assert.ok(cpuBody, `on_${os}/on_${cpu} block`);
    assert.equal(
      cpuBody,
      `      url "${BASE}/ssh-mcp-1.2.3-${triple}"\n      sha256 "${shaOf(triple)}"`,
    );
  };
  block("macos", "arm", "aarch64-apple-darwin");
  block("macos", "intel", "x86_64-apple-darwin");
  block("linux", "arm", "aarch64-unknown-linux-gnu");
  block("linux", "intel", "x86_64-unknown-linux-gnu");
  assert.doesNotMatch(rb, /windows/);
  assert.match(rb, /^ {4}bin\.install file => "ssh-mcp"$/m);
  assert.match(rb, /def install\n[\s\S]*"ssh-mcp-1\.2\.3-aarch64-apple-darwin"[\s\S]*\n {2}end\n/);
  assert.match(
    rb,
    /test do\n {4}assert_match version\.to_s, shell_output\("#\{bin\}\/ssh-mcp --version"\)\n {2}end/,
  );
  for (const t of TARGETS.filter((t) => t.os !== "windows")) {
    assert.throws(
      () => homebrewFormula({ version: V, sums: fixtureSums(t.triple), baseUrl: BASE }),
      new RegExp(`SHA256SUMS has no entry for ssh-mcp-1\\.2\\.3-${t.triple} `),
    );
  }
  // the Windows binary is not needed by the formula
  homebrewFormula({ version: V, sums: fixtureSums("x86_64-pc-windows-msvc"), baseUrl: BASE });
});

// --- winget -------------------------------------------------------------------------------

Deno.test("release: winget manifests (1.6.0 version/installer/defaultLocale, portable, uppercase sha)", () => {
  const files = wingetManifests({ version: V, sums: fixtureSums(), baseUrl: BASE });
  const id = "ssh-mcp.ssh-mcp";
  assert.deepEqual([...files.keys()].sort(), [
    `${id}.installer.yaml`,
    `${id}.locale.en-US.yaml`,
    `${id}.yaml`,
  ]);
  const y = (name: string) => parseYaml(files.get(name)!) as Record<string, unknown>;
  const version = y(`${id}.yaml`);
  const installer = y(`${id}.installer.yaml`);
  const locale = y(`${id}.locale.en-US.yaml`);
  for (
    const [doc, type] of [[version, "version"], [installer, "installer"], [
      locale,
      "defaultLocale",
    ]] as const
  ) {
    assert.equal(doc["PackageIdentifier"], id);
    assert.equal(doc["PackageVersion"], V);
    assert.equal(doc["ManifestType"], type);
    assert.equal(doc["ManifestVersion"], WINGET_MANIFEST_VERSION);
    assert.equal(WINGET_MANIFEST_VERSION, "1.6.0");
  }
  assert.match(files.get(`${id}.installer.yaml`)!, /\$schema=.*installer\.1\.6\.0\.schema\.json/);
  assert.equal(version["DefaultLocale"], "en-US");
  assert.equal(installer["InstallerType"], "portable");
  assert.deepEqual(installer["Commands"], ["ssh-mcp"]);
  const sha = shaOf("x86_64-pc-windows-msvc");
  assert.deepEqual(installer["Installers"], [{
    Architecture: "x64",
    InstallerUrl: `${BASE}/ssh-mcp-1.2.3-x86_64-pc-windows-msvc.exe`,
    InstallerSha256: sha.toUpperCase(),
  }]);
  assert.notEqual(sha, sha.toUpperCase());
  assert.equal(locale["PackageLocale"], "en-US");
  assert.equal(locale["PackageName"], "ssh-mcp");
  assert.equal(typeof locale["License"], "string");
  assert.equal(typeof locale["ShortDescription"], "string");
  assert.equal(locale["PackageUrl"], "https://github.com/acme/ssh-mcp");
  assert.throws(
    () =>
      wingetManifests({
        version: V,
        sums: fixtureSums("x86_64-pc-windows-msvc"),
        baseUrl: BASE,
      }),
    /SHA256SUMS has no entry for ssh-mcp-1\.2\.3-x86_64-pc-windows-msvc\.exe/,
  );
  assert.throws(
    () => wingetManifests({ version: V, sums: fixtureSums(), baseUrl: BASE, id: "nodot" }),
    /PackageIdentifier/,
  );
});

Deno.test("release: the generator CLIs write their files, and fail clearly on a missing target or argument", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-gen-" });
  try {
    await Deno.writeTextFile(join(dir, "SHA256SUMS"), formatSums(fixtureSums()));
    const args = [
      "--version",
      "v1.2.3",
      "--sums",
      join(dir, "SHA256SUMS"),
      `--base-url=${BASE}/`,
      "--out",
      join(dir, "out"),
    ];
    const gen = (script: string, a: string[]) =>
      run(Deno.execPath(), [
        "run",
        "--quiet",
        "--allow-read",
        "--allow-write",
        join(ROOT, "scripts/release", script),
        ...a,
      ]);
    const hb = await gen("homebrew.ts", args);
    assert.equal(hb.code, 0, hb.stderr);
    const rb = await Deno.readTextFile(join(dir, "out/ssh-mcp.rb"));
    assert.equal(rb, homebrewFormula({ version: V, sums: fixtureSums(), baseUrl: BASE }));
    const wg = await gen("winget.ts", args);
    assert.equal(wg.code, 0, wg.stderr);
    const names = [...Deno.readDirSync(join(dir, "out/winget"))].map((e) => e.name).sort();
    assert.equal(names.length, 3);

    await Deno.writeTextFile(
      join(dir, "SHA256SUMS"),
      formatSums(fixtureSums("aarch64-apple-darwin")),
    );
    const miss = await gen("homebrew.ts", args);
    assert.equal(miss.code, 1);
    assert.match(miss.stderr, /no entry for ssh-mcp-1\.2\.3-aarch64-apple-darwin/);
    const noArg = await gen("winget.ts", args.slice(2));
    assert.equal(noArg.code, 1);
    assert.match(noArg.stderr, /--version is required/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(
    () =>
      parseGeneratorArgs(["--version", "1.2", "--sums", "s", "--base-url", BASE, "--out", "o"], ""),
    /invalid version/,
  );
  assert.throws(
    () =>
      parseGeneratorArgs([
        "--version",
        "1.2.3",
        "--sums",
        "s",
        "--base-url",
        "file:///x",
        "--out",
        "o",
      ], ""),
    /http/,
  );
});

// --- install.sh ---------------------------------------------------------------------------

const HOST = TARGETS.find((t) => t.triple === Deno.build.target);
const INSTALL_SH = join(ROOT, "scripts/install.sh");

/** Serves `files` on 127.0.0.1 (404 otherwise); returns the base URL and a stopper. */
function serveFiles(files: Map<string, Uint8Array>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const name = decodeURIComponent(new URL(req.url).pathname.replace(/^\/rel\//, ""));
    const body = files.get(name);
    return body ? new Response(body.slice()) : new Response("not found", { status: 404 });
  });
  return { base: `http://127.0.0.1:${server.addr.port}/rel`, stop: () => server.shutdown() };
}

/** A PATH dir with the tools install.sh needs, minus `drop`. */
async function toolDir(dir: string, drop: string[]): Promise<string> {
  const bin = join(dir, "tools");
  await Deno.mkdir(bin, { recursive: true });
  const tools = [
    "sh",
    "uname",
    "curl",
    "wget",
    "awk",
    "mktemp",
    "rm",
    "cp",
    "chmod",
    "mv",
    "mkdir",
    "tr",
    "sed",
    "ls",
    "id",
    "cat",
    "cut",
    "sha256sum",
    "shasum",
    "perl",
    "sysctl",
    "env",
    "printf",
  ];
  for (const t of tools.filter((t) => !drop.includes(t))) {
    const r = await run("sh", ["-c", `command -v ${t}`]);
    const path = r.stdout.trim();
    if (r.code === 0 && path.startsWith("/")) await Deno.symlink(path, join(bin, t));
  }
  return bin;
}

Deno.test({
  name:
    "release: install.sh verifies the checksum and installs 0755 into $PREFIX/bin; refuses a tampered binary, installing nothing",
  ignore: Deno.build.os === "windows",
  async fn() {
    assert.ok(HOST, `${Deno.build.target} is not one of the release targets`);
    const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-install-" });
    const name = artifactName("9.9.9", HOST!);
    const binary = new TextEncoder().encode('#!/bin/sh\necho "ssh-mcp 9.9.9"\n');
    const tampered = new TextEncoder().encode('#!/bin/sh\necho "pwned"\n');
    const sums = new TextEncoder().encode(
      formatSums(new Map([[name, await sha256Hex(binary)], ["other", "0".repeat(64)]])),
    );
    const files = new Map([[name, binary], ["SHA256SUMS", sums]]);
    const srv = serveFiles(files);
    const env = (prefix: string, extra: Record<string, string> = {}) => ({
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: join(dir, "home"),
      PREFIX: prefix,
      SSH_MCP_BASE_URL: srv.base,
      SSH_MCP_VERSION: "9.9.9",
      ...extra,
    });
    try {
      // 1. installs
      const ok = await run("/bin/sh", [INSTALL_SH], { env: env(join(dir, "p1")), clearEnv: true });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /checksum ok/);
      const installed = join(dir, "p1/bin/ssh-mcp");
      assert.deepEqual(await Deno.readFile(installed), binary);
      assert.equal((await Deno.stat(installed)).mode! & 0o777, 0o755);
      assert.equal((await run(installed, [])).stdout, "ssh-mcp 9.9.9\n");
      assert.deepEqual([...Deno.readDirSync(join(dir, "p1/bin"))].map((e) => e.name), ["ssh-mcp"]);

      // 2. default prefix is ~/.local, shasum works when sha256sum is missing
      const noSha256sum = await toolDir(join(dir, "a"), ["sha256sum"]);
      const viaShasum = await run("/bin/sh", [INSTALL_SH, "--version", "v9.9.9"], {
        env: { ...env(""), PATH: noSha256sum, SSH_MCP_VERSION: "" },
        clearEnv: true,
      });
      if (await Deno.stat(join(noSha256sum, "shasum")).catch(() => null)) {
        assert.equal(viaShasum.code, 0, viaShasum.stderr);
        assert.deepEqual(await Deno.readFile(join(dir, "home/.local/bin/ssh-mcp")), binary);
      }

      // 3. tampered binary: refused, nothing installed
      files.set(name, tampered);
      const bad = await run("/bin/sh", [INSTALL_SH], { env: env(join(dir, "p2")), clearEnv: true });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /refusing to install: checksum mismatch for ssh-mcp-9\.9\.9-/);
      assert.equal(await Deno.stat(join(dir, "p2")).catch(() => null), null);
      // ... and an existing install is left untouched
      const over = await run("/bin/sh", [INSTALL_SH], {
        env: env(join(dir, "p1")),
        clearEnv: true,
      });
      assert.equal(over.code, 1);
      assert.deepEqual(await Deno.readFile(installed), binary);
      files.set(name, binary);

      // 4. no sha256 tool at all: refused
      const noSha = await toolDir(join(dir, "b"), ["sha256sum", "shasum"]);
      const none = await run("/bin/sh", [INSTALL_SH], {
        env: { ...env(join(dir, "p3")), PATH: noSha },
        clearEnv: true,
      });
      assert.equal(none.code, 1);
      assert.match(none.stderr, /neither sha256sum nor shasum/);
      assert.equal(await Deno.stat(join(dir, "p3")).catch(() => null), null);

      // 5. not listed in SHA256SUMS, missing file, no version
      files.set("SHA256SUMS", new TextEncoder().encode(`${"0".repeat(64)}  other\n`));
      const unlisted = await run("/bin/sh", [INSTALL_SH], {
        env: env(join(dir, "p4")),
        clearEnv: true,
      });
      assert.equal(unlisted.code, 1);
      assert.match(unlisted.stderr, /SHA256SUMS has no entry for/);
      const missing = await run("/bin/sh", [INSTALL_SH, "--version", "1.0.0"], {
        env: env(join(dir, "p4")),
        clearEnv: true,
      });
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /download failed/);
      const noVersion = await run("/bin/sh", [INSTALL_SH], {
        env: env(join(dir, "p4"), { SSH_MCP_VERSION: "" }),
        clearEnv: true,
      });
      assert.equal(noVersion.code, 1);
      assert.match(noVersion.stderr, /no version given/);
      assert.equal(await Deno.stat(join(dir, "p4")).catch(() => null), null);
    } finally {
      await srv.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("release: install.sh is POSIX sh and never escalates privileges", async () => {
  const text = await Deno.readTextFile(INSTALL_SH);
  assert.match(text, /^#!\/bin\/sh\n/);
  const code = text.split("\n").filter((l) => !/^\s*#/.test(l)).join("\n");
  // no sudo/doas/su in command position (messages may mention sudo)
  assert.doesNotMatch(code, /(^|[;&|(`]|\bthen|\bdo|\belse)\s*(sudo|doas|su)\s/m);
  for (const sh of ["sh", "dash"]) {
    const r = await run("sh", ["-c", `command -v ${sh} >/dev/null && ${sh} -n ${INSTALL_SH}`]);
    assert.ok(r.code === 0 || r.code === 127 || r.stderr === "", `${sh} -n: ${r.stderr}`);
  }
});

// --- compile.ts ---------------------------------------------------------------------------

Deno.test("compile: --target parsing (short names, triples, repeats, commas), --out, errors", () => {
  const all = parseCompileArgs([], "/w");
  assert.deepEqual(all.targets, [...TARGETS]);
  assert.equal(all.out, join(ROOT, "dist"));
  assert.equal(all.release, false);
  const some = parseCompileArgs(
    ["--target", "linux-x64", "--target=aarch64-apple-darwin,windows-x64", "--target", "linux-x64"],
    "/w",
  );
  assert.deepEqual(some.targets.map((t) => t.triple), [
    "x86_64-unknown-linux-gnu",
    "aarch64-apple-darwin",
    "x86_64-pc-windows-msvc",
  ]);
  assert.equal(parseCompileArgs(["--out", "build"], "/w").out, "/w/build");
  assert.equal(parseCompileArgs(["--out=/abs", "--release"], "/w").out, "/abs");
  assert.equal(parseCompileArgs(["--release"], "/w").release, true);
  assert.equal(parseCompileArgs(["--timeout", "30"], "/w").timeout, 30);
  assert.throws(() => parseCompileArgs(["--target", "riscv64"], "/w"), /unknown target "riscv64"/);
  assert.throws(() => parseCompileArgs(["--target"], "/w"), /--target needs a value/);
  assert.throws(() => parseCompileArgs(["--frobnicate"], "/w"), /unknown argument/);
  assert.throws(() => parseCompileArgs(["--timeout", "-1"], "/w"), /positive/);
});

Deno.test("compile: the permission flags are exactly the start task's, read from deno.json", async () => {
  const text = await Deno.readTextFile(join(ROOT, "deno.json"));
  const start = String(JSON.parse(text).tasks.start);
  const expected = start.split(/\s+/).filter((t) => /^--(allow|deny)-/.test(t) || t === "-A");
  assert.ok(expected.length > 0);
  assert.deepEqual(startPermissionFlags(text), expected);
  const task = (start: string) => JSON.stringify({ tasks: { start } });
  assert.deepEqual(
    startPermissionFlags(task("deno run --quiet --allow-read=/a,/b --deny-net main.ts serve")),
    ["--allow-read=/a,/b", "--deny-net"],
  );
  assert.throws(() => startPermissionFlags("{}"), /no tasks.start/);
  assert.throws(() => startPermissionFlags(task("deno run -A other.ts")), /not "deno run/);
  assert.throws(
    () => startPermissionFlags(task("deno run --quiet main.ts")),
    /no permission flags/,
  );
});

Deno.test("compile: the start task carries --no-prompt and --unstable-worker-options (docs/PERMISSIONS.md), and the binary must too", async () => {
  const text = await Deno.readTextFile(join(ROOT, "deno.json"));
  assert.deepEqual(startRuntimeFlags(text).sort(), [
    "--no-prompt",
    "--unstable-worker-options",
    "--v8-flags=--max-semi-space-size=1",
  ]);
  const task = (start: string) => JSON.stringify({ tasks: { start } });
  assert.throws(
    () => startRuntimeFlags(task("deno run --no-prompt --allow-read main.ts serve")),
    /lacks --unstable-worker-options/,
  );
  assert.throws(
    () => startRuntimeFlags(task("deno run --unstable-worker-options --allow-read main.ts")),
    /lacks --no-prompt/,
  );
  const enc = new TextEncoder();
  const bin = (unstable: string[], prompt: boolean, entry: boolean) =>
    enc.encode(
      `\x7fELF..."permissions":{"allow_read":[],"prompt":${prompt}}..."unstable_config":{"features":${
        JSON.stringify(unstable)
      }}...${entry ? "file:///x/src/worker_entry.ts" : ""}`,
    );
  assert.equal(checkBakedNarrowing(bin(["worker-options"], false, true)), null);
  assert.match(checkBakedNarrowing(bin([], false, true))!, /worker-options/);
  assert.match(checkBakedNarrowing(bin(["worker-options"], true, true))!, /"prompt":false/);
  assert.match(checkBakedNarrowing(bin(["worker-options"], false, false))!, /worker_entry/);
});

Deno.test("compile: the binary packs only reachable npm packages, and the CI compile gate builds it the same way", async () => {
  assert.deepEqual([...NPM_PACKING], ["--node-modules-dir=none", "--exclude-unused-npm"]);
  const ci = await Deno.readTextFile(join(ROOT, ".ci/run"));
  const gate = ci.slice(ci.indexOf("compile_check() {"), ci.indexOf("gate compile compile_check"));
  for (const flag of NPM_PACKING) {
    assert.ok(gate.includes(flag), `.ci/run's compile gate lacks ${flag}`);
  }
});

Deno.test("compile: baked-permission check, executable formats, wrapper refusal, download-failure detection", async () => {
  const enc = new TextEncoder();
  const meta = (p: Record<string, unknown>) =>
    enc.encode(`\x7fELF....junk"permissions":${JSON.stringify(p)},"more":1`);
  const base = {
    allow_env: [],
    allow_net: [],
    allow_ffi: null,
    allow_read: [],
    allow_run: [],
    allow_sys: [],
    allow_write: [],
    allow_import: ["jsr.io:443"],
  };
  const flags = [
    "--allow-net",
    "--allow-read",
    "--allow-env",
    "--allow-run",
    "--allow-write",
    "--allow-sys",
  ];
  assert.equal(checkBakedPermissions(meta(base), flags), null);
  assert.match(checkBakedPermissions(meta({ ...base, allow_sys: null }), flags)!, /allow_sys/);
  assert.match(checkBakedPermissions(meta({ ...base, allow_ffi: [] }), flags)!, /allow_ffi/);
  assert.match(checkBakedPermissions(enc.encode("nothing"), flags)!, /no permissions metadata/);

  assert.equal(executableKind(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2])), "ELF");
  assert.equal(executableKind(new Uint8Array([0xcf, 0xfa, 0xed, 0xfe])), "Mach-O");
  assert.equal(executableKind(new Uint8Array([0xca, 0xfe, 0xba, 0xbe])), "Mach-O");
  assert.equal(executableKind(enc.encode("MZ\x90\x00")), "PE");
  assert.equal(executableKind(enc.encode("#!/usr/bin/env node\n")), null);

  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-wrapper-" });
  try {
    const wrapper = join(dir, "deno");
    await Deno.writeTextFile(wrapper, "#!/usr/bin/env node\nrequire('child_process');\n");
    await Deno.symlink(wrapper, join(dir, "link"));
    await assert.rejects(realDenoBinary(join(dir, "link")), /not a native executable.*wrapper/s);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const real = await realDenoBinary();
  assert.equal(real, await Deno.realPath(Deno.execPath()));

  assert.ok(isRuntimeDownloadFailure(
    "error: Writing deno compile executable to temporary file 'x'\n\nCaused by:\n    0: Setting up base binary.\n" +
      "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-aarch64-apple-darwin.zip)",
  ));
  assert.ok(!isRuntimeDownloadFailure("TS2307 [ERROR]: Cannot find module 'file:///x.ts'."));

  const gen = await Deno.readTextFile(join(ROOT, "src/skills/embedded_texts_gen.ts"));
  const files = embeddedFiles(gen);
  assert.ok(
    files.some((f) => f.startsWith("skills/")) && files.some((f) => f.startsWith("runbooks/")),
  );
  assert.equal(countBytes(enc.encode("aXaXa"), enc.encode("a")), 3);
});

// --- release workflow ---------------------------------------------------------------------

Deno.test("release workflow: parses as YAML; tag/dispatch triggers, one native runner per target, smoke tests, publish", async () => {
  const text = await Deno.readTextFile(join(ROOT, ".github/workflows/release.yml"));
  // deno-lint-ignore no-explicit-any
  const wf = parseYaml(text) as any;
  assert.deepEqual(wf.on.push.tags, ["v*"]);
  assert.ok("workflow_dispatch" in wf.on);
  assert.equal(wf.env.DENO_VERSION, "2.9.6");
  const build = wf.jobs.build;
  const runners = Object.fromEntries(
    build.strategy.matrix.include.map((
      m: { target: string; runner: string },
    ) => [m.target, m.runner]),
  );
  assert.deepEqual(runners, {
    "x86_64-unknown-linux-gnu": "ubuntu-latest",
    "aarch64-unknown-linux-gnu": "ubuntu-24.04-arm",
    "x86_64-apple-darwin": "macos-13",
    "aarch64-apple-darwin": "macos-14",
    "x86_64-pc-windows-msvc": "windows-latest",
  });
  assert.deepEqual(Object.keys(runners).sort(), TARGETS.map((t) => t.triple).sort());
  assert.equal(build["runs-on"], "${{ matrix.runner }}");
  // deno-lint-ignore no-explicit-any
  const steps: any[] = build.steps;
  const setup = steps.find((s) => String(s.uses).startsWith("denoland/setup-deno@"));
  assert.equal(setup.with["deno-version"], "${{ env.DENO_VERSION }}");
  const runs = steps.map((s) => String(s.run ?? "")).join("\n");
  assert.match(runs, /deno task compile --target \$\{\{ matrix\.target \}\} --release/);
  assert.match(runs, /--version\)[\s\S]*test "\$out" = "ssh-mcp \$VERSION"/);
  assert.match(runs, /" tools \|/);
  assert.match(runs, /scripts\/release\/smoke_tools_list\.ts\s+--min 40/);
  const doctor = steps.find((s) => String(s.run ?? "").includes("smoke_doctor.sh"));
  assert.equal(doctor.if, "runner.os != 'Windows'");
  assert.ok(steps.some((s) => String(s.uses).startsWith("actions/upload-artifact@")));

  const rel = wf.jobs.release;
  assert.equal(rel.needs, "build");
  assert.equal(rel.permissions.contents, "write");
  const relRuns = rel.steps.map((s: { run?: string }) => String(s.run ?? "")).join("\n");
  assert.match(relRuns, /sha256sum ssh-mcp-"\$VERSION"-\* > SHA256SUMS/);
  assert.match(relRuns, /scripts\/release\/homebrew\.ts/);
  assert.match(relRuns, /scripts\/release\/winget\.ts/);
  assert.match(relRuns, /__SSH_MCP_VERSION__[\s\S]*scripts\/install\.sh > dist\/install\.sh/);
  assert.match(relRuns, /gh release create/);
  const publish = rel.steps.find((s: { run?: string }) =>
    String(s.run ?? "").includes("gh release create")
  );
  assert.equal(publish.if, "github.ref_type == 'tag'");
});

// --- smoke scripts ------------------------------------------------------------------------

const START_JSON = Deno.readTextFileSync(join(ROOT, "deno.json"));
/** the start task's flags, the narrowing ones included (the smoke runs what users run) */
const START_FLAGS = [...startRuntimeFlags(START_JSON), ...startPermissionFlags(START_JSON)];

Deno.test("release smoke: tools/list over stdio with the SDK client counts the tools", async () => {
  const r = await run(Deno.execPath(), [
    "run",
    "--quiet",
    "--allow-run",
    "--allow-env",
    "--allow-read",
    join(ROOT, "scripts/release/smoke_tools_list.ts"),
    "--min",
    "40",
    "--",
    Deno.execPath(),
    "run",
    "--quiet",
    ...START_FLAGS,
    join(ROOT, "main.ts"),
  ], { env: { SSH_MCP_DISABLE_DOTENV: "1", SSH_HOSTS_FILE: join(ROOT, "nonexistent.toml") } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /tools\/list: ok \(\d+ tools from ssh-mcp /);
  assert.match(r.stdout, /skill read: ok \(skill:\/\/ssh-host-ping\/SKILL\.md, \d+ characters\)/);
  const tooMany = await run(Deno.execPath(), [
    "run",
    "--quiet",
    "-A",
    join(ROOT, "scripts/release/smoke_tools_list.ts"),
    "--min",
    "100000",
    "--",
    Deno.execPath(),
    "run",
    "--quiet",
    ...START_FLAGS,
    join(ROOT, "main.ts"),
  ], { env: { SSH_MCP_DISABLE_DOTENV: "1" } });
  assert.equal(tooMany.code, 1);
  assert.match(tooMany.stdout, /tools\/list: FAILED \(\d+ tools, expected more than 100000\)/);
});

const SSHD = "/usr/sbin/sshd";
const haveSshd = Deno.build.os !== "windows" && (() => {
  try {
    Deno.statSync(SSHD);
    if (Deno.build.os === "linux") Deno.statSync("/run/sshd");
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "release smoke: doctor against a throw-away sshd run as the current user",
  ignore: Deno.build.os === "windows",
  async fn() {
    // a missing fixture fails the test (never a skip): .ci/run installs sshd and creates /run/sshd
    assert.ok(
      haveSshd,
      `${SSHD} (and /run/sshd on Linux) missing: apt-get install -y openssh-server && mkdir -p /run/sshd`,
    );
    const r = await run("sh", [
      join(ROOT, "scripts/release/smoke_doctor.sh"),
      Deno.execPath(),
      "run",
      "--quiet",
      ...START_FLAGS,
      join(ROOT, "main.ts"),
    ], { env: { SMOKE_SSHD_PORT: String(freePort()) } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /doctor smoke: ok \(\d+ checks ok against sshd on 127\.0\.0\.1:\d+\)/);
  },
});

// --- the real build (slow) ----------------------------------------------------------------

Deno.test({
  name:
    "compile (slow): deno task compile --target <host> builds the host binary with the skills, SHA256SUMS matches",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    assert.ok(HOST, `${Deno.build.target} is not one of the release targets`);
    const out = await Deno.makeTempDir({ prefix: "ssh-mcp-dist-" });
    try {
      const r = await run(
        Deno.execPath(),
        ["task", "--quiet", "compile", "--target", HOST!.name, "--out", out],
        { cwd: ROOT },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const name = artifactName(VERSION, HOST!);
      assert.deepEqual(
        [...Deno.readDirSync(out)].map((e) => e.name).sort(),
        ["SHA256SUMS", name].sort(),
      );
      const bytes = await Deno.readFile(join(out, name));
      assert.ok(bytes.length > 10 * 1024 * 1024, `${bytes.length} bytes`);
      assert.ok(countBytes(bytes, new TextEncoder().encode(SKILL_MARKER)) > 0, "skills embedded");
      const sums = parseSums(await Deno.readTextFile(join(out, "SHA256SUMS")));
      assert.deepEqual([...sums.keys()], [name]);
      assert.equal(sums.get(name), await sha256Hex(bytes));
      const external = await run("sh", ["-c", `cd "${out}" && sha256sum -c SHA256SUMS`]);
      if (external.code !== 127 && !/not found/.test(external.stderr)) {
        assert.equal(external.code, 0, external.stdout + external.stderr);
      }
      assert.match(r.stdout, /skills: embedded/);
      assert.match(r.stdout, /permissions: baked = start task/);
      assert.match(r.stdout, /binary smoke: (ran \(ssh-mcp |NOT RUN \(no denort runtime)/);
      assert.match(r.stdout, /compile: ok$/m);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
});
