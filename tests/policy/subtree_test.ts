/**
 * Whole-subtree decisions (SECURITY.md PATH-33..PATH-37, PATH-41, PATH-42,
 * PATH-44) of the path policy, with a fake walk: zones and protected paths
 * below a root are found lexically without any walk, globs and redact globs
 * on the walked names, relative links at their new place; a walk over the cap
 * or with unreadable directories refuses; `x/..` link texts are refused.
 * PATH-44 is also held statically: every tool whose handler runs a
 * whole-tree operation declares `subtree` on its path fields.
 */

import assert from "node:assert/strict";
import { envHostPolicy } from "../../src/config/hosts.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import type { HostPolicy, Settings } from "../../src/config/types.ts";
import { isToolError } from "../../src/errors.ts";
import { Logger } from "../../src/log.ts";
import {
  createPathChecker,
  hiddenWarning,
  linkTextProblem,
  type PathIo,
  type SubtreeEntry,
  type SubtreeNeeds,
} from "../../src/policy/paths.ts";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";

const quiet = new Logger({ level: "CRITICAL", sink: () => {} });

function settings(over: Partial<Settings> = {}): Settings {
  return { ...defaultSettings(), SSH_BUILTIN_PROTECTED_PATHS: false, ...over };
}

function policy(over: Partial<HostPolicy> = {}): HostPolicy {
  return { ...envHostPolicy("web01", defaultSettings()), path_allowlist: ["/srv"], ...over };
}

const NO_IO = {
  exec: () => Promise.reject(new Error("no I/O expected")),
  sftp: () => Promise.reject(new Error("no I/O expected")),
} as unknown as PathIo;

/** A lister over fixed entries that records what it was asked for. */
function lister(
  entries: SubtreeEntry[],
  extra: { complete?: boolean; unreadable?: string[] } = {},
) {
  const asked: SubtreeNeeds[] = [];
  return {
    asked,
    list(needs: SubtreeNeeds) {
      asked.push(needs);
      const es = needs === "links" ? entries.filter((e) => e.kind === "symlink") : entries;
      return Promise.resolve({
        entries: es,
        complete: extra.complete ?? true,
        unreadable: extra.unreadable ?? [],
        cap: 5,
      });
    },
  };
}

const E = (
  rel: string,
  kind: SubtreeEntry["kind"] = "file",
  link: string | null = null,
): SubtreeEntry => ({
  rel,
  kind,
  link,
});

async function outcome(
  p: Promise<unknown>,
): Promise<{ code: string; rule?: unknown; message: string }> {
  try {
    await p;
    return { code: "ok", message: "" };
  } catch (e) {
    if (!isToolError(e)) throw e;
    return { code: e.code, rule: e.attributes.rule, message: e.message };
  }
}

Deno.test("PATH-33: a restricted zone (or protected path) below the root refuses without any walk", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const p = policy({ restricted_paths: ["/srv/app/secret"] });
  for (const root of ["/srv/app", "/srv", "/srv/app/"]) {
    const l = lister([]);
    const r = await outcome(c.checkSubtree({
      tool: "ssh_mv",
      policy: p,
      root: root.replace(/\/$/, ""),
      redactGate: true,
      lands: false,
      list: l.list,
      io: NO_IO,
    }));
    assert.equal(r.code, "PathRestricted", root);
    assert.equal(r.rule, "/srv/app/secret");
    assert.match(r.message, /whole subtree.*restricted zone \/srv\/app\/secret/);
    assert.deepEqual(l.asked, [], "decided lexically");
  }
  // a sibling that only shares a prefix is not below
  const l = lister([]);
  assert.equal(
    (await outcome(c.checkSubtree({
      tool: "ssh_mv",
      policy: policy({ restricted_paths: ["/srv/app2/secret"] }),
      root: "/srv/app",
      redactGate: true,
      lands: false,
      list: l.list,
      io: NO_IO,
    }))).code,
    "ok",
  );
  assert.deepEqual(l.asked, [], "no globs, not landing: no walk at all");
});

Deno.test("PATH-34/PATH-35: globs and redact globs on the walked names; block, warn and audit_only", async () => {
  const entries = [E(""), E("a", "dir"), E("a/tls.key"), E("b", "dir"), E("b/.env")];
  const run = (over: Partial<HostPolicy>, redactGate = true) => {
    const c = createPathChecker({ settings: settings(), logger: quiet });
    return c.checkSubtree({
      tool: "ssh_cp",
      policy: policy(over),
      root: "/srv/t",
      redactGate,
      lands: false,
      list: lister(entries).list,
      io: NO_IO,
    });
  };
  const g = await outcome(run({ restricted_globs: ["**/*.key"] }));
  assert.deepEqual([g.code, g.rule], ["PathRestricted", "**/*.key"]);
  assert.match(g.message, /\/srv\/t\/a\/tls\.key/);
  const b = await outcome(run({ redact_paths_globs: ["**/.env"], redact_bypass_policy: "block" }));
  assert.deepEqual([b.code, b.rule], ["RedactBypassBlocked", "**/.env"]);
  const w = await run({ redact_paths_globs: ["**/.env"], redact_bypass_policy: "warn" });
  assert.equal(w.redactBypass, true);
  assert.match(w.warnings[0]!, /redact-listed path \/srv\/t\/b\/\.env/);
  const a = await run({ redact_paths_globs: ["**/.env"], redact_bypass_policy: "audit_only" });
  assert.deepEqual([a.redactBypass, a.warnings], [true, []]);
  // the redacted readers' gate is off: redact globs are not consulted
  const off = await run({ redact_paths_globs: ["**/.env"], redact_bypass_policy: "block" }, false);
  assert.equal(off.redactBypass, false);
});

