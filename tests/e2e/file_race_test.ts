/**
 * Issue 9 §2, class "races" (SECURITY.md PATH-50..PATH-56): a hostile process
 * on the host swaps a directory of the allowlist with a symbolic link to a
 * directory outside it, as fast as it can (`renameat2(RENAME_EXCHANGE)` in a
 * tight loop, so the path always exists and flips between the two), while
 * the agent calls every file tool on a path through that directory. Each
 * attempt is judged on the host's disk with the swapper stopped: anything
 * outside that changed, any outside secret that reached the agent (result
 * or error text, a local file) or the allowlist, counts as a leak.
 *
 * The hardened tools must show 0 leaks at every call site; the race must
 * really be live (some attempts are refused because a check saw the link).
 * A control run through the path-based SFTP fallback (what hosts without GNU
 * coreutils get, and what every host got before) must show leaks, which
 * proves the detector. Rates are printed; `SSHMCP_RACE_N` sets the attempts
 * per site (default 30 to keep the suite fast on small machines; the
 * measurement in docs/security/paths.md used 200).
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { RemoteFs } from "../../src/ssh/fs.ts";
import type { CheckedPath } from "../../src/checked.ts";
import type { InProcess, ToolErr } from "../_support/mcp.ts";
import { currentUser, userDir, withFiles } from "./_files_fixture.ts";

type R = Record<string, unknown>;

const N = Number(Deno.env.get("SSHMCP_RACE_N") ?? "30");
const SECRET = "OUTSIDE-SECRET";
const INSIDE = "VALUE inside\nline2\n";
const OUTSIDE = `VALUE ${SECRET}\nline2\n`;
const sha = (s: string | Uint8Array) => createHash("sha256").update(s).digest("hex");

/** The swapper: exchanges `a` and `b` (a directory and a link) as fast as it can. */
class Swapper {
  readonly #child: Deno.ChildProcess;
  readonly pid: number;
  constructor(cwd: string, a: string, b: string) {
    this.#child = new Deno.Command("perl", {
      args: [
        "-e",
        'my ($a, $b) = @ARGV; $SIG{TERM} = sub { exit 0 }; while (1) { syscall(316, -100, $a, -100, $b, 2) == 0 or die "renameat2: $!" }',
        a,
        b,
      ],
      cwd,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
  }
  async #state(): Promise<string> {
    const st = await Deno.readTextFile(`/proc/${this.pid}/stat`);
    return st.slice(st.lastIndexOf(")") + 2, st.lastIndexOf(")") + 3);
  }
  async pause(): Promise<void> {
    Deno.kill(this.pid, "SIGSTOP");
    while ((await this.#state()) !== "T") await new Promise((r) => setTimeout(r, 1));
  }
  resume(): void {
    Deno.kill(this.pid, "SIGCONT");
  }
  async stop(): Promise<string> {
    try {
      Deno.kill(this.pid, "SIGCONT");
      Deno.kill(this.pid, "SIGTERM");
    } catch { /* gone */ }
    const out = await this.#child.output();
    return new TextDecoder().decode(out.stderr);
  }
}

/** One call site: the call, and optional extra leak evidence. */
interface Site {
  name: string;
  call(root: string, i: number): [string, R];
  /** extra evidence of a read that reached the agent (besides result text and the allowlist) */
  leaked?(r: Outcome, ctx: Bed): Promise<boolean>;
  /** a documented residual: the rate is reported, not asserted */
  residual?: boolean;
}

interface Outcome {
  ok: boolean;
  text: string;
  result?: R;
  err?: ToolErr;
}

interface Bed {
  root: string;
  out: string;
  local: string;
}

const PATCH = "--- a\n+++ b\n@@ -1,2 +1,2 @@\n-VALUE inside\n+PATCHED\n line2\n";

const SITES: Site[] = [
  {
    name: "download",
    call: (r) => ["ssh_sftp_download", { path: `${r}/d/f` }],
    leaked: (o) =>
      Promise.resolve(
        Buffer.from(String(o.result?.content_base64 ?? ""), "base64").toString().includes(SECRET),
      ),
  },
  {
    name: "download local_path",
    call: (r, i) => ["ssh_sftp_download", { path: `${r}/d/f`, local_path: `LOCAL/dl-${i}` }],
    async leaked(_o, b) {
      for await (const e of Deno.readDir(b.local)) {
        if ((await Deno.readTextFile(`${b.local}/${e.name}`)).includes(SECRET)) return true;
      }
      return false;
    },
  },
  {
    // metadata only, read by path (a known residual, PATH-54): measured, not asserted
    name: "sftp_stat",
    call: (r) => ["ssh_sftp_stat", { path: `${r}/d/f` }],
    leaked: (o) => Promise.resolve(o.result?.size === OUTSIDE.length),
    residual: true,
  },
  // the outside directory holds a name with the secret in it
  { name: "sftp_list", call: (r) => ["ssh_sftp_list", { path: `${r}/d` }] },
  {
    name: "find",
    call: (r) => ["ssh_find", { path: `${r}/d`, name_pattern: "*" }],
  },
  {
    name: "file_hash",
    call: (r) => ["ssh_file_hash", { path: `${r}/d/f` }],
    leaked: (o) => Promise.resolve(o.result?.digest === sha(OUTSIDE)),
  },
  { name: "upload", call: (r) => ["ssh_upload", { path: `${r}/d/f`, content_text: "AGENT\n" }] },
  {
    name: "upload new file",
    call: (r, i) => ["ssh_upload", { path: `${r}/d/n${i}`, content_text: "AGENT\n" }],
  },
  { name: "deploy", call: (r) => ["ssh_deploy", { path: `${r}/d/f`, content_text: "AGENT\n" }] },
  {
    name: "edit",
    call: (r) => ["ssh_edit", { path: `${r}/d/f`, old_string: "VALUE", new_string: "EDITED" }],
  },
  { name: "patch", call: (r) => ["ssh_patch", { path: `${r}/d/f`, unified_diff: PATCH }] },
  { name: "cp (read)", call: (r, i) => ["ssh_cp", { src: `${r}/d/f`, dst: `${r}/copy${i}` }] },
  { name: "cp (write)", call: (r, i) => ["ssh_cp", { src: `${r}/payload`, dst: `${r}/d/c${i}` }] },
  { name: "mv (read)", call: (r, i) => ["ssh_mv", { src: `${r}/d/f`, dst: `${r}/moved${i}` }] },
  { name: "mv (write)", call: (r, i) => ["ssh_mv", { src: `${r}/payload`, dst: `${r}/d/m${i}` }] },
  { name: "delete", call: (r) => ["ssh_delete", { path: `${r}/d/f` }] },
  {
    name: "delete_folder",
    call: (r) => ["ssh_delete_folder", { path: `${r}/d/sub`, recursive: true }],
  },
  { name: "mkdir", call: (r, i) => ["ssh_mkdir", { path: `${r}/d/k${i}` }] },
  {
    name: "link",
    call: (r, i) => ["ssh_link", { src: "f", dst: `${r}/d/l${i}`, symbolic: true }],
  },
];

/** Every name under `dir` (not following links) and whether any file holds the secret. */
async function scan(dir: string): Promise<{ names: string[]; secret: boolean }> {
  const names: string[] = [];
  let secret = false;
  const walk = async (d: string, rel: string) => {
    for await (const e of Deno.readDir(d)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      names.push(r);
      if (e.name.includes(SECRET)) secret = true;
      if (e.isFile && (await Deno.readTextFile(`${d}/${e.name}`)).includes(SECRET)) secret = true;
      if (e.isDirectory) await walk(`${d}/${e.name}`, r);
    }
  };
  await walk(dir, "");
  return { names: names.sort(), secret };
}

async function rmChildren(dir: string): Promise<void> {
  for await (const e of Deno.readDir(dir)) {
    await Deno.remove(`${dir}/${e.name}`, { recursive: true });
  }
}

/** Puts the real directory back at `d` and both sides into their initial state (swapper paused). */
async function reset(b: Bed): Promise<void> {
  const u = await currentUser();
  if ((await Deno.lstat(`${b.root}/d`)).isSymlink) {
    await Deno.rename(`${b.root}/d`, `${b.root}/d.tmp`);
    await Deno.rename(`${b.root}/d.link`, `${b.root}/d`);
    await Deno.rename(`${b.root}/d.tmp`, `${b.root}/d.link`);
  }
  const fill = async (dir: string, content: string) => {
    await rmChildren(dir);
    await Deno.writeTextFile(`${dir}/f`, content);
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/sub/g`, content);
    for (const p of [`${dir}/f`, `${dir}/sub`, `${dir}/sub/g`]) await Deno.chown(p, u.uid, null);
  };
  await fill(`${b.root}/d`, INSIDE);
  await fill(b.out, OUTSIDE);
  await Deno.writeTextFile(`${b.out}/${SECRET}-name`, "");
  for await (const e of Deno.readDir(b.root)) {
    if (!["d", "d.link"].includes(e.name)) {
      await Deno.remove(`${b.root}/${e.name}`, { recursive: true });
    }
  }
  await Deno.writeTextFile(`${b.root}/payload`, "PAYLOAD\n");
  await Deno.chown(`${b.root}/payload`, u.uid, null);
  await rmChildren(b.local);
}

/** The outside directory is exactly as `reset` left it. */
async function outsideIntact(b: Bed): Promise<boolean> {
  const s = await scan(b.out);
  if (JSON.stringify(s.names) !== JSON.stringify([`${SECRET}-name`, "f", "sub", "sub/g"])) {
    return false;
  }
  return (await Deno.readTextFile(`${b.out}/f`)) === OUTSIDE &&
    (await Deno.readTextFile(`${b.out}/sub/g`)) === OUTSIDE;
}

interface Tally {
  site: string;
  n: number;
  leaks: number;
  ok: number;
  refused: number;
}

async function attempt(
  b: Bed,
  sw: Swapper,
  run: () => Promise<Outcome>,
  extra?: (o: Outcome) => Promise<boolean>,
): Promise<{ leak: boolean; ok: boolean }> {
  await sw.pause();
  await reset(b);
  sw.resume();
  const o = await run();
  await sw.pause();
  if ((await Deno.lstat(`${b.root}/d`)).isSymlink) {
    await Deno.rename(`${b.root}/d`, `${b.root}/d.tmp`);
    await Deno.rename(`${b.root}/d.link`, `${b.root}/d`);
    await Deno.rename(`${b.root}/d.tmp`, `${b.root}/d.link`);
  }
  const leak = !(await outsideIntact(b)) || o.text.includes(SECRET) ||
    (await scan(b.root)).secret || ((await extra?.(o)) ?? false);
  sw.resume();
  return { leak, ok: o.ok };
}

async function callTool(s: InProcess, tool: string, args: R): Promise<Outcome> {
  const r = await s.client.callTool({ name: tool, arguments: args });
  const text = JSON.stringify(r);
  if (r.isError) return { ok: false, text };
  return { ok: true, text, result: r.structuredContent as R };
}

function report(title: string, rows: Tally[]): void {
  const lines = rows.map((t) =>
    `  ${t.site.padEnd(20)} n=${String(t.n).padStart(4)}  leaks=${String(t.leaks).padStart(4)} (${
      (100 * t.leaks / t.n).toFixed(1).padStart(5)
    }%)  done=${String(t.ok).padStart(4)}  refused=${String(t.refused).padStart(4)}`
  );
  // deno-lint-ignore no-console
  console.log(`${title}\n${lines.join("\n")}`);
}

/** A bed: the allowlisted root with `d` (real) and `d.link` (-> outside), the swapper running. */
async function withRaceBed(
  fn: (s: InProcess, b: Bed, sw: Swapper) => Promise<void>,
): Promise<void> {
  await withFiles(async ({ s, root, local }) => {
    const out = await userDir("sshmcp-outside-");
    try {
      await Deno.mkdir(`${root}/d`);
      await Deno.chown(`${root}/d`, (await currentUser()).uid, null);
      await Deno.symlink(out, `${root}/d.link`);
      const b = { root, out, local };
      const sw = new Swapper(root, "d", "d.link");
      try {
        await fn(s, b, sw);
      } finally {
        const err = await sw.stop();
        assert.equal(err, "", `the swapper failed: ${err}`);
      }
    } finally {
      await Deno.remove(out, { recursive: true }).catch(() => {});
    }
  });
}

Deno.test(`PATH-50..PATH-55: a live directory/link swapper gets no read or write outside the allowlist through any file tool (N=${N} per site)`, async () => {
  const rows: Tally[] = [];
  await withRaceBed(async (s, b, sw) => {
    for (const site of SITES) {
      const t: Tally = { site: site.name, n: N, leaks: 0, ok: 0, refused: 0 };
      for (let i = 0; i < N; i++) {
        const [tool, args] = site.call(b.root, i);
        if (typeof args.local_path === "string") {
          args.local_path = (args.local_path as string).replace("LOCAL", b.local);
        }
        const r = await attempt(
          b,
          sw,
          () => callTool(s, tool, { host: "h1", ...args }),
          site.leaked ? (o) => site.leaked!(o, b) : undefined,
        );
        if (r.leak) t.leaks++;
        if (r.ok) t.ok++;
        else t.refused++;
      }
      rows.push(t);
    }
  });
  report("hardened file tools under a live swapper:", rows);
  for (const t of rows) {
    if (SITES.find((x) => x.name === t.site)?.residual) continue;
    assert.equal(t.leaks, 0, `${t.site}: ${t.leaks}/${t.n} attempts leaked`);
  }
  // the race was live at every site: its checks met the swapped state and refused
  assert.ok(rows.every((t) => t.refused > 0), "some site never met the swapped state");
});

Deno.test(`PATH-56 (control): the path-based SFTP fallback leaks under the same swapper (the detector works; N=${N} per site)`, async () => {
  const rows: Tally[] = [];
  await withRaceBed(async (s, b, sw) => {
    const policy = s.app.hosts().resolve("h1");
    const fs = await RemoteFs.open(await s.app.pool.acquire(policy), { pinned: false });
    const f = `${b.root}/d/f` as CheckedPath;
    const ops: [string, () => Promise<unknown>][] = [
      ["read (fallback)", async () => Buffer.from(await fs.readFile(f, 1 << 20)).toString()],
      [
        "write (fallback)",
        () => fs.atomicWrite(f, [new TextEncoder().encode("AGENT\n")], { mode: 0o644 }),
      ],
      ["delete (fallback)", () => fs.unlink(f)],
    ];
    for (const [name, op] of ops) {
      const t: Tally = { site: name, n: N, leaks: 0, ok: 0, refused: 0 };
      for (let i = 0; i < N; i++) {
        const r = await attempt(b, sw, async () => {
          try {
            const v = await op();
            return { ok: true, text: typeof v === "string" ? v : JSON.stringify(v ?? null) };
          } catch (e) {
            return { ok: false, text: String(e) };
          }
        });
        if (r.leak) t.leaks++;
        if (r.ok) t.ok++;
        else t.refused++;
      }
      rows.push(t);
    }
  });
  report("path-based SFTP fallback (no pinning) under the same swapper:", rows);
  assert.ok(rows.every((t) => t.leaks > 0), "the swapper harness detected no leak in the fallback");
});
