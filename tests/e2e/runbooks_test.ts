/**
 * Runbooks (issue 12 item 5; SKILLS.md §6, SKT-5, SKT-8, SKT-9).
 *
 * Call notation: every runbook shows tool calls in fenced code blocks as
 * Python-style keyword calls, one call per statement, possibly spanning lines:
 *
 *     ssh_tool(param="text", n=5, flag=True, items=["a", "b"])
 *
 * Values are Python literals (strings, numbers, True/False/None, lists).
 * This test parses every such call and checks that the tool is registered,
 * that every parameter exists in its input schema and that the arguments
 * validate against it, and that no command shown for a cheatsheet-checked tool
 * would be refused by the default cheatsheet unless the runbook's
 * "Default-on cheatsheet rejection" section names the pattern.
 *
 * Then, through a real MCP client: runbooks are resources while
 * SSH_ENABLE_RUNBOOKS is on and absent otherwise; a runbook that calls a tool
 * hidden by the tier flags is neither listed nor readable (it answers like an
 * unknown resource), and neither is the skill of a hidden tool.
 */

import assert from "node:assert/strict";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";
import { matchCheatsheet } from "../../src/policy/cheatsheet.ts";
import { EMBEDDED_DOCS } from "../../src/skills/embedded_texts_gen.ts";
import { runbookTools } from "../../src/skills/library.ts";
import { McpError } from "../_support/mcp.ts";
import { baseEnv, type InProcess, startInProcess } from "../_support/mcp.ts";

/** SKILLS.md §6 names, plus the fleet roll-out of issue 12 and the package upgrade of issue 11. */
const EXPECTED = [
  "ssh-host-healthcheck",
  "ssh-incident-response",
  "ssh-disk-cleanup",
  "ssh-docker-incident-response",
  "ssh-systemd-diagnostics",
  "ssh-deploy-verify",
  "ssh-container-rollout",
  "ssh-host-snapshot",
  "ssh-integrity-audit",
  "ssh-verify-signature",
  "ssh-long-running-job",
  "ssh-os-upgrade",
  "ssh-fleet-rollout",
  "ssh-package-upgrade",
];

/** Tools whose `command` goes through the cheatsheet (SECURITY.md §CHEAT scope). */
const CHEATSHEET_TOOLS = new Set([
  "ssh_exec_run",
  "ssh_exec_run_streaming",
  "ssh_sudo_exec",
  "ssh_broadcast",
  "ssh_run_on_tag",
  "ssh_shell_exec",
  "ssh_run_async",
  "ssh_plan",
]);

const TOOLS = new Map(ALL_TOOLS.map((t) => [t.name, t]));
const RUNBOOKS = EMBEDDED_DOCS.filter((d) => d.kind === "runbook").map((d) => ({
  name: d.name,
  text: d.files["SKILL.md"] ?? "",
}));

/** One parsed call. */
interface Call {
  tool: string;
  args: Record<string, unknown>;
  line: number;
}

