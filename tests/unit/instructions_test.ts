/**
 * The `initialize` instructions (issue 12 item 4): tiers, how to find tools
 * (groups or search mode), skills and runbooks, the common refusals and what
 * to do instead; short, and naming only tools visible in the configuration
 * (TIER-14).
 */

import assert from "node:assert/strict";
import type { Settings } from "../../src/config/types.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import { INSTRUCTIONS_MAX_CHARS, instructionsFor } from "../../src/mcp/server.ts";
import { catalogFor } from "../../src/registry/visibility.ts";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";

function variant(over: Partial<Settings>) {
  const settings = { ...defaultSettings(), ...over } as Settings;
  const visibleTools = catalogFor(ALL_TOOLS, settings).visible;
  const visible = new Set(visibleTools.map((t) => t.name));
  const text = instructionsFor(visible, { settings, groups: visibleTools.map((t) => t.group) });
  const hidden = ALL_TOOLS.map((t) => t.name).filter((n) => !visible.has(n));
  return { text, visible, hidden };
}

/** Every tool-like name in the text is visible; no hidden tool is named. */
function namesOnlyVisible(v: ReturnType<typeof variant>, extra: readonly string[] = []): void {
  for (const n of v.hidden) {
    assert.ok(!new RegExp(`\\b${n}\\b`).test(v.text), `hidden tool ${n} named:\n${v.text}`);
  }
  for (const m of v.text.matchAll(/\bssh_[a-z0-9_]+\b/g)) {
    assert.ok(v.visible.has(m[0]), `${m[0]} is not a visible tool`);
  }
  for (const m of v.text.matchAll(/\b(search_tools|call_tool)\b/g)) {
    assert.ok(extra.includes(m[0]), `${m[0]} named outside search mode`);
  }
}

function common(text: string): void {
  assert.ok(text.length <= INSTRUCTIONS_MAX_CHARS, `${text.length} chars:\n${text}`);
  assert.match(text, /skill:\/\/ssh-<tool-name-with-dashes>\/SKILL\.md/);
  assert.match(text, /PathNotAllowed/);
  assert.match(text, /CommandNotAllowed or CommandIsCheatsheetMatch: use the dedicated tool/);
  assert.match(text, /only the operator can pin the host key/);
  assert.match(text, /tier or group is off, only the operator can enable it/);
}

Deno.test("instructions: default tiers name read tools only, groups, skills, runbooks, refusals", () => {
  const v = variant({});
  common(v.text);
  assert.match(v.text, /Tool tiers on: read\./);
  assert.match(v.text, /Tool groups on: [a-z-]+(, [a-z-]+)*\./);
  assert.match(v.text, /ssh_describe_host shows/);
  assert.match(v.text, /Runbooks .* skill:\/\/ resources/);
  assert.ok(v.hidden.includes("ssh_exec_run") && v.hidden.includes("ssh_sudo_exec"));
  namesOnlyVisible(v);
});

Deno.test("instructions: all tiers on lists every tier; still only visible names", () => {
  const v = variant({
    ALLOW_LOW_ACCESS_TOOLS: true,
    ALLOW_DANGEROUS_TOOLS: true,
    ALLOW_SUDO: true,
  });
  common(v.text);
  assert.match(v.text, /Tool tiers on: read, low-access, dangerous, sudo\./);
  assert.match(v.text, /\bexec\b/, "the exec group is named");
  namesOnlyVisible(v);
});

Deno.test("instructions: search mode says search_tools/call_tool instead of groups", () => {
  const v = variant({ SSH_ENABLE_BM25: true });
  common(v.text);
  assert.match(v.text, /search_tools\(query\)/);
  assert.match(v.text, /call_tool\(name, arguments\)/);
  assert.doesNotMatch(v.text, /Tool groups on/);
  namesOnlyVisible(v, ["search_tools", "call_tool"]);
  const all = variant({ SSH_ENABLE_BM25: true, ALLOW_DANGEROUS_TOOLS: true });
  assert.ok(all.text.length <= INSTRUCTIONS_MAX_CHARS);
  namesOnlyVisible(all, ["search_tools", "call_tool"]);
});

Deno.test("instructions: a group filter that hides the host tools; runbooks off", () => {
  const v = variant({ SSH_ENABLED_GROUPS: ["sftp-read"], SSH_ENABLE_RUNBOOKS: false });
  common(v.text);
  assert.ok(v.hidden.includes("ssh_describe_host"), "the filter hides ssh_describe_host");
  assert.doesNotMatch(v.text, /ssh_describe_host|ssh_host_list|ssh_host_ping/);
  assert.match(v.text, /stay inside the host's path allowlist/);
  assert.doesNotMatch(v.text, /Runbooks/);
  assert.match(v.text, /Tool groups on: sftp-read\./);
  namesOnlyVisible(v);
});

Deno.test("instructions: the pre-existing one-argument contract still holds", () => {
  const text = instructionsFor(new Set(["ssh_host_list"]));
  assert.match(text, /Start with ssh_host_list to see hosts/);
  assert.doesNotMatch(text, /ssh_describe_host|ssh_host_ping|ssh_skill_read/);
  assert.ok(text.length <= INSTRUCTIONS_MAX_CHARS);
});
