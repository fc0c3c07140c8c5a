/**
 * Catalog invariants over EVERY registered tool (github-mcp-server style) and
 * the skill documents (SKILLS.md SKT-1..SKT-9).
 */

import assert from "node:assert/strict";
import { z } from "zod";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";
import { annotationsFor, GROUPS, TIERS, type Tool } from "../../src/tools/define.ts";
import { jsonSchemaOf } from "../../src/registry/visibility.ts";
import { META_TOOLS } from "../../src/registry/search.ts";
import { EMBEDDED_DOCS } from "../../src/skills/embedded_texts_gen.ts";
import { parseFrontMatter } from "../../src/skills/library.ts";
import { render, renderTexts } from "../../scripts/gen_embedded.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/**
 * Tool names of the contract (TOOLS.md) that later issues register. Skills may
 * refer to them already; the list shrinks as tools land.
 */
const SPEC_TOOLS = new Set(
  `ssh_apt_autoremove ssh_apt_install ssh_apt_list ssh_apt_mark ssh_apt_remove ssh_apt_search ssh_apt_show
  ssh_apt_show_holds ssh_apt_update ssh_apt_upgrade ssh_broadcast ssh_cancel_async_task ssh_cp ssh_delete
  ssh_delete_folder ssh_deploy ssh_docker_compose_down ssh_docker_compose_logs ssh_docker_compose_ps
  ssh_docker_compose_pull ssh_docker_compose_restart ssh_docker_compose_start ssh_docker_compose_stop
  ssh_docker_compose_up ssh_docker_cp ssh_docker_events ssh_docker_exec ssh_docker_images ssh_docker_inspect
  ssh_docker_logs ssh_docker_prune ssh_docker_ps ssh_docker_pull ssh_docker_restart ssh_docker_rm ssh_docker_rmi
  ssh_docker_run ssh_docker_start ssh_docker_stats ssh_docker_stop ssh_docker_system_df ssh_docker_top
  ssh_docker_volumes ssh_edit ssh_exec_run ssh_exec_run_streaming ssh_exec_script ssh_file_hash ssh_find
  ssh_get_task_output ssh_get_task_result ssh_get_task_status ssh_journalctl ssh_link ssh_mkdir ssh_mv ssh_patch
  ssh_plan ssh_read_redacted ssh_remote_mcp_call ssh_remote_mcp_list ssh_run_async ssh_run_on_tag
  ssh_sftp_download ssh_sftp_list ssh_sftp_stat ssh_shell_close ssh_shell_exec ssh_shell_list ssh_shell_open
  ssh_sudo_edit ssh_sudo_exec ssh_sudo_read ssh_sudo_read_redacted ssh_sudo_run_script ssh_sudo_sftp_list
  ssh_sudo_write ssh_sudo_capabilities ssh_systemctl_cat ssh_systemctl_daemon_reload ssh_systemctl_is_active
  ssh_systemctl_is_enabled ssh_systemctl_is_failed ssh_systemctl_list_units ssh_systemctl_show
  ssh_systemctl_start ssh_systemctl_stop ssh_systemctl_restart ssh_systemctl_reload ssh_systemctl_enable
  ssh_systemctl_disable ssh_systemctl_mask ssh_systemctl_unmask ssh_systemctl_reset_failed ssh_systemctl_status
  ssh_task_list ssh_transfer ssh_upload ssh_upload`.split(/\s+/).filter(Boolean),
);
/** Intentional non-tools that documents may mention (SKT-5). */
const NON_TOOLS = new Set([
  "ssh_file_verify_signature",
  "ssh_host_routes",
  "ssh_sudo_broadcast",
  "ssh_mcp",
]);
/** Low-access tools that overwrite or remove data (TOOLS.md §1 NEW). */
const DESTRUCTIVE_LOW_ACCESS = new Set([
  "ssh_delete",
  "ssh_delete_folder",
  "ssh_upload",
  "ssh_deploy",
  "ssh_mv",
  "ssh_edit",
  "ssh_patch",
  "ssh_transfer",
  "ssh_docker_cp",
  "ssh_host_notes_set",
  "ssh_docker_stop",
  "ssh_docker_compose_stop",
  "ssh_docker_restart",
  "ssh_cp",
]);
const REGISTERED = new Set(ALL_TOOLS.map((t) => t.name));
/** Tools with a skill: the catalog plus the synthetic tools of search mode (issue 12 §2). */
const WITH_SKILL: readonly Tool[] = [...ALL_TOOLS, ...META_TOOLS];

