/**
 * Skills and runbooks served as MCP resources (SKILLS.md §3).
 *
 * Documents are embedded in the binary (`embedded_texts_gen.ts`); on-disk
 * override directories (`SSH_SKILLS_DIR`, `SSH_RUNBOOKS_DIR`) are mounted
 * before them (SK-3). The server starts from the embedded index
 * (`embedded_gen.ts`: names, file paths, the tools each runbook calls) and
 * loads the texts once, on the first read ({@link SkillLibrary.ready}): every
 * reader awaits `ready()` first, and a document read before it throws.
 * Reads are confined to the document's directory; symlinks leading out
 * of it are neither listed nor served (SK-5). The skill of a tool hidden by
 * the tier or group flags is never served, by any URI or by `ssh_skill_read`
 * (TIER-12; issue 9 wins over SK-6's "serve every skill" default).
 * `SSH_SKILLS_VISIBLE_ONLY=true` narrows further: skills that belong to no
 * visible tool (an operator's own skill directories) are dropped too.
 *
 * Runbooks (issue 12 item 5, also overriding SK-6): a runbook is listed and
 * readable only when EVERY tool it calls is visible. "Calls" means the
 * `ssh_<tool>(` call lines of its fenced code blocks (the notation checked by
 * tests/e2e/runbooks_test.ts; see {@link runbookTools}); tool names mentioned
 * only in prose or links do not count, nor do names that are not registered
 * tools at all. A hidden runbook answers like an unknown one.
 * `SSH_ENABLE_RUNBOOKS=false` drops every runbook (SK-4). URIs:
 *
 * - `skill://<name>/SKILL.md` (text/markdown)
 * - `skill://<name>/_manifest` (application/json)
 * - template `skill://<name>/{path*}` for supporting files
 *
 * @module
 */

import { extname, join, relative, resolve, sep } from "../util/local_path.ts";
import { ToolError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { sha256 } from "../util/digest.ts";
import { importLazy } from "../util/lazy_import.ts";
import { compareCodeUnits } from "../util/text.ts";

/** One embedded document directory. */
export interface EmbeddedDoc {
  kind: "skill" | "runbook";
  name: string;
  /** relative path (with `/`) -> text */
  files: Readonly<Record<string, string>>;
}

/** A document directory as served. */
/** One embedded document as the index lists it (embedded_gen.ts; no text). */
export interface EmbeddedEntry {
  kind: "skill" | "runbook";
  name: string;
  /** relative paths (with `/`) */
  files: readonly string[];
  /** a runbook's {@link runbookTools}, sorted (empty for a skill) */
  tools: readonly string[];
}

export interface SkillDoc {
  kind: "skill" | "runbook";
  name: string;
  description: string;
  /** relative path -> bytes */
  files: Map<string, Uint8Array>;
  origin: "embedded" | string;
  /** a runbook's {@link runbookTools} (empty for a skill) */
  tools: ReadonlySet<string>;
}

/**
 * The index entry of an embedded document: what the server starts from
 * (scripts/gen_embedded.ts writes these; a whole document given in memory is
 * indexed the same way).
 */
export function indexEntry(d: EmbeddedDoc): EmbeddedEntry {
  return {
    kind: d.kind,
    name: d.name,
    files: Object.keys(d.files),
    tools: d.kind === "runbook" ? [...runbookTools(d.files["SKILL.md"] ?? "")].sort() : [],
  };
}

/** The embedded texts, loaded by a computed URL (packed by `deno compile --include`). */
function importEmbeddedTexts(): Promise<readonly EmbeddedDoc[]> {
  // typed here, not by `typeof import(...)`: that module imports this one's types
  return importLazy<{ EMBEDDED_DOCS: readonly EmbeddedDoc[] }>(
    new URL("./embedded_texts_gen.ts", import.meta.url),
  ).then((m) => m.EMBEDDED_DOCS);
}

/**
 * An embedded document before its text is loaded: its description and files
 * throw until {@link SkillLibrary.ready} has filled them, so a reader that
 * forgot to await it fails loudly instead of serving an empty document.
 */
class EmbeddedSkillDoc implements SkillDoc {
  readonly origin = "embedded";
  #files: Map<string, Uint8Array> | null = null;
  #description = "";

  constructor(
    readonly kind: "skill" | "runbook",
    readonly name: string,
    readonly tools: ReadonlySet<string>,
    readonly paths: readonly string[],
  ) {}

  get files(): Map<string, Uint8Array> {
    if (!this.#files) throw this.#notLoaded();
    return this.#files;
  }

  get description(): string {
    if (!this.#files) throw this.#notLoaded();
    return this.#description;
  }

  #notLoaded(): Error {
    return new Error(`skill ${this.name} read before SkillLibrary.ready()`);
  }

  get loaded(): boolean {
    return this.#files !== null;
  }

  fill(doc: EmbeddedDoc | undefined): void {
    const main = doc?.files["SKILL.md"];
    const missing = this.paths.filter((p) => doc?.files[p] === undefined);
    if (!doc || main === undefined || missing.length) {
      throw new Error(
        `embedded ${this.kind} ${this.name}: the texts module lacks ${
          missing.join(", ") || "it"
        } (src/skills/embedded_gen.ts is stale: run deno task gen)`,
      );
    }
    const files = new Map<string, Uint8Array>();
    for (const p of this.paths) files.set(p, encoder.encode(doc.files[p]!));
    this.#description = describe(main);
    this.#files = files;
  }
}

/** Loads the embedded texts once for a library and every library narrowed from it. */
class EmbeddedLoader {
  readonly docs: EmbeddedSkillDoc[] = [];
  #done: Promise<void> | null = null;

  constructor(readonly load: () => Promise<readonly EmbeddedDoc[]>) {}

  ready(): Promise<void> {
    if (this.docs.every((d) => d.loaded)) return Promise.resolve();
    this.#done ??= this.load().then((all) => {
      const byKey = new Map(all.map((d) => [`${d.kind}/${d.name}`, d]));
      for (const d of this.docs) d.fill(byKey.get(`${d.kind}/${d.name}`));
    }).catch((e) => {
      this.#done = null; // a failed load is tried again by the next reader
      throw e;
    });
    return this.#done;
  }
}

