/**
 * Issue 9 §7: every write call site that writes a temporary file and renames
 * it into place re-checks the path before the rename (SECURITY.md PATH-30,
 * PATH-43, PATH-50..PATH-52), proven end to end and deterministically.
 *
 * The fake SSH host's hooks (`onExec`, `onSftp` in tests/_support/fake_ssh.ts)
 * see every request of a call before the host carries it out. At one exact
 * point of the call the test swaps the destination's parent directory `d`
 * (inside the allowlist) for a symbolic link to a directory outside it:
 *
 * - `after-check`: right after the path policy's `realpath` of the
 *   destination, before any other I/O of the call;
 * - `before-temp`: when the temporary file (or the staged copy) is about to
 *   be created;
 * - `before-rename`: when the final rename (or the deploy's backup link) is
 *   about to run.
 *
 * Each site runs on a hardened host (directory-pinned operations: GNU
 * coreutils and /proc) and on a host that gets the path-based SFTP fallback
 * (its `mv` is not GNU's), where the PATH-30 re-check before the rename is
 * the only defence. The call must fail with a clear error and nothing may be
 * written (or left) outside the allowlist; the swap must really have happened
 * during the call.
 *
 * Not repeated here: the probabilistic live-swapper measurement of the same
 * sites (tests/e2e/file_race_test.ts "PATH-50..PATH-55"), and sudo writes
 * (ssh_sudo_write / ssh_sudo_edit), whose re-check and rename run inside one
 * root script (tests/e2e/sudo_files_test.ts).
 */

import assert from "node:assert/strict";
import type { FakeSsh, SftpRequest } from "../_support/fake_ssh.ts";
import { type PipeCtx, q, withFakeHosts } from "../pipeline/_fixture.ts";
import { RemoteFs } from "../../src/ssh/fs.ts";

type Trigger = "after-check" | "before-temp" | "before-rename";
type Mode = "hardened" | "fallback";

const INSIDE = "VALUE inside\nline2\n";
const OUTSIDE = "VALUE outside-secret\nline2\n";
const PATCH = "--- a\n+++ b\n@@ -1,2 +1,2 @@\n-VALUE inside\n+PATCHED\n line2\n";
const TEMP = ".ssh-mcp-tmp.";

/** Strips the exec engine's PID marker. */
const bare = (cmd: string) =>
  cmd.replace(/^printf '__SSHMCP_PID_[0-9a-f]{16}__ %s\\n' "\$\$" >&2; /, "");

/** Swaps `<root>/d` for a link to `outside` at the armed point of the next call. */
class Swap {
  root = "";
  outside = "";
  #armed: Trigger | null = null;
  #target = "";
  #sawCheck = false;
  fired: string | null = null;

  arm(trigger: Trigger, target: string): void {
    this.#armed = trigger;
    this.#target = target;
    this.#sawCheck = false;
    this.fired = null;
  }

  disarm(): void {
    this.#armed = null;
  }

  exec = (command: string): void => {
    const c = bare(command);
    const realpath = /^realpath -[em] -- /.test(c);
    switch (this.#armed) {
      case "after-check":
        if (realpath) {
          if (c.endsWith(` -- ${this.#target}`)) this.#sawCheck = true;
          return;
        }
        if (this.#sawCheck) this.#fire(`exec ${c.slice(0, 60)}`);
        return;
      case "before-temp":
        if (/'?ssh-mcp-(open|cp -a)'? /.test(c)) this.#fire("pinned create");
        return;
      case "before-rename":
        if (/'?ssh-mcp-(rename|hardlink)'? /.test(c)) this.#fire("pinned rename");
        return;
    }
  };

  sftp = (r: SftpRequest): void => {
    switch (this.#armed) {
      case "after-check":
        if (this.#sawCheck) this.#fire(`sftp ${r.name}`);
        return;
      case "before-temp":
        if ((r.name === "OPEN" || r.name === "MKDIR") && r.paths.some((p) => p.includes(TEMP))) {
          this.#fire(`sftp ${r.name} temp`);
        }
        return;
      case "before-rename":
        if (
          ["RENAME", "posix-rename@openssh.com", "hardlink@openssh.com"].includes(r.name)
        ) {
          this.#fire(`sftp ${r.name}`);
        }
        return;
    }
  };

  #fire(what: string): void {
    this.#armed = null;
    this.fired = what;
    Deno.renameSync(`${this.root}/d`, `${this.root}/d.real`);
    Deno.symlinkSync(this.outside, `${this.root}/d`);
  }

  /** Puts the real directory back (after a fired swap). */
  restore(): void {
    try {
      if (Deno.lstatSync(`${this.root}/d`).isSymlink) {
        Deno.removeSync(`${this.root}/d`);
        Deno.renameSync(`${this.root}/d.real`, `${this.root}/d`);
      }
    } catch {
      // nothing swapped
    }
  }
}

/** Every name under `dir` (not following links), sorted. */
function listing(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    out.push(r);
    if (e.isDirectory) out.push(...listing(`${dir}/${e.name}`, r));
  }
  return out.sort();
}

