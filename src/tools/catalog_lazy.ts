/**
 * The catalog the server serves: every tool as {@link ToolMeta} (generated
 * metadata, `catalog_gen.ts`), its group module imported on the first call
 * of one of the group's tools. Listing, visibility, search and `ssh_plan`
 * never evaluate a tool module; a hidden tool's module is never loaded.
 * `catalog.ts` stays the eager list (generators and tests).
 *
 * A group module is imported by a computed URL (util/lazy_import.ts): a
 * string-literal `import()` would make Deno load all of them with the
 * server's graph at start-up anyway. `deno compile` packs them through
 * `LAZY_MODULES`.
 *
 * @module
 */

import type { Group, Tool, ToolMeta } from "./define.ts";
import { TOOL_METADATA } from "./catalog_gen.ts";
import { importLazy } from "../util/lazy_import.ts";

type GroupModule = { TOOLS: readonly Tool[] };
const group = (rel: string) => () => importLazy<GroupModule>(new URL(rel, import.meta.url));

/** Each group's module (its `TOOLS` in catalog order); `keys` has no tools yet. */
const GROUP_MODULES: Readonly<Partial<Record<Group, () => Promise<GroupModule>>>> = {
  host: group("./host/mod.ts"),
  session: group("./session/mod.ts"),
  "sftp-read": group("./sftp-read/mod.ts"),
  "file-ops": group("./file-ops/mod.ts"),
  exec: group("./exec/mod.ts"),
  sudo: group("./sudo/mod.ts"),
  shell: group("./shell/mod.ts"),
  docker: group("./docker/mod.ts"),
  systemctl: group("./systemctl/mod.ts"),
  pkg: group("./pkg/mod.ts"),
  bridge: group("./bridge/mod.ts"),
};

const loaded = new Map<Group, Promise<ReadonlyMap<string, Tool>>>();

function groupTools(name: Group): Promise<ReadonlyMap<string, Tool>> {
  let p = loaded.get(name);
  if (!p) {
    const load = GROUP_MODULES[name];
    if (!load) return Promise.reject(new Error(`internal error: no module for tool group ${name}`));
    p = load().then((m) => new Map(m.TOOLS.map((t) => [t.name, t])));
    // a failed import is retried by the next call, not cached
    p.catch(() => loaded.delete(name));
    loaded.set(name, p);
  }
  return p;
}

/** The declaration of `name` in `group` (its module loaded once). */
async function loadTool(group: Group, name: string): Promise<Tool> {
  const tool = (await groupTools(group)).get(name);
  if (!tool) {
    // catalog_gen.ts is older than the group module: `deno task gen` (a structure test says so too)
    throw new Error(`internal error: ${name} is not in the ${group} group module`);
  }
  return tool;
}

/** Every catalog tool, in catalog order, with lazy declarations. */
export const LAZY_CATALOG: readonly ToolMeta[] = TOOL_METADATA.map((m) => ({
  ...m,
  load: () => loadTool(m.group, m.name),
}));
