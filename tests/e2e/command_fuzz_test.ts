/**
 * EXEC-48: the fuzz test of issue 9. Generated command lines (random mixes of
 * allowlisted and other programs, quoting styles, expansions, operators,
 * environment prefixes, redirections, here-documents, globs, unicode) go
 * through the real checker; the admitted ones run through the real server
 * and a real MCP client on OpenSSH hosts whose login shell is bash and dash.
 *
 * The hosts run every session in a chroot (sshd `ChrootDirectory`, the one
 * way to take away every program a login PATH, an absolute path or a hashed
 * name could reach): it holds the real shells and `/usr/bin/env`, a
 * recorder program for each allowlisted name (it writes its argv to a file
 * of its own), and a tripwire at every other program name this machine has
 * in /usr/bin, /usr/sbin, /usr/local/bin and /usr/local/sbin. The test
 * asserts that no tripwire ever fired and that each run recorded exactly the
 * argv the checker admitted. Root only (sshd chroots as root); `FUZZ_SEED`
 * repeats a run.
 */

import assert from "node:assert/strict";
import { withFleetServer } from "../_support/fleet.ts";
import { mustRun, testUser } from "../_support/sshd.ts";
import { envHostPolicy } from "../../src/config/hosts.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import type { HostPolicy, Settings } from "../../src/config/types.ts";
import { nullLogger } from "../../src/log.ts";
import { createCommandChecker, parseCommand } from "../../src/policy/commands.ts";
import {
  expectedRecords,
  FUZZ_ALLOWLIST,
  generateCommand,
  parseRecord,
  recordComplete,
  recorderScript,
  rng,
} from "../policy/command_gen.ts";

const REAL = ["/usr/bin/bash", "/usr/bin/dash", "/usr/bin/env"];
const TRIPWIRE_DIRS = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"];