function resetDir(dir: string, content: string): void {
  Deno.removeSync(dir, { recursive: true });
  Deno.mkdirSync(dir);
  Deno.writeTextFileSync(`${dir}/f`, content);
}

/** A write call site: the tool, its arguments, and the destination whose `realpath` is the check. */
interface Site {
  name: string;
  call(root: string, i: number): { tool: string; args: Record<string, unknown>; dest: string };
}

const SITES: Site[] = [
  {
    name: "ssh_upload (replace)",
    call: (r) => ({
      tool: "ssh_upload",
      args: { host: "h1", path: `${r}/d/f`, content_text: "AGENT\n" },
      dest: `${r}/d/f`,
    }),
  },
  {
    name: "ssh_upload (new file)",
    call: (r, i) => ({
      tool: "ssh_upload",
      args: { host: "h1", path: `${r}/d/n${i}`, content_text: "AGENT\n" },
      dest: `${r}/d/n${i}`,
    }),
  },
  {
    name: "ssh_deploy (backup)",
    call: (r) => ({
      tool: "ssh_deploy",
      args: { host: "h1", path: `${r}/d/f`, content_text: "AGENT\n" },
      dest: `${r}/d/f`,
    }),
  },
  {
    name: "ssh_edit",
    call: (r) => ({
      tool: "ssh_edit",
      args: { host: "h1", path: `${r}/d/f`, old_string: "line2", new_string: "EDITED" },
      dest: `${r}/d/f`,
    }),
  },
  {
    name: "ssh_patch",
    call: (r) => ({
      tool: "ssh_patch",
      args: { host: "h1", path: `${r}/d/f`, unified_diff: PATCH },
      dest: `${r}/d/f`,
    }),
  },
  {
    name: "ssh_transfer (h2 -> h1)",
    call: (r, i) => ({
      tool: "ssh_transfer",
      args: { src_host: "h2", src_path: "src.txt", dst_host: "h1", dst_path: `${r}/d/t${i}` },
      dest: `${r}/d/t${i}`,
    }),
  },
  {
    name: "ssh_cp",
    call: (r, i) => ({
      tool: "ssh_cp",
      args: { host: "h1", src: `${r}/payload`, dst: `${r}/d/c${i}` },
      dest: `${r}/d/c${i}`,
    }),
  },
];

/** What the refusal says: the re-check's "changed since it was checked" (or the path policy's "resolved to ... outside"). */
const CLEAR = /changed since it was checked|\(resolved to [^)]*\/outside\//;

/**
 * The expected refusal of one case. On the fallback, a swap right before the
 * rename (after the re-check: the documented residual window, PATH-54) finds
 * no temp file behind the link, so the rename itself fails; and ssh_patch,
 * whose read follows the swapped link there (residual PATH-54 for reads),
 * refuses the outside file's content as not matching its diff.
 */
function expectedError(mode: Mode, site: string, trigger: Trigger): RegExp {
  if (mode === "fallback" && trigger === "before-rename") return /failed: No such file/;
  if (mode === "fallback" && site === "ssh_patch" && trigger === "after-check") {
    return /does not match/;
  }
  return CLEAR;
}

const TRIGGERS: Trigger[] = ["after-check", "before-temp", "before-rename"];

/** A `mv` that is not GNU's: the pinned-operations probe then fails and the host gets the fallback. */
const NOT_GNU_MV =
  '#!/bin/sh\n[ "$1" = --version ] && { echo "mv (not GNU) 1.0"; exit 0; }\nexec /bin/mv "$@"\n';

/** What the fake host's hooks call (one test's hook set at a time). */
interface Hooks {
  exec(command: string): void;
  sftp(r: SftpRequest): void;
}

