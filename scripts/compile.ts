/**
 * `deno task compile [--target T]... [--out DIR] [--timeout SECONDS] [--release]`
 *
 * Builds `main.ts` into `ssh-mcp-<version>-<triple>[.exe]` per target (default:
 * all five release targets) in `dist/`, with exactly the permission flags of
 * deno.json's `start` task baked in (read at run time) and every skill and
 * runbook embedded (they are imported modules, src/skills/embedded_texts_gen.ts),
 * then writes `SHA256SUMS` (sha256sum format) of what it built.
 *
 * `deno compile` packs the program onto Deno's runtime (`denort`), which it
 * downloads from dl.deno.land (cached in DENO_DIR). Where that host is
 * unreachable:
 * - the host's own target falls back to `DENORT_BIN` = the real deno binary
 *   (symlinks resolved, checked to be ELF/Mach-O/PE rather than npm's Node.js
 *   wrapper). That proves the module graph, the embedded skills and the baked
 *   permissions, but the file starts as plain `deno`, not as ssh-mcp, so the
 *   `--version` smoke test is reported NOT RUN (as .ci/run does). `--release`
 *   forbids this fallback: a release binary must run.
 * - other targets are reported `NOT BUILT` and skipped; the release workflow
 *   (.github/workflows/release.yml) builds each on its native runner.
 * A `DENORT_BIN` set by the caller is used for the host target only.
 *
 * Exit 0 when every requested target was built or NOT BUILT only for lack of
 * the runtime download, and the host target (when requested) was built;
 * 1 otherwise (type errors, a real compile failure, a missing embedded skill,
 * permissions that differ from `start`; with `--release` also any target not
 * built and a host binary whose `--version` does not answer `ssh-mcp <version>`);
 * 2 for usage errors.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { VERSION } from "../src/version.ts";
import { LAZY_MODULES } from "../src/util/lazy_import.ts";
import {
  artifactName,
  findTarget,
  formatSums,
  sha256File,
  type Target,
  TARGETS,
} from "./release/targets.ts";

/** The repository root. */
export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The text CI greps for to prove the skills are packed (every read-tier SKILL.md has it). */
export const SKILL_MARKER = "Tier:** read";

/** Parsed command line. */
export interface CompileOptions {
  targets: Target[];
  out: string;
  /** seconds per `deno compile` run (0 = automatic) */
  timeout: number;
  release: boolean;
}

const USAGE = `usage: deno task compile [--target T]... [--out DIR] [--timeout SECONDS] [--release]
targets: ${TARGETS.map((t) => `${t.triple} (${t.name})`).join(", ")}`;

/** Parses the command line; throws an Error (message includes usage) on bad input. */
export function parseCompileArgs(args: readonly string[], cwd = Deno.cwd()): CompileOptions {
  const targets: Target[] = [];
  let out = join(ROOT, "dist");
  let timeout = 0;
  let release = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--release") {
      release = true;
      continue;
    }
    if (a === "--help" || a === "-h") throw new Error(USAGE);
    const m = /^--(target|out|timeout)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    const value = m[2] ?? args[++i];
    if (value === undefined || value === "") throw new Error(`--${m[1]} needs a value\n${USAGE}`);
    if (m[1] === "target") {
      for (const v of value.split(",").map((s) => s.trim()).filter(Boolean)) {
        const t = findTarget(v);
        if (!targets.includes(t)) targets.push(t);
      }
    } else if (m[1] === "out") {
      out = resolve(cwd, value);
    } else {
      timeout = Number(value);
      if (!Number.isInteger(timeout) || timeout <= 0) {
        throw new Error(`--timeout needs a positive number of seconds\n${USAGE}`);
      }
    }
  }
  return { targets: targets.length ? targets : [...TARGETS], out, timeout, release };
}

/** Tokens of a task command line (no quoting is used in deno.json's tasks). */
function words(cmd: string): string[] {
  return cmd.trim().split(/\s+/).filter(Boolean);
}

const PERMISSION_FLAG = /^(-A|--allow-all|--(allow|deny|ignore)-[a-z-]+(=.*)?|-[ENRSW]=?.*)$/;