/** A tiny parser for the Python-literal call notation. */
class Parser {
  i = 0;
  constructor(readonly s: string, public where: string) {}
  fail(msg: string): never {
    throw new Error(
      `${this.where}: ${msg} at ${JSON.stringify(this.s.slice(this.i, this.i + 40))}`,
    );
  }
  ws() {
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (c === " " || c === "\t" || c === "\n" || c === "\r") this.i++;
      else if (c === "#") { while (this.i < this.s.length && this.s[this.i] !== "\n") this.i++; }
      else break;
    }
  }
  eat(t: string): boolean {
    this.ws();
    if (this.s.startsWith(t, this.i)) {
      this.i += t.length;
      return true;
    }
    return false;
  }
  ident(): string {
    this.ws();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i));
    if (!m) this.fail("identifier expected");
    this.i += m[0].length;
    return m[0];
  }
  string(): string {
    const q = this.s[this.i]!;
    const triple = this.s.startsWith(q.repeat(3), this.i);
    this.i += triple ? 3 : 1;
    let out = "";
    for (;;) {
      if (this.i >= this.s.length) this.fail("unterminated string");
      if (triple ? this.s.startsWith(q.repeat(3), this.i) : this.s[this.i] === q) {
        this.i += triple ? 3 : 1;
        return out;
      }
      const c = this.s[this.i++]!;
      if (c === "\n" && !triple) this.fail("newline in string");
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.s[this.i++]!;
      out += ({ n: "\n", t: "\t", "\\": "\\", '"': '"', "'": "'" } as Record<string, string>)[e] ??
        "\\" + e;
    }
  }
  value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === '"' || c === "'") return this.string();
    if (c === "[") {
      this.i++;
      const out: unknown[] = [];
      while (!this.eat("]")) {
        out.push(this.value());
        if (!this.eat(",")) {
          if (!this.eat("]")) this.fail("] expected");
          break;
        }
      }
      return out;
    }
    const m = /^-?\d+(\.\d+)?/.exec(this.s.slice(this.i));
    if (m) {
      this.i += m[0].length;
      return Number(m[0]);
    }
    const id = this.ident();
    if (id === "True") return true;
    if (id === "False") return false;
    if (id === "None") return null;
    return this.fail(`not a literal: ${id}`);
  }
  /** Parses the argument list after `tool(`. */
  args(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    while (!this.eat(")")) {
      const k = this.ident();
      if (!this.eat("=")) this.fail(`keyword argument expected (positional ${k}?)`);
      if (k in out) this.fail(`duplicate ${k}`);
      out[k] = this.value();
      if (!this.eat(",")) {
        if (!this.eat(")")) this.fail(") expected");
        break;
      }
    }
    return out;
  }
}

/** Every call of every fenced block of a runbook. */
function parseCalls(name: string, text: string): Call[] {
  const calls: Call[] = [];
  for (const block of text.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)) {
    const body = block[1]!;
    const startLine = text.slice(0, block.index).split("\n").length + 1;
    const p = new Parser(body, name);
    for (;;) {
      p.ws();
      if (p.i >= body.length) break;
      const line = startLine + body.slice(0, p.i).split("\n").length - 1;
      p.where = `${name}:${line}`;
      const tool = p.ident();
      if (!p.eat("(")) p.fail(`a call ${tool}(...) expected`);
      calls.push({ tool, args: p.args(), line });
    }
  }
  return calls;
}

function cheatsheetSection(text: string): string {
  const m = /^## Default-on cheatsheet rejection[^\n]*\n([\s\S]*?)(?=^## )/m.exec(text);
  return m?.[1] ?? "";
}

Deno.test("runbooks: every SKILLS.md §6 runbook and the fleet roll-out are embedded (SKT-9)", () => {
  const names = RUNBOOKS.map((r) => r.name);
  for (const n of EXPECTED) assert.ok(names.includes(n), `runbooks/${n} missing`);
  assert.ok(names.length >= 12, "SKT-9 floor");
});

