/**
 * SK-1 with lazy texts (issue 17, start-up): the server starts from the
 * embedded index (src/skills/embedded_gen.ts: names, file paths, the tools
 * each runbook calls) and loads the 130-odd texts (embedded_texts_gen.ts)
 * once, on the first read. Checked: nothing is loaded by start-up or
 * `tools/list`; a document read before `ready()` throws instead of serving
 * an empty text; the first read through the wire loads everything once, for
 * the process's library and every library narrowed from it; the runbook
 * filter and the document count agree with the texts; a stale texts module
 * is refused with a message that says what to run, and the next reader tries
 * again.
 */

import assert from "node:assert/strict";
import { App } from "../../src/app.ts";
import { loadConfig } from "../../src/config/load.ts";
import { Logger } from "../../src/log.ts";
import { EMBEDDED_INDEX } from "../../src/skills/embedded_gen.ts";
import { EMBEDDED_DOCS } from "../../src/skills/embedded_texts_gen.ts";
import {
  describe,
  type EmbeddedDoc,
  runbookTools,
  SkillLibrary,
} from "../../src/skills/library.ts";
import { baseEnv, startInProcess } from "../_support/mcp.ts";

const VISIBLE = "ssh-host-ping";
const ALL_TIERS = {
  ALLOW_LOW_ACCESS_TOOLS: "true",
  ALLOW_DANGEROUS_TOOLS: "true",
  ALLOW_SUDO: "true",
};
const NOT_LOADED = /read before SkillLibrary\.ready\(\)/;
const enc = new TextEncoder();

function textOf(name: string): string {
  const d = EMBEDDED_DOCS.find((x) => x.name === name);
  assert.ok(d?.files["SKILL.md"], `no embedded ${name}`);
  return d.files["SKILL.md"];
}

Deno.test("SK-1 lazy: the index agrees with the texts (names, files, each runbook's tools)", () => {
  assert.equal(EMBEDDED_INDEX.length, EMBEDDED_DOCS.length);
  for (const [i, e] of EMBEDDED_INDEX.entries()) {
    const d = EMBEDDED_DOCS[i]!;
    assert.equal(e.kind, d.kind);
    assert.equal(e.name, d.name);
    assert.deepEqual([...e.files].sort(), Object.keys(d.files).sort());
    const want = d.kind === "runbook" ? [...runbookTools(d.files["SKILL.md"]!)].sort() : [];
    assert.deepEqual(e.tools, want, `${e.name}: tools`);
  }
  assert.ok(EMBEDDED_INDEX.some((e) => e.kind === "runbook" && e.tools.length > 3));
});

Deno.test("SK-1 lazy: the App starts with no skill text loaded; one load serves its library and every narrowed one", async () => {
  const cfg = await loadConfig({ env: baseEnv(ALL_TIERS), cwd: Deno.cwd() });
  const app = await App.create(cfg, {
    logger: new Logger({ level: "CRITICAL" }),
    openAudit: false,
  });
  try {
    const doc = app.skills.docs.get(VISIBLE);
    assert.ok(doc, "the skill is served");
    assert.throws(() => doc.files, NOT_LOADED);
    assert.throws(() => doc.description, NOT_LOADED);
    // the served set and count, decided without any text, are those of the texts themselves
    const eager = await App.create(cfg, {
      logger: new Logger({ level: "CRITICAL" }),
      openAudit: false,
      embedded: EMBEDDED_DOCS,
    });
    try {
      assert.deepEqual([...app.skills.docs.keys()].sort(), [...eager.skills.docs.keys()].sort());
      assert.equal(app.skills.size, eager.skills.size);
      assert.ok(app.skills.size > 100);
    } finally {
      await eager.close();
    }

    // a principal that sees fewer tools: the runbooks calling a hidden one go, from the index
    const runbook = EMBEDDED_INDEX.find((e) => e.kind === "runbook" && e.tools.length > 0)!;
    const hidden = new Set([runbook.tools[0]!]);
    const narrow = app.skills.narrowed(hidden);
    assert.equal(narrow.docs.has(runbook.name), false);
    const calling = EMBEDDED_DOCS.filter((d) =>
      d.kind === "runbook" && runbookTools(d.files["SKILL.md"]!).has(runbook.tools[0]!)
    ).map((d) => d.name);
    for (const n of calling) assert.equal(narrow.docs.has(n), false, n);
    const ownSkill = runbook.tools[0]!.replaceAll("_", "-"); // the hidden tool's own skill goes too
    assert.equal(narrow.docs.has(ownSkill), false);
    assert.equal(
      narrow.size,
      app.skills.size - calling.length - (app.skills.docs.has(ownSkill) ? 1 : 0),
    );

    // the narrowed library's first read loads the texts for the process's library as well
    await narrow.ready();
    assert.deepEqual(doc.files.get("SKILL.md"), enc.encode(textOf(VISIBLE)));
    assert.equal(doc.description, describe(textOf(VISIBLE)));
    const r = app.skills.read(`skill://${VISIBLE}/SKILL.md`);
    assert.equal(r?.text, textOf(VISIBLE));
  } finally {
    await app.close();
  }
});

