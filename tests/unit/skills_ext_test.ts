/**
 * The Skills extension (SEP-2640) over the App's SkillLibrary, checked through
 * the wire: a v2 McpServer with only the extension attached, a v2 Client over
 * the in-memory transport, the SDK's own host-side `SkillsClient`. Same
 * visibility and URIs as the `skill://` resources (TIER-12/TIER-14).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { InMemoryTransport, McpServer } from "@modelcontextprotocol/server";
import { SKILLS_EXTENSION_ID } from "@modelcontextprotocol/server/ext/skills";
import { Client } from "@modelcontextprotocol/client";
import { type Skill, SkillsClient } from "@modelcontextprotocol/client/ext/skills";
import { App } from "../../src/app.ts";
import { loadConfig } from "../../src/config/load.ts";
import { Logger } from "../../src/log.ts";
import { skillsExtension } from "../../src/mcp/skills_ext.ts";
import { EMBEDDED_DOCS } from "../../src/skills/embedded_texts_gen.ts";

const HIDDEN = "ssh-sudo-exec";
const VISIBLE = "ssh-host-ping";
const RUNBOOK = "ssh-host-healthcheck";

interface Served {
  app: App;
  client: Client;
  skills: SkillsClient;
  warnings: string[];
  close(): Promise<void>;
}

async function serve(extra: Record<string, string> = {}): Promise<Served> {
  const env = {
    SSH_MCP_DISABLE_DOTENV: "1",
    HOME: Deno.env.get("HOME") ?? "/root",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    SSH_AUDIT_LOG: "off",
    LOG_LEVEL: "ERROR",
    SSH_HOST_NOTES_DIR: "",
    ...extra,
  };
  const cfg = await loadConfig({ env, cwd: Deno.cwd() });
  const app = await App.create(cfg, {
    logger: new Logger({ level: "CRITICAL" }),
    openAudit: false,
  });
  const warnings: string[] = [];
  const logger = new Logger({ level: "WARNING", sink: (l) => warnings.push(l) });
  const mcp = new McpServer({ name: "ssh-mcp-test", version: "0.0.0" });
  skillsExtension(app.skills, { logger }).attach(mcp);
  const [ct, st] = InMemoryTransport.createLinkedPair();
  await mcp.connect(st);
  const client = new Client({ name: "skills-ext-test", version: "1.0.0" });
  await client.connect(ct);
  return {
    app,
    client,
    skills: new SkillsClient(client),
    warnings,
    async close() {
      await client.close();
      await mcp.close();
      await app.close();
    },
  };
}

const uriOf = (name: string) => `skill://${name}/SKILL.md`;
const sha256 = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");

/** A request's error as `code message` (with the name normalised), or "answered". */
async function errorText(p: Promise<unknown>, name: string): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof Error, String(e));
    const code = (e as Error & { code?: unknown }).code;
    return `${String(code)} ${e.message}`.replaceAll(name, "<NAME>");
  }
  return "answered";
}

/** The text of a `resources/read` through the wire. */
async function readText(client: Client, uri: string): Promise<string> {
  const r = await client.readResource({ uri });
  const c = r.contents[0];
  assert.ok(c && "text" in c, `${uri} returned no text`);
  assert.equal(c.uri, uri);
  return c.text;
}

Deno.test("skills extension: capability declared; skills/list is the library's visible set with its URIs and front matter", async () => {
  const s = await serve();
  try {
    assert.deepEqual(s.client.getServerCapabilities()?.extensions?.[SKILLS_EXTENSION_ID], {});
    assert.ok(s.skills.supported);
    const { skills, invalid } = await s.skills.list(); // the SDK validates every entry
    assert.deepEqual(invalid, []);
    const names = [...s.app.skills.docs.keys()].sort();
    assert.ok(names.length > 10);
    assert.deepEqual(skills.map((k) => k.uri), names.map(uriOf));
    const ping = skills.find((k) => k.uri === uriOf(VISIBLE));
    assert.ok(ping, `${VISIBLE} not listed`);
    assert.equal(ping.frontmatter.name, VISIBLE);
    assert.equal(ping.frontmatter.description, s.app.skills.docs.get(VISIBLE)?.description);
    assert.ok(ping.frontmatter.description.length > 20);
    assert.deepEqual(ping._meta, { "ssh-mcp/kind": "skill" });
    const rb = skills.find((k) => k.uri === uriOf(RUNBOOK));
    assert.deepEqual(rb?._meta, { "ssh-mcp/kind": "runbook" });
    // skills/get answers the same entry
    assert.deepEqual((await s.skills.get(uriOf(VISIBLE))).skill, ping);
    assert.deepEqual(s.warnings, []);
  } finally {
    await s.close();
  }
});

