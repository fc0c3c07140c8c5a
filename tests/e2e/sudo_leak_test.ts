/**
 * AC-017 / INV-4 / SUDO-3: the sudo password never appears in any process's
 * argv or environment. The test host is this machine, so while 50 sudo runs
 * with a password execute (exec, run_script, write; five at a time) a sampler
 * reads every `/proc/<pid>/cmdline` and `/proc/<pid>/environ` continuously
 * and counts the samples and the hits. Results, written files, the audit log
 * and the server log are checked too.
 */

import assert from "node:assert/strict";
import { Logger } from "../../src/log.ts";
import { startBedServer, startSudoBed } from "../_support/sudo.ts";

interface Sampler {
  stop(): Promise<{ sweeps: number; samples: number; hits: string[]; sudoSeen: number }>;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Samples every process's cmdline and environ until stopped. */
function startSampler(secret: string): Sampler {
  const needle = new TextEncoder().encode(secret);
  const sudoMark = new TextEncoder().encode("[ssh-mcp-sudo:");
  let stopped = false;
  let sweeps = 0;
  let samples = 0;
  let sudoSeen = 0;
  const hits: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      const pids: string[] = [];
      for await (const e of Deno.readDir("/proc")) if (/^\d+$/.test(e.name)) pids.push(e.name);
      for (const pid of pids) {
        for (const f of ["cmdline", "environ"]) {
          let b: Uint8Array;
          try {
            // one process file at a time, continuously, while the runs go on
            // deno-lint-ignore no-await-in-loop
            b = await Deno.readFile(`/proc/${pid}/${f}`);
          } catch {
            continue; // the process exited
          }
          samples++;
          if (indexOf(b, needle) >= 0) hits.push(`${pid}/${f}`);
          if (f === "cmdline" && indexOf(b, sudoMark) >= 0) sudoSeen++;
        }
      }
      sweeps++;
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { sweeps, samples, hits, sudoSeen };
    },
  };
}

Deno.test("AC-017/SUDO-3: during 50 sudo runs with a password, /proc/*/cmdline and environ never contain it", async () => {
  const bed = await startSudoBed();
  const audit = `${bed.dir}/audit-leak.log`;
  const logs: string[] = [];
  const s = await startBedServer(bed, { SSH_AUDIT_LOG: audit, LOG_LEVEL: "DEBUG" }, {
    logger: new Logger({ level: "DEBUG", sink: (l) => logs.push(l) }),
  });
  const sampler = startSampler(bed.password);
  const results: string[] = [];
  let stats: Awaited<ReturnType<Sampler["stop"]>> = {
    sweeps: 0,
    samples: 0,
    hits: [],
    sudoSeen: 0,
  };
  try {
    const run = async (i: number) => {
      const kind = i % 3;
      if (kind === 0) {
        const r = await s.ok<{ exit_code: number; stdout: string }>("ssh_sudo_exec", {
          host: "pw",
          command: "sleep 0.1; id -u",
        });
        assert.deepEqual([r.exit_code, r.stdout], [0, "0\n"]);
        results.push(JSON.stringify(r));
      } else if (kind === 1) {
        const r = await s.ok<{ exit_code: number; stdout: string }>("ssh_sudo_run_script", {
          host: "pw",
          script: "sleep 0.1\nid -u\n",
        });
        assert.deepEqual([r.exit_code, r.stdout], [0, "0\n"]);
        results.push(JSON.stringify(r));
      } else {
        const r = await s.ok("ssh_sudo_write", {
          host: "pw",
          path: `${bed.root}/private/leak-${i}.txt`,
          content_text: `payload ${i}\n`,
        });
        results.push(JSON.stringify(r));
      }
    };
    for (let i = 0; i < 50; i += 5) {
      // five concurrent runs per round, rounds one after the other
      // deno-lint-ignore no-await-in-loop
      await Promise.all([0, 1, 2, 3, 4].map((k) => run(i + k)));
    }
  } finally {
    stats = await sampler.stop();
    await s.close();
  }
  try {
    // deno-lint-ignore no-console
    console.log(
      `leak scan: ${stats.samples} samples of /proc/*/{cmdline,environ} in ${stats.sweeps} sweeps, ` +
        `${stats.sudoSeen} sudo command lines seen, password found ${stats.hits.length} times`,
    );
    assert.deepEqual(stats.hits, [], "password found in a process's argv or environment");
    assert.ok(stats.samples > 0 && stats.sweeps > 0);
    assert.ok(stats.sudoSeen > 0, "the sampler never overlapped a running sudo");
    assert.equal(results.length, 50);
    for (const r of results) assert.ok(!r.includes(bed.password), "password in a result");
    for (let i = 2; i < 50; i += 3) {
      assert.equal(await Deno.readTextFile(`${bed.root}/private/leak-${i}.txt`), `payload ${i}\n`);
    }
    assert.ok(
      !(await Deno.readTextFile(audit)).includes(bed.password),
      "password in the audit log",
    );
    assert.ok(!logs.join("\n").includes(bed.password), "password in the server log");
  } finally {
    await bed.stop();
  }
});
