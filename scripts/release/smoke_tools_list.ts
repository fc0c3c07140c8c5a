/**
 * Release smoke test: starts a server over stdio with the MCP SDK's client,
 * runs `tools/list` (following pagination) and asserts more than `--min`
 * (default 40) tools come back, then reads one embedded skill
 * (`skill://ssh-host-ping/SKILL.md`): the skill texts are loaded on the first
 * read from a module the binary packs with `--include`, so this proves the
 * binary can read them, not only that they are in the file.
 *
 *   deno run --allow-run --allow-env --allow-read scripts/release/smoke_tools_list.ts \
 *     [--min 40] -- dist/ssh-mcp-0.1.0-x86_64-unknown-linux-gnu [args...]
 *
 * The command runs with this process's environment (set SSH_HOSTS_FILE etc. as needed).
 * Exit 0 on success, 1 on failure, 2 on usage errors.
 *
 * @module
 */

import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";

const enc = new TextEncoder();
/** an embedded skill every configuration serves (the read tier is always visible) */
const SMOKE_SKILL = "skill://ssh-host-ping/SKILL.md";
function say(s: string): void {
  Deno.stdout.writeSync(enc.encode(s + "\n"));
}

/** Connects to `command args...` over stdio and returns the names of all listed tools. */
export async function listToolNames(
  command: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<{ names: string[]; server: string; stderr: string; skill: string }> {
  const transport = new StdioClientTransport({
    command,
    args: [...args],
    env: Deno.env.toObject(),
    stderr: "pipe",
  });
  let stderr = "";
  const dec = new TextDecoder();
  transport.stderr?.on("data", (d: Uint8Array) => (stderr += dec.decode(d)));
  const client = new Client({ name: "ssh-mcp-release-smoke", version: "1.0.0" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${timeoutMs} ms; server stderr:\n${stderr}`)),
      timeoutMs,
    );
  });
  try {
    const work = (async () => {
      await client.connect(transport);
      const info = client.getServerVersion();
      const names: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : {});
        names.push(...page.tools.map((t) => t.name));
        cursor = page.nextCursor;
      } while (cursor);
      const read = await client.readResource({ uri: SMOKE_SKILL });
      const c = read.contents[0];
      const skill = c && "text" in c ? c.text : "";
      return { names, server: `${info?.name ?? "?"} ${info?.version ?? "?"}`, stderr, skill };
    })();
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    await client.close().catch(() => {});
  }
}

if (import.meta.main) {
  const args = [...Deno.args];
  let min = 40;
  const sep = args.indexOf("--");
  const opts = sep >= 0 ? args.slice(0, sep) : [];
  const cmd = sep >= 0 ? args.slice(sep + 1) : args;
  for (let i = 0; i < opts.length; i++) {
    if (opts[i] === "--min" && opts[i + 1] !== undefined) min = Number(opts[++i]);
    else {
      say(`usage: smoke_tools_list.ts [--min N] -- <command> [args...]`);
      Deno.exit(2);
    }
  }
  if (!cmd.length || !Number.isFinite(min)) {
    say(`usage: smoke_tools_list.ts [--min N] -- <command> [args...]`);
    Deno.exit(2);
  }
  try {
    const r = await listToolNames(cmd[0]!, cmd.slice(1));
    if (r.names.length <= min) {
      say(`tools/list: FAILED (${r.names.length} tools, expected more than ${min})\n${r.stderr}`);
      Deno.exit(1);
    }
    say(`tools/list: ok (${r.names.length} tools from ${r.server}, more than ${min})`);
    if (!r.skill.includes("# `ssh_host_ping`") || !r.skill.includes("**Tier:** read")) {
      say(`skill read: FAILED (${SMOKE_SKILL}: ${JSON.stringify(r.skill.slice(0, 200))})`);
      Deno.exit(1);
    }
    say(`skill read: ok (${SMOKE_SKILL}, ${r.skill.length} characters)`);
    Deno.exit(0);
  } catch (e) {
    say(`tools/list: FAILED (${(e as Error).message})`);
  }
  Deno.exit(1);
}