Deno.test("PATH-34: over the cap or an unreadable directory refuses, naming the cap setting", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const p = policy({ restricted_globs: ["**/*.key"] });
  const over = await outcome(c.checkSubtree({
    tool: "ssh_mv",
    policy: p,
    root: "/srv/t",
    redactGate: true,
    lands: false,
    list: lister([E("")], { complete: false }).list,
    io: NO_IO,
  }));
  assert.equal(over.code, "PathNotAllowed");
  assert.match(over.message, /more than 5 entries \(SSH_DELETE_FOLDER_MAX_ENTRIES\)/);
  const ur = await outcome(c.checkSubtree({
    tool: "ssh_mv",
    policy: p,
    root: "/srv/t",
    redactGate: true,
    lands: false,
    list: lister([E("")], { unreadable: ["/srv/t/private"] }).list,
    io: NO_IO,
  }));
  assert.equal(ur.code, "PathNotAllowed");
  assert.match(ur.message, /\/srv\/t\/private inside it cannot be read/);
});

Deno.test("PATH-36/PATH-42: a landing tree is checked at its new place, relative links included (links-only walk)", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const entries = [
    E(""),
    E("sub", "dir"),
    E("sub/l", "symlink", "../../x"),
    E("abs", "symlink", "/etc"),
  ];
  const land = (root: string, over: Partial<HostPolicy> = {}) => {
    const l = lister(entries);
    return {
      l,
      p: c.checkSubtree({
        tool: "ssh_mv",
        policy: policy(over),
        root,
        redactGate: true,
        lands: true,
        list: l.list,
        io: NO_IO,
      }),
    };
  };
  // at /srv/a/b the link points to /srv/a/x: fine; absolute links are not re-checked
  const ok = land("/srv/a/b");
  await ok.p;
  assert.deepEqual(ok.l.asked, ["links"]);
  // at /srv it points to /x: outside
  const out = await outcome(land("/srv").p);
  assert.equal(out.code, "PathNotAllowed");
  assert.match(
    out.message,
    /relative symbolic link \/srv\/sub\/l \(-> \.\.\/\.\.\/x\).*points to \/x:/,
  );
  // a restricted target at the new place
  const r = await outcome(land("/srv/a/b", { restricted_paths: ["/srv/a/x"] }).p);
  assert.equal(r.code, "PathRestricted");
  // names are checked where they land
  const g = await outcome(land("/srv/prod", { restricted_globs: ["**/prod/sub"] }).p);
  assert.deepEqual([g.code, g.rule], ["PathRestricted", "**/prod/sub"]);
});

Deno.test("PATH-41: link texts with '..' after a name are refused; leading '..' is fine", () => {
  assert.equal(linkTextProblem("s/../../../home/u/outside"), "s/..");
  assert.equal(linkTextProblem("a/b/../c"), "b/..");
  assert.equal(linkTextProblem("/srv/s/../x"), "s/..");
  assert.equal(linkTextProblem("./a/./../b"), "a/..");
  for (const ok of ["../x", "../../lib/y", "x", "./x", "/srv/x", "..", "../"]) {
    assert.equal(linkTextProblem(ok), null, ok);
  }
});

Deno.test("PATH-37: the listing filter hides zones, protected paths and glob matches; the warning counts them", async () => {
  const c = createPathChecker({ settings: settings(), logger: quiet });
  const hide = await c.listingFilter(
    policy({ restricted_paths: ["/srv/secret"], restricted_globs: ["**/*.key"] }),
    NO_IO,
  );
  assert.deepEqual(
    ["/srv/secret", "/srv/secret/a", "/srv/a.key", "/srv/x/a.key", "/srv/ok", "/srv/secret2"].map(
      hide,
    ),
    [true, true, true, true, false, false],
  );
  assert.equal(
    hiddenWarning(2),
    "2 entries hidden: inside restricted zones (restricted_paths, restricted_globs or the built-in protected paths)",
  );
  assert.match(hiddenWarning(1), /^1 entry hidden/);
});

Deno.test("PATH-44: every tool that runs a whole-tree operation declares subtree on its path fields", async () => {
  const TREE_OPS = /\.(move|stageCopy|removeTree)\(|\bremoveTree\(/;
  const dirs = ["src/tools/file-ops", "src/tools/sftp-read", "src/tools/sudo", "src/tools/exec"];
  const usesTreeOps = new Set<string>();
  for (const d of dirs) {
    for await (const e of Deno.readDir(d)) {
      if (!e.name.startsWith("ssh_") || !e.name.endsWith(".ts")) continue;
      const text = await Deno.readTextFile(`${d}/${e.name}`);
      if (TREE_OPS.test(text)) usesTreeOps.add(e.name.replace(/\.ts$/, ""));
    }
  }
  assert.ok(
    usesTreeOps.has("ssh_mv") && usesTreeOps.has("ssh_cp") && usesTreeOps.has("ssh_delete_folder"),
  );
  for (const name of usesTreeOps) {
    const tool = ALL_TOOLS.find((t) => t.name === name);
    assert.ok(tool, name);
    assert.ok(
      (tool.paths ?? []).some((d) => d.subtree),
      `${name} runs a whole-tree operation but declares no subtree path`,
    );
  }
  // declared as intended
  const decl = (n: string) =>
    ALL_TOOLS.find((t) => t.name === n)!.paths!.map((d) => d.subtree ?? null);
  assert.deepEqual(decl("ssh_mv"), [true, { receives: "src" }]);
  assert.deepEqual(decl("ssh_cp"), [true, { receives: "src" }]);
  assert.deepEqual(decl("ssh_transfer"), [true, { receives: "src_path" }]);
  assert.deepEqual(decl("ssh_delete_folder"), [true]);
});