/**
 * The permission flags of the `start` task in deno.json's text, in order.
 * Throws if the task is missing, does not `deno run ... main.ts`, or has none.
 */
export function startPermissionFlags(denoJsonText: string): string[] {
  const cfg = JSON.parse(denoJsonText) as { tasks?: Record<string, unknown> };
  const start = cfg.tasks?.["start"];
  const cmd = typeof start === "string"
    ? start
    : (start as { command?: unknown } | undefined)?.command;
  if (typeof cmd !== "string") throw new Error("deno.json has no tasks.start command");
  const w = words(cmd);
  const main = w.indexOf("main.ts");
  if (w[0] !== "deno" || w[1] !== "run" || main < 0) {
    throw new Error(`tasks.start is not "deno run <flags> main.ts ...": ${cmd}`);
  }
  const flags = w.slice(2, main).filter((t) => PERMISSION_FLAG.test(t));
  if (!flags.length) throw new Error(`tasks.start has no permission flags: ${cmd}`);
  return flags;
}

/**
 * The runtime flags of the `start` task that the binary must carry besides the
 * permissions: `--no-prompt` (a refused permission fails, never asks a TTY)
 * and `--unstable-worker-options` (main.ts runs the program in a Worker with
 * narrowed permissions, docs/PERMISSIONS.md), required; `--v8-flags=...` (the
 * young-generation size, docs/OPERATIONS.md) carried when present. Throws when
 * a required one is missing.
 */
export function startRuntimeFlags(denoJsonText: string): string[] {
  const cfg = JSON.parse(denoJsonText) as { tasks?: Record<string, unknown> };
  const start = cfg.tasks?.["start"];
  const cmd = typeof start === "string"
    ? start
    : (start as { command?: unknown } | undefined)?.command;
  if (typeof cmd !== "string") throw new Error("deno.json has no tasks.start command");
  const w = words(cmd);
  const main = w.indexOf("main.ts");
  const before = main < 0 ? w : w.slice(0, main);
  const flags = before.filter((t) =>
    t === "--no-prompt" || t.startsWith("--unstable-") || t.startsWith("--v8-flags=")
  );
  for (const need of REQUIRED_RUNTIME_FLAGS) {
    if (!flags.includes(need)) {
      throw new Error(
        `tasks.start lacks ${need} (needed for the narrowed permissions, docs/PERMISSIONS.md): ${cmd}`,
      );
    }
  }
  return flags;
}

/** Flags without which main.ts cannot narrow its permissions. */
export const REQUIRED_RUNTIME_FLAGS: readonly string[] = [
  "--no-prompt",
  "--unstable-worker-options",
];

/** The executable format of a file's first bytes, or null (script, wrapper, garbage). */
export function executableKind(head: Uint8Array): "ELF" | "Mach-O" | "PE" | null {
  const b = head;
  if (b.length < 4) return null;
  if (b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46) return "ELF";
  if (b[0] === 0x4d && b[1] === 0x5a) return "PE";
  const be = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  const le = ((b[3]! << 24) | (b[2]! << 16) | (b[1]! << 8) | b[0]!) >>> 0;
  if ([0xfeedface, 0xfeedfacf, 0xcafebabe].includes(be)) return "Mach-O";
  if ([0xfeedface, 0xfeedfacf].includes(le)) return "Mach-O";
  return null;
}

async function readHead(path: string, n = 16): Promise<Uint8Array> {
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(n);
    const got = await f.read(buf);
    return buf.subarray(0, got ?? 0);
  } finally {
    f.close();
  }
}

/**
 * The real deno executable running this script (symlinks resolved), checked to
 * be a native executable. Throws a clear error for npm's Node.js wrapper.
 */
export async function realDenoBinary(path = Deno.execPath()): Promise<string> {
  const real = await Deno.realPath(path);
  const kind = executableKind(await readHead(real));
  if (!kind) {
    throw new Error(
      `${path} (resolved: ${real}) is not a native executable (ELF/Mach-O/PE); it looks like ` +
        `npm's Node.js wrapper. Install the real binary (npm install -g --allow-scripts=deno ` +
        `deno@${Deno.version.deno}, or https://deno.com) and run again.`,
    );
  }
  return real;
}

