/**
 * A small mutation runner (issue 9 §7): single-expression mutations of the
 * security checks in `src/policy/`, `src/ssh/` and `src/registry/` (plus the
 * call sites of the rules the issue names: the write tools' re-check, the
 * audit hash), each run against the test files that should hold that rule.
 *
 * For every mutant, one at a time (they edit shared source files):
 *
 * 1. the file is read (the tree may hold uncommitted work: the original is
 *    the file as it is now, kept in memory and in a backup file, never taken
 *    from git), the mutation is applied to exactly one occurrence;
 * 2. the mapped test files run one after the other (`deno test --allow-all
 *    --no-check --fail-fast`), stopping at the first failing file;
 * 3. the file is restored in a `finally` (also on SIGINT/SIGTERM): only when
 *    it still holds the mutant (someone else's edit is never overwritten),
 *    and the restored content is compared with the original.
 *
 * A mutant is `killed` when a test failed (the failing test names are
 * recorded), `survived` when every mapped test passed, `stale` when its
 * source text is no longer in the file.
 *
 * Usage:
 *
 *     deno run -A scripts/mutate.ts run [--only ID,ID] [--without-new] [--out FILE]
 *     deno run -A scripts/mutate.ts list
 *     deno run -A scripts/mutate.ts baseline [--without-new]
 *     deno run -A scripts/mutate.ts report BEFORE.json AFTER.json > docs/mutation.md
 *
 * `--without-new` measures the suite as it was before the "§7 rules" tests:
 * the files under `tests/rules/` (all of them new) are left out.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const NEW_TESTS_DIR = "tests/rules/";

/** One mutation. */
export interface Mutant {
  id: string;
  file: string;
  /** the exact source text to replace */
  find: string;
  replace: string;
  /** which occurrence of `find` (1-based; default: it must occur exactly once) */
  nth?: number;
  /** the mutation in words */
  what: string;
  /** test files, fastest / most targeted first */
  tests: string[];
  /** why a surviving mutant is acceptable (equivalent, covered elsewhere, ...) */
  explain?: string;
}

const NET_TESTS = [
  "tests/rules/network_policy_test.ts",
  "tests/policy/network_test.ts",
  "tests/rules/network_dns_test.ts",
];
const POOL_TESTS = [
  "tests/rules/network_dns_test.ts",
  "tests/rules/pool_rules_test.ts",
  "tests/ssh/pool_test.ts",
  "tests/pipeline/gates_test.ts",
];
const CONNECT_TESTS = [
  "tests/rules/host_key_test.ts",
  "tests/rules/network_dns_test.ts",
  "tests/ssh/pool_test.ts",
  "tests/ssh/known_hosts_test.ts",
  "tests/e2e/host_tools_test.ts",
  "tests/e2e/exec_test.ts",
];
const WRITE_TESTS = [
  "tests/rules/write_recheck_test.ts",
  "tests/pipeline/prepare_paths_test.ts",
  "tests/e2e/path_attacks_test.ts",
  "tests/e2e/file_ops_test.ts",
  "tests/e2e/file_race_test.ts",
];
const HASH_TESTS = [
  "tests/rules/command_hash_test.ts",
  "tests/pipeline/handler_audit_test.ts",
  "tests/pipeline/command_test.ts",
  "tests/pipeline/fanout_test.ts",
  "tests/e2e/exec_test.ts",
  "tests/e2e/tasks_test.ts",
];
const COMMAND_TESTS = [
  "tests/policy/commands_test.ts",
  "tests/policy/command_restrict_test.ts",
  "tests/policy/command_match_test.ts",
  "tests/policy/command_emit_test.ts",
  "tests/pipeline/command_test.ts",
];
const PATH_TESTS = [
  "tests/policy/paths_test.ts",
  "tests/policy/protected_paths_test.ts",
  "tests/policy/subtree_test.ts",
  "tests/pipeline/prepare_paths_test.ts",
  "tests/e2e/path_attacks_test.ts",
];
const REGISTRY_TESTS = [
  "tests/rules/registry_rules_test.ts",
  "tests/pipeline/gates_test.ts",
  "tests/pipeline/command_test.ts",
  "tests/pipeline/handler_audit_test.ts",
  "tests/tools/catalog_test.ts",
  "tests/e2e/audit_sink_test.ts",
  "tests/e2e/hidden_test.ts",
];

