/**
 * Command line of `ssh-mcp bridge` (see {@link BRIDGE_USAGE}).
 *
 * @module
 */

/** Usage text of `ssh-mcp bridge`. */
export const BRIDGE_USAGE = `Usage: ssh-mcp bridge [user@]HOST[:PORT] | ALIAS [options]

Runs a stdio MCP endpoint relayed, message by message and unchanged, to an MCP
server on another host over SSH (an exec command, an SSH subsystem, or the
remote's default session when neither is given).

  -p, --port PORT            SSH port (default 22)
  -l, --user USER            login user (default: the local user name)
  -i, --key PATH             client key (default ~/.ssh/ssh_mcp_bridge, an Ed25519 key
                             generated on first use; its public key is printed to stderr)
      --known-hosts PATH     known_hosts file (default ~/.ssh/known_hosts); host keys are
                             always checked strictly, there is no switch to turn that off
      --command CMD          run CMD on the remote (its stdin/stdout carry the messages)
      --subsystem NAME       request the SSH subsystem NAME (e.g. "mcp")
      --passphrase-cmd CMD   command printing the passphrase of an encrypted key
      --passphrase-file PATH file holding that passphrase (name: letters, digits, _ and -)
      --agent                authenticate with the ssh-agent (SSH_AUTH_SOCK) instead of a key
      --jump [user@]HOST[:PORT]
                             connect through this jump host (same key and known_hosts)

Key-server exchange (the m2m convention), before any SSH connection:
      --key-server URL       https:// base URL of the key server: GET URL/server_pub_key
                             gives the server's host key, POST URL/register registers our
                             client public key (not with --agent). HTTPS only; answers over
                             64 KiB, redirects and requests over 10 s are refused
      --server-fingerprint SHA256:...
                             the host key the key server returns must have this fingerprint
                             (as \`ssh-keygen -lf\` prints it), else nothing is registered and
                             no SSH connection is made
      --tofu                 instead of --server-fingerprint: trust the key server's key on
                             first use and pin it in the bridge's own pin file
                             (SSH_PINNED_KNOWN_HOSTS, default ~/.config/ssh-mcp/
                             pinned_known_hosts; known_hosts is never written); later runs
                             refuse a key that differs from the pin
      --key-server-ca FILE   PEM CA certificate(s) trusted for the key server, in addition
                             to the system roots

ALIAS: a host of hosts.toml (SSH_HOSTS_FILE). Its hostname, port, user, auth,
proxy_jump and known_hosts (SSH_KNOWN_HOSTS + SSH_PINNED_KNOWN_HOSTS) are used, and
[hosts.ALIAS.remote_mcp] command / subsystem unless --command / --subsystem is given.

A message over 16 MiB is refused (a request gets a JSON-RPC error). Remote stderr is
logged to stderr. When the remote server's connection is lost, requests in flight get
an error and the next message reconnects (backoff 0.5, 1, 2, 4 s; 5 tries).
Exit codes: 0 the local client closed stdin, 1 the remote cannot be reached, 2 usage,
3 invalid configuration.`;

/** A `[user@]host[:port]` endpoint. */
export interface Endpoint {
  user: string | null;
  host: string;
  port: number | null;
}

/** Parsed options. */
export interface BridgeArgs {
  target: Endpoint;
  /** the first argument exactly as given (alias lookup) */
  targetRaw: string;
  port: number | null;
  user: string | null;
  key: string | null;
  knownHosts: string | null;
  command: string | null;
  subsystem: string | null;
  passphraseCmd: string | null;
  passphraseFile: string | null;
  agent: boolean;
  jump: Endpoint | null;
  /** normalized https base URL of the key server (no trailing slash), or null */
  keyServer: string | null;
  /** `SHA256:...` (unpadded) the key server's key must have, or null */
  serverFingerprint: string | null;
  /** trust the key server's key on first use (pin it) */
  tofu: boolean;
  /** PEM file of extra CA certificates for the key server, or null */
  keyServerCa: string | null;
  help: boolean;
}

/** A command-line mistake (exit code 2). */
export class UsageError extends Error {}