/** Max served file size (SK-5). */
export const MAX_SKILL_FILE_BYTES = 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Front-matter parser of SKILLS.md §2.1 (split at the first `:`). */
export function parseFrontMatter(
  text: string,
): { fields: Record<string, string>; body: string } | null {
  const lines = text.split(/\r?\n/);
  if (lines[0] !== "---") return null;
  const fields: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === "---") return { fields, body: lines.slice(i + 1).join("\n") };
    const c = l.indexOf(":");
    if (c > 0) fields[l.slice(0, c).trim()] = l.slice(c + 1).trim();
  }
  return null;
}

/**
 * The tools a runbook calls: every `ssh_<tool>(` inside its fenced code blocks
 * (the call notation of SKILLS.md §2.2 item 8, used by every runbook).
 */
export function runbookTools(text: string): Set<string> {
  const out = new Set<string>();
  for (const block of text.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)) {
    for (const m of block[1]!.matchAll(/\b(ssh_[a-z0-9_]+)\(/g)) out.add(m[1]!);
  }
  return out;
}

/** Description: front matter, else the first meaningful body line (<= 200 chars). */
export function describe(text: string): string {
  const fm = parseFrontMatter(text);
  if (fm?.fields.description) return fm.fields.description;
  const body = fm ? fm.body : text;
  for (const l of body.split(/\r?\n/)) {
    const t = l.replace(/^#+\s*/, "").trim();
    if (t) return t.slice(0, 200);
  }
  return "";
}

function mimeFor(path: string): string {
  switch (extname(path).toLowerCase()) {
    case ".md":
      return "text/markdown";
    case ".txt":
      return "text/plain";
    case ".json":
      return "application/json";
    case ".yaml":
    case ".yml":
      return "text/yaml";
    case ".toml":
      return "text/plain";
    case ".sh":
      return "text/x-shellscript";
    default:
      return "application/octet-stream";
  }
}

/** Content of one resource read. */
export interface SkillResource {
  uri: string;
  mimeType: string;
  text?: string;
  blob?: string;
}

/** The served set of skills and runbooks. */
export class SkillLibrary {
  readonly docs: Map<string, SkillDoc> = new Map();
  #loader: EmbeddedLoader;

  private constructor(loader: EmbeddedLoader) {
    this.#loader = loader;
  }

  /**
   * Resolves once every embedded document of this library has its text
   * (loaded on the first call, shared with every library narrowed from this
   * one). Await it before reading `docs`, descriptions or files.
   */
  ready(): Promise<void> {
    return this.#loader.ready();
  }

  /**
   * Builds the library: disk overrides first, then the embedded set. No
   * embedded text is read here: names, paths and each runbook's tools come
   * from the index; the texts load on the first {@link ready}.
   */
  static async load(opts: {
    /** the embedded index (embedded_gen.ts, or {@link indexEntry} of documents given in memory) */
    embedded: readonly EmbeddedEntry[];
    /** the embedded texts (default: embedded_texts_gen.ts, imported on first use) */
    embeddedTexts?: () => Promise<readonly EmbeddedDoc[]>;
    skillsDir: string | null;
    runbooksDir: string | null;
    enableRunbooks: boolean;
    /** when set, only skills of these tools are served (SK-6) */
    visibleTools: ReadonlySet<string> | null;
    /**
     * tools hidden in this configuration: a document named like one of their
     * skills (`ssh-sudo-exec` for `ssh_sudo_exec`) is never served, whatever
     * `visibleTools` says (TIER-12: hidden means absent on every surface)
     */
    hiddenTools?: ReadonlySet<string>;
    logger: Logger;
  }): Promise<SkillLibrary> {
    const loader = new EmbeddedLoader(opts.embeddedTexts ?? importEmbeddedTexts);
    const lib = new SkillLibrary(loader);
    /** names of runbooks withheld because they call a hidden tool */
    const shadowed = new Set<string>();
    const usesHidden = (tools: Iterable<string>) =>
      [...tools].some((t) => opts.hiddenTools?.has(t) ?? false);
    const accept = (kind: "skill" | "runbook", name: string) => {
      if (kind === "runbook" && !opts.enableRunbooks) return false;
      if (opts.hiddenTools?.has(name.replaceAll("-", "_"))) return false;
      if (
        kind === "skill" && opts.visibleTools && !opts.visibleTools.has(name.replaceAll("-", "_"))
      ) return false;
      return !lib.docs.has(name) && !shadowed.has(name);
    };
    for (const [kind, dir] of [["skill", opts.skillsDir], ["runbook", opts.runbooksDir]] as const) {
      if (!dir) continue;
      let entries: Deno.DirEntry[] = [];
      try {
        for await (const e of Deno.readDir(dir)) entries.push(e);
      } catch {
        opts.logger.info(`${kind}s directory not found, using the embedded set`, { dir });
        continue;
      }
      entries = entries.filter((e) => e.isDirectory || e.isSymlink).sort((a, b) =>
        compareCodeUnits(a.name, b.name)
      );
      for (const e of entries) {
        if (!accept(kind, e.name)) continue;
        const doc = await loadDiskDoc(kind, e.name, join(dir, e.name), opts.logger);
        if (!doc) continue;
        if (kind === "runbook" && usesHidden(doc.tools)) {
          // the on-disk runbook still shadows the embedded one of the same name
          shadowed.add(e.name);
          continue;
        }
        lib.docs.set(e.name, doc);
      }
    }
    for (const d of opts.embedded) {
      if (!accept(d.kind, d.name)) continue;
      if (!d.files.includes("SKILL.md")) continue;
      if (d.kind === "runbook" && usesHidden(d.tools)) continue;
      const doc = new EmbeddedSkillDoc(d.kind, d.name, new Set(d.tools), d.files);
      loader.docs.push(doc);
      lib.docs.set(d.name, doc);
    }
    return lib;
  }

  /**
   * The same library without the documents of `hidden` tools: their skills,
   * and runbooks that call any of them (TIER-12 for a caller that sees fewer
   * tools than the process, e.g. an HTTP principal whose token grants fewer
   * tiers).
   */
  narrowed(hidden: ReadonlySet<string>): SkillLibrary {
    const lib = new SkillLibrary(this.#loader);
    for (const [name, d] of this.docs) {
      if (hidden.has(name.replaceAll("-", "_"))) continue;
      if (d.kind === "runbook" && [...d.tools].some((t) => hidden.has(t))) continue;
      lib.docs.set(name, d);
    }
    return lib;
  }

  /** Number of skills + runbooks served. */
  get size(): number {
    return this.docs.size;
  }

  /** `resources/list` entries (two per document, SKILLS.md §3.2). */
  listResources(): { uri: string; name: string; description: string; mimeType: string }[] {
    const out = [];
    for (const d of [...this.docs.values()].sort((a, b) => compareCodeUnits(a.name, b.name))) {
      out.push({
        uri: `skill://${d.name}/SKILL.md`,
        name: `${d.name}/SKILL.md`,
        description: d.description,
        mimeType: "text/markdown",
      });
      out.push({
        uri: `skill://${d.name}/_manifest`,
        name: `${d.name}/_manifest`,
        description: d.description,
        mimeType: "application/json",
      });
    }
    return out;
  }

  /** `resources/templates/list` entries (one per document). */
  listTemplates(): { uriTemplate: string; name: string; description: string }[] {
    return [...this.docs.values()].sort((a, b) => compareCodeUnits(a.name, b.name)).map((d) => ({
      uriTemplate: `skill://${d.name}/{path*}`,
      name: `${d.name}/files`,
      description: `Supporting files of ${d.name}`,
    }));
  }

  /** The manifest object of a document. */
  manifest(
    name: string,
  ): { skill: string; files: { path: string; size: number; hash: string }[] } | null {
    const d = this.docs.get(name);
    if (!d) return null;
    return {
      skill: name,
      files: [...d.files.entries()].sort(([a], [b]) => compareCodeUnits(a, b)).map((
        [path, bytes],
      ) => ({
        path,
        size: bytes.length,
        hash: "sha256:" + sha256(bytes).toHex(),
      })),
    };
  }

  /** Reads a `skill://` URI, or returns null when it names nothing (SK-5 confinement). */
  read(uri: string): SkillResource | null {
    const m = /^skill:\/\/([^/]+)\/(.+)$/.exec(uri);
    if (!m) return null;
    const name = m[1]!;
    let path: string;
    try {
      path = decodeURIComponent(m[2]!);
    } catch {
      return null;
    }
    const d = this.docs.get(name);
    if (!d) return null;
    if (path === "_manifest") {
      return {
        uri,
        mimeType: "application/json",
        text: JSON.stringify(this.manifest(name), null, 2),
      };
    }
    const safe = normalizeRelPath(path);
    if (!safe) return null;
    const bytes = d.files.get(safe);
    if (!bytes) return null;
    const mimeType = mimeFor(safe);
    if (mimeType.startsWith("text/") || mimeType === "application/json") {
      return { uri, mimeType, text: decoder.decode(bytes) };
    }
    return { uri, mimeType, blob: bytes.toBase64() };
  }

  /** Text of a document file for `ssh_skill_read` (SK-7). */
  readText(name: string, path: string): { path: string; mime_type: string; text: string } {
    const d = this.docs.get(name);
    if (!d) throw new ToolError("ValueError", `No skill or runbook named ${JSON.stringify(name)}.`);
    const safe = normalizeRelPath(path);
    const bytes = safe ? d.files.get(safe) : undefined;
    if (!safe || !bytes) {
      throw new ToolError(
        "ValueError",
        `${name} has no file ${JSON.stringify(path)}; files: ${[...d.files.keys()].join(", ")}.`,
      );
    }
    const mime = mimeFor(safe);
    if (!mime.startsWith("text/") && mime !== "application/json") {
      throw new ToolError(
        "ValueError",
        `${name}/${safe} is a binary file; read it as the resource skill://${name}/${safe}.`,
      );
    }
    return { path: safe, mime_type: mime, text: decoder.decode(bytes) };
  }
}

/** Normalises a relative resource path; null when it escapes or is malformed (SK-5). */
export function normalizeRelPath(path: string): string | null {
  if (!path || path.includes("\0") || path.includes("\\") || path.startsWith("/")) return null;
  const parts = path.split("/");
  if (parts.some((p) => p === ".." || p === "")) return null;
  return parts.filter((p) => p !== ".").join("/") || null;
}

async function loadDiskDoc(
  kind: "skill" | "runbook",
  name: string,
  dir: string,
  logger: Logger,
): Promise<SkillDoc | null> {
  let root: string;
  try {
    root = await Deno.realPath(dir);
  } catch {
    return null;
  }
  const files = new Map<string, Uint8Array>();
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      let real: string;
      try {
        real = await Deno.realPath(p);
      } catch {
        continue;
      }
      if (real !== root && !real.startsWith(root + sep)) {
        logger.warn("skill file points outside its directory; not served", { skill: name });
        continue;
      }
      const st = await Deno.stat(real);
      if (st.isDirectory) await walk(p);
      else if (st.isFile && st.size <= MAX_SKILL_FILE_BYTES) {
        files.set(relative(resolve(dir), p).split(sep).join("/"), await Deno.readFile(real));
      }
    }
  };
  await walk(dir);
  const main = files.get("SKILL.md");
  if (!main) return null;
  const text = decoder.decode(main);
  return {
    kind,
    name,
    description: describe(text),
    files,
    origin: dir,
    tools: kind === "runbook" ? runbookTools(text) : new Set(),
  };
}