/** The mutants (~40, at the security checks). */
export const MUTANTS: Mutant[] = [
  // ---- network policy (HOST-7)
  {
    id: "net-block-first-only",
    file: "src/policy/network.ts",
    find: "for (const { text, addr } of parsed) {\n    const rule = lists.block.find",
    replace:
      "for (const { text, addr } of parsed.slice(0, 1)) {\n    const rule = lists.block.find",
    what: "block lists checked against the first resolved address only",
    tests: NET_TESTS,
  },
  {
    id: "net-allow-some-every",
    file: "src/policy/network.ts",
    find: "if (!lists.allow.some((r) => matches(addr, r))) {",
    replace: "if (!lists.allow.every((r) => matches(addr, r))) {",
    what: "allow check `.some` -> `.every`",
    tests: NET_TESTS,
  },
  {
    id: "net-allow-skipped",
    file: "src/policy/network.ts",
    find: "if (lists.allow.length > 0) {\n    for",
    replace: "if (lists.allow.length > 1) {\n    for",
    what: "allow lists applied only with 2+ entries (`> 0` -> `> 1`)",
    tests: NET_TESTS,
  },
  {
    id: "net-unmap-v4",
    file: "src/policy/network.ts",
    find: "if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();",
    replace: "if (false) return v6.toIPv4Address();",
    what: "IPv4-mapped IPv6 answers not unmapped (condition -> false)",
    tests: NET_TESTS,
    explain: "Equivalent mutant: every address reaching `evaluate` is canonical text, and " +
      "`canonicalIp` (src/policy/hostname.ts) already turns `::ffff:a.b.c.d` into `a.b.c.d` " +
      "(resolver answers and literals alike), so this `unmap` is a second line no input reaches; " +
      "the mapped-address rule itself is held by network_test.ts " +
      '"IPv4-mapped IPv6 addresses and ranges are treated as IPv4".',
  },
  {
    id: "net-cache-ttl",
    file: "src/policy/network.ts",
    find: "if (hit.expires > now) return",
    replace: "if (hit.expires < now) return",
    what: "DNS cache freshness flipped (`>` -> `<`)",
    tests: NET_TESTS,
  },
  {
    id: "net-nodns-allow",
    file: "src/policy/network.ts",
    find: "if (lists.allow.length > 0) {\n        return deny(",
    replace: "if (lists.allow.length < 0) {\n        return deny(",
    what: "resolve_dns=false: unverifiable names pass an allow list (`>` -> `<`)",
    tests: NET_TESTS,
  },
  {
    id: "net-v4-preferred",
    file: "src/policy/network.ts",
    find: "const first = v4 ?? parsed[0];",
    replace: "const first = parsed[0];",
    what: "connect address: IPv4 no longer preferred",
    tests: NET_TESTS,
  },
  // ---- pool / handshake / connection
  {
    id: "pool-connect-by-name",
    file: "src/ssh/pool.ts",
    find: "connectAddress: decision.connectAddress,",
    replace: "connectAddress: connectName,",
    what: "the pool connects to the name instead of the checked address",
    tests: POOL_TESTS,
  },
  {
    id: "pool-blocklist-open",
    file: "src/ssh/pool.ts",
    find: "hosts.assertNotBlocked(policy);",
    replace: "void hosts.isBlocked;",
    what: "blocklist not re-applied when a connection (or proxy hop) is opened",
    tests: [...POOL_TESTS, "tests/e2e/fleet_test.ts"],
  },
  {
    id: "pool-hostname-blocked",
    file: "src/ssh/pool.ts",
    find: "if (connectName !== policy.hostname && hosts.isBlocked(connectName)) {",
    replace: "if (connectName !== policy.hostname && false) {",
    what: "ssh_config HostName mapping to a blocklisted name not refused",
    tests: POOL_TESTS,
  },
  {
    id: "pool-reap-busy",
    file: "src/ssh/pool.ts",
    find: "if (c.activeChannels > 0 || inUseAsHop.has(c.key)) continue;",
    replace: "if (inUseAsHop.has(c.key)) continue;",
    what: "idle reaper closes connections with open channels",
    tests: POOL_TESTS,
  },
  {
    id: "pool-reap-limit",
    file: "src/ssh/pool.ts",
    find: "if (now - c.lastUsed < limit) continue;",
    replace: "if (now - c.lastUsed > limit) continue;",
    what: "idle reaper comparison flipped",
    tests: POOL_TESTS,
  },
  {
    id: "hs-nodelay",
    file: "src/ssh/handshake.ts",
    find: "sock.setNoDelay(true);",
    replace: "",
    what: "TCP_NODELAY removed",
    tests: CONNECT_TESTS,
  },
  {
    id: "hs-hostverifier-true",
    file: "src/ssh/handshake.ts",
    find: 'return verdict.status === "trusted";',
    replace: "return true;",
    what: "hostVerifier accepts every host key",
    tests: CONNECT_TESTS,
  },
  {
    id: "hs-verdict-error",
    file: "src/ssh/handshake.ts",
    find: 'if (v && v.status !== "trusted") {',
    replace: "if (false) {",
    what: "an untrusted host key is not reported as UnknownHost/HostKeyMismatch",
    tests: CONNECT_TESTS,
  },
  {
    id: "kh-negation",
    file: "src/ssh/known_hosts_match.ts",
    find: "if (negated) return -1;",
    replace: "if (negated) got = true;",
    what: "known_hosts `!pattern` negation treated as a match",
    tests: ["tests/ssh/known_hosts_test.ts"],
  },
  {
    id: "kh-revoked",
    file: "src/ssh/known_hosts.ts",
    find: "if (r.revoked.some((k) => canonicalIdOfPinned(k) === id)) {",
    replace: "if (false) {",
    what: "@revoked keys ignored",
    tests: ["tests/ssh/known_hosts_test.ts"],
  },
  // ---- write re-checks (PATH-30, PATH-50..52)
  {
    id: "write-upload-recheck",
    file: "src/tools/file-ops/_write.ts",
    find:
      'await f.recheck(path, "resolved", ctx.signal);\n      if (a.expected_sha256 && existing) {',
    replace: "if (a.expected_sha256 && existing) {",
    what: "ssh_upload/ssh_deploy skip the re-check before the rename",
    tests: WRITE_TESTS,
  },
  {
    id: "write-rewrite-recheck",
    file: "src/tools/file-ops/_rewrite.ts",
    find: 'await f.recheck(path, "resolved", ctx.signal);\n        const now',
    replace: "const now",
    what: "ssh_edit/ssh_patch skip the re-check before the rename",
    tests: WRITE_TESTS,
  },
  {
    id: "write-transfer-recheck",
    file: "src/tools/file-ops/ssh_transfer.ts",
    find: 'beforeRename: (f) => f.recheck(dp, "resolved", ctx.signal),',
    replace: "beforeRename: () => Promise.resolve(),",
    what: "ssh_transfer skips the re-check before the rename",
    tests: WRITE_TESTS,
  },
  {
    id: "recheck-realpath",
    file: "src/ssh/transfer.ts",
    find: "if (real !== null && real !== path) throw changed(",
    replace: "if (false) throw changed(",
    what: "re-check ignores an existing path that now resolves elsewhere",
    tests: WRITE_TESTS,
  },
  {
    id: "recheck-parent",
    file: "src/ssh/transfer.ts",
    find: "if (realParent !== null && realParent !== parent) {",
    replace: "if (false) {",
    what: "re-check ignores a parent directory that now resolves elsewhere",
    tests: WRITE_TESTS,
  },
  {
    id: "recheck-symlink-leaf",
    file: "src/ssh/transfer.ts",
    find: 'if (st?.kind === "symlink") throw changed("it is now a symbolic link");',
    nth: 2,
    replace: 'if (false) throw changed("it is now a symbolic link");',
    what: "re-check ignores a leaf that became a symbolic link (POSIX branch)",
    tests: WRITE_TESTS,
  },
  {
    id: "pin-pwd-check",
    file: "src/ssh/pinned_sh.ts",
    find: `'  [ "$h" = "$1" ] || {`,
    replace: `'  [ "$h" = "$h" ] || {`,
    what: "pinned scripts no longer compare `pwd -P` with the checked directory",
    tests: WRITE_TESTS,
  },
  {
    id: "pin-moved-mapped",
    file: "src/ssh/fs_core.ts",
    find: "if (e instanceof PathMovedError) throw writeMoved(path, e.detail);",
    replace: "if (false) throw writeMoved(path, e.detail);",
    what: "a detected race is not turned into a WriteError",
    tests: WRITE_TESTS,
  },
  {
    id: "temp-placed-check",
    file: "src/ssh/fs.ts",
    find: 'if (!here || here.kind !== "file" || here.uid !== st.uid || st.size !== 0) {',
    replace: "if (!here) {",
    what: "the opened temp file is not compared with the one created (PATH-52)",
    tests: WRITE_TESTS,
  },
  // ---- audit hashes (AUDIT-4)
  {
    id: "hash-unredacted",
    file: "src/audit/audit.ts",
    find: "return auditHash(redactForHash(command));",
    replace: "return auditHash(command);",
    what: "command_hash over the unredacted command",
    tests: HASH_TESTS,
  },
  {
    id: "hash-gate-raw",
    file: "src/registry/checks.ts",
    find: "const hash = commandHash(raw);",
    replace: "const hash = auditHash(raw);",
    what: "registry records command_hash without redaction",
    tests: HASH_TESTS,
  },
  {
    id: "hash-async-emitted",
    file: "src/tools/exec/ssh_run_async.ts",
    find: "const hash = commandHash(ctx.rawCommand());",
    replace: "const hash = commandHash(String(command));",
    what: "ssh_run_async hashes the admitted (re-emitted) text, not the caller's",
    tests: HASH_TESTS,
  },
  {
    id: "hash-flag-case",
    file: "src/audit/audit.ts",
    find:
      `(password|token|secret|passwd|pwd|auth|api_key|api-key|apikey)=("[^"]*"|'[^']*'|[^\\s]*)/gi;`,
    replace:
      `(password|token|secret|passwd|pwd|auth|api_key|api-key|apikey)=("[^"]*"|'[^']*'|[^\\s]*)/g;`,
    what: "secret-flag redaction case-sensitive (`PASSWORD=` kept)",
    tests: HASH_TESTS,
  },
  // ---- registry gates
  {
    id: "reg-audit-gate",
    file: "src/registry/pipeline.ts",
    find: 'if (c.tool.tier === "read" || c.app.audit.healthy) return;',
    replace: 'if (c.tool.tier === "read" || c.app.audit.healthy || true) return;',
    what: "tools above the read tier run while the audit sink fails",
    tests: REGISTRY_TESTS,
  },
  {
    id: "reg-timeout-ceiling",
    file: "src/registry/gates.ts",
    find: "if (t > max) {",
    replace: "if (t > max + 1) {",
    what: "timeout ceiling off by one",
    tests: REGISTRY_TESTS,
  },
  {
    id: "reg-platform-gate",
    file: "src/registry/gates.ts",
    find: 'if (tool.posixOnly && policy.platform === "windows") {',
    replace: "if (false) {",
    what: "posixOnly tools not refused on windows hosts",
    tests: [...REGISTRY_TESTS, "tests/e2e/path_attacks_test.ts"],
  },
  {
    id: "reg-sudo-visible",
    file: "src/registry/visibility.ts",
    find: '(tool.tier === "sudo" && settings.ALLOW_DANGEROUS_TOOLS && settings.ALLOW_SUDO);',
    replace: '(tool.tier === "sudo" && settings.ALLOW_SUDO);',
    what: "sudo tools visible without ALLOW_DANGEROUS_TOOLS",
    tests: [...REGISTRY_TESTS, "tests/structure/tools_list_snapshot_test.ts"],
  },
  // ---- command policy (EXEC-*)
  {
    id: "cmd-no-reemit",
    file: "src/policy/commands.ts",
    find: "return { decision, text: emitRestricted(parsed) };",
    replace: "return { decision, text: cmd };",
    what: "restrictive mode runs the caller's text instead of the re-emission",
    tests: COMMAND_TESTS,
  },
  {
    id: "cmd-deny-some-every",
    file: "src/policy/command_denylist.ts",
    find: "if (invocations.some((inv) => entryHits(entry, inv))) return entry;",
    replace: "if (invocations.every((inv) => entryHits(entry, inv))) return entry;",
    what: "denylist must hit every invocation (`.some` -> `.every`)",
    tests: COMMAND_TESTS,
  },
  {
    id: "cmd-dd-harmless",
    file: "src/policy/command_denylist.ts",
    find: 'a.startsWith("of=") && !HARMLESS_DD_OUTPUTS.has(',
    replace: 'a.startsWith("of=") && HARMLESS_DD_OUTPUTS.has(',
    what: "`dd of=` denial negated",
    tests: COMMAND_TESTS,
  },
  {
    id: "cmd-env-prefixes",
    file: "src/policy/command_env.ts",
    find: "return FORBIDDEN_NAMES.has(name) || FORBIDDEN_PREFIXES.some((p) => name.startsWith(p));",
    replace: "return FORBIDDEN_NAMES.has(name);",
    what: "forbidden env prefixes (LD_*, BASH_*, PERL5*, ...) dropped",
    tests: COMMAND_TESTS,
  },
  {
    id: "cmd-bare-vs-path",
    file: "src/policy/command_match.ts",
    find: 'if (opts.program && !p0.literal.includes("/") && prog.includes("/")) {',
    replace: "if (false) {",
    what: "a bare allowlist entry admits a path-qualified program",
    tests: COMMAND_TESTS,
  },
  {
    id: "cmd-dotdot",
    file: "src/policy/command_match.ts",
    find: 'if (p.literal.includes("/") && hasDotDot(w)) {',
    replace: 'if (p.literal.includes("/") && false) {',
    what: "`..` admitted in an argument matched by a path-shaped rule",
    tests: COMMAND_TESTS,
  },
  {
    id: "cmd-cluster-every",
    file: "src/policy/command_match.ts",
    find: "return [...opt.slice(1)].every((ch) => single(`-${ch}`));",
    replace: "return [...opt.slice(1)].some((ch) => single(`-${ch}`));",
    what: "deny option cluster `.every` -> `.some`",
    tests: COMMAND_TESTS,
  },
  {
    id: "cmd-expansion-arg",
    file: "src/policy/command_restrict.ts",
    find: "if (w.expansion) {",
    replace: "if (false) {",
    what: "run-time expansion in arguments not refused in restrictive mode",
    tests: COMMAND_TESTS,
  },
  // ---- path policy (PATH-*)
  {
    id: "path-prefix-sibling",
    file: "src/policy/path_syntax.ts",
    find: 'return a.startsWith(r.endsWith("/") ? r : r + "/");',
    replace: "return a.startsWith(r);",
    what: "allowlist prefix without the separator (`/srv/app2` inside `/srv/app`)",
    tests: PATH_TESTS,
  },
  {
    id: "path-protected",
    file: "src/policy/paths.ts",
    find: "if (pz) {",
    replace: "if (false) {",
    what: "built-in protected paths not refused",
    tests: PATH_TESTS,
  },
  {
    id: "path-restricted-glob",
    file: "src/policy/paths.ts",
    find: "if (glob !== null) {",
    replace: "if (false) {",
    what: "restricted globs not refused",
    tests: PATH_TESTS,
  },
  {
    id: "path-redact-block",
    file: "src/policy/paths.ts",
    find: 'if (mode === "block") {',
    replace: 'if (mode !== "block") {',
    what: "redact bypass policy `block` negated",
    tests: PATH_TESTS,
  },
  {
    id: "path-bashrc",
    file: "src/policy/protected_paths.ts",
    find: '  ".bashrc",\n',
    replace: "",
    what: "`.bashrc` dropped from the built-in protected files",
    tests: PATH_TESTS,
  },
  {
    id: "subtree-zone",
    file: "src/policy/subtree.ts",
    find: "if (zone !== null) {",
    replace: "if (false) {",
    what: "a restricted zone inside a subtree not refused",
    tests: [...PATH_TESTS, "tests/e2e/file_subtree_test.ts"],
  },
  {
    id: "local-inside",
    file: "src/policy/local_paths.ts",
    find: 'return rel !== ".." && !rel.startsWith("../");',
    replace: 'return rel !== "..";',
    what: "local_path `../x` counted inside SSH_LOCAL_TRANSFER_ROOTS",
    tests: ["tests/policy/local_paths_test.ts", "tests/e2e/local_path_test.ts"],
  },
];

