/**
 * Third-party MCP servers for interoperability tests, installed from npm into
 * a cache directory under /tmp (once per machine; later runs reuse it). A
 * failed install FAILS the test that needs it, naming the command (never a
 * skip).
 *
 * @module
 */

/** The reference filesystem server, pinned. */
export const FILESYSTEM_SERVER = "@modelcontextprotocol/server-filesystem@2026.8.31";

/** Where the peers are installed (world-readable: sshd subsystems run as the test user). */
export const PEERS_DIR = "/tmp/ssh-mcp-test-peers";

async function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const p = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: p.code, out: dec.decode(p.stdout) + dec.decode(p.stderr) };
}

let installing: Promise<string> | null = null;

/**
 * Installs `@modelcontextprotocol/server-filesystem` (pinned) with npm and
 * returns the path of its entry script (`dist/index.js`, run with Node 20).
 */
export function filesystemServer(): Promise<string> {
  installing ??= (async () => {
    const dir = `${PEERS_DIR}/server-filesystem-2026.8.31`;
    const entry = `${dir}/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js`;
    try {
      await Deno.stat(entry);
      return entry;
    } catch {
      // not installed yet
    }
    // install next to the final place, then rename: a concurrent run never sees half a tree
    const tmp = `${dir}.tmp-${crypto.randomUUID().slice(0, 8)}`;
    await Deno.mkdir(tmp, { recursive: true });
    const args = ["install", "--prefix", tmp, "--no-audit", "--no-fund", FILESYSTEM_SERVER];
    const r = await run("npm", args);
    if (r.code !== 0) {
      throw new Error(`npm ${args.join(" ")} failed (exit ${r.code}):\n${r.out.slice(-4000)}`);
    }
    await run("chmod", ["-R", "a+rX", PEERS_DIR]);
    try {
      await Deno.rename(tmp, dir);
    } catch {
      // another run finished first: use its tree
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
    try {
      await Deno.stat(entry);
    } catch {
      throw new Error(`npm ${args.join(" ")} did not produce ${entry}`);
    }
    return entry;
  })();
  return installing;
}