async function withBed(
  mode: Mode,
  fn: (
    c: PipeCtx,
    swap: Swap,
    root: string,
    outside: string,
    use: (h: Hooks) => void,
  ) => Promise<void>,
): Promise<void> {
  const swap = new Swap();
  let hooks: Hooks = swap;
  const shim = Deno.makeTempDirSync({ prefix: "sshmcp-notgnu-" });
  Deno.writeTextFileSync(`${shim}/mv`, NOT_GNU_MV, { mode: 0o755 });
  Deno.chmodSync(`${shim}/mv`, 0o755);
  try {
    await withFakeHosts(
      [
        {
          alias: "h1",
          fake: {
            onExec: (cmd) => hooks.exec(cmd),
            onSftp: (r) => hooks.sftp(r),
            ...(mode === "fallback"
              ? { env: { PATH: `${shim}:/usr/local/bin:/usr/bin:/bin` } }
              : {}),
          },
          toml: (f: FakeSsh) => `path_allowlist = [${q(`${f.home}/root`)}]`,
        },
        { alias: "h2", toml: (f: FakeSsh) => `path_allowlist = [${q(f.home)}]` },
      ],
      async (c) => {
        const home = c.fakes.h1!.home;
        const root = `${home}/root`;
        const outside = `${home}/outside`;
        Deno.mkdirSync(`${root}/d`, { recursive: true });
        Deno.mkdirSync(outside);
        Deno.writeTextFileSync(`${c.fakes.h2!.home}/src.txt`, "FROM H2\n");
        swap.root = root;
        swap.outside = outside;
        const fs = await RemoteFs.open(await c.s.app.pool.acquire(c.s.app.hosts().resolve("h1")));
        assert.equal(await fs.hardened(), mode === "hardened", `h1 must be ${mode}`);
        await fn(c, swap, root, outside, (h) => (hooks = h));
      },
      { tier: "low-access" },
    );
  } finally {
    Deno.removeSync(shim, { recursive: true });
  }
}

/** A fresh bed: the real d with f, the outside directory with its own f, a payload. */
function resetBed(swap: Swap, root: string, outside: string): void {
  swap.restore();
  resetDir(`${root}/d`, INSIDE);
  resetDir(outside, OUTSIDE);
  for (const e of Deno.readDirSync(root)) {
    if (e.name !== "d") Deno.removeSync(`${root}/${e.name}`, { recursive: true });
  }
  Deno.writeTextFileSync(`${root}/payload`, "PAYLOAD\n");
}

const textOf = (r: { content: { type: string; text?: string }[] }) =>
  r.content.map((x) => (x.type === "text" ? x.text ?? "" : "")).join("");

for (const mode of ["hardened", "fallback"] as const) {
  Deno.test(`PATH-30/PATH-52 (§7 rules, ${mode} host): every temp-and-rename write site refuses when the destination's directory becomes a link to outside between check and rename`, async () => {
    await withBed(mode, async (c, swap, root, outside) => {
      const failures: string[] = [];
      let i = 0;
      for (const site of SITES) {
        for (const trigger of TRIGGERS) {
          i++;
          resetBed(swap, root, outside);
          const { tool, args, dest } = site.call(root, i);
          swap.arm(trigger, dest);
          const r = await c.s.call(tool, args);
          swap.disarm();
          const text = textOf(r);
          const label = `${site.name} @ ${trigger}`;
          const outsideNow = listing(outside);
          const outsideF = Deno.readTextFileSync(`${outside}/f`);
          swap.restore();
          if (swap.fired === null) {
            failures.push(`${label}: the swap point was never reached (${text.slice(0, 200)})`);
            continue;
          }
          if (!r.isError) {
            failures.push(`${label}: succeeded after the swap (${swap.fired})`);
          } else if (!/^(WriteError|PathNotAllowed): /.test(text)) {
            failures.push(`${label}: unexpected error ${text.slice(0, 200)}`);
          } else if (!expectedError(mode, site.name, trigger).test(text)) {
            failures.push(`${label}: the error does not say what happened: ${text.slice(0, 300)}`);
          }
          if (JSON.stringify(outsideNow) !== JSON.stringify(["f"]) || outsideF !== OUTSIDE) {
            failures.push(
              `${label}: written outside the allowlist: ${JSON.stringify(outsideNow)} f=${
                JSON.stringify(outsideF)
              }`,
            );
          }
          // (on the fallback, READS through a swapped directory are the documented residual
          // PATH-54: ssh_patch may quote the outside file's line in its mismatch error)
          if (mode === "hardened" && text.includes("outside-secret")) {
            failures.push(`${label}: outside content leaked: ${text.slice(0, 400)}`);
          }
        }
      }
      assert.deepEqual(failures, []);
    });
  });
}

/**
 * Plants a dangling link to outside at the destination right before the
 * PATH-30 re-check (after the temp file was written): the re-check must
 * refuse a destination that became a link, even one whose target does not
 * exist (its REALPATH fails, so only the link test sees it).
 */