/** Result of one mutant. */
export interface MutantResult {
  id: string;
  status: "killed" | "survived" | "stale" | "conflict";
  line: number | null;
  /** the test file and test names that failed */
  killedBy: string | null;
  seconds: number;
}

function indexOfNth(text: string, find: string, nth: number | undefined): number {
  if (nth === undefined) {
    const first = text.indexOf(find);
    if (first < 0 || text.indexOf(find, first + 1) >= 0) return -1;
    return first;
  }
  let at = -1;
  for (let i = 0; i < nth; i++) {
    at = text.indexOf(find, at + 1);
    if (at < 0) return -1;
  }
  return at;
}

/** The file currently holding a mutant (restored by the signal handlers). */
let active: { path: string; original: string; mutated: string } | null = null;

function restoreActive(): "restored" | "conflict" | "none" {
  if (!active) return "none";
  const { path, original, mutated } = active;
  active = null;
  const now = Deno.readTextFileSync(path);
  if (now !== mutated) {
    // somebody edited the file while the mutant was applied: never overwrite their work
    if (now === original) return "restored";
    return "conflict";
  }
  Deno.writeTextFileSync(path, original);
  if (Deno.readTextFileSync(path) !== original) {
    throw new Error(`${path}: restore failed (content differs from the original)`);
  }
  return "restored";
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    const r = restoreActive();
    // deno-lint-ignore no-console
    console.error(`\n${sig}: mutation ${r}`);
    Deno.exit(130);
  });
}

