/**
 * `ssh-mcp doctor --client NAME` (issue 16 item 5): a ready-to-paste client
 * configuration with this machine's absolute paths, in the from-source form
 * (the real deno binary, the `--allow-*` flags of deno.json's `start` task,
 * main.ts) or the compiled-binary form.
 *
 * The expected flags are read from deno.json here too, so the snippet and the
 * task cannot drift apart.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  CLIENT_NAMES,
  clientEnv,
  type ClientName,
  runDoctorClient,
  startTaskParts,
} from "../../src/client_config.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const MAIN_TS = path.join(ROOT, "main.ts");
const MAIN_URL = new URL("../../main.ts", import.meta.url).href;
const DENO = Deno.execPath();

/** The `--allow-*` flags of the start task, read independently of the module. */
function startFlags(): string[] {
  const cfg = JSON.parse(Deno.readTextFileSync(path.join(ROOT, "deno.json"))) as {
    tasks: Record<string, string>;
  };
  const flags = cfg.tasks["start"]!.split(/\s+/).filter((w) =>
    w.startsWith("--allow-") || w === "--no-prompt" || w.startsWith("--unstable-") ||
    w.startsWith("--v8-flags=")
  );
  assert.ok(
    flags.includes("--v8-flags=--max-semi-space-size=1"),
    "the start task sets V8's young generation",
  );
  assert.ok(flags.length > 0, "the start task has --allow-* flags");
  return flags;
}

const JSON_CLIENTS = {
  "claude-desktop": "mcpServers",
  cursor: "mcpServers",
  windsurf: "mcpServers",
  vscode: "servers",
  zed: "context_servers",
} as const satisfies Partial<Record<ClientName, string>>;

const ENV = {
  HOME: "/home/ops",
  SSH_HOSTS_FILE: "~/.config/ssh-mcp/hosts.toml",
  SSH_AUDIT_LOG: "state/audit.jsonl",
};

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; execPath?: string; mainModule?: string } = {},
): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDoctorClient(args, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  }, { env: ENV, execPath: DENO, mainModule: MAIN_URL, ...opts });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

type Server = { command: string; args: string[]; env: Record<string, string>; type?: string };

function serverOf(client: keyof typeof JSON_CLIENTS, text: string): Server {
  const doc = JSON.parse(text) as Record<string, Record<string, Server>>;
  const server = doc[JSON_CLIENTS[client]]?.["ssh-mcp"];
  assert.ok(server, `${client}: ${JSON_CLIENTS[client]}.ssh-mcp present:\n${text}`);
  return server;
}

Deno.test("every client name produces a snippet, where it goes and how to verify", async () => {
  for (const name of CLIENT_NAMES) {
    const r = await run(["--client", name]);
    assert.equal(r.code, 0, `${name}: ${r.err}`);
    assert.ok(r.out.trim().length > 0, `${name}: empty snippet`);
    assert.ok(r.out.includes(MAIN_TS), `${name}: main.ts path in:\n${r.out}`);
    assert.match(r.err, /Put it in: /, name);
    assert.match(r.err, /ssh_host_list/, name);
  }
});

Deno.test("JSON clients: valid JSON with the deno path, main.ts and every start-task flag", async () => {
  const flags = startFlags();
  for (const name of Object.keys(JSON_CLIENTS) as (keyof typeof JSON_CLIENTS)[]) {
    const r = await run(["--client", name]);
    assert.equal(r.code, 0, r.err);
    const s = serverOf(name, r.out);
    assert.equal(s.command, DENO);
    assert.ok(path.isAbsolute(s.command));
    assert.equal(s.args[0], "run");
    for (const f of flags) assert.ok(s.args.includes(f), `${name}: ${f} missing`);
    const script = s.args.indexOf(MAIN_TS);
    assert.ok(script > 0, `${name}: main.ts in args`);
    // flags before the script, serve after it
    assert.deepEqual(s.args.slice(1, script).sort(), [...flags].sort());
    assert.deepEqual(s.args.slice(script + 1), ["serve"]);
    assert.deepEqual(s.env, {
      SSH_HOSTS_FILE: "/home/ops/.config/ssh-mcp/hosts.toml",
      SSH_KNOWN_HOSTS: "/home/ops/.ssh/known_hosts",
      SSH_AUDIT_LOG: path.resolve(Deno.cwd(), "state/audit.jsonl"),
      ALLOW_LOW_ACCESS_TOOLS: "false",
      ALLOW_DANGEROUS_TOOLS: "false",
    });
    if (name === "vscode") assert.equal(s.type, "stdio");
  }
});

Deno.test("compiled binary: the binary's own path, no deno flags, no main.ts", async () => {
  const bin = "/opt/ssh-mcp/bin/ssh-mcp";
  const compiled = { execPath: bin, mainModule: "file:///tmp/deno-compile-ssh-mcp/main.ts" };
  for (const name of Object.keys(JSON_CLIENTS) as (keyof typeof JSON_CLIENTS)[]) {
    const r = await run(["--client", name], compiled);
    assert.equal(r.code, 0, r.err);
    const s = serverOf(name, r.out);
    assert.equal(s.command, bin);
    assert.deepEqual(s.args, []);
    assert.ok(!r.out.includes("--allow-"), r.out);
    assert.ok(!r.out.includes("main.ts"), r.out);
    assert.match(r.err, /compiled binary/);
  }
  for (const name of ["claude-code", "continue"] as const) {
    const r = await run(["--client", name], compiled);
    assert.equal(r.code, 0);
    assert.ok(r.out.includes(bin));
    assert.ok(!r.out.includes("--allow-") && !r.out.includes("main.ts"), r.out);
  }
  // a main.ts without a deno.json next to it (compiled, deno.json absent): binary form
  const r = await run(["--client", "cursor"], { mainModule: "file:///nonexistent/main.ts" });
  assert.equal(serverOf("cursor", r.out).command, DENO);
  assert.deepEqual(serverOf("cursor", r.out).args, []);
});