/** Copies `file` and the shared libraries it loads into `root`, keeping their paths. */
async function copyWithLibs(root: string, file: string): Promise<void> {
  const files = new Set([file]);
  for (const line of (await mustRun("ldd", [file])).split("\n")) {
    const m = /(\/\S+) \(0x/.exec(line);
    if (m) files.add(m[1]!);
  }
  for (const f of files) {
    const dest = `${root}${f}`;
    await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(await Deno.realPath(f), dest);
    await Deno.chmod(dest, 0o755);
  }
}

/** Builds the chroot (see module docs); returns its root. */
async function buildChroot(users: { name: string; uid: number }[]): Promise<string> {
  if (Deno.uid() !== 0) throw new Error("the command fuzz test needs root (sshd ChrootDirectory)");
  // every component of a ChrootDirectory must be root-owned and not group/world writable
  const root = `/var/lib/sshmcp-fuzz-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(`${root}/usr/bin`, { recursive: true, mode: 0o755 });
  for (
    const d of ["usr/sbin", "usr/lib", "usr/lib64", "usr/local/bin", "usr/local/sbin", "etc", "dev"]
  ) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true, mode: 0o755 });
  }
  for (
    const [l, t] of [["bin", "usr/bin"], ["sbin", "usr/sbin"], ["lib", "usr/lib"], [
      "lib64",
      "usr/lib64",
    ]]
  ) {
    await Deno.symlink(t!, `${root}/${l}`);
  }
  for (const f of REAL) await copyWithLibs(root, f);
  await Deno.symlink("dash", `${root}/usr/bin/sh`);
  await mustRun("mknod", ["-m", "666", `${root}/dev/null`, "c", "1", "3"]);
  for (const d of ["rec", "trip", "tmp"]) {
    await Deno.mkdir(`${root}/${d}`);
    await Deno.chmod(`${root}/${d}`, 0o1777);
  }
  await Deno.writeTextFile(
    `${root}/etc/passwd`,
    users.map((u) => `${u.name}:x:${u.uid}:${u.uid}::/home/${u.name}:/bin/sh\n`).join(""),
  );
  for (const u of users) {
    await Deno.mkdir(`${root}/home/${u.name}`, { recursive: true });
    await Deno.chown(`${root}/home/${u.name}`, u.uid, null);
  }
  for (const name of FUZZ_ALLOWLIST) {
    await Deno.writeTextFile(`${root}/usr/bin/${name}`, recorderScript("/rec", name), {
      mode: 0o755,
    });
  }
  await Deno.writeTextFile(
    `${root}/usr/lib/sshmcp-tripwire`,
    "#!/bin/sh\nprintf '%s\\n' \"$0 $*\" >> /trip/log\n",
    { mode: 0o755 },
  );
  const keep = new Set([...FUZZ_ALLOWLIST, "bash", "dash", "sh", "env"]);
  let trips = 0;
  for (const dir of TRIPWIRE_DIRS) {
    const names: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) names.push(e.name);
    } catch {
      // a directory this machine does not have
    }
    for (const name of names) {
      if (keep.has(name)) continue;
      try {
        await Deno.symlink("/usr/lib/sshmcp-tripwire", `${root}${dir}/${name}`);
        trips++;
      } catch {
        // the same name twice: one tripwire is enough
      }
    }
  }
  for (const extra of ["tripwire", "evil"]) {
    await Deno.symlink("/usr/lib/sshmcp-tripwire", `${root}/usr/local/bin/${extra}`).catch(
      () => {},
    );
  }
  assert.ok(trips > 100, `only ${trips} tripwires`);
  return root;
}

async function readRecords(root: string): Promise<string[][]> {
  const out: string[][] = [];
  for await (const e of Deno.readDir(`${root}/rec`)) {
    const text = await Deno.readTextFile(`${root}/rec/${e.name}`);
    if (!recordComplete(text)) continue; // still being written: the next poll reads it
    out.push(parseRecord(text));
    await Deno.remove(`${root}/rec/${e.name}`);
  }
  return out.sort(compare);
}

/**
 * The records of one command line. A background job (`cmd &`) may still be
 * starting when the call returns, so records are collected until `want` of
 * them arrived or the line has been quiet for 2 s (a missing record then
 * fails the comparison; an extra one is never waited away).
 */
async function recordsOf(root: string, want: number): Promise<string[][]> {
  const got = await readRecords(root);
  const deadline = Date.now() + 2000;
  while (got.length < want && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    got.push(...(await readRecords(root)));
  }
  return got.sort(compare);
}

function compare(a: string[], b: string[]): number {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Expected records inside the chroot: env passes assignments in the environment, not argv. */
function expected(command: string): string[][] {
  return expectedRecords(parseCommand(command))
    .map((r) => r.slice(r.findIndex((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w))))
    .sort(compare);
}

Deno.test("EXEC-48: fuzz: admitted command lines run on bash and dash hosts whose only programs are the allowlisted ones plus tripwires; nothing else runs and each program gets the admitted argv", async () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? 9_0001);
  const users = [await testUser("sh"), await testUser("bash")];
  const root = await buildChroot(users);
  const settings = defaultSettings() as Settings;
  const policy = {
    ...envHostPolicy("fuzz", settings),
    command_allowlist: [...FUZZ_ALLOWLIST],
  } as HostPolicy;
  const checker = createCommandChecker({ settings, logger: nullLogger });
  const r = rng(seed);
  const corpus: string[] = [];
  let generated = 0;
  while (corpus.length < 200 && generated < 50_000) {
    const c = generateCommand(r);
    generated++;
    try {
      checker.admit({ tool: "ssh_exec_run", policy, command: c, kind: "command" });
      corpus.push(c);
    } catch {
      // refused: never sent
    }
  }
  assert.equal(corpus.length, 200, `seed ${seed}: ${corpus.length} admitted of ${generated}`);
  try {
    for (const shell of ["sh", "bash"] as const) {
      await withFleetServer(2, async ({ s }) => {
        const probe = await s.err("ssh_exec_run", { host: "h1", command: "tripwire x" });
        assert.equal(probe.meta.reason, "not-allowlisted");
        for (const command of corpus) {
          const res = await s.call("ssh_exec_run", { host: "h1", command });
          const text = res.content.map((c) => (c.type === "text" ? c.text : "")).join("");
          assert.ok(!res.isError, `seed ${seed} (${shell}): ${JSON.stringify(command)}: ${text}`);
          const trip = await Deno.readTextFile(`${root}/trip/log`).catch(() => "");
          assert.equal(trip, "", `seed ${seed} (${shell}): ${JSON.stringify(command)} ran ${trip}`);
          const want = expected(command);
          const got = await recordsOf(root, want.length);
          const where = `seed ${seed} (${shell}): ${JSON.stringify(command)}`;
          if (/(?<!&)&(?!&)/.test(command.replaceAll(/[|>]&|&>/g, ""))) {
            // a background job (`cmd &`) can be cut off by the end of the session before
            // it starts; whatever did run must be admitted argv (a multiset subset)
            const left = want.map((w) => JSON.stringify(w));
            for (const rec of got) {
              const i = left.indexOf(JSON.stringify(rec));
              assert.ok(i >= 0, `${where}: unexpected ${JSON.stringify(rec)} (want ${left})`);
              left.splice(i, 1);
            }
          } else {
            assert.deepEqual(got, want, where);
          }
        }
        // the oracle can fire: on an allow-any host the same chroot catches an escaped program
        const ctl = await s.ok<{ exit_code: number }>("ssh_exec_run", {
          host: "h2",
          command: "x=tripwire; $x",
        });
        assert.equal(ctl.exit_code, 0);
        assert.match(await Deno.readTextFile(`${root}/trip/log`), /tripwire/);
        await Deno.remove(`${root}/trip/log`);
        const pwned = await Deno.stat(`${root}/tmp/pwned`).then(() => true, () => false);
        assert.equal(pwned, false);
      }, {
        tier: "dangerous",
        env: { SSH_EXEC_ALLOW_CHEATSHEET_PATTERNS: "true" },
        sshd: { loginShell: shell, extraConfig: [`ChrootDirectory ${root}`] },
        perHost: (a) =>
          a === "h1"
            ? `command_allowlist = ${JSON.stringify(FUZZ_ALLOWLIST)}`
            : 'command_allowlist = ["*"]',
      });
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