function parsePort(v: string, what: string): number {
  if (!/^[0-9]{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) {
    throw new UsageError(`${what}: ${JSON.stringify(v)} is not a port number (1-65535)`);
  }
  return Number(v);
}

/** Parses `[user@]host[:port]` (IPv6 as `[addr]` or `[addr]:port`). */
export function parseEndpoint(s: string, what: string): Endpoint {
  let rest = s;
  let user: string | null = null;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (!user) throw new UsageError(`${what}: empty user name in ${JSON.stringify(s)}`);
  }
  let host = rest;
  let port: number | null = null;
  const v6 = /^\[([^\]]+)\](?::([0-9]+))?$/.exec(rest);
  if (v6) {
    host = v6[1]!;
    if (v6[2] !== undefined) port = parsePort(v6[2], what);
  } else if (rest.split(":").length === 2) {
    const i = rest.indexOf(":");
    host = rest.slice(0, i);
    port = parsePort(rest.slice(i + 1), what);
  }
  if (!host || /[\s/]/.test(host) || host.startsWith("-")) {
    throw new UsageError(`${what}: ${JSON.stringify(s)} is not a host name`);
  }
  return { user, host, port };
}

const VALUE_OPTIONS: Record<string, keyof BridgeArgs> = {
  "-p": "port",
  "--port": "port",
  "-l": "user",
  "--user": "user",
  "-i": "key",
  "--key": "key",
  "--identity": "key",
  "--known-hosts": "knownHosts",
  "--command": "command",
  "--subsystem": "subsystem",
  "--passphrase-cmd": "passphraseCmd",
  "--passphrase-file": "passphraseFile",
  "--jump": "jump",
  "--host": "targetRaw",
  "--key-server": "keyServer",
  "--server-fingerprint": "serverFingerprint",
  "--key-server-ca": "keyServerCa",
};

/**
 * Checks a `--key-server` value: an absolute https:// URL without user
 * info, query or fragment (BRIDGE-3: HTTPS only, no HTTP fallback). Returns
 * it without its trailing slash, ready for `/server_pub_key` and `/register`.
 */
export function parseKeyServerUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(
      `--key-server: ${JSON.stringify(v)} is not a URL; give the key server's https:// base ` +
        `URL, e.g. https://keys.example.com:8443`,
    );
  }
  if (u.protocol === "http:") {
    throw new UsageError(
      `--key-server: ${JSON.stringify(v)} uses http://; the key exchange runs over HTTPS only ` +
        `(there is no HTTP fallback: a plain-HTTP answer could hand us an attacker's host key). ` +
        `Serve the key server over TLS and give its https:// URL`,
    );
  }
  if (u.protocol !== "https:") {
    throw new UsageError(
      `--key-server: ${JSON.stringify(v)} is not an https:// URL (HTTPS only)`,
    );
  }
  if (u.username !== "" || u.password !== "") {
    throw new UsageError(
      "--key-server: the URL carries a user name or password; the key server is " +
        "contacted without credentials, remove them",
    );
  }
  if (u.search !== "" || u.hash !== "" || v.includes("?") || v.includes("#")) {
    throw new UsageError(
      `--key-server: give the base URL without query or fragment (the bridge appends ` +
        `/server_pub_key and /register)`,
    );
  }
  return u.href.replace(/\/+$/, "");
}

/** Checks a `--server-fingerprint` value (`SHA256:` + base64 of 32 bytes); returns it unpadded. */
export function parseFingerprint(v: string): string {
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(v.trim());
  if (!m) {
    throw new UsageError(
      `--server-fingerprint: ${JSON.stringify(v)} is not a SHA256 fingerprint; give it as ` +
        `\`ssh-keygen -lf host_key.pub\` prints it (SHA256: followed by 43 base64 characters)`,
    );
  }
  return `SHA256:${m[1]}`;
}