Deno.test("skills extension: resources/read serves the library's text; digests and sizes are those of the bytes", async () => {
  const s = await serve();
  try {
    const uri = uriOf(VISIBLE);
    assert.equal(await readText(s.client, uri), s.app.skills.read(uri)?.text);
    const manifest = `skill://${VISIBLE}/_manifest`; // not a file, still readable as before
    assert.equal(await readText(s.client, manifest), s.app.skills.read(manifest)?.text);
    const { skills } = await s.skills.list();
    let files = 0;
    for (const k of skills) {
      assert.ok(Array.isArray(k.resources));
      const doc = s.app.skills.docs.get(k.frontmatter.name);
      assert.ok(doc);
      assert.deepEqual(
        k.resources.map((r) => r.uri).sort(),
        [...doc.files.keys()].map((p) => `skill://${doc.name}/${p}`).sort(),
      );
      for (const r of k.resources) {
        const bytes = doc.files.get(r.uri.slice(`skill://${doc.name}/`.length));
        assert.ok(bytes);
        assert.equal(r.digest, sha256(bytes));
        assert.equal(r.size, bytes.length);
        files++;
      }
    }
    assert.ok(files >= skills.length);
    // the bytes on the wire are the ones the digest covers
    const ping = skills.find((k) => k.uri === uri);
    const wire = new TextEncoder().encode(await readText(s.client, uri));
    assert.equal(sha256(wire), ping && Array.isArray(ping.resources) && ping.resources[0]?.digest);
  } finally {
    await s.close();
  }
});

Deno.test("skills extension: resources/list is exactly the library's listResources()", async () => {
  const s = await serve();
  try {
    assert.deepEqual((await s.client.listResources()).resources, s.app.skills.listResources());
  } finally {
    await s.close();
  }
});

Deno.test("skills extension TIER-12/TIER-14: a hidden tool's skill is absent and answers like a nonexistent one", async () => {
  for (const visibleOnly of ["false", "true"]) {
    const s = await serve({ SSH_SKILLS_VISIBLE_ONLY: visibleOnly });
    try {
      const { skills } = await s.skills.list();
      assert.ok(skills.some((k) => k.uri === uriOf(VISIBLE)));
      assert.ok(!skills.some((k) => k.uri.includes(HIDDEN)), visibleOnly);
      const resources = (await s.client.listResources()).resources;
      assert.ok(!resources.some((r) => r.uri.includes(HIDDEN)));
      for (const name of [HIDDEN, "ssh-sudo-zzz-none"]) {
        assert.notEqual(await errorText(s.skills.get(uriOf(name)), name), "answered");
        assert.notEqual(
          await errorText(s.client.readResource({ uri: uriOf(name) }), name),
          "answered",
        );
      }
      assert.equal(
        await errorText(s.skills.get(uriOf(HIDDEN)), HIDDEN),
        await errorText(s.skills.get(uriOf("ssh-sudo-zzz-none")), "ssh-sudo-zzz-none"),
      );
      assert.equal(
        await errorText(s.client.readResource({ uri: uriOf(HIDDEN) }), HIDDEN),
        await errorText(
          s.client.readResource({ uri: uriOf("ssh-sudo-zzz-none") }),
          "ssh-sudo-zzz-none",
        ),
      );
      // a path escape stays refused
      assert.notEqual(
        await errorText(
          s.client.readResource({ uri: `skill://${VISIBLE}/%2E%2E/${HIDDEN}/SKILL.md` }),
          HIDDEN,
        ),
        "answered",
      );
    } finally {
      await s.close();
    }
  }
});

