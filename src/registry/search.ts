/**
 * Tool search mode (CONFIG.md §3.10, SECURITY.md TIER-7; names compatible with
 * python-ssh-mcp): with `SSH_ENABLE_BM25=true`, `tools/list` shows the two
 * synthetic tools `search_tools(query)` and `call_tool(name, arguments)` plus
 * the pinned `SSH_BM25_ALWAYS_VISIBLE` tools that are visible.
 *
 * Ranking is BM25+ by `minisearch` over each VISIBLE tool's name (split on
 * `_`), description, group, tier and the first section of its skill. The
 * index is built from the visible tools only, so a tool hidden by the tier,
 * tag or group flags can never be a result. Terms are lower-cased, function
 * words dropped, reduced to a crude stem and expanded with a small table of
 * domain synonyms (the same on both sides, so "containers" finds `docker`).
 *
 * `call_tool` is not run by a handler here: the registry sends the inner call
 * through its own pipeline with the caller's `extra` (see `pipeline.ts`).
 *
 * @module
 */

import type MiniSearch from "minisearch";
import { z } from "zod";
import type { SkillLibrary } from "../skills/library.ts";
import { parseFrontMatter } from "../skills/library.ts";
import { defineTool, type Tool, type ToolMeta } from "../tools/define.ts";
import type { ListedTool } from "./visibility.ts";

/** Name of the synthetic search tool. */
export const SEARCH_TOOLS = "search_tools";
/** Name of the synthetic call proxy. */
export const CALL_TOOL = "call_tool";

const SearchInput = z.object({
  query: z.string().min(1).max(500).describe("What you want to do, in plain words"),
}).strict();

const SearchOutput = z.object({
  tools: z.array(z.record(z.string(), z.unknown())).describe(
    "Best matches first, each as listed by tools/list",
  ),
}).strict();

/** `call_tool` input: the tool name and its arguments (python-ssh-mcp names). */
export const CallInput = z.object({
  name: z.string().min(1).max(100).describe("Tool name from search_tools"),
  arguments: z.record(z.string(), z.unknown()).nullish().describe("The tool's arguments"),
}).strict();

/** Passthrough output of `call_tool` (only used for the audit record's declaration). */
const CallOutput = z.object({}).catchall(z.unknown());

const SEARCH_DESCRIPTION =
  'Find ssh-mcp tools for a task (e.g. "restart nginx", "disk usage"); returns the best matches with full schemas. Call them with call_tool or directly.';
const CALL_DESCRIPTION =
  "Call a tool found by search_tools: name plus its arguments. Same checks and result as a direct call.";

/** `search_tools` answering from `index` (built on first use by the registry). */
export function searchToolsFor(index: () => Promise<ToolSearch>): Tool {
  return {
    ...defineTool({
      name: SEARCH_TOOLS,
      group: "host",
      tier: "read",
      description: SEARCH_DESCRIPTION,
      input: SearchInput,
      output: SearchOutput,
      handler: async (args) => ({
        tools: (await index()).search(args.query) as unknown as Record<string, unknown>[],
      }),
    }),
    skillSlug: "ssh-search-tools",
  };
}

/** The declaration of `search_tools` (unbound: the registry binds it to its index). */
export const SEARCH_TOOLS_DECL: Tool = searchToolsFor(() => {
  throw new Error("search_tools is bound by the registry");
});

/** The declaration of `call_tool` (its calls never reach a handler). */
export const CALL_TOOL_DECL: Tool = {
  ...defineTool({
    name: CALL_TOOL,
    group: "host",
    tier: "read",
    description: CALL_DESCRIPTION,
    input: CallInput,
    output: CallOutput,
    handler: () => Promise.reject(new Error("call_tool is dispatched by the registry")),
  }),
  skillSlug: "ssh-call-tool",
};

/** The synthetic tools of search mode (skills, docs). */
export const META_TOOLS: readonly Tool[] = [SEARCH_TOOLS_DECL, CALL_TOOL_DECL];

// ---------------------------------------------------------------------------
// text processing

/** Function words and filler that say nothing about which tool is meant. */
const STOP_WORDS: ReadonlySet<string> = new Set(
  ("a an the and or of on in at to for from by with without into onto over under is are was " +
    "be been it its this that these those there here i me my we our you your what which who " +
    "whom how when where why do does did can could would should will shall may might must " +
    "please want need some any every each all just now right yet still also again as than " +
    "then so if not no").split(" "),
);