/** Index of `needle` in `hay` at or after `from`, or -1. */
export function findBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  if (!needle.length) return from;
  let i = hay.indexOf(needle[0]!, from);
  while (i >= 0 && i + needle.length <= hay.length) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
    i = hay.indexOf(needle[0]!, i + 1);
  }
  return -1;
}

/** Occurrences of `needle` in `hay`. */
export function countBytes(hay: Uint8Array, needle: Uint8Array): number {
  let n = 0;
  for (let i = findBytes(hay, needle); i >= 0; i = findBytes(hay, needle, i + needle.length)) n++;
  return n;
}

const enc = new TextEncoder();
const PERM_KINDS = ["env", "net", "ffi", "read", "run", "sys", "write"];

/**
 * Compares the permissions in a compiled binary's metadata (`"permissions":{...}`)
 * with the flags; returns null when they match, else what differs.
 */
export function checkBakedPermissions(binary: Uint8Array, flags: readonly string[]): string | null {
  const at = findBytes(binary, enc.encode('"permissions":{'));
  if (at < 0) return "no permissions metadata found in the binary";
  const end = findBytes(binary, enc.encode("}"), at);
  const text = new TextDecoder().decode(binary.subarray(at + '"permissions":'.length, end + 1));
  let baked: Record<string, unknown>;
  try {
    baked = JSON.parse(text);
  } catch {
    return `unreadable permissions metadata: ${text.slice(0, 200)}`;
  }
  const all = flags.includes("-A") || flags.includes("--allow-all");
  const diffs: string[] = [];
  for (const k of PERM_KINDS) {
    const flag = flags.find((f) => f === `--allow-${k}` || f.startsWith(`--allow-${k}=`));
    const want = all || flag !== undefined;
    const got = baked[`allow_${k}`] !== null && baked[`allow_${k}`] !== undefined;
    if (want !== got) {
      diffs.push(
        `allow_${k}: binary ${got ? "allows" : "denies"}, start task ${want ? "allows" : "denies"}`,
      );
    }
    if (flag?.includes("=")) {
      const list = flag.slice(flag.indexOf("=") + 1).split(",");
      const bakedList = (baked[`allow_${k}`] ?? []) as string[];
      if (list.some((v) => !bakedList.some((b) => b.includes(v)))) {
        diffs.push(`allow_${k}: binary ${JSON.stringify(bakedList)}, start task ${flag}`);
      }
    }
  }
  return diffs.length ? diffs.join("; ") : null;
}

/**
 * Checks that a binary can narrow its permissions (docs/PERMISSIONS.md): the
 * unstable `worker-options` feature and `"prompt":false` in its metadata, and
 * the Worker entry packed. Returns null when all are there, else what is missing.
 */
export function checkBakedNarrowing(binary: Uint8Array): string | null {
  const missing: string[] = [];
  const at = findBytes(binary, enc.encode('"unstable_config":{'));
  const end = at < 0 ? -1 : findBytes(binary, enc.encode("}"), at);
  const unstable = at < 0 || end < 0 ? "" : new TextDecoder().decode(binary.subarray(at, end + 1));
  if (!unstable.includes('"worker-options"')) missing.push("unstable feature worker-options");
  if (findBytes(binary, enc.encode('"prompt":false')) < 0) missing.push('"prompt":false');
  if (findBytes(binary, enc.encode("worker_entry.ts")) < 0) missing.push("src/worker_entry.ts");
  return missing.length ? missing.join(", ") : null;
}

/** The skill and runbook files src/skills/embedded_texts_gen.ts imports (repo-relative). */
export function embeddedFiles(genText: string): string[] {
  return [...genText.matchAll(/from "\.\.\/\.\.\/([^"]+)" with \{ type: "text" \}/g)].map((m) =>
    m[1]!
  );
}