Deno.test("Claude Code: one claude mcp add command, name before --env, command after --", async () => {
  const r = await run(["--client", "claude-code"]);
  const text = r.out.replaceAll("\\\n", " ");
  assert.match(text, /^claude mcp add --transport stdio --scope user ssh-mcp\s+--env /);
  const tail = text.slice(text.indexOf(" -- ") + 4).trim().split(/\s+/);
  assert.deepEqual(tail, [DENO, "run", ...startFlags(), MAIN_TS, "serve"]);
  assert.match(text, /--env SSH_HOSTS_FILE=\/home\/ops\/\.config\/ssh-mcp\/hosts\.toml/);
});

Deno.test("Continue: the YAML block shape of the README", async () => {
  const r = await run(["--client", "continue"]);
  const lines = r.out.split("\n");
  assert.deepEqual(lines.slice(0, 7), [
    "name: ssh-mcp",
    "version: 0.0.1",
    "schema: v1",
    "mcpServers:",
    "  - name: ssh-mcp",
    "    type: stdio",
    `    command: ${DENO}`,
  ]);
  // a scalar with `=` may be quoted (the YAML library decides); both read back as the flag
  for (const f of startFlags()) {
    assert.ok(lines.includes(`      - ${f}`) || lines.includes(`      - ${JSON.stringify(f)}`), f);
  }
  assert.ok(lines.includes(`      - ${MAIN_TS}`));
  assert.ok(lines.includes(`      ALLOW_LOW_ACCESS_TOOLS: "false"`));
  assert.ok(lines.includes("      SSH_KNOWN_HOSTS: /home/ops/.ssh/known_hosts"));
});

Deno.test("unknown or missing client name: exit 2 listing the valid names", async () => {
  for (const args of [["--client", "emacs"], ["--client"], ["--client", ""]]) {
    const r = await run(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.out, "");
    for (const n of CLIENT_NAMES) assert.ok(r.err.includes(n), `${n} listed in: ${r.err}`);
  }
  assert.equal((await run(["--client", "cursor", "web01"])).code, 2);
});

Deno.test("env block: defaults resolved to absolute paths, stderr/off and blank kept", () => {
  const cwd = "/srv/work";
  assert.deepEqual(clientEnv({ HOME: "/home/a" }, cwd, "linux"), {
    SSH_HOSTS_FILE: "/srv/work/hosts.toml",
    SSH_KNOWN_HOSTS: "/home/a/.ssh/known_hosts",
    SSH_AUDIT_LOG: "/home/a/.local/state/ssh-mcp/audit.jsonl",
    ALLOW_LOW_ACCESS_TOOLS: "false",
    ALLOW_DANGEROUS_TOOLS: "false",
  });
  const e = clientEnv(
    {
      HOME: "/home/a",
      SSH_HOSTS_FILE: "",
      SSH_AUDIT_LOG: "stderr",
      SSH_PINNED_KNOWN_HOSTS: "~/pins",
      ALLOW_LOW_ACCESS_TOOLS: "true",
    },
    cwd,
    "linux",
  );
  assert.equal(e["SSH_HOSTS_FILE"], "");
  assert.equal(e["SSH_AUDIT_LOG"], "stderr");
  assert.equal(e["SSH_PINNED_KNOWN_HOSTS"], "/home/a/pins");
  assert.equal(e["ALLOW_LOW_ACCESS_TOOLS"], "true");
});

Deno.test("startTaskParts reads the flags and trailing args of the start task", () => {
  const p = startTaskParts(Deno.readTextFileSync(path.join(ROOT, "deno.json")));
  assert.deepEqual(p.flags, startFlags());
  assert.deepEqual(p.scriptArgs, ["serve"]);
  assert.throws(() => startTaskParts(`{"tasks":{}}`));
});

Deno.test("subprocess: deno run <start flags> main.ts doctor --client vscode", async () => {
  const o = await new Deno.Command(DENO, {
    args: ["run", ...startFlags(), MAIN_TS, "doctor", "--client", "vscode"],
    cwd: ROOT,
    // the real HOME (Deno's cache lives under it); no .env of the clone
    env: { SSH_MCP_DISABLE_DOTENV: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(o.stdout);
  const err = new TextDecoder().decode(o.stderr);
  assert.equal(o.code, 0, err);
  const s = serverOf("vscode", out);
  assert.equal(s.command, Deno.execPath());
  assert.ok(out.includes(JSON.stringify(Deno.execPath())));
  assert.ok(s.args.includes(MAIN_TS));
  for (const f of startFlags()) assert.ok(s.args.includes(f), f);
  assert.match(err, /ssh_host_list/);
});
