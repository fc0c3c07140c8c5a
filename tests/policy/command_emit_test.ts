/**
 * EXEC-22..26, EXEC-48: the re-emitted command, run by the real shells of
 * this machine (bash, dash and busybox ash), gives every program exactly the
 * argv the checker admitted, and nothing else runs. The `/usr/bin/env`
 * vehicle is replaced by a recorder; the shells' PATH holds only tripwires,
 * so any name the shell itself looks up (an expansion that escaped) is seen.
 * A generated corpus (seeded, `FUZZ_SEED` to repeat) goes through the same
 * oracle. zsh is not installed on the test machines and is not covered here.
 */

import assert from "node:assert/strict";
import { envHostPolicy } from "../../src/config/hosts.ts";
import { defaultSettings } from "../../src/config/settings.ts";
import type { HostPolicy, Settings } from "../../src/config/types.ts";
import { nullLogger } from "../../src/log.ts";
import {
  createCommandChecker,
  emitRestricted,
  ENV_PROGRAM,
  parseCommand,
  SAFE_PATH,
} from "../../src/policy/commands.ts";
import {
  expectedRecords,
  FUZZ_ALLOWLIST,
  FUZZ_OTHERS,
  generateCommand,
  parseRecord,
  recorderScript,
  rng,
} from "./command_gen.ts";

const SHELLS: Record<string, string[]> = {
  bash: ["/bin/bash", "-c"],
  dash: ["/bin/dash", "-c"],
  "busybox ash": ["/bin/busybox", "sh", "-c"],
};

const settings = defaultSettings() as Settings;
const policy = {
  ...envHostPolicy("fuzz", settings),
  command_allowlist: [...FUZZ_ALLOWLIST],
} as HostPolicy;
const checker = createCommandChecker({ settings, logger: nullLogger });

function admit(command: string): string | null {
  try {
    return checker.admit({ tool: "ssh_exec_run", policy, command, kind: "command" }).command;
  } catch {
    return null;
  }
}

interface Bed {
  dir: string;
  trip: string;
  recorder: string;
}

async function bed(): Promise<Bed> {
  for (const argv of Object.values(SHELLS)) {
    await Deno.stat(argv[0]!).catch(() => {
      throw new Error(
        `${argv[0]} not found: this test needs bash, dash and busybox (apt-get install busybox)`,
      );
    });
  }
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-emit-" });
  const trip = `${dir}/trip`;
  await Deno.mkdir(`${dir}/bin`);
  for (const name of [...FUZZ_ALLOWLIST, ...FUZZ_OTHERS, "env", "sh", "bash"]) {
    await Deno.writeTextFile(`${dir}/bin/${name}`, `#!/bin/sh\necho ${name} >> ${trip}\n`, {
      mode: 0o755,
    });
  }
  const recorder = `${dir}/recorder`;
  return { dir, trip, recorder };
}