/** Parses the arguments after `bridge`. */
export function parseBridgeArgs(argv: readonly string[]): BridgeArgs {
  const a: BridgeArgs = {
    target: { user: null, host: "", port: null },
    targetRaw: "",
    port: null,
    user: null,
    key: null,
    knownHosts: null,
    command: null,
    subsystem: null,
    passphraseCmd: null,
    passphraseFile: null,
    agent: false,
    jump: null,
    keyServer: null,
    serverFingerprint: null,
    tofu: false,
    keyServerCa: null,
    help: false,
  };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.includes("=")) {
      inline = arg.slice(arg.indexOf("=") + 1);
      arg = arg.slice(0, arg.indexOf("="));
    }
    if (arg === "-h" || arg === "--help") {
      a.help = true;
      continue;
    }
    if (arg === "--agent") {
      a.agent = true;
      continue;
    }
    if (arg === "--tofu") {
      if (inline !== undefined) throw new UsageError("--tofu takes no value");
      a.tofu = true;
      continue;
    }
    if (arg === "--insecure" || /^--(no-)?(strict|host-key|check)/.test(arg)) {
      throw new UsageError(
        `${arg}: host keys are always verified strictly (no switch disables it)`,
      );
    }
    const field = VALUE_OPTIONS[arg];
    if (field) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value`);
      if (seen.has(field)) throw new UsageError(`${arg} given twice`);
      seen.add(field);
      switch (field) {
        case "port":
          a.port = parsePort(v, arg);
          break;
        case "jump":
          a.jump = parseEndpoint(v, arg);
          break;
        case "keyServer":
          a.keyServer = parseKeyServerUrl(v);
          break;
        case "serverFingerprint":
          a.serverFingerprint = parseFingerprint(v);
          break;
        case "agent":
        case "help":
        case "target":
        case "tofu":
          break;
        default:
          (a as unknown as Record<string, string>)[field] = v;
      }
      continue;
    }
    if (arg.startsWith("-")) throw new UsageError(`unknown option ${arg}`);
    if (seen.has("targetRaw")) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    seen.add("targetRaw");
    a.targetRaw = arg;
  }
  if (a.help) return a;
  if (!a.targetRaw) {
    throw new UsageError("missing the remote host ([user@]HOST or a hosts.toml alias)");
  }
  a.target = parseEndpoint(a.targetRaw, "host");
  if (a.command !== null && a.subsystem !== null) {
    throw new UsageError("--command and --subsystem are exclusive");
  }
  if (a.command === "") throw new UsageError("--command is empty");
  if (a.subsystem !== null && !/^[A-Za-z0-9@._+-]{1,64}$/.test(a.subsystem)) {
    throw new UsageError(`--subsystem: ${JSON.stringify(a.subsystem)} is not a subsystem name`);
  }
  if (a.passphraseCmd !== null && a.passphraseFile !== null) {
    throw new UsageError("--passphrase-cmd and --passphrase-file are exclusive");
  }
  if (a.agent && a.key !== null) {
    throw new UsageError("--agent and -i/--key are exclusive (the agent offers its own keys)");
  }
  if (a.user !== null && a.target.user !== null) {
    throw new UsageError("the user is given twice (user@HOST and --user)");
  }
  if (a.port !== null && a.target.port !== null) {
    throw new UsageError("the port is given twice (HOST:PORT and --port)");
  }
  if (a.keyServer === null) {
    for (
      const [on, name] of [
        [a.serverFingerprint !== null, "--server-fingerprint"],
        [a.tofu, "--tofu"],
        [a.keyServerCa !== null, "--key-server-ca"],
      ] as const
    ) {
      if (on) {
        throw new UsageError(
          `${name} belongs to the key-server exchange: give --key-server https://... too ` +
            `(without a key server, pin the host key in --known-hosts)`,
        );
      }
    }
  } else {
    if (a.serverFingerprint !== null && a.tofu) {
      throw new UsageError(
        "--server-fingerprint and --tofu are exclusive: --server-fingerprint checks the key " +
          "server's key against a fingerprint you obtained out of band, --tofu trusts it on " +
          "first use",
      );
    }
    if (a.serverFingerprint === null && !a.tofu) {
      throw new UsageError(
        "--key-server needs --server-fingerprint SHA256:... (the host key fingerprint, from " +
          "the server's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) or, to " +
          "trust the key server's answer on first use, --tofu",
      );
    }
    if (a.keyServerCa === "") throw new UsageError("--key-server-ca is empty");
  }
  return a;
}