/** Runs `deno test` on one file; resolves with its exit code and the names of failed tests. */
async function runTestFile(
  file: string,
  timeoutMs: number,
): Promise<{ ok: boolean; failed: string[] }> {
  const args = ["test", "--allow-all", "--no-check", "--fail-fast", file];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGTERM");
    } catch {
      // gone
    }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const failed = [...text.matchAll(/^(.*) \.\.\. FAILED/gm)].map((m) => m[1]!.trim());
  const timedOut = out.signal !== null;
  return {
    ok: out.code === 0,
    failed: timedOut ? [`(timed out after ${timeoutMs / 1000} s)`] : failed,
  };
}

async function runMutant(
  m: Mutant,
  withoutNew: boolean,
  timeoutMs: number,
): Promise<MutantResult> {
  const t0 = performance.now();
  const path = `${ROOT}${m.file}`;
  const original = await Deno.readTextFile(path);
  const at = indexOfNth(original, m.find, m.nth);
  const done = (r: Omit<MutantResult, "id" | "seconds">): MutantResult => ({
    id: m.id,
    ...r,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  });
  if (at < 0) return done({ status: "stale", line: null, killedBy: null });
  const line = original.slice(0, at).split("\n").length;
  const mutated = original.slice(0, at) + m.replace + original.slice(at + m.find.length);
  const tests = withoutNew ? m.tests.filter((t) => !t.startsWith(NEW_TESTS_DIR)) : m.tests;
  const backup = await Deno.makeTempFile({ prefix: `sshmcp-mutate-${m.id}-` });
  await Deno.writeTextFile(backup, original);
  let killedBy: string | null = null;
  let restored: "restored" | "conflict" | "none" = "none";
  try {
    active = { path, original, mutated };
    await Deno.writeTextFile(path, mutated);
    for (const file of tests) {
      const r = await runTestFile(file, timeoutMs);
      if (!r.ok) {
        killedBy = `${file}: ${r.failed.slice(0, 2).join("; ") || "(failed before any test)"}`;
        break;
      }
    }
  } finally {
    restored = restoreActive();
  }
  if (restored === "conflict") {
    // the backup stays for a human to compare
    return done({ status: "conflict", line, killedBy: `file changed meanwhile; backup ${backup}` });
  }
  await Deno.remove(backup);
  return done({ status: killedBy ? "killed" : "survived", line, killedBy });
}