Deno.test("skills extension: with its tier on, the same skill is listed, got and read (the check above can fail)", async () => {
  const s = await serve({ ALLOW_DANGEROUS_TOOLS: "true", ALLOW_SUDO: "true" });
  try {
    const { skills } = await s.skills.list();
    const entry: Skill | undefined = skills.find((k) => k.uri === uriOf(HIDDEN));
    assert.ok(entry);
    assert.deepEqual((await s.skills.get(uriOf(HIDDEN))).skill, entry);
    assert.ok((await readText(s.client, uriOf(HIDDEN))).length > 100);
  } finally {
    await s.close();
  }
});

Deno.test("skills extension: an operator skill whose name breaks the Agent Skills rule is logged once, left out of skills/list, still readable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-skills-ext-" });
  try {
    await Deno.mkdir(`${dir}/Team_Guide`);
    await Deno.writeTextFile(
      `${dir}/Team_Guide/SKILL.md`,
      "---\ndescription: Our own guide.\n---\n\n# Guide\n",
    );
    await Deno.mkdir(`${dir}/team-notes/refs`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/team-notes/SKILL.md`,
      "---\ndescription: Team notes: where things are.\n---\n\n# Notes\n",
    );
    await Deno.writeFile(`${dir}/team-notes/refs/logo.bin`, new Uint8Array([0, 1, 2, 255]));
    const s = await serve({ SSH_SKILLS_DIR: dir });
    try {
      const { skills } = await s.skills.list();
      assert.ok(!skills.some((k) => k.uri.includes("Team_Guide")));
      assert.equal(s.warnings.length, 1, s.warnings.join("\n"));
      assert.match(s.warnings[0]!, /Team_Guide.*not in skills\/list/);
      assert.match(await readText(s.client, uriOf("Team_Guide")), /Our own guide/);
      // a valid own skill: front matter split at the first ':' (SKILLS.md §2.1), a binary file
      const notes = skills.find((k) => k.uri === uriOf("team-notes"));
      assert.equal(notes?.frontmatter.description, "Team notes: where things are.");
      const logo = notes && Array.isArray(notes.resources) &&
        notes.resources.find((r) => r.uri.endsWith("/refs/logo.bin"));
      assert.ok(logo);
      assert.equal(logo.size, 4);
      const r = await s.client.readResource({ uri: logo.uri });
      const c = r.contents[0];
      assert.ok(c && "blob" in c);
      assert.equal(sha256(Uint8Array.from(atob(c.blob), (ch) => ch.charCodeAt(0))), logo.digest);
      assert.equal(s.warnings.length, 1); // not repeated per request
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("skills extension: with every tier on, every listed SKILL.md passes the SDK's client-side verification (YAML front matter equals the entry)", async () => {
  const s = await serve({
    ALLOW_LOW_ACCESS_TOOLS: "true",
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_SUDO: "true",
    SSH_ENABLE_BM25: "true", // the search-mode tools and their skills
  });
  try {
    const { skills } = await s.skills.list();
    // every embedded document is visible with all tiers on, and every one is listed
    const all = EMBEDDED_DOCS.map((d) => d.name).sort();
    assert.deepEqual(skills.map((k) => k.uri), all.map(uriOf));
    const failures: string[] = [];
    for (const k of skills) {
      try {
        // size, digest, then the front matter re-parsed as YAML against the entry
        const file = await s.skills.read(k);
        assert.ok(file.verified, k.uri);
        assert.equal(file.frontmatter?.name, k.frontmatter.name);
        assert.equal(
          file.frontmatter?.description,
          s.app.skills.docs.get(k.frontmatter.name)?.description,
        );
      } catch (e) {
        failures.push(`${k.uri}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    assert.deepEqual(failures, [], `${failures.length} of ${skills.length} failed`);
    assert.deepEqual(s.warnings, []);
  } finally {
    await s.close();
  }
});