/** A distinctive line of a file (the longest of its first 40), to look for in a binary. */
function probeLine(text: string): string {
  const lines = text.split("\n").slice(0, 40).map((l) => l.trimEnd());
  return lines.reduce((a, b) => (b.length > a.length ? b : a), "");
}

interface Result {
  target: Target;
  status: "built" | "not-built" | "failed";
  path?: string;
  /** what runtime the file was packed onto */
  runtime?: "denort" | "deno (DENORT_BIN fallback)" | "DENORT_BIN from the environment";
  reason?: string;
}

function say(line: string): void {
  Deno.stdout.writeSync(enc.encode(line + "\n"));
}

function mib(n: number): string {
  return `${(n / 1048576).toFixed(1)} MiB`;
}

/**
 * How the binary packs npm packages: from Deno's npm cache, only those reachable
 * from `main.ts` and the lazy modules (passed with `--include`). `.ci/run`'s
 * compile gate uses the same two flags.
 */
export const NPM_PACKING: readonly string[] = ["--node-modules-dir=none", "--exclude-unused-npm"];

async function runCompile(
  deno: string,
  target: Target,
  outPath: string,
  flags: readonly string[],
  denortBin: string | undefined,
  timeoutSec: number,
): Promise<{ ok: boolean; stderr: string; timedOut: boolean }> {
  const env = Deno.env.toObject();
  delete env["DENORT_BIN"];
  if (denortBin) env["DENORT_BIN"] = denortBin;
  const args = [
    "compile",
    "--quiet",
    "--no-check", // main.ts was type-checked once above
    // pack only the npm packages the program's module graph reaches (39 of 74 MB): with the
    // project's node_modules directory Deno would pack all of it, test and release tools
    // included; --exclude-unused-npm needs Deno's own npm cache instead of that directory
    ...NPM_PACKING,
    ...flags,
    // modules loaded by a computed URL (Worker entries, util/lazy_import.ts): packed explicitly
    ...LAZY_MODULES.flatMap((m) => ["--include", join(ROOT, m)]),
    "--target",
    target.triple,
    "--output",
    outPath,
    join(ROOT, "main.ts"),
  ];
  const signal = AbortSignal.timeout(timeoutSec * 1000);
  try {
    const r = await new Deno.Command(deno, {
      args,
      cwd: ROOT,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
    const stderr = new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout);
    return { ok: r.success, stderr, timedOut: signal.aborted };
  } catch (e) {
    if (signal.aborted) return { ok: false, stderr: String(e), timedOut: true };
    throw e;
  }
}

/** Whether a failed `deno compile` failed fetching the runtime (not on the program). */
export function isRuntimeDownloadFailure(stderr: string): boolean {
  return /Setting up base binary|dl\.deno\.land|denort-[a-z0-9_-]+\.zip/i.test(stderr);
}

async function probeDownloadHost(triple: string): Promise<boolean> {
  const url = `https://dl.deno.land/release/v${Deno.version.deno}/denort-${triple}.zip`;
  try {
    const r = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(8000) });
    await r.body?.cancel();
    return r.ok;
  } catch {
    return false;
  }
}

async function removeIfExists(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}