/**
 * Domain synonyms: each group of words is one concept, written as its first
 * word. Applied to the index and to queries alike, so "containers" meets
 * `docker` and "bounce" meets `restart`. A word belongs to one group only.
 */
const SYNONYM_GROUPS: readonly string[][] = [
  ["docker", "container", "podman"],
  ["compose", "stack"],
  ["service", "unit", "systemd", "daemon"],
  ["apt", "package", "pkg", "deb", "dpkg"],
  ["journal", "journalctl", "log", "logs"],
  ["upload", "put", "send", "push"],
  ["download", "fetch"],
  ["delete", "remove", "rm", "erase"],
  ["directory", "folder", "dir"],
  ["copy", "cp"],
  ["move", "rename", "mv"],
  ["command", "exec", "execute"],
  ["script", "sh", "bash"],
  ["sudo", "root", "doas", "elevated", "superuser"],
  ["async", "background", "task", "job"],
  ["fleet", "many", "broadcast"],
  ["host", "server", "machine", "box", "node"],
  ["cpu", "processes", "process"],
  ["disk", "filesystem", "df"],
  ["hash", "checksum", "digest", "sha256", "md5"],
  ["secret", "credential", "password", "redact", "redacted"],
  ["list", "ls", "enumerate"],
  ["find", "search", "locate"],
  ["edit", "replace", "modify"],
  ["diff", "patch"],
  ["restart", "bounce"],
  ["boot", "startup"],
  ["upgrade", "upgradable", "updates"],
  ["install", "add"],
  ["hold", "pin", "freeze"],
  ["cancel", "abort", "kill"],
  ["reachable", "ping", "reachability", "alive"],
  ["network", "interface", "ip", "address", "nic"],
  ["note", "remember", "memo"],
  ["user", "account", "uid"],
  ["memory", "ram", "mem"],
  ["status", "state", "health", "healthy", "unhealthy"],
  ["active", "running"],
  ["failed", "failing", "broken", "crashed"],
  ["prune", "cleanup", "clean", "reclaim", "unused"],
  ["complete", "completed", "finished", "done"],
  ["owner", "own", "owns", "ownership"],
  ["mtime", "modified", "timestamp"],
  ["os", "operating", "distribution", "distro"],
];

/** Well-known daemons: a query naming one is about a service. */
const DAEMONS: readonly string[] = [
  "nginx",
  "apache",
  "apache2",
  "httpd",
  "sshd",
  "cron",
  "crond",
  "postgresql",
  "mysql",
  "mariadb",
  "haproxy",
  "containerd",
  "chrony",
  "ntp",
  "rsyslog",
  "timer",
];

/** A crude English stemmer: strips common inflections so "containers" meets "container". */
export function stem(word: string): string {
  let w = word;
  if (w.length > 4 && w.endsWith("ies")) w = w.slice(0, -3) + "y";
  else if (w.length > 4 && /(?:ss|x|ch|sh)es$/.test(w)) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss") && !w.endsWith("us")) {
    w = w.slice(0, -1);
  }
  if (w.length > 5 && w.endsWith("ing")) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith("ed")) w = w.slice(0, -2);
  if (w.length > 3 && /([b-df-hj-np-tv-z])\1$/.test(w) && !w.endsWith("ss")) w = w.slice(0, -1);
  return w;
}

/** stem -> the stem of its group's first word */
const CANONICAL: ReadonlyMap<string, string> = (() => {
  const m = new Map<string, string>();
  for (const group of SYNONYM_GROUPS) {
    const head = stem(group[0]!);
    for (const w of group) {
      m.set(w, head);
      if (!m.has(stem(w))) m.set(stem(w), head);
    }
  }
  for (const d of DAEMONS) m.set(stem(d), "service");
  return m;
})();

/** minisearch's `processTerm`: stop words out, stem, expand synonyms. */
export function processTerm(term: string): string[] | null {
  const t = term.toLowerCase();
  if (!t || STOP_WORDS.has(t)) return null;
  const s = stem(t);
  return [CANONICAL.get(t) ?? CANONICAL.get(s) ?? s];
}