function skillPath(slug: string) {
  return `${ROOT}skills/${slug}/SKILL.md`;
}

Deno.test("TIER-1: every tool has a unique ssh_* name, one known tier and one known group", () => {
  const seen = new Set<string>();
  for (const t of ALL_TOOLS) {
    assert.match(t.name, /^ssh_[a-z0-9_]+$/, t.name);
    assert.ok(!seen.has(t.name), `duplicate ${t.name}`);
    seen.add(t.name);
    assert.ok(TIERS.includes(t.tier), `${t.name} tier ${t.tier}`);
    assert.ok((GROUPS as readonly string[]).includes(t.group), `${t.name} group ${t.group}`);
    assert.ok(
      t.description.length >= 20 && t.description.length <= 300,
      `${t.name} description length`,
    );
  }
});

Deno.test("TIER-9/AC-158: annotations derive from the tier and the tool's own hints (issue 12 item 6)", () => {
  for (const t of ALL_TOOLS) {
    assert.deepEqual(t.annotations, annotationsFor(t.name, t.tier, t.destructive, t.hints), t.name);
    if (t.tier === "read") assert.equal(t.annotations.readOnlyHint, true, t.name);
    if (t.annotations.readOnlyHint) assert.equal(t.annotations.destructiveHint, false, t.name);
    if (t.tier === "low-access" && !t.hints?.destructiveHint) {
      assert.equal(
        t.annotations.destructiveHint,
        DESTRUCTIVE_LOW_ACCESS.has(t.name) || t.name.startsWith("ssh_delete"),
        `${t.name} destructiveHint`,
      );
    }
  }
  // the full table of every tool's four hints: tests/structure/annotations_test.ts
});

Deno.test("INPUT-7/AC-046: strict input and output schemas, object at top level, no top-level anyOf/oneOf", () => {
  for (const t of ALL_TOOLS) {
    for (const [io, schema] of [["input", t.input], ["output", t.output]] as const) {
      const js = jsonSchemaOf(schema as z.ZodObject, io);
      assert.equal(js.type, "object", `${t.name} ${io}`);
      assert.equal(js.additionalProperties, false, `${t.name} ${io} must reject unknown keys`);
      assert.ok(
        !("anyOf" in js) && !("oneOf" in js) && !("allOf" in js),
        `${t.name} ${io} top-level union`,
      );
    }
    const props = (jsonSchemaOf(t.input, "input").properties ?? {}) as Record<
      string,
      { description?: string }
    >;
    for (const [k, v] of Object.entries(props)) {
      assert.ok(v.description && v.description.length > 3, `${t.name}.${k} has no description`);
    }
    if (t.hostFieldNames.length) assert.ok(t.hostFieldNames.every((f) => f in props), t.name);
  }
});

Deno.test("AC-046: every output schema rejects unknown keys at runtime", () => {
  for (const t of ALL_TOOLS) {
    const r = t.output.safeParse({ __unexpected__: 1 });
    assert.equal(r.success, false, t.name);
  }
});

