/**
 * Guards the "one door" at the type level: a tool handler can reach a host
 * only through values the registry checked (`CheckedPath`, `EntryPath` for
 * metadata reads, `ShellCommand` / `CheckedCommand`, `AdmittedHost`), and its
 * `ToolContext` has no connection, pool, raw SFTP or service bag.
 *
 * The guard is `deno task check`: every `// @ts-expect-error <why>` line below
 * marks an expression that MUST NOT compile. If a refactor opens the door
 * (the expression starts to compile), the directive becomes unused and the
 * type check fails with "Unused '@ts-expect-error' directive". The lines
 * without a directive show what a handler is meant to write, so they must
 * keep compiling.
 *
 * The tools are built with `defineTool` but never registered and their
 * handlers never run; the `Deno.test` only makes this a real test module.
 *
 * @module
 */

import assert from "node:assert/strict";
import { z } from "zod";
import { type AdmittedHost, type CheckedPath, type EntryPath, raw, sh } from "../../src/checked.ts";
import type { HostPolicy } from "../../src/config/types.ts";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";
import { defineTool, HostArg, type Tool } from "../../src/tools/define.ts";

const Done = z.strictObject({ ok: z.boolean() });

/** Files: only `CheckedPath` opens them; `EntryPath` only for metadata reads. */
const filesThroughCheckedPaths: Tool = defineTool({
  name: "ssh_types_files",
  group: "file-ops",
  tier: "read",
  description: "type-level test of the remote file system door (never registered)",
  input: z.strictObject({ host: HostArg, path: z.string(), other: z.string() }),
  output: Done,
  paths: [{ field: "path", mustExist: true }],
  async handler({ path, other }, ctx) {
    const fs = await ctx.fs();

    // the declared `paths` field arrives as a CheckedPath: everything accepts it
    await fs.stat(path);
    await fs.lstat(path);
    await fs.mkdir(path, 0o755);
    await fs.rmdir(path);
    await fs.unlink(path);

    // plain strings: a literal, and an input field that is not declared in `paths`
    // @ts-expect-error a string literal is not a CheckedPath
    await (await ctx.fs()).stat("/etc/passwd");
    // @ts-expect-error an undeclared input field stays a plain string
    await fs.unlink(other);
    // @ts-expect-error an undeclared input field stays a plain string
    await fs.mkdir(other, 0o755);
    // @ts-expect-error an undeclared input field stays a plain string
    await fs.readFile(other, 1024);
    // @ts-expect-error an undeclared input field is not a CheckedPath
    const _notChecked: CheckedPath = other;

    // entries found by listing: metadata reads only
    for (const entry of await fs.readdir(path)) {
      await fs.lstat(entry.path);
      await fs.readdir(entry.path);
      await fs.readlink(entry.path);
      // @ts-expect-error an EntryPath cannot be removed without a path check
      await fs.unlink(entry.path);
      // @ts-expect-error an EntryPath cannot be removed without a path check
      await fs.rmdir(entry.path);
      // @ts-expect-error an EntryPath cannot be created in without a path check
      await fs.mkdir(entry.path, 0o755);
      // @ts-expect-error stat follows symbolic links, so it needs a CheckedPath
      await fs.stat(entry.path);
      // the door for an entry: the path policy, lexically
      const checked = await ctx.checkPath(ctx.host, entry.path, { mustExist: true, lexical: true });
      await fs.unlink(checked);
    }
    // @ts-expect-error a string is not an EntryPath either
    const _notEntry: EntryPath = other;
    return { ok: true };
  },
});

/** The context is narrow: no app, no pool, no connection, no raw SFTP channel. */
const narrowContext: Tool = defineTool({
  name: "ssh_types_context",
  group: "host",
  tier: "read",
  description: "type-level test of the narrow ToolContext (never registered)",
  input: z.strictObject({ host: HostArg }),
  output: Done,
  async handler(_args, ctx) {
    // @ts-expect-error the handler gets no App
    void ctx.app;
    // @ts-expect-error the handler gets no connection pool
    void ctx.pool;
    // @ts-expect-error the handler opens no connection itself
    await ctx.connection();
    // @ts-expect-error the handler gets no raw SFTP channel
    await ctx.sftp();
    // what it does get: facts about the connection the registry opened
    await ctx.connect();

    // @ts-expect-error settings are read-only
    ctx.settings.ALLOW_SUDO = true;
    // @ts-expect-error settings lists are read-only too
    ctx.settings.SSH_PATH_ALLOWLIST.push("/");
    return { ok: true };
  },
});

