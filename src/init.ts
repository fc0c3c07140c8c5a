/**
 * `ssh-mcp init [--ssh-config FILE] [--out FILE]`: writes a starter
 * `hosts.toml` from the concrete `Host` entries of the user's OpenSSH client
 * configuration (and the files it includes), read with the project's own
 * ssh_config subset parser (`config/ssh_config*.ts`).
 *
 * - Read-only tier and strict defaults: the file sets no tier (tiers are
 *   environment settings and stay off), an empty `path_allowlist`, and one
 *   `[hosts.<alias>]` table per host with hostname, port (when not 22), user,
 *   auth (`key` from the first IdentityFile, else `agent`) and `proxy_jump`
 *   (ProxyJump hops that are hosts of the same file).
 * - Never overwrites: an existing output file (or anything at that path) is
 *   refused; the file is written to a temporary file next to it (0600) and
 *   hard-linked into place (which fails if the name appeared meanwhile), the
 *   directory is created 0700 when missing.
 * - The generated text is validated with the hosts.toml loader before it is
 *   written.
 * - Host keys: each host is looked up in `SSH_KNOWN_HOSTS` and
 *   `SSH_PINNED_KNOWN_HOSTS` with the server's lookup rules (`host` for port
 *   22, `[host]:port` otherwise, HostKeyAlias when the server's own
 *   `SSH_CONFIG_FILE` gives one); for every host without a pinned key the
 *   out-of-band pinning steps of the README are printed.
 * - No network access: init only reads files.
 *
 * Exit codes: 0 written, 2 usage error, 3 configuration problem (nothing
 * written).
 *
 * @module
 */

import { dirname, isAbsolute, join, resolve } from "node:path";
import { ConfigError } from "./errors.ts";
import { expandPath, getEnv, loadDotenv } from "./config/env.ts";
import { ALIAS_RE, parseHostsToml } from "./config/hosts.ts";
import { parseSettings } from "./config/settings.ts";
import "./config/ip_lib.ts"; // parseSettings checks addresses
import { SshConfig, type SshConfigResult } from "./config/ssh_config.ts";
import { type Item, parseText } from "./config/ssh_config_parse.ts";
import type { HostPolicy, Settings } from "./config/types.ts";
import { nullLogger } from "./log.ts";
import { HostPins } from "./ssh/host_pins.ts";
import { VERSION } from "./version.ts";

/** Exit codes (the same values as `EXIT` in cli.ts). */
const EXIT = { ok: 0, usage: 2, config: 3 } as const;

const USAGE = "usage: ssh-mcp init [--ssh-config FILE] [--out FILE]";

const HELP = `${USAGE}

Writes a starter hosts.toml (read-only tier, strict defaults) from the Host entries of
an OpenSSH client configuration. It never overwrites a file and never connects anywhere.

  --ssh-config FILE   OpenSSH client configuration to read (default ~/.ssh/config)
  --out FILE          file to write (default: SSH_HOSTS_FILE when set, else
                      $XDG_CONFIG_HOME/ssh-mcp/hosts.toml or ~/.config/ssh-mcp/hosts.toml)
`;

/** Output channels of {@link runInit}. */
export interface InitIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** One concrete host taken from ssh_config. */
interface Candidate {
  alias: string;
  /** `file:line` of its Host line */
  at: string;
  r: SshConfigResult;
}

/** One `[hosts.<alias>]` table to write. */
interface Entry {
  alias: string;
  at: string;
  hostname: string;
  port: number;
  user: string | null;
  userFromLocal: boolean;
  key: string | null;
  otherKeys: string[];
  identityAgent: string | null;
  proxyJump: string[];
  comments: string[];
}

interface Parsed {
  sshConfig: string | null;
  out: string | null;
  help: boolean;
}

function parseArgs(args: readonly string[]): Parsed | string {
  const p: Parsed = { sshConfig: null, out: null, help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "--help" || a === "-h") {
      p.help = true;
      continue;
    }
    const m = /^(--ssh-config|--out)(?:=(.*))?$/.exec(a);
    if (m === null) {
      return a === "--force"
        ? "--force is not offered: init never overwrites a file (choose another --out FILE)"
        : `unknown option ${JSON.stringify(a)}`;
    }
    let v = m[2];
    if (v === undefined) {
      v = args[i + 1];
      i++;
      if (v === undefined || v.startsWith("--")) return `${m[1]} needs a FILE argument`;
    }
    if (v.trim() === "") return `${m[1]} needs a non-empty FILE argument`;
    if (m[1] === "--out") {
      if (p.out !== null) return "--out given twice";
      p.out = v;
    } else {
      if (p.sshConfig !== null) return "--ssh-config given twice";
      p.sshConfig = v;
    }
  }
  return p;
}

