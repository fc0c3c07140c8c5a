/**
 * Keeps the documentation true to the build:
 *
 * - `docs/REFERENCE.md` is exactly what `scripts/gen_docs.ts` renders from the
 *   live catalog now, and names every registered tool (and the search-mode
 *   tools) and no other;
 * - every tool count stated in README.md and docs/ (total, per tier, per group,
 *   "N of M tools visible", "N tools in M groups", the hooks example's
 *   `total_tools`, the runbooks) equals the catalog as the registry counts it;
 *   a number next to "tools" that no rule recognizes fails too, so a new
 *   sentence cannot state an unchecked count;
 * - every relative link (file and `#anchor`) in README.md and docs/ resolves;
 * - every `deno task X` the docs show is a task of deno.json and every
 *   `ssh-mcp X` command is a command of src/cli.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";
import {
  type CatalogCounts,
  catalogCounts,
  GEN_COMMAND,
  REFERENCE_PATH,
  render,
} from "../../scripts/gen_docs.ts";
import { META_TOOLS } from "../../src/registry/search.ts";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";
import { GROUPS, TIERS } from "../../src/tools/define.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The hand-written docs whose statements are checked (the reference is checked by equality). */
function docFiles(): string[] {
  const files = ["README.md"];
  for (const dir of ["docs", "docs/security"]) {
    for (const e of Deno.readDirSync(join(ROOT, dir))) {
      const rel = `${dir}/${e.name}`;
      if (e.isFile && e.name.endsWith(".md") && rel !== REFERENCE_PATH) files.push(rel);
    }
  }
  return files.sort();
}

function read(rel: string): string {
  return Deno.readTextFileSync(join(ROOT, rel));
}

// ---------------------------------------------------------------------------
// generated reference

Deno.test("docs: docs/REFERENCE.md is what scripts/gen_docs.ts renders from the catalog", async () => {
  let onDisk: string;
  try {
    onDisk = read(REFERENCE_PATH);
  } catch (e) {
    throw new Error(`${REFERENCE_PATH} is missing (${e}); run \`${GEN_COMMAND}\``);
  }
  const now = await render();
  if (onDisk !== now) {
    const a = onDisk.split("\n");
    const b = now.split("\n");
    const i = a.findIndex((line, n) => line !== b[n]);
    throw new Error(
      `${REFERENCE_PATH} is stale: run \`${GEN_COMMAND}\` and commit the result. ` +
        `First difference at line ${i + 1}:\n  on disk: ${JSON.stringify(a[i])}\n` +
        `  now:     ${JSON.stringify(b[i])}`,
    );
  }
});