/** Runs `text` in each shell; returns the sorted records per shell. */
async function runAll(b: Bed, text: string): Promise<Record<string, string[][]>> {
  const out: Record<string, string[][]> = {};
  for (const [name, argv] of Object.entries(SHELLS)) {
    const recs = await Deno.makeTempDir({ dir: b.dir, prefix: "r-" });
    await Deno.writeTextFile(b.recorder, recorderScript(recs, null), { mode: 0o755 });
    let r: Deno.CommandOutput;
    for (let attempt = 0;; attempt++) {
      r = await new Deno.Command(argv[0]!, {
        args: [...argv.slice(1), `${text}\nwait`],
        env: { PATH: `${b.dir}/bin`, HOME: b.dir },
        clearEnv: true,
        cwd: b.dir,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      // ETXTBSY: a process forked by another test worker at the moment the recorder was
      // written holds it open for writing until it execs; the shell then cannot run it
      if (attempt >= 20 || !/text file busy/i.test(new TextDecoder().decode(r.stderr))) break;
      for await (const e of Deno.readDir(recs)) await Deno.remove(`${recs}/${e.name}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    const records: string[][] = [];
    for await (const e of Deno.readDir(recs)) {
      records.push(parseRecord(await Deno.readTextFile(`${recs}/${e.name}`)));
    }
    await Deno.remove(recs, { recursive: true });
    const tripped = await Deno.readTextFile(b.trip).catch(() => "");
    assert.equal(tripped, "", `${name} looked up ${tripped.trim()} for ${JSON.stringify(text)}`);
    assert.ok(
      r.code === 0 || records.length > 0,
      `${name} failed on ${JSON.stringify(text)}: ${new TextDecoder().decode(r.stderr)}`,
    );
    // each record: PATH=..., assignments, program, args
    out[name] = records.map((x) => {
      assert.equal(x[0], `PATH=${SAFE_PATH}`, `${name}: the vehicle lost its PATH`);
      return x.slice(1);
    }).sort(compare);
  }
  return out;
}

function compare(a: string[], b: string[]): number {
  return JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0;
}

/** The oracle: every shell records exactly the admitted argv of every command that runs. */
async function check(b: Bed, command: string): Promise<void> {
  const parsed = parseCommand(command);
  const emitted = emitRestricted(parsed, { envProgram: b.recorder });
  const expected = expectedRecords(parsed).sort(compare);
  const got = await runAll(b, emitted);
  for (const [name, records] of Object.entries(got)) {
    assert.deepEqual(
      records,
      expected,
      `${name}: ${JSON.stringify(command)} -> ${JSON.stringify(emitted)}`,
    );
    for (const r of records) {
      const prog = r.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
      assert.ok(FUZZ_ALLOWLIST.includes(prog ?? ""), `${name} ran ${prog}`);
    }
  }
}

Deno.test("EXEC-22/EXEC-23: the re-emitted text quotes every word and runs programs through env with the fixed PATH", () => {
  const q = `'${ENV_PROGRAM}' 'PATH=${SAFE_PATH}'`;
  assert.equal(admit("ls -la /tmp"), `${q} 'ls' '-la' '/tmp'`);
  assert.equal(admit("LC_ALL=C ls"), `${q} 'LC_ALL=C' 'ls'`);
  assert.equal(admit(`ls "it's" a\\ b`), `${q} 'ls' 'it'"'"'s' 'a b'`);
  assert.equal(admit("ls 2>&1 | wc -l"), `${q} 'ls' 2>&1 | ${q} 'wc' '-l'`);
  assert.equal(admit("ls |& wc"), `${q} 'ls' 2>&1 | ${q} 'wc'`);
  assert.equal(admit("ls &>/dev/null"), `${q} 'ls' >/dev/null 2>&1`);
  assert.equal(
    admit("ls; ls && ! ls || ls &"),
    `${q} 'ls'\n${q} 'ls' && ! ${q} 'ls' || ${q} 'ls' &`,
  );
  assert.equal(admit("cat <<< x"), `${q} 'cat' <<'SSHMCP_EOF_1'\nx\nSSHMCP_EOF_1\n`);
  // a body line equal to the delimiter is avoided
  assert.equal(
    admit("cat <<'E'\nSSHMCP_EOF_1\nE"),
    `${q} 'cat' <<'SSHMCP_EOF_2'\nSSHMCP_EOF_1\nSSHMCP_EOF_2\n`,
  );
  assert.equal(admit("cat </etc/hosts"), `${q} 'cat' <'/etc/hosts'`);
  // <<- bodies lose their leading tabs; the delimiter is quoted
  assert.equal(admit("cat <<-EOF\n\t\tx\n\tEOF"), `${q} 'cat' <<'SSHMCP_EOF_1'\nx\nSSHMCP_EOF_1\n`);
});

Deno.test("EXEC-23/EXEC-26/EXEC-48: bash, dash and busybox ash give every program the admitted argv (hand-written cases)", async () => {
  const b = await bed();
  try {
    for (
      const c of [
        "ls -la /tmp",
        `printf '%s|' 'a b' "c'd" '$HOME' '*' '~' 'x;y' "\\$(id)" é '' "tab\there" $'\\x41'`,
        "LANG=C LC_ALL=C.UTF-8 TZ=Europe/Berlin ls x",
        'ls a\\ b "q\\"q" \'new\nline\'',
        "ls 2>&1 | wc -l | head -n 1",
        "ls |& wc",
        "ls; cat && ! grep x || wc &",
        "ls &>/dev/null; cat 2>/dev/null >/dev/null",
        "cat <<< 'x y'",
        "cat <<'EOF'\n$HOME `id` $(id)\nEOF",
        "cat <<-EOF\n\tplain\n\tEOF",
        "grep -e 'a[$(id)]' -- '-x'",
        "ls '{a,b}' '*' \\* \\~ '$((1))'",
      ]
    ) {
      assert.notEqual(admit(c), null, `not admitted: ${c}`);
      await check(b, c);
    }
  } finally {
    await Deno.remove(b.dir, { recursive: true });
  }
});

Deno.test("EXEC-48: generated command lines: every admitted one re-parses as literal words and runs the admitted argv in bash, dash and busybox ash", async () => {
  const seed = Number(Deno.env.get("FUZZ_SEED") ?? 20261202);
  const r = rng(seed);
  const b = await bed();
  let admitted = 0;
  let generated = 0;
  try {
    while (admitted < 150 && generated < 20_000) {
      const command = generateCommand(r);
      generated++;
      const text = admit(command);
      if (text === null) continue;
      admitted++;
      // the emitted text is itself a literal command: nothing in it expands
      const again = parseCommand(text);
      assert.ok(again.ok && again.construct === null, `seed ${seed}: ${JSON.stringify(text)}`);
      for (const sc of again.simple) {
        for (const w of [sc.programWord, ...sc.argWords]) {
          assert.equal(w?.expansion ?? null, null, `seed ${seed}: ${JSON.stringify(text)}`);
        }
      }
      await check(b, command);
    }
  } finally {
    await Deno.remove(b.dir, { recursive: true });
  }
  assert.ok(
    admitted >= 150,
    `seed ${seed}: only ${admitted} of ${generated} generated commands were admitted`,
  );
});