/** A path as the server resolves configured paths: `~`, `${VAR}`, relative to cwd. */
function resolveLike(p: string, env: Record<string, string | undefined>, cwd: string): string {
  const e = expandPath(p, env);
  return isAbsolute(e) ? e : resolve(cwd, e);
}

/** Concrete `Host` patterns (no `*`, `?`, `!`) in file order, includes followed in place. */
function hostPatterns(
  items: readonly Item[],
  concrete: { alias: string; at: string }[],
  wildcards: string[],
): void {
  for (const it of items) {
    if (it.t === "include") hostPatterns(it.items, concrete, wildcards);
    else if (it.t === "host") {
      for (const pat of it.patterns) {
        if (/[*?]/.test(pat) || pat.startsWith("!")) {
          if (!wildcards.includes(pat)) wildcards.push(pat);
        } else concrete.push({ alias: pat, at: it.at });
      }
    }
  }
}

function validAlias(a: string): boolean {
  return ALIAS_RE.test(a) && a !== "." && a !== "..";
}

function tomlKey(a: string): string {
  return /^[A-Za-z0-9_-]+$/.test(a) ? a : JSON.stringify(a);
}

/** A TOML basic string (JSON escapes are a subset of TOML's). */
function tomlStr(s: string): string {
  return JSON.stringify(s);
}

/** One comment line: control characters replaced so the text cannot break out of the comment. */
function comment(s: string): string {
  // deno-lint-ignore no-control-regex
  return `# ${s.replace(/[\u0000-\u001f\u007f]/g, "?")}`;
}

function header(source: string): string[] {
  return [
    `# hosts.toml -- starter policy written by \`ssh-mcp init\` (ssh-mcp ${VERSION})`,
    comment(`from the Host entries of ${source} (and the files it includes).`),
    "#",
    "# READ-ONLY TIER. Only the read tools are visible: ALLOW_LOW_ACCESS_TOOLS,",
    "# ALLOW_DANGEROUS_TOOLS and ALLOW_SUDO stay off (their default). Tiers are environment",
    "# settings, not hosts.toml keys: this file cannot turn them on. Leave them off until the",
    "# policy below is tightened for what the agent should change.",
    "#",
    "# STRICT HOST KEYS. Every connection (jump hosts included) is checked against",
    "# SSH_KNOWN_HOSTS (and SSH_PINNED_KNOWN_HOSTS); an unknown or changed key refuses the",
    '# connection. Pin keys out of band (README "Pin the host key, out of band").',
    "#",
    "# PATHS. path_allowlist is empty: file tools may touch nothing. Add absolute roots, for",
    '# all hosts under [defaults] (path_allowlist = ["/var/log"]) or per host in its table',
    '# (path_allowlist = ["/srv/app", "/var/log"]; a host list REPLACES the [defaults] one).',
    '# restricted_paths = ["/etc/ssh"] adds deny roots that always win over the allowlist.',
    "#",
    "# Unknown keys are a startup error. Every key is described in hosts.toml.example.",
    "# Check the result with `ssh-mcp doctor`.",
    "",
    "[defaults]",
    "path_allowlist = []                            # nothing until you list absolute roots",
    "",
  ];
}

function render(source: string, entries: Entry[], skipped: string[]): string {
  const lines = header(source);
  if (skipped.length) {
    lines.push("# Not converted:");
    for (const s of skipped) lines.push(comment(`  ${s}`));
    lines.push("");
  }
  for (const e of entries) {
    lines.push(comment(`${e.alias}: Host at ${e.at}`));
    for (const c of e.comments) lines.push(comment(c));
    lines.push(`[hosts.${tomlKey(e.alias)}]`);
    lines.push(`hostname = ${tomlStr(e.hostname)}`);
    if (e.port !== 22) lines.push(`port = ${e.port}`);
    if (e.user !== null) {
      lines.push(
        `user = ${tomlStr(e.user)}${
          e.userFromLocal ? "  # ssh_config sets no User: the local user, as ssh would use" : ""
        }`,
      );
    }
    if (e.proxyJump.length) {
      lines.push(`proxy_jump = [${e.proxyJump.map(tomlStr).join(", ")}]`);
    }
    lines.push("", `[hosts.${tomlKey(e.alias)}.auth]`);
    if (e.key !== null) {
      lines.push(`method = "key"`, `key = ${tomlStr(e.key)}`);
      if (e.otherKeys.length) {
        lines.push(comment(`other IdentityFile entries (ssh-mcp uses one key): ${e.otherKeys}`));
      }
    } else {
      lines.push(`method = "agent"`);
      if (e.identityAgent !== null) lines.push(`identity_agent = ${tomlStr(e.identityAgent)}`);
    }
    lines.push("");
  }
  return lines.join("\n");
}

