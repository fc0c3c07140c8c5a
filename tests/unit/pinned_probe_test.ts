/**
 * The pinned shell's capability probe, run by real dash and bash: `o=1`
 * (hash sha256 with `openssl dgst -sha256 -r`) only when the `openssl` on
 * PATH gives the known answer in that exact format; a missing, failing,
 * lying or differently formatted one leaves `sha256sum` in charge (PATH-51).
 */

import assert from "node:assert/strict";
import { OPENSSL_ABC, parseCaps, PROBE } from "../../src/ssh/pinned_sh.ts";

async function probe(shell: string, bin: string | null): Promise<string> {
  const path = bin ? `${bin}:/usr/bin:/bin` : "/usr/bin:/bin";
  const o = await new Deno.Command(shell, {
    args: ["-c", PROBE, "ssh-mcp-probe"],
    env: { PATH: path },
    clearEnv: true,
  }).output();
  assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
  const caps = parseCaps(new TextDecoder().decode(o.stdout));
  assert.ok(caps, "the probe prints its caps line");
  return caps.openssl ? "1" : "0";
}

async function fake(dir: string, body: string): Promise<string> {
  const bin = await Deno.makeTempDir({ dir, prefix: "bin-" });
  await Deno.writeTextFile(`${bin}/openssl`, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return bin;
}

for (const shell of ["/bin/sh", "/bin/bash"]) {
  Deno.test(`PATH-51 (${shell}): the probe uses openssl for sha256 only when it gives the known answer`, async () => {
    const real = new Deno.Command("sh", { args: ["-c", "command -v openssl"] }).outputSync();
    assert.equal(real.code, 0, "the test machine has openssl (CI installs it)");
    const dir = await Deno.makeTempDir({ prefix: "sshmcp-probe-" });
    try {
      assert.equal(await probe(shell, null), "1", "the real openssl");
      const cases: [string, string][] = [
        ["wrong digest", `cat >/dev/null; echo "${"0".repeat(64)} *stdin"`],
        ["fails", "exit 1"],
        ["prints nothing", "cat >/dev/null"],
        ["other format", `cat >/dev/null; echo "SHA2-256(stdin)= ${OPENSSL_ABC.split(" ")[0]}"`],
        ["extra output", `cat >/dev/null; echo "${OPENSSL_ABC}"; echo extra`],
        ["ignores its input", `echo "${OPENSSL_ABC.replace("ba78", "ba79")}"`],
      ];
      for (const [what, body] of cases) {
        assert.equal(await probe(shell, await fake(dir, body)), "0", what);
      }
      // a stand-in that answers right is believed (the check is the answer, not the name)
      assert.equal(
        await probe(shell, await fake(dir, `cat >/dev/null; echo "${OPENSSL_ABC}"`)),
        "1",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