/** Splits on anything that is not a letter or digit (so `ssh_docker_ps` is three words). */
function tokenize(text: string): string[] {
  return text.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/**
 * The first section of a skill: the text between the H1 (and its metadata
 * line) and the first `##` heading.
 */
export function firstSection(markdown: string): string {
  const fm = parseFrontMatter(markdown);
  const body = fm ? fm.body : markdown;
  const lines: string[] = [];
  for (const line of body.split(/\r?\n/)) {
    if (line.startsWith("## ")) break;
    if (line.startsWith("# ") || line.startsWith("**Tier:**")) continue;
    lines.push(line);
  }
  const front = fm?.fields.description ?? "";
  return `${front}\n${lines.join("\n")}`.trim();
}

// ---------------------------------------------------------------------------
// the index

interface Doc {
  id: string;
  name: string;
  description: string;
  group: string;
  tier: string;
  skill: string;
}

/** Field weights: the name says most, the skill's prose least. */
const BOOST = { name: 2, description: 1.5, group: 0.5, tier: 0.3, skill: 0.5 } as const;

/**
 * Ranks the visible tools of one configuration. Built with
 * {@link ToolSearch.create}: `minisearch` is imported on the first search, not
 * at start-up (it is used only with `SSH_ENABLE_BM25`; issue 17).
 */
export class ToolSearch {
  readonly #index: MiniSearch<Doc>;
  readonly #listed: ReadonlyMap<string, ListedTool>;
  readonly #max: number;

  /**
   * @param tools the visible tools (the only ones that can be found)
   * @param listed their `tools/list` entries (returned as results)
   * @param skills the served skills (hidden tools' skills are not served)
   * @param maxResults `SSH_BM25_MAX_RESULTS`
   */
  static async create(
    tools: readonly (Tool | ToolMeta)[],
    listed: readonly ListedTool[],
    skills: SkillLibrary | null,
    maxResults: number,
  ): Promise<ToolSearch> {
    const { default: lib } = await import("minisearch");
    await skills?.ready(); // the index holds the first section of each tool's skill
    return new ToolSearch(lib, tools, listed, skills, maxResults);
  }

  private constructor(
    lib: typeof MiniSearch,
    tools: readonly (Tool | ToolMeta)[],
    listed: readonly ListedTool[],
    skills: SkillLibrary | null,
    maxResults: number,
  ) {
    this.#max = maxResults;
    this.#listed = new Map(listed.map((l) => [l.name, l]));
    this.#index = new lib<Doc>({
      fields: ["name", "description", "group", "tier", "skill"],
      tokenize,
      processTerm,
      searchOptions: {
        boost: { ...BOOST },
        prefix: false,
        fuzzy: (term) => (term.length >= 6 ? 0.15 : false),
        combineWith: "OR",
      },
    });
    const decoder = new TextDecoder();
    this.#index.addAll(
      tools.filter((t) => this.#listed.has(t.name)).map((t) => {
        const bytes = skills?.docs.get(t.skillSlug)?.files.get("SKILL.md");
        return {
          id: t.name,
          name: t.name.replace(/^ssh_/, "").replaceAll("_", " "),
          description: t.description,
          group: t.group.replaceAll("-", " "),
          tier: t.tier.replaceAll("-", " "),
          skill: bytes ? firstSection(decoder.decode(bytes)) : "",
        };
      }),
    );
  }

  /** Names of the best matches, best first (at most `SSH_BM25_MAX_RESULTS`). */
  rank(query: string): string[] {
    return this.#index.search(query).slice(0, this.#max).map((r) => String(r.id));
  }

  /** The `tools/list` entries of the best matches. */
  search(query: string): ListedTool[] {
    return this.rank(query).map((n) => this.#listed.get(n)!);
  }
}

/** `tools/list` entries of the synthetic tools (call_tool has no output schema: it proxies). */
export function metaListing(
  listedSearch: ListedTool,
  listedCall: ListedTool,
  visible: readonly (Tool | ToolMeta)[],
): ListedTool[] {
  const callAnnotations = {
    readOnlyHint: visible.every((t) => t.annotations.readOnlyHint),
    destructiveHint: visible.some((t) => t.annotations.destructiveHint),
    idempotentHint: visible.every((t) => t.annotations.idempotentHint),
    openWorldHint: true,
  };
  const { outputSchema: _drop, ...call } = listedCall;
  return [listedSearch, { ...call, annotations: callAnnotations } as ListedTool];
}
