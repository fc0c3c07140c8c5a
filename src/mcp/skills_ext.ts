/**
 * The skills and runbooks of {@link SkillLibrary} through the MCP Skills
 * extension (SEP-2640, `io.modelcontextprotocol/skills`): `skills/list`,
 * `skills/get` and `resources/read` of the same `skill://<name>/<path>` URIs
 * the library serves as plain resources.
 *
 * Nothing is decided here: the library holds exactly the visible documents
 * (TIER-12/TIER-14, `SSH_SKILLS_VISIBLE_ONLY`, runbook rules are applied when
 * App loads it), and every read goes through {@link SkillLibrary.read}, so a
 * hidden tool's skill answers like one that never existed, on every method.
 *
 * An entry's `frontmatter` is the SKILL.md front matter as SKILLS.md §2.1
 * reads it (field strings verbatim). Our SKILL.md files carry no `name:` line;
 * the extension requires one equal to the skill's directory, so `name`
 * defaults to the document name. `resources` lists every file of the document
 * (not the virtual `_manifest`, which stays readable) with its SHA-256 digest
 * and size, computed once per library when a client first lists or gets one.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { type CacheHint, ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import {
  type Skill,
  type SkillReadResult,
  SkillsExtension,
  type SkillSource,
  type SkillWarning,
} from "@modelcontextprotocol/server/ext/skills";
import type { Logger } from "../log.ts";
import { parseFrontMatter, type SkillLibrary } from "../skills/library.ts";

/** What the extension needs of the library. */
export type SkillsView = Pick<
  SkillLibrary,
  "docs" | "listResources" | "read" | "manifest" | "ready"
>;

/** Options of {@link skillsExtension}. */
export interface SkillsExtensionOptions {
  /** where the extension's warnings go (the SDK default is `console.warn`) */
  logger?: Pick<Logger, "warn">;
  /** `ttlMs` / `cacheScope` for 2026-07-28 clients; SDK default `0` / `private` */
  cacheHint?: CacheHint;
}

/** Agent Skills name rule, as the extension checks it. */
const SKILL_NAME = /^[\da-z]+(?:-[\da-z]+)*$/;
const decoder = new TextDecoder();

/** `skill://<name>/<path>` with each path segment percent-encoded (the library decodes it). */
function fileUri(name: string, path: string): string {
  return `skill://${name}/${path.split("/").map(encodeURIComponent).join("/")}`;
}

/** The WHATWG form of a URI (what the extension compares), or null. */
function canonical(uri: string): string | null {
  try {
    return new URL(uri).href;
  } catch {
    return null;
  }
}

/** The entry of one document, or the reason it cannot have one. */
function entryOf(skills: SkillsView, name: string): Skill | string {
  const doc = skills.docs.get(name);
  const main = doc?.files.get("SKILL.md");
  const manifest = skills.manifest(name);
  if (!doc || !main || !manifest) return "no SKILL.md";
  const fields = parseFrontMatter(decoder.decode(main))?.fields ?? {};
  const frontmatter = {
    ...fields,
    name: fields.name ?? doc.name,
    description: fields.description ?? doc.description,
  };
  if (frontmatter.name !== doc.name || frontmatter.name.length > 64 || !SKILL_NAME.test(name)) {
    return `name ${JSON.stringify(frontmatter.name)} must be the directory name, ` +
      "1-64 lowercase letters, digits and single hyphens";
  }
  if (!frontmatter.description || [...frontmatter.description].length > 1024) {
    return "description must be 1-1024 characters";
  }
  return {
    uri: fileUri(name, "SKILL.md"),
    frontmatter,
    resources: manifest.files.map((f) => ({
      uri: fileUri(name, f.path),
      digest: f.hash,
      size: f.size,
    })),
    _meta: { "ssh-mcp/kind": doc.kind },
  };
}

/** The entries of one library (built once per library, on first use). */
interface Entries {
  list: Skill[];
  byUri: Map<string, Skill>;
}

const ENTRIES = new WeakMap<SkillsView, Entries>();

function entriesOf(skills: SkillsView, warn: (w: SkillWarning) => void): Entries {
  let e = ENTRIES.get(skills);
  if (e) return e;
  e = { list: [], byUri: new Map() };
  for (const name of [...skills.docs.keys()].sort()) {
    const entry = entryOf(skills, name);
    if (typeof entry === "string") {
      warn({ path: fileUri(name, "SKILL.md"), message: `${entry}; not in skills/list` });
      continue;
    }
    e.list.push(entry);
    e.byUri.set(canonical(entry.uri) ?? entry.uri, entry);
  }
  ENTRIES.set(skills, e);
  return e;
}

/**
 * The Skills extension over `skills`. Entries (front matter, digests) are
 * built once per library, when a client first asks for them, not when a
 * server is created (start-up and every HTTP request build servers); a
 * document that cannot be a valid entry (an operator's skill directory not
 * named by the Agent Skills rule) is logged once and left out of
 * `skills/list` and `skills/get`, yet stays readable and in `resources/list`
 * as before.
 *
 * Call `attach(mcp)` on each `McpServer` before connecting it.
 */
export function skillsExtension(
  skills: SkillsView,
  opts: SkillsExtensionOptions = {},
): SkillsExtension {
  const warn = (w: SkillWarning) =>
    opts.logger?.warn(`skills extension: ${w.message}`, { path: w.path });
  const source: SkillSource = {
    async list({ cursor }) {
      // one page holds every entry; no cursor is ever handed out
      if (cursor !== undefined) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, "Invalid cursor");
      }
      await skills.ready();
      return { skills: entriesOf(skills, warn).list };
    },
    async get(uri) {
      const key = canonical(uri);
      if (key === null) return undefined;
      await skills.ready();
      return entriesOf(skills, warn).byUri.get(key);
    },
    async read(uri) {
      await skills.ready();
      const r = skills.read(uri);
      let out: SkillReadResult | undefined;
      if (r?.text !== undefined) out = { text: r.text, mimeType: r.mimeType };
      else if (r) {
        out = { bytes: new Uint8Array(Buffer.from(r.blob ?? "", "base64")), mimeType: r.mimeType };
      }
      return out;
    },
    async listResources() {
      await skills.ready();
      return skills.listResources();
    },
  };
  return new SkillsExtension({
    source,
    onWarning: warn,
    ...(opts.cacheHint ? { cacheHint: opts.cacheHint } : {}),
  });
}