Deno.test("SK-1 lazy: through the wire, tools/list loads no text; the first ssh_skill_read and resources/list are answered in full", async () => {
  const s = await startInProcess(baseEnv(ALL_TIERS));
  try {
    const listed = await s.client.listTools();
    assert.ok(listed.tools.some((t) => t.name === "ssh_skill_read"));
    assert.throws(() => s.app.skills.docs.get(VISIBLE)!.files, NOT_LOADED);
    const r = await s.ok<{ text: string; path: string }>("ssh_skill_read", { name: VISIBLE });
    assert.equal(r.text, textOf(VISIBLE));
    assert.equal(r.path, "SKILL.md");
    const resources = (await s.client.listResources()).resources;
    const entry = resources.find((x) => x.uri === `skill://${VISIBLE}/SKILL.md`);
    assert.equal(entry?.description, describe(textOf(VISIBLE)));
    const skillUris = resources.filter((x) => x.uri.startsWith("skill://"));
    assert.equal(skillUris.length, 2 * s.app.skills.size, "SKILL.md and _manifest of each");
  } finally {
    await s.close();
  }
});

Deno.test("SK-1 lazy: a stale texts module is refused (what is missing, what to run); concurrent readers share one load; a later reader tries again", async () => {
  const good: EmbeddedDoc[] = [{
    kind: "skill",
    name: "ssh-x",
    files: { "SKILL.md": "---\ndescription: the x skill\n---\n# X\n", "notes.txt": "n\n" },
  }];
  let calls = 0;
  let stale = true;
  const lib = await SkillLibrary.load({
    embedded: [{ kind: "skill", name: "ssh-x", files: ["SKILL.md", "notes.txt"], tools: [] }],
    embeddedTexts: () => {
      calls++;
      return Promise.resolve(
        stale ? [{ kind: "skill" as const, name: "ssh-x", files: { "SKILL.md": "# X\n" } }] : good,
      );
    },
    skillsDir: null,
    runbooksDir: null,
    enableRunbooks: true,
    visibleTools: null,
    logger: new Logger({ level: "CRITICAL" }),
  });
  assert.equal(lib.size, 1);
  await assert.rejects(
    Promise.all([lib.ready(), lib.ready()]),
    /lacks notes\.txt.*stale: run deno task gen/,
  );
  assert.equal(calls, 1, "two concurrent readers, one load");
  assert.throws(() => lib.docs.get("ssh-x")!.files, NOT_LOADED);
  stale = false;
  await lib.ready();
  assert.equal(calls, 2);
  assert.equal(lib.readText("ssh-x", "notes.txt").text, "n\n");
  assert.equal(lib.docs.get("ssh-x")!.description, "the x skill");
  await lib.ready();
  assert.equal(calls, 2, "loaded once, kept");
});
