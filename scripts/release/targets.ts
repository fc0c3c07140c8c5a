/**
 * The release targets, artifact names and `SHA256SUMS` handling shared by
 * `scripts/compile.ts`, the Homebrew and winget generators and the tests.
 *
 * @module
 */

/** One binary the release ships. */
export interface Target {
  /** short name (`linux-x64`), accepted by `--target` */
  name: string;
  /** Rust target triple, as `deno compile --target` takes it; also the artifact suffix */
  triple: string;
  os: "linux" | "macos" | "windows";
  arch: "x64" | "arm64";
  /** `.exe` on Windows, empty otherwise */
  ext: string;
}

/** Every target `deno task compile` builds by default, in release order. */
export const TARGETS: readonly Target[] = [
  { name: "linux-x64", triple: "x86_64-unknown-linux-gnu", os: "linux", arch: "x64", ext: "" },
  { name: "linux-arm64", triple: "aarch64-unknown-linux-gnu", os: "linux", arch: "arm64", ext: "" },
  { name: "macos-x64", triple: "x86_64-apple-darwin", os: "macos", arch: "x64", ext: "" },
  { name: "macos-arm64", triple: "aarch64-apple-darwin", os: "macos", arch: "arm64", ext: "" },
  {
    name: "windows-x64",
    triple: "x86_64-pc-windows-msvc",
    os: "windows",
    arch: "x64",
    ext: ".exe",
  },
];

/** The target for a short name or a triple; throws with the valid choices otherwise. */
export function findTarget(nameOrTriple: string): Target {
  const t = TARGETS.find((t) => t.name === nameOrTriple || t.triple === nameOrTriple);
  if (!t) {
    const valid = TARGETS.map((t) => `${t.triple} (${t.name})`).join(", ");
    throw new Error(`unknown target ${JSON.stringify(nameOrTriple)}; valid targets: ${valid}`);
  }
  return t;
}

/** `ssh-mcp-<version>-<triple>[.exe]` */
export function artifactName(version: string, target: Target): string {
  return `ssh-mcp-${version}-${target.triple}${target.ext}`;
}

/** A release version: `1.2.3` or `1.2.3-rc.1` (no leading `v`). */
export function checkVersion(version: string): string {
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) {
    throw new Error(`invalid version ${JSON.stringify(version)} (expected e.g. 1.2.3, no "v")`);
  }
  return version;
}

/** Lowercase hex SHA-256 of a file's bytes. */
export async function sha256File(path: string): Promise<string> {
  const data = await Deno.readFile(path);
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** `SHA256SUMS` text in `sha256sum` format (`<hex>  <name>`), sorted by name. */
export function formatSums(entries: ReadonlyMap<string, string>): string {
  return [...entries.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, hex]) => `${hex}  ${name}\n`)
    .join("");
}

/**
 * Parses `sha256sum` output (text `<hex>  name` or binary `<hex> *name` lines;
 * blank lines ignored). Throws on any other line or a duplicate name.
 */
export function parseSums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`SHA256SUMS line ${i + 1} is not "<sha256>  <file>": ${line}`);
    const name = m[2]!;
    if (out.has(name)) throw new Error(`SHA256SUMS lists ${name} twice`);
    out.set(name, m[1]!.toLowerCase());
  });
  return out;
}

/** The sha256 of `target`'s artifact in `sums`; throws a clear error when it is missing. */
export function sumFor(sums: ReadonlyMap<string, string>, version: string, target: Target): string {
  const name = artifactName(version, target);
  const hex = sums.get(name);
  if (!hex) {
    throw new Error(
      `SHA256SUMS has no entry for ${name} (target ${target.triple}); ` +
        `listed: ${[...sums.keys()].join(", ") || "nothing"}`,
    );
  }
  return hex;
}

/** Options shared by the generator CLIs. */
export interface GeneratorArgs {
  version: string;
  sums: string;
  baseUrl: string;
  out: string;
  /** optional extras (`--homepage`, `--id`, `--publisher`, `--license`) */
  extra: Record<string, string>;
}

/**
 * Minimal flag parser for the generator CLIs: `--name value` / `--name=value`;
 * `--version`, `--sums`, `--base-url` and `--out` are required, `optional` names may be given.
 */
export function parseGeneratorArgs(
  args: readonly string[],
  usage: string,
  optional: readonly string[] = [],
): GeneratorArgs {
  const got: Record<string, string> = {};
  const required = ["version", "sums", "base-url", "out"];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || ![...required, ...optional].includes(m[1]!)) {
      throw new Error(`unknown argument ${a}\n${usage}`);
    }
    const v = m[2] ?? args[++i];
    if (v === undefined || v === "") throw new Error(`--${m[1]} needs a value\n${usage}`);
    got[m[1]!] = v;
  }
  for (const n of required) if (!got[n]) throw new Error(`--${n} is required\n${usage}`);
  const extra: Record<string, string> = {};
  for (const n of optional) if (got[n]) extra[n] = got[n];
  return {
    version: checkVersion(got["version"]!.replace(/^v/, "")),
    sums: got["sums"]!,
    baseUrl: checkBaseUrl(got["base-url"]!),
    out: got["out"]!,
    extra,
  };
}

/** An http(s) URL without trailing slashes. */
export function checkBaseUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`invalid --base-url ${JSON.stringify(url)}`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") {
    throw new Error(`--base-url must be http(s): ${url}`);
  }
  return url.replace(/\/+$/, "");
}

/** The project page for a base URL: the repository for a GitHub release URL, else the origin. */
export function homepageFor(baseUrl: string): string {
  const m = /^(https:\/\/github\.com\/[^/]+\/[^/]+)\/releases\//.exec(baseUrl);
  return m ? m[1]! : new URL(baseUrl).origin;
}