/** Commands: only `sh` templates and policy-admitted commands run. */
const commandsThroughSh: Tool = defineTool({
  name: "ssh_types_commands",
  group: "exec",
  tier: "dangerous",
  description: "type-level test of the command door (never registered)",
  input: z.strictObject({ host: HostArg, command: z.string(), other: z.string() }),
  output: Done,
  command: { field: "command", kind: "command", cheatsheet: true },
  async handler({ command, other }, ctx) {
    // the declared command field arrives as a CheckedCommand
    await ctx.exec(command);
    // every interpolated value is quoted by sh``
    await ctx.exec(sh`ls -l -- ${other}`);
    // constant syntax through raw() with a literal
    await ctx.exec(sh`ls -- ${other} ${raw("2>/dev/null")}`);

    // @ts-expect-error a plain string is not a RemoteCommand
    await ctx.exec("id");
    // @ts-expect-error an untagged template is a plain string
    await ctx.exec(`ls ${other}`);
    // @ts-expect-error an undeclared input field is not a CheckedCommand
    await ctx.exec(other);
    // @ts-expect-error raw() refuses text computed at run time
    await ctx.exec(sh`ls ${raw(other)}`);
    // @ts-expect-error raw() refuses text computed at run time
    await ctx.exec(sh`ls ${raw(other + " 2>&1")}`);
    // @ts-expect-error raw() refuses a template with interpolations
    await ctx.exec(sh`ls ${raw(`2>${other}`)}`);
    return { ok: true };
  },
});

/** Hosts: only an AdmittedHost from the registry opens a door, never a bare policy. */
const hostsThroughAdmission: Tool = defineTool({
  name: "ssh_types_hosts",
  group: "exec",
  tier: "dangerous",
  description: "type-level test of the host door (never registered)",
  input: z.strictObject({ host: HostArg, other: z.string() }),
  output: Done,
  async handler({ other }, ctx) {
    const policy: HostPolicy = ctx.host.policy;
    const listed = ctx.inventory.list()[0]!;

    // the registry's admitted host opens every door
    await ctx.execOn(ctx.host, sh`id`);
    await ctx.fs(ctx.host);
    await ctx.checkPath(ctx.host, other, { mustExist: true });

    // @ts-expect-error a bare HostPolicy is not an admitted host
    await ctx.execOn(policy, sh`id`);
    // @ts-expect-error a policy from the inventory is not an admitted host
    await ctx.execOn(listed, sh`id`);
    // @ts-expect-error a bare HostPolicy is not an admitted host
    await ctx.fs(policy);
    // @ts-expect-error a policy from the inventory is not an admitted host
    await ctx.fs(listed);
    // @ts-expect-error a bare HostPolicy is not an admitted host
    await ctx.checkPath(policy, other, { mustExist: true });
    // @ts-expect-error a policy from the inventory is not an admitted host
    await ctx.freshFs(listed);

    // a look-alike object is not accepted either (the brand is a unique symbol)
    const fake = { requested: "x", policy };
    // @ts-expect-error an object literal lacks the AdmittedHost brand
    await ctx.execOn(fake, sh`id`);
    // @ts-expect-error an object literal lacks the AdmittedHost brand
    const _forged: AdmittedHost<HostPolicy> = { requested: "x", policy };
    // fan-out tools admit further targets through the registry instead
    return { ok: true };
  },
});

const TYPE_TOOLS: readonly Tool[] = [
  filesThroughCheckedPaths,
  narrowContext,
  commandsThroughSh,
  hostsThroughAdmission,
];

Deno.test("one-door type fixtures are built and never registered", () => {
  assert.deepEqual(TYPE_TOOLS.map((t) => t.name), [
    "ssh_types_files",
    "ssh_types_context",
    "ssh_types_commands",
    "ssh_types_hosts",
  ]);
  for (const t of TYPE_TOOLS) {
    assert.equal(typeof t.handler, "function");
    assert.ok(!ALL_TOOLS.some((r) => r.name === t.name), `${t.name} must not be in the catalog`);
  }
});