Deno.test("SKT-5/SKT-8: every call a runbook shows names a registered tool, uses its parameters, validates and passes the cheatsheet", () => {
  let total = 0;
  for (const rb of RUNBOOKS) {
    const calls = parseCalls(rb.name, rb.text);
    assert.ok(calls.length >= 3, `${rb.name}: too few calls found`);
    // the library's view of which tools a runbook uses is the same set
    assert.deepEqual(
      new Set(calls.map((c) => c.tool)),
      runbookTools(rb.text),
      `${rb.name}: library parser disagrees`,
    );
    const declared = cheatsheetSection(rb.text);
    assert.ok(declared, `${rb.name}: no "## Default-on cheatsheet rejection" section`);
    for (const c of calls) {
      const where = `runbooks/${rb.name}/SKILL.md:${c.line} ${c.tool}`;
      const t = TOOLS.get(c.tool);
      assert.ok(t, `${where}: not a registered tool`);
      const shape = t.input.shape as Record<string, unknown>;
      for (const k of Object.keys(c.args)) {
        assert.ok(k in shape, `${where}: no parameter ${k} (has ${Object.keys(shape).join(", ")})`);
      }
      const r = t.input.safeParse(c.args);
      assert.ok(r.success, `${where}: arguments invalid: ${r.success ? "" : r.error.message}`);
      const command = c.args.command;
      if (CHEATSHEET_TOOLS.has(c.tool) && typeof command === "string") {
        const hit = matchCheatsheet(command, { redactListed: () => false, host: "web01" });
        if (hit) {
          assert.ok(
            declared.includes(hit.patternId) && declared.includes(command.split(/\s/)[0]!),
            `${where}: ${JSON.stringify(command)} matches cheatsheet pattern '${hit.patternId}' ` +
              `(use ${hit.suggestedTool}) and is not declared in the cheatsheet section`,
          );
        }
      }
      total++;
    }
  }
  assert.ok(total > 100, `only ${total} calls parsed`);
});

Deno.test("runbook call parser: rejects positional arguments, unknown literals and non-calls", () => {
  assert.throws(
    () => parseCalls("x", '```python\nssh_exec_run("uptime")\n```\n'),
    /identifier expected/,
  );
  assert.throws(() => parseCalls("x", "```python\nssh_host_info(host=...)\n```\n"));
  assert.throws(() => parseCalls("x", "```python\nrm -rf /\n```\n"), /call/);
  // the cheatsheet check above can fail: commands the runbooks avoid are hits
  for (const c of ["cat /etc/os-release", "tail -n 5 /var/tmp/x.log", "echo 1 > /tmp/rc"]) {
    assert.ok(matchCheatsheet(c, { redactListed: () => false }), c);
  }
  assert.deepEqual(
    parseCalls(
      "x",
      '```python\nssh_run_on_tag(tag="web", serial=[1, "25%"],\n  command="a\\\\n")\n```\n',
    ),
    [{
      tool: "ssh_run_on_tag",
      args: { tag: "web", serial: [1, "25%"], command: "a\\n" },
      line: 2,
    }],
  );
});

// ---------------------------------------------------------------- MCP surface

const ALL_ON = {
  ALLOW_LOW_ACCESS_TOOLS: "true",
  ALLOW_DANGEROUS_TOOLS: "true",
  ALLOW_SUDO: "true",
};

async function listed(s: InProcess): Promise<string[]> {
  return (await s.client.listResources()).resources.map((r) => r.uri);
}

/** The MCP error text of a resource read, or "answered". */
async function readText(s: InProcess, uri: string): Promise<string> {
  try {
    await s.client.readResource({ uri });
  } catch (e) {
    assert.ok(e instanceof McpError, String(e));
    return `${e.code} ${e.message.replaceAll(uri, "<URI>")}`;
  }
  return "answered";
}

Deno.test("SK-4: SSH_ENABLE_RUNBOOKS toggles every runbook on resources/list and resources/read", async () => {
  for (const enabled of [true, false]) {
    const s = await startInProcess(baseEnv({ ...ALL_ON, SSH_ENABLE_RUNBOOKS: String(enabled) }));
    try {
      const uris = await listed(s);
      const unknown = await readText(s, "skill://ssh-no-such-runbook/SKILL.md");
      for (const rb of RUNBOOKS) {
        for (const f of ["SKILL.md", "_manifest"]) {
          const uri = `skill://${rb.name}/${f}`;
          assert.equal(uris.includes(uri), enabled, `${uri} listed=${!enabled}`);
          const r = await readText(s, uri);
          if (enabled) assert.equal(r, "answered", uri);
          else assert.equal(r, unknown, uri);
        }
      }
      if (enabled) {
        const r = await s.client.readResource({ uri: "skill://ssh-fleet-rollout/SKILL.md" });
        const c = r.contents[0];
        assert.ok(c && "text" in c && c.text.includes("ssh_run_on_tag("));
      }
      // skills stay either way
      assert.ok(uris.includes("skill://ssh-host-info/SKILL.md"));
    } finally {
      await s.close();
    }
  }
});