Deno.test("docs: every catalog tool has its section in docs/REFERENCE.md, and no other tool", () => {
  const text = read(REFERENCE_PATH);
  const headed = [...text.matchAll(/^### (\S+)$/gm)].map((m) => m[1]!);
  const expected = [...ALL_TOOLS, ...META_TOOLS].map((t) => t.name);
  const missing = expected.filter((n) => !headed.includes(n));
  const extra = headed.filter((n) => !expected.includes(n));
  assert.deepEqual(
    { missing, extra },
    { missing: [], extra: [] },
    `${REFERENCE_PATH} does not match the catalog; run \`${GEN_COMMAND}\``,
  );
  assert.equal(new Set(headed).size, headed.length, "a tool has two sections");
  for (const t of [...ALL_TOOLS, ...META_TOOLS]) {
    const link = `skills/${t.skillSlug}/SKILL.md`;
    assert.ok(text.includes(`](../${link})`), `${t.name}: no link to ${link}`);
  }
});

// ---------------------------------------------------------------------------
// stated counts

const WORDS = [
  "zero",
  "one",
  "two",
  "three",
  "four",
  "five",
  "six",
  "seven",
  "eight",
  "nine",
  "ten",
  "eleven",
  "twelve",
  "thirteen",
  "fourteen",
  "fifteen",
  "sixteen",
  "seventeen",
  "eighteen",
  "nineteen",
  "twenty",
];
/** A count: not part of a rule id (`CHEAT-12`), a version or a longer word. */
const N = `(?<![\\w.-])(\\d[\\d,]*|${WORDS.join("|")})`;
const TIER = `(${TIERS.join("|")})`;
const GROUP = `(${GROUPS.join("|")})`;
/** "tools" as a word, not `tools/list`, `ssh-mcp tools` options or `tools_list` */
const TOOLS = "tools(?![/\\w-])";

function num(s: string): number {
  const w = WORDS.indexOf(s.toLowerCase());
  return w >= 0 ? w : Number(s.replaceAll(",", ""));
}

/** One stated count found in a doc. */
export interface Claim {
  file: string;
  line: number;
  text: string;
  /** what the number is meant to be */
  what: string;
  stated: number;
  /** the catalog's value (for a lower bound: the stated number must be below it) */
  actual: number;
  relation: "equal" | "below" | "one-of";
  /** for `one-of`: the accepted values */
  accepted?: number[];
}

/** Unrecognized numbers next to "tools". */
export interface Unknown {
  file: string;
  line: number;
  text: string;
}

interface Rule {
  re: RegExp;
  claims(m: RegExpExecArray, c: CatalogCounts): Omit<Claim, "file" | "line" | "text">[];
}

function runbookCount(): number {
  let n = 0;
  for (const e of Deno.readDirSync(join(ROOT, "runbooks"))) if (e.isDirectory) n++;
  return n;
}

/**
 * The sentence shapes that state a count. Order matters: a span taken by a
 * rule is not matched again by a later one.
 */
function rules(runbooks: number): Rule[] {
  return [
    {
      // `ssh-mcp tools` output: "45 of 113 tools visible" (default environment)
      re: new RegExp(`\\b${N} of ${N} ${TOOLS} visible\\b`, "gi"),
      claims: (m, c) =>
        [
          { what: "visible tools (default tiers)", stated: num(m[1]!), actual: c.visibleDefault },
          { what: "registered tools", stated: num(m[2]!), actual: c.registered },
        ].map((x) => ({ ...x, relation: "equal" as const })),
    },
    {
      re: new RegExp(`\\b${N} ${TOOLS} in ${N} groups\\b`, "gi"),
      claims: (m, c) =>
        [
          { what: "registered tools", stated: num(m[1]!), actual: c.registered },
          { what: "groups with tools", stated: num(m[2]!), actual: c.groupsWithTools.length },
        ].map((x) => ({ ...x, relation: "equal" as const })),
    },
    {
      // group lists: "`host` (16), `session` (1)"
      re: new RegExp(`\`${GROUP}\` \\(${N}\\)`, "g"),
      claims: (m, c) => [{
        what: `tools in group ${m[1]}`,
        stated: num(m[2]!),
        actual: c.byGroup[m[1]!]!,
        relation: "equal",
      }],
    },
    {
      // "the docker group (27 tools)", "The `systemctl` group (18 tools)"
      re: new RegExp(`\`?${GROUP}\`? group \\(${N} ${TOOLS}\\)`, "gi"),
      claims: (m, c) => [{
        what: `tools in group ${m[1]}`,
        stated: num(m[2]!),
        actual: c.byGroup[m[1]!]!,
        relation: "equal",
      }],
    },
    {
      // per tier: "45 read tools", "22 low-access, 38 dangerous and 8 sudo tools",
      // "8 sudo-tier tools" (a tier name wins over the group of the same name)
      re: new RegExp(`\\b${N} ${TIER}(?:-tier)?(?= ${TOOLS}|,| and | or )`, "gi"),
      claims: (m, c) => [{
        what: `${m[2]}-tier tools`,
        stated: num(m[1]!),
        actual: c.byTier[m[2]!.toLowerCase()]!,
        relation: "equal",
      }],
    },
    {
      // "two tools of the `bridge` group"
      re: new RegExp(`\\b${N} ${TOOLS} of the \`?${GROUP}\`? group\\b`, "gi"),
      claims: (m, c) => [{
        what: `tools in group ${m[2]}`,
        stated: num(m[1]!),
        actual: c.byGroup[m[2]!]!,
        relation: "equal",
      }],
    },
    {
      // "45 of them are read tools"
      re: new RegExp(`\\b${N} of them are ${TIER}(?:-tier)? ${TOOLS}`, "gi"),
      claims: (m, c) => [{
        what: `${m[2]}-tier tools`,
        stated: num(m[1]!),
        actual: c.byTier[m[2]!.toLowerCase()]!,
        relation: "equal",
      }],
    },
    {
      // "the 27 docker tools"
      re: new RegExp(`\\b${N} \`?${GROUP}\`? ${TOOLS}`, "gi"),
      claims: (m, c) => [{
        what: `tools in group ${m[2]}`,
        stated: num(m[1]!),
        actual: c.byGroup[m[2]!]!,
        relation: "equal",
      }],
    },
    {
      // tool search mode: "two more tools, `search_tools` and `call_tool`"
      re: new RegExp(`\\b${N} more ${TOOLS}`, "gi"),
      claims: (m, c) => [{
        what: "search-mode tools",
        stated: num(m[1]!),
        actual: c.searchMode,
        relation: "equal",
      }],
    },
    {
      // a lower bound (smoke tests): "more than 40 tools"
      re: new RegExp(`more than ${N} ${TOOLS}`, "gi"),
      claims: (m, c) => [{
        what: "registered tools (lower bound)",
        stated: num(m[1]!),
        actual: c.registered,
        relation: "below",
      }],
    },
    {
      // the whole catalog: "all 113 tools", "(113 tools)"
      re: new RegExp(`\\b${N} ${TOOLS}`, "gi"),
      claims: (m, c) => [{
        what: "registered tools",
        stated: num(m[1]!),
        actual: c.registered,
        relation: "equal",
      }],
    },
    {
      // hooks example: the startup payload's visible count, for some tier configuration
      re: /"total_tools":\s*(\d+)/g,
      claims: (m, c) => [{
        what: "total_tools (visible tools of a tier configuration)",
        stated: num(m[1]!),
        actual: c.visibleDefault,
        relation: "one-of",
        accepted: [...new Set(Object.values(c.visible))],
      }],
    },
    {
      re: new RegExp(`\\b${N} runbooks\\b`, "gi"),
      claims: (
        m,
      ) => [{ what: "runbooks", stated: num(m[1]!), actual: runbooks, relation: "equal" }],
    },
  ];
}

/** Any number close before "tools": must have been taken by a rule. */
const ANY_COUNT = new RegExp(`(?<![\\w.-])(\\d[\\d,]*)(?: [\\w\`-]+){0,4} ${TOOLS}`, "g");
const ANY_WORD_COUNT = new RegExp(
  `\\b(${WORDS.join("|")})(?: (?:more|${TIERS.join("|")}|${GROUPS.join("|")})(?:-tier)?)? ${TOOLS}`,
  "gi",
);

/** The counts a text states, and numbers next to "tools" that no rule recognizes. */
export function statedCounts(
  file: string,
  text: string,
  counts: CatalogCounts,
  runbooks: number,
): { claims: Claim[]; unknown: Unknown[] } {
  // one line per paragraph position: collapse line breaks inside sentences,
  // keeping a map back to line numbers
  const flat = text.replace(/\n[ \t]*(?:>[ \t]*)?/g, " ");
  const lineAt = (i: number) => text.slice(0, i).split("\n").length;
  const taken: [number, number][] = [];
  const isTaken = (a: number, b: number) => taken.some(([x, y]) => a < y && b > x);
  const claims: Claim[] = [];
  for (const rule of rules(runbooks)) {
    rule.re.lastIndex = 0;
    for (let m = rule.re.exec(flat); m; m = rule.re.exec(flat)) {
      const end = m.index + m[0].length;
      if (isTaken(m.index, end)) continue;
      taken.push([m.index, end]);
      for (const c of rule.claims(m, counts)) {
        claims.push({ file, line: lineAt(m.index), text: m[0], ...c });
      }
    }
  }
  const unknown: Unknown[] = [];
  for (const re of [ANY_COUNT, ANY_WORD_COUNT]) {
    re.lastIndex = 0;
    for (let m = re.exec(flat); m; m = re.exec(flat)) {
      const numEnd = m.index + m[1]!.length;
      if (!isTaken(m.index, numEnd)) {
        unknown.push({ file, line: lineAt(m.index), text: m[0] });
      }
    }
  }
  return { claims, unknown };
}

function wrong(c: Claim): boolean {
  if (c.relation === "below") return !(c.stated < c.actual);
  if (c.relation === "one-of") return !c.accepted!.includes(c.stated);
  return c.stated !== c.actual;
}

function describe(c: Claim): string {
  const expected = c.relation === "below"
    ? `less than ${c.actual}`
    : c.relation === "one-of"
    ? `one of ${c.accepted!.join(", ")}`
    : String(c.actual);
  return `${c.file}:${c.line}: "${c.text}" states ${c.stated} ${c.what}; the catalog has ${expected}`;
}

Deno.test("docs: every tool count stated in README.md and docs/ equals the catalog", () => {
  const counts = catalogCounts();
  // the bare "N tools" rule reads as the whole catalog; with every tier flag on that is
  // what the server shows, so the two must agree for the docs' wording to be true
  assert.equal(counts.visibleAll, counts.registered, "every tier on must show every tool");
  const runbooks = runbookCount();
  const all: Claim[] = [];
  const unknown: Unknown[] = [];
  for (const f of docFiles()) {
    const r = statedCounts(f, read(f), counts, runbooks);
    all.push(...r.claims);
    unknown.push(...r.unknown);
  }
  const bad = all.filter(wrong).map(describe);
  assert.deepEqual(bad, [], `stated counts differ from the catalog:\n${bad.join("\n")}`);
  assert.deepEqual(
    unknown.map((u) => `${u.file}:${u.line}: "${u.text}"`),
    [],
    "a number next to 'tools' that no rule of tests/structure/docs_test.ts checks: " +
      "state it in a checked form (e.g. '113 tools', '45 read tools', '`host` (16)') or add a rule",
  );
  // the README states the headline numbers; the checks above must have seen them
  const readme = all.filter((c) => c.file === "README.md").map((c) => c.what);
  const headline = [
    "registered tools",
    "groups with tools",
    ...TIERS.map((tier) => `${tier}-tier tools`),
    ...counts.groupsWithTools.map((g) => `tools in group ${g}`),
  ];
  for (const what of headline) {
    assert.ok(readme.includes(what), `README.md no longer states ${what} in a checked form`);
  }
});

Deno.test("docs: the count checker refuses wrong numbers in every sentence shape", () => {
  const c = catalogCounts();
  const g = c.groupsWithTools[0]!;
  const cases: string[] = [
    `all ${c.registered + 1} tools`,
    `(${c.registered - 1} tools)`,
    `${c.registered} tools in ${c.groupsWithTools.length + 1} groups`,
    `${c.byTier.read! + 1} read tools`,
    `the tier flags add ${
      c.byTier["low-access"]! + 1
    } low-access, ${c.byTier.dangerous} dangerous and ${c.byTier.sudo} sudo tools`,
    `add ${c.byTier["low-access"]} low-access, ${
      c.byTier.dangerous! + 1
    } dangerous and ${c.byTier.sudo} sudo tools`,
    `\`${g}\` (${c.byGroup[g]! + 1})`,
    `the ${g} group (${c.byGroup[g]! + 1} tools)`,
    `the ${c.byGroup[g]! + 1} ${g} tools`,
    `with ${c.byGroup[g]! + 1} tools of the \`${g}\` group`,
    `${c.visibleDefault + 1} of ${c.registered} tools visible`,
    `${c.visibleDefault} of ${c.registered + 1} tools visible`,
    `three more tools`,
    `more than ${c.registered} tools`,
    `${c.byTier.read! - 1} of them are read tools`,
    `"total_tools":${c.registered + 5}`,
    `${c.registered} tools in eleventy groups`.replace("eleventy", "twenty"),
  ];
  for (const text of cases) {
    const r = statedCounts("case", text, c, 14);
    assert.ok(r.claims.length > 0, `no claim recognized in: ${text}`);
    assert.ok(r.claims.some(wrong), `a wrong count passed: ${text}`);
  }
  // and the right numbers pass
  const right = statedCounts(
    "case",
    `This build registers ${c.registered} tools in ${c.groupsWithTools.length} groups: \`${g}\` (${
      c.byGroup[g]
    }). ${c.byTier.read} of them are read tools; the flags add ${
      c.byTier["low-access"]
    } low-access,\n${c.byTier.dangerous} dangerous and ${c.byTier.sudo} sudo tools. ${c.visibleDefault} of ${c.registered} tools visible.`,
    c,
    14,
  );
  assert.deepEqual(right.claims.filter(wrong).map(describe), []);
  assert.deepEqual(right.unknown, []);
  // an unchecked shape is reported, not ignored
  const odd = statedCounts("case", "it ships 7 shiny new tools", c, 14);
  assert.equal(odd.unknown.length, 1);
});

// ---------------------------------------------------------------------------
// links and commands

/** GitHub's anchor of a heading. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** Anchors of a markdown file (headings outside code blocks, duplicates numbered). */
function anchors(text: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fence = false;
  for (const line of text.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    if (fence) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n ? `${base}-${n}` : base);
  }
  return out;
}

/** A fenced code block: indent, fence, info string line, body. */
const FENCE = /^([ \t]*)(```|~~~)[^\n]*\n([\s\S]*?)^\1\2[ \t]*$/gm;

/** Markdown text with fenced blocks blanked (line breaks kept). */
function blankFences(text: string): string {
  return text.replace(FENCE, (s) => s.replace(/[^\n]/g, " "));
}

/** Markdown text with fenced blocks and inline code blanked (links in them are not links). */
function prose(text: string): string {
  return blankFences(text).replace(/`[^`\n]*`/g, (s) => " ".repeat(s.length));
}

Deno.test("docs: every relative link in README.md and docs/ resolves (file and anchor)", () => {
  const problems: string[] = [];
  const files = [...docFiles(), REFERENCE_PATH];
  for (const f of files) {
    const text = read(f);
    for (const m of prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, mailto:, ...
      const [path, anchor] = target.split("#", 2) as [string, string | undefined];
      const file = path === "" ? f : normalize(join(dirname(f), path));
      let targetText: string;
      try {
        const st = Deno.statSync(join(ROOT, file));
        if (st.isDirectory) continue;
        targetText = read(file);
      } catch {
        problems.push(`${f}: link to missing file ${target}`);
        continue;
      }
      if (anchor && file.endsWith(".md") && !anchors(targetText).has(anchor)) {
        problems.push(`${f}: link ${target}: no heading with anchor #${anchor} in ${file}`);
      }
    }
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});

Deno.test('docs: the README\'s "where the rest is" links every document in docs/', () => {
  const readme = prose(read("README.md"));
  const start = readme.indexOf("## Where the rest is");
  assert.ok(start >= 0, "README.md has no '## Where the rest is' section");
  const section = readme.slice(start);
  const docs = [...Deno.readDirSync(join(ROOT, "docs"))]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => `docs/${e.name}`)
    .sort();
  const missing = docs.filter((d) => !section.includes(`](${d})`));
  assert.deepEqual(
    missing,
    [],
    `README.md "Where the rest is" does not link: ${missing.join(", ")}`,
  );
});

Deno.test("docs: every `deno task` and `ssh-mcp` command the docs show exists", () => {
  const tasks = Object.keys(
    (JSON.parse(read("deno.json")) as { tasks: Record<string, string> }).tasks,
  );
  const cli = read("src/cli.ts");
  const commands = new Set([...cli.matchAll(/cmd === "([a-z][a-z-]*)"/g)].map((m) => m[1]!));
  assert.ok(commands.has("doctor") && commands.has("tools"), "src/cli.ts commands not found");
  const problems: string[] = [];
  for (const f of docFiles()) {
    const text = read(f);
    // commands: lines of fenced blocks and inline spans that start with the command
    const fenced = [...text.matchAll(FENCE)].flatMap((m) => m[3]!.split("\n"));
    const inline = [...blankFences(text).matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
    for (const line of [...fenced, ...inline]) {
      const c = line.replace(/^\s*(?:\$|#)?\s*/, "");
      const task = /^deno task ([a-z][\w:-]*)/.exec(c);
      if (task && !tasks.includes(task[1]!)) {
        problems.push(`${f}: \`deno task ${task[1]}\` is not in deno.json`);
      }
      const cmd = /^ssh-mcp ([a-z][a-z-]*)\b/.exec(c);
      if (cmd && !commands.has(cmd[1]!)) {
        problems.push(`${f}: \`ssh-mcp ${cmd[1]}\` is not a command of src/cli.ts`);
      }
    }
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});

Deno.test("docs: the permission flags the README and OPERATIONS.md list are the `start` task's", () => {
  const start = (JSON.parse(read("deno.json")) as { tasks: Record<string, string> }).tasks.start!;
  const flags = [...new Set(start.match(/--allow-[a-z]+/g) ?? [])].sort();
  assert.ok(flags.length > 0, "deno.json start task has no --allow flags");
  const section = (file: string, heading: string) => {
    const text = read(file);
    const i = text.indexOf(heading);
    assert.ok(i >= 0, `${file} has no '${heading}' section`);
    const rest = text.slice(i + heading.length);
    const end = rest.search(/^#{2,3} /m);
    return end < 0 ? rest : rest.slice(0, end);
  };
  for (const file of ["README.md", "docs/OPERATIONS.md"]) {
    const listed = [...new Set(section(file, "### Permissions").match(/--allow-[a-z]+/g) ?? [])]
      .sort();
    assert.deepEqual(listed, flags, `${file}: Permissions lists other flags than the start task`);
  }
});