/** Runs the build; returns the exit code. */
export async function compile(opts: CompileOptions): Promise<number> {
  let deno: string;
  try {
    deno = await realDenoBinary();
  } catch (e) {
    say(`compile: ${(e as Error).message}`);
    return 1;
  }
  const denoJson = await Deno.readTextFile(join(ROOT, "deno.json"));
  const flags = startPermissionFlags(denoJson);
  let runtimeFlags: string[];
  try {
    runtimeFlags = startRuntimeFlags(denoJson);
  } catch (e) {
    say(`compile: ${(e as Error).message}`);
    return 1;
  }
  const host = TARGETS.find((t) => t.triple === Deno.build.target);
  const userDenort = Deno.env.get("DENORT_BIN") || undefined;
  say(`ssh-mcp ${VERSION}: compiling ${opts.targets.map((t) => t.triple).join(", ")}`);
  say(`deno: ${deno} (${Deno.version.deno}, host ${Deno.build.target})`);
  say(`permission flags (deno.json tasks.start): ${flags.join(" ")}`);
  say(`runtime flags (deno.json tasks.start): ${runtimeFlags.join(" ")}`);
  say(`output: ${opts.out}`);

  const check = await new Deno.Command(deno, {
    args: ["check", "--quiet", join(ROOT, "main.ts")],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!check.success) {
    say(new TextDecoder().decode(check.stderr).trimEnd());
    say("compile: FAILED (main.ts does not type-check)");
    return 1;
  }

  const reachable = await probeDownloadHost(opts.targets[0]!.triple);
  const timeout = opts.timeout || (reachable ? 600 : 60);
  say(
    `runtime download host (dl.deno.land): ${reachable ? "reachable" : "unreachable"}; ` +
      `timeout per build ${timeout}s`,
  );
  await Deno.mkdir(opts.out, { recursive: true });

  const genText = await Deno.readTextFile(join(ROOT, "src/skills/embedded_texts_gen.ts"));
  const embedded = embeddedFiles(genText);
  const probes = await Promise.all(
    embedded.map(async (f) => ({ f, line: probeLine(await Deno.readTextFile(join(ROOT, f))) })),
  );

  const results: Result[] = [];
  for (const target of opts.targets) {
    const outPath = join(opts.out, artifactName(VERSION, target));
    await removeIfExists(outPath);
    const isHost = target === host;
    let runtime: Result["runtime"] = isHost && userDenort
      ? "DENORT_BIN from the environment"
      : "denort";
    let r = await runCompile(
      deno,
      target,
      outPath,
      [...flags, ...runtimeFlags],
      isHost ? userDenort : undefined,
      timeout,
    );
    const unreachable = !r.ok && (isRuntimeDownloadFailure(r.stderr) || r.timedOut);
    if (unreachable && isHost && !userDenort && !opts.release) {
      say(
        `${target.triple}: Deno's runtime download is unreachable; packing onto the deno ` +
          `binary itself (DENORT_BIN=${deno})`,
      );
      runtime = "deno (DENORT_BIN fallback)";
      r = await runCompile(deno, target, outPath, [...flags, ...runtimeFlags], deno, timeout);
    }
    if (r.ok) {
      results.push({ target, status: "built", path: outPath, runtime });
      continue;
    }
    await removeIfExists(outPath);
    if (isRuntimeDownloadFailure(r.stderr) || r.timedOut) {
      say(
        `${target.triple}: NOT BUILT (Deno's runtime download for this target is unreachable ` +
          `from here; the release workflow builds it)`,
      );
      results.push({ target, status: "not-built", reason: "runtime download unreachable" });
    } else {
      say(`${target.triple}: FAILED\n${r.stderr.trimEnd().split("\n").slice(-30).join("\n")}`);
      results.push({ target, status: "failed", reason: "deno compile failed" });
    }
  }

  // What can be proven about each file.
  const sums = new Map<string, string>();
  let problems = 0;
  for (const res of results.filter((r) => r.status === "built")) {
    const path = res.path!;
    const name = artifactName(VERSION, res.target);
    const bytes = await Deno.readFile(path);
    const kind = executableKind(bytes.subarray(0, 16));
    const marker = countBytes(bytes, enc.encode(SKILL_MARKER));
    const missing = probes.filter((p) => p.line && findBytes(bytes, enc.encode(p.line)) < 0);
    const perms = checkBakedPermissions(bytes, flags);
    sums.set(name, await sha256File(path));
    say(
      `${res.target.triple}: built ${name} (${bytes.length} bytes, ${mib(bytes.length)}, ${
        kind ?? "unknown format"
      }, runtime: ${res.runtime})`,
    );
    if (marker > 0 && missing.length === 0) {
      say(
        `  skills: embedded (${marker} x "${SKILL_MARKER}", all ${embedded.length} skill/runbook files found)`,
      );
    } else {
      problems++;
      say(
        `  skills: MISSING (${marker} x "${SKILL_MARKER}"; not found: ${
          missing.map((p) => p.f).slice(0, 10).join(", ")
        })`,
      );
    }
    const narrowing = checkBakedNarrowing(bytes);
    if (narrowing === null) {
      say("  narrowing: worker-options and no-prompt baked (main.ts narrows per configuration)");
    } else {
      problems++;
      say(`  narrowing: MISSING: ${narrowing}`);
    }
    // each module's source is embedded: its second line (the module doc's first line) is a probe
    const unpacked = LAZY_MODULES.filter((m) => {
      const probe = Deno.readTextFileSync(join(ROOT, m)).split("\n")[1] ?? "";
      return probe.trim().length < 12 || findBytes(bytes, enc.encode(probe)) < 0;
    });
    if (unpacked.length === 0) {
      say(`  lazy modules: all ${LAZY_MODULES.length} packed (tool groups, subcommands, Workers)`);
    } else {
      problems++;
      say(`  lazy modules: MISSING: ${unpacked.join(", ")}`);
    }
    if (perms === null) say(`  permissions: baked = start task (${flags.join(" ")})`);
    else {
      problems++;
      say(`  permissions: DIFFER from the start task: ${perms}`);
    }
    if (res.target !== host) {
      say(
        `  binary smoke: NOT RUN (not this machine's target; the release workflow runs it natively)`,
      );
      continue;
    }
    let version = "";
    try {
      const v = await new Deno.Command(path, {
        args: ["--version"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(30_000),
      }).output();
      version = new TextDecoder().decode(v.stdout).trim();
    } catch (e) {
      version = `(did not run: ${(e as Error).message})`;
    }
    if (version === `ssh-mcp ${VERSION}`) {
      say(`  binary smoke: ran (${version})`);
    } else if (res.runtime === "denort") {
      problems++;
      say(`  binary smoke: FAILED (--version printed ${JSON.stringify(version.split("\n")[0])})`);
    } else {
      say(
        `  binary smoke: NOT RUN (no denort runtime on this machine: the file is packed onto ` +
          `${
            res.runtime === "deno (DENORT_BIN fallback)" ? "the regular deno binary" : "DENORT_BIN"
          }, ` +
          `which starts as ${JSON.stringify(version.split("\n")[0])}, not ssh-mcp; the packed ` +
          `contents are checked above, not executed)`,
      );
      if (opts.release) problems++;
    }
  }

  if (sums.size) {
    const sumsPath = join(opts.out, "SHA256SUMS");
    await Deno.writeTextFile(sumsPath, formatSums(sums));
    say(`SHA256SUMS: ${sumsPath} (${sums.size} file${sums.size === 1 ? "" : "s"})`);
  }

  const built = results.filter((r) => r.status === "built");
  const notBuilt = results.filter((r) => r.status === "not-built");
  const failed = results.filter((r) => r.status === "failed");
  say(
    `summary: ${built.length} built, ${notBuilt.length} not built (runtime unreachable), ` +
      `${failed.length} failed, ${problems} check problem(s)`,
  );
  const reasons: string[] = [];
  if (failed.length) {
    reasons.push(`deno compile failed for ${failed.map((r) => r.target.triple).join(", ")}`);
  }
  if (problems) reasons.push(`${problems} check(s) on the built files failed`);
  if (!built.length) reasons.push("nothing was built");
  if (host && opts.targets.includes(host) && !built.some((r) => r.target === host)) {
    reasons.push(`the host target ${host.triple} was not built`);
  }
  if (opts.release && notBuilt.length) {
    reasons.push(
      `--release needs every target built (not built: ${
        notBuilt.map((r) => r.target.triple).join(", ")
      })`,
    );
  }
  if (reasons.length) {
    say(`compile: FAILED (${reasons.join("; ")})`);
    return 1;
  }
  say("compile: ok");
  return 0;
}

if (import.meta.main) {
  let opts: CompileOptions;
  try {
    opts = parseCompileArgs(Deno.args);
  } catch (e) {
    say((e as Error).message);
    Deno.exit(2);
  }
  Deno.exit(await compile(opts));
}