Deno.test("issue 12: runbooks and skills of hidden tools are not listed and read like unknown resources", async () => {
  const s = await startInProcess(baseEnv()); // read tier only
  try {
    const visible = new Set(
      (await s.client.listTools()).tools.map((t) => t.name),
    );
    const uris = await listed(s);
    const unknown = await readText(s, "skill://ssh-no-such-runbook/SKILL.md");
    let shown = 0, hidden = 0;
    for (const rb of RUNBOOKS) {
      const needs = [...runbookTools(rb.text)];
      const ok = needs.every((t) => visible.has(t));
      const uri = `skill://${rb.name}/SKILL.md`;
      assert.equal(uris.includes(uri), ok, `${rb.name} needs ${needs.join(", ")}`);
      assert.equal(uris.includes(`skill://${rb.name}/_manifest`), ok, rb.name);
      assert.equal(await readText(s, uri), ok ? "answered" : unknown, rb.name);
      if (ok) shown++;
      else hidden++;
    }
    // read-only workflows stay; mutating ones go
    assert.ok(uris.includes("skill://ssh-host-healthcheck/SKILL.md"));
    assert.ok(uris.includes("skill://ssh-incident-response/SKILL.md"));
    assert.ok(!uris.includes("skill://ssh-fleet-rollout/SKILL.md"));
    assert.ok(shown >= 2 && hidden >= 5, `shown ${shown} hidden ${hidden}`);
    // skills: exactly those of visible tools
    for (const t of ALL_TOOLS) {
      const uri = `skill://${t.skillSlug}/SKILL.md`;
      assert.equal(uris.includes(uri), visible.has(t.name), uri);
      if (!visible.has(t.name)) {
        assert.equal(
          await readText(s, uri),
          unknown.replaceAll("ssh-no-such-runbook", t.skillSlug),
          uri,
        );
      }
    }
    const r = await s.call("ssh_skill_read", { name: "ssh-fleet-rollout" });
    assert.ok(r.isError);
  } finally {
    await s.close();
  }
});

Deno.test("issue 12: an operator's runbook that calls a hidden tool is withheld and does not fall back to the embedded one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-runbooks-" });
  try {
    const write = async (name: string, body: string) => {
      await Deno.mkdir(`${dir}/${name}`);
      await Deno.writeTextFile(
        `${dir}/${name}/SKILL.md`,
        `---\ndescription: ${name} of the team\n---\n# ${name}\n\n${body}\n`,
      );
    };
    await write("team-read", '```python\nssh_host_info(host="web01")\n```');
    await write("team-exec", '```python\nssh_exec_run(host="web01", command="uptime")\n```');
    // same name as an embedded, read-only runbook, but calls a dangerous tool
    await write(
      "ssh-host-healthcheck",
      '```python\nssh_exec_run(host="web01", command="uptime")\n```',
    );
    for (const [env, execShown] of [[{}, false], [ALL_ON, true]] as const) {
      const s = await startInProcess(baseEnv({ ...env, SSH_RUNBOOKS_DIR: dir }));
      try {
        const uris = await listed(s);
        assert.ok(uris.includes("skill://team-read/SKILL.md"));
        assert.equal(uris.includes("skill://team-exec/SKILL.md"), execShown);
        assert.equal(uris.includes("skill://ssh-host-healthcheck/SKILL.md"), execShown);
        if (execShown) {
          const r = await s.client.readResource({ uri: "skill://ssh-host-healthcheck/SKILL.md" });
          const c = r.contents[0];
          assert.ok(c && "text" in c && c.text.includes("of the team"));
        }
      } finally {
        await s.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