class LeafLink implements Hooks {
  fired = false;
  #tempSeen = false;
  constructor(readonly dest: string, readonly target: string) {}
  exec = (c: string): void => {
    if (/'?ssh-mcp-open'? /.test(bare(c))) this.#tempSeen = true;
  };
  sftp = (r: SftpRequest): void => {
    if (r.name === "OPEN" && r.paths.some((p) => p.includes(TEMP))) {
      this.#tempSeen = true;
      return;
    }
    if (this.#tempSeen && !this.fired && r.name === "LSTAT" && r.paths[0] === this.dest) {
      this.fired = true;
      try {
        Deno.renameSync(this.dest, `${this.dest}.orig`);
      } catch {
        // a new file: nothing to move aside
      }
      Deno.symlinkSync(this.target, this.dest);
    }
  };
}

/** The sites whose last step before the rename is the PATH-30 re-check of the destination. */
const RECHECK_SITES = SITES.filter((s) => s.name !== "ssh_cp");

for (const mode of ["hardened", "fallback"] as const) {
  Deno.test(`PATH-30 (§7 rules, ${mode} host): a destination that became a (dangling) link to outside just before the rename is refused at every re-checking site`, async () => {
    await withBed(mode, async (c, swap, root, outside, use) => {
      const failures: string[] = [];
      let i = 100;
      for (const site of RECHECK_SITES) {
        i++;
        resetBed(swap, root, outside);
        const { tool, args, dest } = site.call(root, i);
        const hook = new LeafLink(dest, `${outside}/absent`);
        use(hook);
        const r = await c.s.call(tool, args);
        use(swap);
        const text = textOf(r);
        if (!hook.fired) failures.push(`${site.name}: the re-check was never reached (${text})`);
        else if (!r.isError) failures.push(`${site.name}: succeeded over the planted link`);
        else if (!/^WriteError: .*it is now a symbolic link/.test(text)) {
          failures.push(`${site.name}: unexpected error ${text.slice(0, 300)}`);
        }
        if (JSON.stringify(listing(outside)) !== JSON.stringify(["f"])) {
          failures.push(`${site.name}: written outside: ${JSON.stringify(listing(outside))}`);
        }
        if (Deno.lstatSync(dest).isSymlink !== true) {
          failures.push(`${site.name}: the planted link was replaced`);
        }
      }
      assert.deepEqual(failures, []);
    });
  });
}

/**
 * PATH-52 on a hardened host: the temp file is created in the pinned
 * directory, then opened by path over SFTP. Here the directory is swapped for
 * a link to outside exactly while that open runs (where a file of the same
 * name waits), and swapped back right after: the opened file is not the one
 * created, and not a byte may be written to it.
 */
class PlantedTemp implements Hooks {
  planted: string | null = null;
  #back = false;
  constructor(readonly root: string, readonly outside: string) {}
  exec = (): void => {};
  sftp = (r: SftpRequest): void => {
    if (this.planted === null && r.name === "OPEN" && r.paths.some((p) => p.includes(TEMP))) {
      this.planted = `${this.outside}/${r.paths[0]!.split("/").pop()}`;
      Deno.writeTextFileSync(this.planted, "VICTIM\n");
      Deno.renameSync(`${this.root}/d`, `${this.root}/d.real`);
      Deno.symlinkSync(this.outside, `${this.root}/d`);
      return;
    }
    if (this.planted !== null && !this.#back) {
      this.#back = true;
      Deno.removeSync(`${this.root}/d`);
      Deno.renameSync(`${this.root}/d.real`, `${this.root}/d`);
    }
  };
}

Deno.test("PATH-52 (§7 rules, hardened host): a temp file opened through a swapped directory is detected before a byte is written", async () => {
  await withBed("hardened", async (c, swap, root, outside, use) => {
    const failures: string[] = [];
    let i = 200;
    for (const site of RECHECK_SITES) {
      i++;
      resetBed(swap, root, outside);
      const { tool, args } = site.call(root, i);
      const hook = new PlantedTemp(root, outside);
      use(hook);
      const r = await c.s.call(tool, args);
      use(swap);
      const text = textOf(r);
      if (hook.planted === null) {
        failures.push(`${site.name}: the temp file was never opened (${text})`);
        continue;
      }
      if (!r.isError) failures.push(`${site.name}: succeeded through the planted file`);
      else if (!/^WriteError: .*not the one created in its directory/.test(text)) {
        failures.push(`${site.name}: unexpected error ${text.slice(0, 300)}`);
      }
      if (Deno.readTextFileSync(hook.planted) !== "VICTIM\n") {
        failures.push(`${site.name}: wrote into the file outside the allowlist`);
      }
      if (Deno.readTextFileSync(`${outside}/f`) !== OUTSIDE) {
        failures.push(`${site.name}: changed ${outside}/f`);
      }
    }
    assert.deepEqual(failures, []);
  });
});