/** Builds the entries; aliases that cannot be hosts.toml tables are explained in `skipped`. */
function buildEntries(
  cands: Candidate[],
  localUser: string | null,
  skipped: string[],
): Entry[] {
  const entries: Entry[] = [];
  for (const c of cands) {
    const r = c.r;
    const e: Entry = {
      alias: c.alias,
      at: c.at,
      hostname: r.hostName ?? c.alias.toLowerCase(),
      port: r.port ?? 22,
      user: r.user ?? localUser,
      userFromLocal: r.user === null && localUser !== null,
      key: r.identityFiles[0] ?? null,
      otherKeys: r.identityFiles.slice(1),
      identityAgent: r.identityAgent !== null && r.identityAgent !== "none"
        ? r.identityAgent
        : null,
      proxyJump: [],
      comments: [],
    };
    if (/\s/.test(e.hostname) || e.hostname.startsWith("-") || e.hostname === "") {
      skipped.push(`${c.alias} (${c.at}): HostName ${JSON.stringify(e.hostname)} is not valid`);
      continue;
    }
    if (r.proxyCommand !== null) {
      e.comments.push(
        "ssh_config has a ProxyCommand for this host; ssh-mcp ignores it (it would run a " +
          "local command) unless SSH_CONFIG_FILE and ALLOW_SSH_CONFIG_PROXYCOMMAND=true",
      );
    }
    if (r.hostKeyAlias !== null) {
      e.comments.push(
        `ssh_config sets HostKeyAlias ${r.hostKeyAlias}; without SSH_CONFIG_FILE ssh-mcp ` +
          "looks the key up by hostname (and port)",
      );
    }
    entries.push(e);
  }
  // an alias equal to another entry's hostname would make one name select two entries
  const aliases = new Set(entries.map((e) => e.alias));
  const kept = entries.filter((e) => {
    if (e.hostname !== e.alias && aliases.has(e.hostname)) {
      skipped.push(
        `${e.alias} (${e.at}): its HostName ${e.hostname} is the alias of another entry ` +
          `(use [hosts.${tomlKey(e.hostname)}])`,
      );
      return false;
    }
    return true;
  });
  // ProxyJump hops -> aliases of this file
  const byName = new Map<string, Entry>();
  for (const e of kept) byName.set(e.alias.toLowerCase(), e);
  for (const e of kept) {
    if (!byName.has(e.hostname)) byName.set(e.hostname, e);
  }
  for (let i = 0; i < kept.length; i++) {
    const e = kept[i] as Entry;
    const hops = cands.find((c) => c.alias === e.alias)?.r.proxyJump ?? null;
    if (hops === null) continue;
    const mapped: string[] = [];
    const problems: string[] = [];
    for (const hop of hops) {
      const j = byName.get(hop.host.toLowerCase());
      if (j === undefined || j === e) {
        problems.push(`${hop.host} is not a host of this file`);
        continue;
      }
      if (hop.port !== null && hop.port !== j.port) {
        problems.push(`${hop.host}:${hop.port} uses another port than [hosts.${j.alias}]`);
      }
      if (hop.user !== null && hop.user !== j.user) {
        problems.push(`${hop.user}@${hop.host} uses another user than [hosts.${j.alias}]`);
      }
      mapped.push(j.alias);
    }
    const spec = hops.map((h) =>
      `${h.user !== null ? h.user + "@" : ""}${h.host}${h.port !== null ? ":" + h.port : ""}`
    ).join(",");
    if (problems.length && mapped.length !== hops.length) {
      e.comments.push(
        `ProxyJump ${spec} not converted (${problems.join("; ")}): add the jump host as ` +
          '[hosts.<name>] and set proxy_jump = ["<name>"], or the connection goes direct',
      );
    } else {
      e.proxyJump = mapped;
      e.comments.push(
        `ProxyJump ${spec}${problems.length ? ` (check: ${problems.join("; ")})` : ""}`,
      );
    }
  }
  return kept;
}