function parseArgs(argv: string[]): {
  cmd: string;
  only: Set<string> | null;
  withoutNew: boolean;
  out: string | null;
  timeoutMs: number;
  rest: string[];
} {
  const [cmd = "run", ...r] = argv;
  let only: Set<string> | null = null;
  let withoutNew = false;
  let out: string | null = null;
  let timeoutMs = 240_000;
  const rest: string[] = [];
  for (let i = 0; i < r.length; i++) {
    const a = r[i]!;
    if (a === "--only") only = new Set(r[++i]!.split(","));
    else if (a === "--without-new") withoutNew = true;
    else if (a === "--out") out = r[++i]!;
    else if (a === "--timeout") timeoutMs = Number(r[++i]) * 1000;
    else rest.push(a);
  }
  return { cmd, only, withoutNew, out, timeoutMs, rest };
}

function pct(k: number, n: number): string {
  return n ? `${(100 * k / n).toFixed(0)}%` : "n/a";
}

function cell(s: string): string {
  return s.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** Fixed notes of the report (what the new tests are, what they found). */
const NOTES: string[] = [
  "## The tests that close the gaps (`tests/rules/`)",
  "",
  "- `network_policy_test.ts`, `network_dns_test.ts`: block and allow lists against every resolved",
  "  address (both orders, IPv6, block_ips, env lists); end to end with a test resolver",
  "  (`AppOptions.resolver`) mapping hosts.toml names to fake hosts on loopback and an observable",
  "  socket factory (`AppOptions.connectSocket`): a refused name is never dialled, the socket",
  "  connects to the checked IP literal (never the name), one lookup per connect even when the",
  "  answer changes, the injected resolver survives a reload, every socket gets `setNoDelay(true)`.",
  "- `command_hash_test.ts`: exact `command_hash` values (sha256 of the hand-written REDACTED text,",
  "  never of the raw text) on ssh_exec_run (audit + policy_decision lines) and ssh_run_async",
  "  (result, start and finish lines, task list), with allow-any and with a restrictive allowlist",
  "  (re-emitted command: the hash stays the caller's text).",
  "- `write_recheck_test.ts`: deterministic swaps through the fake host's request hooks at every",
  "  temp-and-rename write site (upload new/replace, deploy, edit, patch, transfer, cp), on a",
  "  hardened host and on the path-based fallback: the destination's directory becomes a link to",
  "  outside right after the check, before the temp file, before the rename; a dangling link",
  "  planted at the destination right before the re-check; a temp file opened through a swapped",
  "  directory (PATH-52).",
  "- `host_key_test.ts`: unknown / changed / @revoked host keys refused before any credential is",
  "  offered (the fake host sees no authentication and no command).",
  "- `pool_rules_test.ts`: a blocklisted jump host refused when a route is opened; the idle reaper",
  "  never closes a connection with a running command.",
  "- `registry_rules_test.ts`: sudo tools need ALLOW_DANGEROUS_TOOLS and ALLOW_SUDO together.",
  "",
  "## Findings while writing them",
  "",
  "- On the path-based fallback (hosts without GNU coreutils or /proc, PATH-54), a directory",
  "  swapped after the PATH-30 re-check and before the rename makes the rename fail with",
  "  `SFTP posix-rename ... failed: No such file` (the temp file is left in the real directory, which",
  "  the swap moved away); nothing is written outside, but the error does not say",
  "  that the path changed. Reads through such a swap are the documented residual: ssh_patch then",
  "  quotes a line of the outside file in its mismatch error.",
  "- The first mapping of the hs-* and reg-* mutants missed `tests/e2e/host_tools_test.ts`,",
  '  `tests/e2e/audit_sink_test.ts` and `tests/e2e/hidden_test.ts`; their "before" results above',
  "  come from a re-run with the corrected mapping (host keys and the audit gate were held by one",
  "  real-sshd test each before).",
];

/** docs/mutation.md from a before and an after run. */
function report(before: MutantResult[], after: MutantResult[]): string {
  const b = new Map(before.map((r) => [r.id, r]));
  const counted = (rs: MutantResult[]) => rs.filter((r) => r.status !== "stale");
  const kb = counted(before).filter((r) => r.status === "killed").length;
  const ka = counted(after).filter((r) => r.status === "killed").length;
  const na = counted(after).length;
  const nb = counted(before).length;
  const rows = after.map((r) => {
    const m = MUTANTS.find((x) => x.id === r.id)!;
    const was = b.get(r.id)?.status ?? "-";
    const by = r.status === "killed" ? r.killedBy ?? "" : m.explain ?? "(no explanation yet)";
    return `| \`${r.id}\` | ${m.file}:${r.line ?? "?"} | ${cell(m.what)} | ${was} | ${r.status} | ${
      cell(by)
    } |`;
  });
  return [
    "# Mutation testing of the security checks",
    "",
    "Issue 9 §7. `scripts/mutate.ts` applies one single-expression mutation at a time to the",
    "security checks of `src/policy/`, `src/ssh/`, `src/registry/` (and to the call sites of the",
    "rules the issue names: the write tools' re-check before the rename, the audit hash), runs the",
    "test files mapped to it (stopping at the first failing file) and restores the file from the",
    "in-memory original (never from git; a file someone else changed meanwhile is left alone).",
    "",
    "    deno run -A scripts/mutate.ts run --without-new --out before.json  # the suite without the §7 rules tests",
    "    deno run -A scripts/mutate.ts run --out after.json",
    "    deno run -A scripts/mutate.ts report before.json after.json > docs/mutation.md",
    "",
    `**Kill rate: before ${kb}/${nb} (${pct(kb, nb)}), after ${ka}/${na} (${pct(ka, na)}).**`,
    "",
    '"before" = the mapped suite without `tests/rules/` (the §7 rules tests); "after" = the whole',
    "mapped suite. Killed-by names the first test file (and test) that failed.",
    "",
    "| mutant | where | mutation | before | after | killed by / why it survives |",
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    ...NOTES,
    "",
  ].join("\n");
}

if (import.meta.main) {
  const a = parseArgs(Deno.args);
  if (a.cmd === "list") {
    for (const m of MUTANTS) {
      const text = await Deno.readTextFile(`${ROOT}${m.file}`);
      const at = indexOfNth(text, m.find, m.nth);
      const line = at < 0 ? "STALE" : String(text.slice(0, at).split("\n").length);
      // deno-lint-ignore no-console
      console.log(`${m.id.padEnd(24)} ${m.file}:${line}  ${m.what}`);
    }
  } else if (a.cmd === "baseline") {
    // every mapped test file must pass without a mutant, or a "kill" means nothing
    const files = [...new Set(MUTANTS.flatMap((m) => m.tests))].filter((f) =>
      !a.withoutNew || !f.startsWith(NEW_TESTS_DIR)
    );
    let bad = 0;
    for (const f of files) {
      const r = await runTestFile(f, a.timeoutMs);
      if (!r.ok) bad++;
      // deno-lint-ignore no-console
      console.log(`${r.ok ? "ok    " : "FAILED"} ${f} ${r.failed.join("; ")}`);
    }
    if (bad) Deno.exit(1);
  } else if (a.cmd === "report") {
    const [bf, af] = a.rest;
    if (!bf || !af) throw new Error("usage: report BEFORE.json AFTER.json");
    const before = JSON.parse(await Deno.readTextFile(bf)) as MutantResult[];
    const after = JSON.parse(await Deno.readTextFile(af)) as MutantResult[];
    // deno-lint-ignore no-console
    console.log(report(before, after));
  } else if (a.cmd === "run") {
    const list = MUTANTS.filter((m) => !a.only || a.only.has(m.id));
    const results: MutantResult[] = [];
    for (const m of list) {
      const r = await runMutant(m, a.withoutNew, a.timeoutMs);
      results.push(r);
      // deno-lint-ignore no-console
      console.log(
        `${r.status.padEnd(8)} ${m.id.padEnd(24)} ${m.file}:${r.line ?? "?"} ${r.seconds}s ${
          r.killedBy ?? ""
        }`,
      );
      if (a.out) await Deno.writeTextFile(a.out, JSON.stringify(results, null, 2) + "\n");
    }
    const n = results.filter((r) => r.status !== "stale").length;
    const k = results.filter((r) => r.status === "killed").length;
    // deno-lint-ignore no-console
    console.log(`\nkilled ${k}/${n} (${pct(k, n)})`);
  } else {
    throw new Error(`unknown command ${a.cmd} (run, list, baseline, report)`);
  }
}
