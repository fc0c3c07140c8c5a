/**
 * Issue 9 §6 "Hidden means hidden" (TIER-12..TIER-14, INV-7): a tool hidden by
 * the tier flags or by SSH_ENABLED_GROUPS is indistinguishable from a name that
 * never existed on every surface the agent can reach: tools/call, ssh_plan,
 * resources/list, resources/templates/list, resources/read, ssh_skill_read.
 * Each error text is compared byte for byte with the one for a nonexistent
 * name (after substituting the name). The same surfaces do show the tool when
 * its tier is on, so each check can fail.
 */

import assert from "node:assert/strict";
import { ErrorCode, McpError } from "../_support/mcp.ts";
import { baseEnv, type InProcess, startInProcess } from "../_support/mcp.ts";

const HIDDEN = "ssh_sudo_exec";
const NONE = "ssh_sudo_zzz_none";
const slug = (t: string) => t.replaceAll("_", "-");

/** The MCP error of a request as text, or "answered" when it succeeded. */
async function mcpErrorText(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof McpError, String(e));
    return `${e.code} ${e.message}`;
  }
  return "answered";
}

/** The texts each surface gives for `name` (a tool name). */
/** A tool result as text: the error text and its `_meta` when it failed, else "answered". */
async function toolText(s: InProcess, tool: string, args: Record<string, unknown>) {
  const r = await s.call(tool, args);
  if (!r.isError) return "answered";
  const text = r.content.map((c) => (c.type === "text" ? c.text : "")).join("");
  return `${text} ${JSON.stringify(r._meta ?? {})}`;
}

interface Surfaces {
  call: string;
  plan: string;
  skill: string;
  read: string;
  manifest: string;
  listed: string;
  templates: string;
}

async function surfaces(s: InProcess, name: string): Promise<Surfaces> {
  const sl = slug(name);
  const call = await mcpErrorText(s.client.callTool({ name, arguments: {} }));
  const plan = await toolText(s, "ssh_plan", { host: "anything", tool: name, command: "id" });
  const skill = await toolText(s, "ssh_skill_read", { name: sl });
  const read = await mcpErrorText(s.client.readResource({ uri: `skill://${sl}/SKILL.md` }));
  const manifest = await mcpErrorText(s.client.readResource({ uri: `skill://${sl}/_manifest` }));
  const listed = (await s.client.listResources()).resources.filter((r) => r.uri.includes(sl));
  const templates = (await s.client.listResourceTemplates()).resourceTemplates.filter((t) =>
    t.uriTemplate.includes(sl)
  );
  const norm = (t: string) => t.replaceAll(name, "<NAME>").replaceAll(sl, "<SLUG>");
  return {
    call: norm(call),
    plan: norm(plan),
    skill: norm(skill),
    read: norm(read),
    manifest: norm(manifest),
    listed: JSON.stringify(listed),
    templates: JSON.stringify(templates),
  };
}

Deno.test("TIER-12/TIER-13/TIER-14: a tier-hidden tool is indistinguishable from a nonexistent one on every surface (byte for byte)", async () => {
  for (const visibleOnly of ["false", "true"]) {
    const s = await startInProcess(baseEnv({ SSH_SKILLS_VISIBLE_ONLY: visibleOnly }));
    try {
      const hidden = await surfaces(s, HIDDEN);
      const none = await surfaces(s, NONE);
      assert.deepEqual(hidden, none, `SSH_SKILLS_VISIBLE_ONLY=${visibleOnly}`);
      assert.match(hidden.call, new RegExp(`^${ErrorCode.InvalidParams} `));
      assert.equal(hidden.listed, "[]");
      // a visible tool's skill is there (the checks above can see one)
      const uris = (await s.client.listResources()).resources.map((r) => r.uri);
      assert.ok(uris.includes("skill://ssh-host-info/SKILL.md"));
      const text = await s.ok<{ text: string }>("ssh_skill_read", { name: "ssh-host-info" });
      assert.ok(text.text.length > 100);
    } finally {
      await s.close();
    }
  }
});

Deno.test("TIER-12/TIER-13: with its tier on, the same tool shows on those surfaces (the comparison above can fail)", async () => {
  const s = await startInProcess(
    baseEnv({ ALLOW_DANGEROUS_TOOLS: "true", ALLOW_SUDO: "true" }),
  );
  try {
    const shown = await surfaces(s, HIDDEN);
    const none = await surfaces(s, NONE);
    assert.equal(shown.call, "answered"); // a ValueError result, not "not found"
    assert.equal(shown.read, "answered");
    assert.notEqual(shown.plan, none.plan); // now a HostNotAllowed for "anything"
    assert.equal(shown.skill, "answered");
    assert.notEqual(shown.listed, "[]");
    assert.notEqual(shown.templates, "[]");
    const r = await s.client.readResource({ uri: `skill://${slug(HIDDEN)}/SKILL.md` });
    const c = r.contents[0];
    assert.ok(c && "text" in c && c.text.length > 100);
  } finally {
    await s.close();
  }
});

Deno.test("TIER-12/TIER-13: a group-hidden tool (SSH_ENABLED_GROUPS) is hidden the same way", async () => {
  const env = baseEnv({ SSH_ENABLED_GROUPS: "exec,host" });
  const s = await startInProcess(env);
  try {
    const hidden = await surfaces(s, "ssh_sftp_download");
    const none = await surfaces(s, "ssh_sftp_zzz_none");
    assert.deepEqual(hidden, none);
  } finally {
    await s.close();
  }
});

Deno.test("TIER-14: the server's instructions name only visible tools", async () => {
  const all = await startInProcess(baseEnv());
  const exec = await startInProcess(baseEnv({ SSH_ENABLED_GROUPS: "exec" }));
  try {
    const full = all.client.getInstructions() ?? "";
    for (const t of ["ssh_host_list", "ssh_describe_host", "ssh_host_ping", "ssh_skill_read"]) {
      assert.ok(full.includes(t), `${t} missing from ${full}`);
    }
    const narrow = exec.client.getInstructions() ?? "";
    assert.ok(!/\bssh_[a-z_]+/.test(narrow.replace(/skill:\/\/ssh-\S+/g, "")), narrow);
    assert.match(narrow, /Host keys are pinned/);
  } finally {
    await all.close();
    await exec.close();
  }
});

Deno.test("TIER-12/SK-6: a skill directory of the operator: a skill named like a hidden tool is never served; other own skills only while SSH_SKILLS_VISIBLE_ONLY is false", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-skills-" });
  try {
    for (const name of [slug(HIDDEN), "team-deploy-guide"]) {
      await Deno.mkdir(`${dir}/${name}`);
      await Deno.writeTextFile(
        `${dir}/${name}/SKILL.md`,
        `---\ndescription: ${name}\n---\n# ${name}\n`,
      );
    }
    for (const [visibleOnly, ownServed] of [["false", true], ["true", false]] as const) {
      const s = await startInProcess(
        baseEnv({ SSH_SKILLS_DIR: dir, SSH_SKILLS_VISIBLE_ONLY: visibleOnly }),
      );
      try {
        const uris = (await s.client.listResources()).resources.map((r) => r.uri);
        assert.ok(!uris.some((u) => u.includes(slug(HIDDEN))), visibleOnly);
        assert.equal(uris.includes("skill://team-deploy-guide/SKILL.md"), ownServed, visibleOnly);
        const h = await toolText(s, "ssh_skill_read", { name: slug(HIDDEN) });
        assert.match(h, /No skill or runbook named/);
      } finally {
        await s.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