/** The known_hosts lookup the server does for `p` (pool.ts `knownHostsLookup`). */
function serverLookup(
  p: HostPolicy,
  serverCfg: SshConfig | null,
  env: Record<string, string | undefined>,
): { name: string; port: number; hostKeyAlias: boolean; connect: string } {
  const cfg = serverCfg?.resolve(p.hostname, {
    localUser: env.USER ?? env.USERNAME ?? "",
    remoteUser: p.user,
    home: env.HOME ?? env.USERPROFILE ?? "",
  }) ?? null;
  const port = cfg?.port && !p.configured_keys.includes("port") ? cfg.port : p.port;
  return {
    name: cfg?.hostKeyAlias ?? cfg?.hostName ?? p.hostname,
    port,
    hostKeyAlias: Boolean(cfg?.hostKeyAlias),
    connect: cfg?.hostName ?? p.hostname,
  };
}

/** Writes `text` to `file` (0600) without ever replacing an existing file. */
async function writeNew(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${file.slice(dir.length + 1)}.tmp-${crypto.randomUUID().slice(0, 8)}`);
  const f = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  try {
    await f.write(new TextEncoder().encode(text));
    await f.sync();
  } finally {
    f.close();
  }
  try {
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o600);
    try {
      // a hard link fails when the name exists: no window where a file appearing meanwhile is replaced
      await Deno.link(tmp, file);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) throw e;
      // file systems without hard links: re-check, then rename
      if (await exists(file)) throw new Deno.errors.AlreadyExists(file);
      await Deno.rename(tmp, file);
    }
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.lstat(p);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs `ssh-mcp init` with `args` (the words after `init`). `opts.env`
 * defaults to the process environment, `opts.cwd` to the working directory;
 * `.env` in `cwd` is read like the server does. Returns the exit code.
 */
export async function runInit(
  args: readonly string[],
  io: { out: (text: string) => void; err: (text: string) => void },
  opts?: { env?: Record<string, string | undefined>; cwd?: string },
): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === "string") {
    io.err(`ssh-mcp init: ${parsed}\n${USAGE}`);
    return EXIT.usage;
  }
  if (parsed.help) {
    io.out(HELP);
    return EXIT.ok;
  }
  const cwd = resolve(opts?.cwd ?? Deno.cwd());
  const rawEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts?.env ?? Deno.env.toObject())) {
    if (v !== undefined) rawEnv[k] = v;
  }
  const fail = (m: string): number => {
    io.err(`ssh-mcp init: ${m}`);
    return EXIT.config;
  };

  let env: Record<string, string>;
  let settings: Settings;
  try {
    env = loadDotenv(rawEnv, cwd).vars;
    settings = parseSettings(env, { cwd }).settings;
  } catch (e) {
    if (e instanceof ConfigError) return fail(`configuration error: ${e.message}`);
    throw e;
  }
  const home = getEnv(env, "HOME") || getEnv(env, "USERPROFILE") || null;
  const needsHome = (p: string) => p === "~" || p.startsWith("~/") || p.startsWith("~\\");

  // the output file
  const namedHosts = getEnv(env, "SSH_HOSTS_FILE")?.trim() ?? "";
  const serverHostsFile = namedHosts !== "" ? resolveLike(namedHosts, env, cwd) : null;
  let outSpec: string;
  if (parsed.out !== null) outSpec = parsed.out;
  else if (namedHosts !== "") outSpec = namedHosts;
  else {
    const xdg = getEnv(env, "XDG_CONFIG_HOME")?.trim();
    outSpec = xdg && isAbsolute(xdg)
      ? join(xdg, "ssh-mcp", "hosts.toml")
      : "~/.config/ssh-mcp/hosts.toml";
  }
  if (needsHome(outSpec) && home === null) return fail("HOME is not set; pass --out FILE");
  const outFile = resolveLike(outSpec, env, cwd);
  if (await exists(outFile)) {
    return fail(
      `${outFile} already exists; init never overwrites a file. Edit it, or write a new one ` +
        "with --out FILE and compare.",
    );
  }

  // ssh_config, read with the project's parser
  const sshSpec = parsed.sshConfig ?? "~/.ssh/config";
  if (needsHome(sshSpec) && home === null) return fail("HOME is not set; pass --ssh-config FILE");
  const sshFile = resolveLike(sshSpec, env, cwd);
  let text: string;
  try {
    text = await Deno.readTextFile(sshFile);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return fail(`ssh config ${sshFile} not found; pass --ssh-config FILE`);
    }
    return fail(`cannot read ssh config ${sshFile}: ${msg(e)}`);
  }
  let uid: number | null = null;
  try {
    uid = Deno.uid();
  } catch {
    uid = null;
  }
  const warnings: string[] = [];
  let items: Item[];
  let cfg: SshConfig;
  try {
    items = await parseText(text, sshFile, 0, {
      includeBase: home !== null ? join(home, ".ssh") : null,
      home,
      logger: nullLogger,
      warnings,
      uid,
    });
    cfg = await SshConfig.parse(text, { env, sourceName: sshFile });
  } catch (e) {
    return fail(`cannot read ssh config ${sshFile}: ${msg(e)}`);
  }
  for (const w of cfg.warnings) io.err(`warning: ssh_config: ${w}`);

  const found: { alias: string; at: string }[] = [];
  const wildcards: string[] = [];
  hostPatterns(items, found, wildcards);
  const skipped: string[] = [];
  const seen = new Set<string>();
  const cands: Candidate[] = [];
  const localUser = getEnv(env, "USER") || getEnv(env, "USERNAME") || null;
  for (const h of found) {
    const lower = h.alias.toLowerCase();
    if (seen.has(lower)) continue;
    seen.add(lower);
    if (!validAlias(h.alias)) {
      skipped.push(
        `${JSON.stringify(h.alias)} (${h.at}): not a valid hosts.toml alias ` +
          "(1-100 of A-Z a-z 0-9 . _ -)",
      );
      continue;
    }
    const ctx = { localUser: localUser ?? "", remoteUser: localUser ?? "", home: home ?? "" };
    const first = cfg.resolve(h.alias, ctx);
    // %r in IdentityFile is the remote user
    const r = cfg.resolve(h.alias, { ...ctx, remoteUser: first.user ?? ctx.remoteUser });
    for (const w of r.warnings) io.err(`warning: ssh_config: ${w}`);
    cands.push({ alias: h.alias, at: h.at, r });
  }
  const entries = buildEntries(cands, localUser, skipped);
  if (entries.length === 0) {
    for (const s of skipped) io.err(`skipped: ${s}`);
    return fail(
      `no concrete Host entry in ${sshFile}${
        wildcards.length ? ` (only patterns: ${wildcards.join(", ")})` : ""
      }; nothing written`,
    );
  }
  const toml = render(sshFile, entries, skipped);

  // the file must load exactly as the server loads it
  let policies: HostPolicy[];
  try {
    policies = [...parseHostsToml(toml, outFile, settings, env).hosts.values()];
  } catch (e) {
    if (e instanceof ConfigError) {
      return fail(`the generated file would not load (${e.message}); nothing written`);
    }
    throw e;
  }

  try {
    await writeNew(outFile, toml);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      return fail(`${outFile} already exists; init never overwrites a file. Use --out FILE.`);
    }
    return fail(`cannot write ${outFile}: ${msg(e)}`);
  }

  // host keys, with the server's lookup rules
  const knownHosts = resolveLike(settings.SSH_KNOWN_HOSTS, env, cwd);
  const pinFile = resolveLike(settings.SSH_PINNED_KNOWN_HOSTS, env, cwd);
  let serverCfg: SshConfig | null = null;
  const sshCfgSetting = settings.SSH_CONFIG_FILE?.trim() ?? "";
  if (sshCfgSetting !== "") {
    try {
      serverCfg = await SshConfig.load(resolveLike(sshCfgSetting, env, cwd), { env });
    } catch (e) {
      io.err(`warning: SSH_CONFIG_FILE: ${msg(e)}`);
    }
  }
  const pins = new HostPins(knownHosts, pinFile);
  const report: string[] = [
    `wrote ${outFile} (mode 0600): ${entries.length} host(s) from ${sshFile}, read-only tier`,
  ];
  for (const e of entries) {
    report.push(
      `  ${e.alias.padEnd(16)} ${e.user !== null ? e.user + "@" : ""}${e.hostname}:${e.port}` +
        `${e.proxyJump.length ? ` via ${e.proxyJump.join(",")}` : ""}, auth ${
          e.key !== null ? "key " + e.key : "agent"
        }`,
    );
  }
  if (wildcards.length) {
    report.push(`skipped Host patterns (wildcards / negations): ${wildcards.join(" ")}`);
  }
  for (const s of skipped) report.push(`skipped: ${s}`);

  const missing: { p: HostPolicy; connect: string; port: number; lookupKey: string }[] = [];
  report.push(
    "",
    `host keys (SSH_KNOWN_HOSTS ${knownHosts}${pins.loaded ? "" : ", missing"}; ` +
      `SSH_PINNED_KNOWN_HOSTS ${pinFile}${pins.pinsLoaded ? "" : ", missing"}):`,
  );
  for (const p of policies) {
    const l = serverLookup(p, serverCfg, env);
    const found = pins.lookup(l.name, l.port, { hostKeyAlias: l.hostKeyAlias });
    if (found.trusted.length) {
      report.push(`  ok       ${p.alias.padEnd(16)} pinned for ${found.lookupKey}`);
    } else {
      report.push(`  MISSING  ${p.alias.padEnd(16)} no pinned key for ${found.lookupKey}`);
      missing.push({ p, connect: l.connect, port: l.port, lookupKey: found.lookupKey });
    }
  }
  if (missing.length) {
    report.push(
      "",
      `${missing.length} host(s) have no pinned key; ssh-mcp refuses to connect to them until ` +
        'you pin one out of band (README "Pin the host key, out of band"):',
    );
    let khDirMissing = false;
    try {
      khDirMissing = !(await Deno.stat(dirname(knownHosts))).isDirectory;
    } catch {
      khDirMissing = true;
    }
    for (const m of missing) {
      // the host field ssh-keyscan writes
      const scanName = m.port === 22 ? m.connect : `[${m.connect}]:${m.port}`;
      const tmp = `/tmp/${m.p.alias}.keys`;
      report.push("", `${m.p.alias} (known_hosts name ${m.lookupKey}):`);
      if (m.p.proxy_jump.length) {
        report.push(
          `  # reached through ${m.p.proxy_jump.join(" -> ")}: if this machine cannot reach ` +
            `${m.connect} directly, run the scan on the jump host (ssh <jump> ssh-keyscan ...)`,
        );
      }
      report.push(
        `  ssh-keyscan -p ${m.port} ${m.connect} > ${tmp}`,
        `  ssh-keygen -lf ${tmp}`,
        "  # compare with the fingerprint the host itself reports on its console (or your",
        "  # provider's serial console):",
        "  #   ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub",
        "  # only when they match, append the verified line:",
      );
      if (khDirMissing) report.push(`  mkdir -p ${dirname(knownHosts)}`);
      if (scanName === m.lookupKey) {
        report.push(`  grep ssh-ed25519 ${tmp} >> ${knownHosts}`);
      } else {
        // HostKeyAlias (or a HostName the scan does not print): rewrite the host field
        report.push(
          `  awk '$2 == "ssh-ed25519" { print "${m.lookupKey}", $2, $3 }' ${tmp} >> ${knownHosts}`,
        );
      }
    }
  } else {
    report.push("every host has a pinned key");
  }
  const tiers = [
    settings.ALLOW_LOW_ACCESS_TOOLS ? "ALLOW_LOW_ACCESS_TOOLS" : null,
    settings.ALLOW_DANGEROUS_TOOLS ? "ALLOW_DANGEROUS_TOOLS" : null,
    settings.ALLOW_SUDO ? "ALLOW_SUDO" : null,
  ].filter((x): x is string => x !== null);
  if (tiers.length) {
    report.push(
      "",
      `note: this environment sets ${tiers.join(", ")}=true; the read-only tier needs them off`,
    );
  }
  report.push("", "next: ssh-mcp doctor");
  const serverReads = serverHostsFile ?? join(cwd, "hosts.toml");
  if (serverReads !== outFile) {
    report.push(
      `  with SSH_HOSTS_FILE pointing at the new file (in the server's environment or .env):`,
      `  SSH_HOSTS_FILE=${outFile}`,
    );
  }
  io.out(report.join("\n"));
  return EXIT.ok;
}