Deno.test("SKT-2: one skill per tool and one tool per skill", async () => {
  const dirs: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}skills`)) if (e.isDirectory) dirs.push(e.name);
  const slugs = new Set(WITH_SKILL.map((t) => t.skillSlug));
  for (const t of WITH_SKILL) {
    const st = await Deno.stat(skillPath(t.skillSlug)).catch(() => null);
    assert.ok(st?.isFile, `${t.name} has no skills/${t.skillSlug}/SKILL.md`);
  }
  for (const d of dirs) assert.ok(slugs.has(d), `skills/${d} names no registered tool`);
  assert.ok(dirs.length >= ALL_TOOLS.length, "SKT-9 floor");
});

function docs(): { kind: string; name: string; text: string; files: Record<string, string> }[] {
  return EMBEDDED_DOCS.map((d) => ({
    kind: d.kind,
    name: d.name,
    text: d.files["SKILL.md"] ?? "",
    files: { ...d.files },
  }));
}

Deno.test("SKT-1/SKT-3/SKT-4: ASCII, front matter, H1 and metadata line match the registry", () => {
  const byName = new Map(WITH_SKILL.map((t) => [t.skillSlug, t]));
  for (const d of docs()) {
    for (const [path, text] of Object.entries(d.files)) {
      const bad = [...text].findIndex((c) =>
        c.charCodeAt(0) > 0x7e || (c.charCodeAt(0) < 0x20 && !"\n\t\r".includes(c))
      );
      assert.equal(
        bad,
        -1,
        `${d.name}/${path}: non-ASCII at offset ${bad}: ${
          JSON.stringify(text.slice(bad, bad + 20))
        }`,
      );
    }
    const fm = parseFrontMatter(d.text);
    assert.ok(fm, `${d.name}: no front matter`);
    const desc = fm.fields.description ?? "";
    assert.ok(
      desc.length >= 10 && desc.length <= 200,
      `${d.name}: description length ${desc.length}`,
    );
    if (d.kind !== "skill") continue;
    const t = byName.get(d.name);
    assert.ok(t, d.name);
    const body = fm.body.trimStart();
    assert.ok(body.startsWith(`# \`${t.name}\`\n`), `${d.name}: H1 must be \`${t.name}\``);
    const tags = t.tier === "read"
      ? `{safe, read, group:${t.group}}`
      : t.tier === "low-access"
      ? `{low-access, group:${t.group}}`
      : t.tier === "sudo"
      ? "{dangerous, sudo, group:sudo}"
      : `{dangerous, group:${t.group}${
        t.tags?.includes("persistent-session") ? ", persistent-session" : ""
      }}`;
    assert.ok(
      body.includes(`**Tier:** ${t.tier} | **Group:** \`${t.group}\` | **Tags:** \`${tags}\``),
      `${d.name}: metadata line must be: **Tier:** ${t.tier} | **Group:** \`${t.group}\` | **Tags:** \`${tags}\``,
    );
  }
});

Deno.test("SKT-7: the ## Inputs table lists exactly the input schema's parameters", () => {
  const byName = new Map(WITH_SKILL.map((t) => [t.skillSlug, t]));
  for (const d of docs().filter((x) => x.kind === "skill")) {
    const t = byName.get(d.name)!;
    const m = /^## Inputs\n([\s\S]*?)(?=^## )/m.exec(d.text);
    assert.ok(m, `${d.name}: no ## Inputs section`);
    const rows = m[1]!.split("\n").filter((l) => l.startsWith("|")).slice(2);
    const names = rows.map((r) => r.split("|")[1]!.trim().replace(/`/g, ""));
    const schema = Object.keys(t.input.shape).sort();
    assert.deepEqual([...names].sort(), schema, `${d.name}: Inputs table vs schema`);
  }
});

Deno.test("SKT-5/SKT-6: every ssh_* token names a tool; every relative link resolves", () => {
  const all = docs();
  const embedded = new Set(
    all.flatMap((d) =>
      Object.keys(d.files).map((f) =>
        `${d.kind === "skill" ? "skills" : "runbooks"}/${d.name}/${f}`
      )
    ),
  );
  for (const d of all) {
    for (const m of d.text.matchAll(/\bssh_[a-z0-9_]*[a-z0-9]/g)) {
      const tok = m[0];
      const ok = REGISTERED.has(tok) || SPEC_TOOLS.has(tok) || NON_TOOLS.has(tok) ||
        tok === "ssh_docker" || tok === "ssh_docker_compose" || tok === "ssh_systemctl";
      assert.ok(ok, `${d.name}: ${tok} is not a tool`);
    }
    const base = `${d.kind === "skill" ? "skills" : "runbooks"}/${d.name}`;
    for (const m of d.text.matchAll(/\]\((\.\.?\/[^)#\s]+)\)/g)) {
      const parts = `${base}/${m[1]}`.split("/");
      const out: string[] = [];
      for (const p of parts) {
        if (p === "..") out.pop();
        else if (p !== ".") out.push(p);
      }
      assert.ok(embedded.has(out.join("/")), `${d.name}: broken link ${m[1]}`);
    }
  }
});

Deno.test("SK-1: the embedded modules (index and texts) are up to date with skills/ and runbooks/ (run `deno task gen`)", async () => {
  const index = await Deno.readTextFile(`${ROOT}src/skills/embedded_gen.ts`);
  assert.equal(index, await render(), "src/skills/embedded_gen.ts is stale: run `deno task gen`");
  const texts = await Deno.readTextFile(`${ROOT}src/skills/embedded_texts_gen.ts`);
  assert.equal(
    texts,
    await renderTexts(),
    "src/skills/embedded_texts_gen.ts is stale: run `deno task gen`",
  );
});
