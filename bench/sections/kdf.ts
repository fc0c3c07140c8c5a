/**
 * `deno task bench kdf`: how long a passphrase-protected key load blocks the
 * event loop (issue 17 item 5), with the KDF on the event loop (what auth.ts
 * did before: `parsePrivateKey` with the passphrase, synchronous) vs in the
 * KDF worker (src/ssh/kdf.ts, what `prepareAuth` does now), interleaved in
 * the same run on the same key (ed25519, OpenSSH format, bcrypt with
 * ssh-keygen's default 16 rounds).
 *
 * The block is the longest gap seen by a 2 ms interval timer while the load
 * runs (a timer that cannot fire is an event loop that cannot serve another
 * call). The worker is measured cold (the first load after the worker was
 * stopped: includes creating its isolate, which Deno does on the calling
 * thread) and warm (a second load within KDF_WORKER_IDLE_MS). Rounds:
 * `KDF_ROUNDS` (default 7); median reported, raw samples kept. The noise
 * floor (the same sampler over a plain wait) shows what the machine's load
 * alone costs.
 *
 * @module
 */

import { parsePrivateKey } from "../../src/ssh/keys.ts";
import { decryptKeyOffThread, stopKdfWorker } from "../../src/ssh/kdf.ts";
import { mustRun, tempDir } from "../../tests/_support/sshd.ts";
import { out, pct, type Row } from "../_lib.ts";

/** Section name for `deno task bench kdf`. */
export const name = "kdf";

const ROUNDS = Number(Deno.env.get("KDF_ROUNDS") ?? 7);
const PASS = "bench passphrase";

/** Runs `f` while a 2 ms timer samples the event loop; the longest gap and the duration (ms). */
async function blocked(f: () => Promise<unknown> | unknown): Promise<{ gap: number; ms: number }> {
  let last = performance.now();
  let gap = 0;
  const id = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
  }, 2);
  await new Promise((r) => setTimeout(r, 10));
  last = performance.now();
  gap = 0;
  const t0 = performance.now();
  await f();
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 0));
  clearInterval(id);
  return { gap: Math.max(gap, performance.now() - last), ms };
}

/** Runs the section. */
export async function run(): Promise<Row[]> {
  const dir = await tempDir("sshmcp-kdfbench-");
  try {
    const path = `${dir}/id_ed25519`;
    await mustRun("ssh-keygen", ["-q", "-t", "ed25519", "-a", "16", "-N", PASS, "-f", path]);
    const onLoop: number[] = [];
    const onLoopMs: number[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    const warmMs: number[] = [];
    const idle: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // deno-lint-ignore no-await-in-loop
      const a = await blocked(async () => parsePrivateKey(await Deno.readFile(path), PASS, path));
      onLoop.push(a.gap);
      onLoopMs.push(a.ms);
      stopKdfWorker();
      // deno-lint-ignore no-await-in-loop
      const c = await blocked(async () =>
        decryptKeyOffThread(await Deno.readFile(path), PASS, path)
      );
      cold.push(c.gap);
      // deno-lint-ignore no-await-in-loop
      const w = await blocked(async () =>
        decryptKeyOffThread(await Deno.readFile(path), PASS, path)
      );
      warm.push(w.gap);
      warmMs.push(w.ms);
      // noise floor: the same sampler over a plain wait as long as the warm load
      // deno-lint-ignore no-await-in-loop
      const z = await blocked(() => new Promise((r) => setTimeout(r, w.ms)));
      idle.push(z.gap);
      out(
        `kdf round ${i + 1}: on the loop ${a.gap.toFixed(0)} ms blocked; worker cold ${
          c.gap.toFixed(0)
        } ms, warm ${w.gap.toFixed(0)} ms blocked (load took ${w.ms.toFixed(0)} ms); idle loop ${
          z.gap.toFixed(0)
        } ms`,
      );
    }
    stopKdfWorker();
    const med = (xs: number[]) => pct(xs, 50);
    const peer = "KDF on the event loop (before)";
    return [
      {
        section: name,
        metric: "second passphrase-protected key load: event loop blocked (warm KDF worker)",
        value: med(warm),
        unit: "ms",
        peer,
        peerValue: med(onLoop),
        ratio: med(warm) / med(onLoop),
        samples: warm,
        peerSamples: onLoop,
      },
      {
        section: name,
        metric: "first passphrase-protected key load: event loop blocked (cold KDF worker)",
        value: med(cold),
        unit: "ms",
        peer,
        peerValue: med(onLoop),
        ratio: med(cold) / med(onLoop),
        samples: cold,
        peerSamples: onLoop,
      },
      {
        section: name,
        metric: "noise floor: longest timer gap with nothing running",
        value: med(idle),
        unit: "ms",
        samples: idle,
      },
      {
        section: name,
        metric: "passphrase-protected key load: wall time (warm KDF worker)",
        value: med(warmMs),
        unit: "ms",
        peer,
        peerValue: med(onLoopMs),
        ratio: med(warmMs) / med(onLoopMs),
        samples: warmMs,
        peerSamples: onLoopMs,
      },
    ];
  } finally {
    stopKdfWorker();
    await Deno.remove(dir, { recursive: true });
  }
}
