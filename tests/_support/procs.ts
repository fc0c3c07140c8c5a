/**
 * Process checks on the test hosts (they run on this machine): find processes
 * by command line, wait for a condition, and unique `sleep` commands whose text
 * identifies the process.
 *
 * @module
 */

/** pids whose command line contains `token`. */
export async function procsWith(token: string): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).replaceAll("\0", " ");
      if (cmd.includes(token)) out.push(Number(e.name));
    } catch {
      // exited
    }
  }
  return out;
}

/** Polls `cond` every 50 ms; throws naming `what` after `ms`. */
export async function waitFor(
  cond: () => Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/** A unique long `sleep` command; its text identifies the process on the host. */
export function sleeper(): { cmd: string; token: string } {
  const token = `sleep ${7000 + Math.floor(Math.random() * 2000)}.${
    Math.floor(Math.random() * 1000)
  }`;
  return { cmd: token, token };
}
