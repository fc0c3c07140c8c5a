import assert from "node:assert/strict";
import { nested, quote, quoteArgv, raw, sh } from "../../src/checked.ts";

Deno.test("INPUT-1: quote() equals shlex.quote on fixed cases", () => {
  assert.equal(quote(""), "''");
  assert.equal(quote("abc-._/:,=+%@"), "abc-._/:,=+%@");
  assert.equal(quote("a b"), "'a b'");
  assert.equal(quote("it's"), `'it'"'"'s'`);
  assert.equal(quote("$(reboot)"), "'$(reboot)'");
  assert.equal(quote("-rf"), "-rf");
  assert.equal(quoteArgv(["ls", "-l", "a b"]), "ls -l 'a b'");
});

Deno.test("sh``: interpolations are quoted; raw() and nested() are verbatim", () => {
  const user = "x; rm -rf /";
  assert.equal(sh`getent passwd -- ${user}`, "getent passwd -- 'x; rm -rf /'");
  assert.equal(sh`printf %s ${["a", "b c"]}`, "printf %s a 'b c'");
  assert.equal(sh`echo ${3}`, "echo 3");
  const inner = sh`cat -- ${"a'b"}`;
  assert.equal(
    sh`sudo -n -- sh -c ${inner}`,
    `sudo -n -- sh -c 'cat -- '"'"'a'"'"'"'"'"'"'"'"'b'"'"''`,
  );
  assert.equal(sh`${nested(inner)} | wc -c`, `cat -- 'a'"'"'b' | wc -c`);
  assert.equal(sh`a ${raw("2>/dev/null")}`, "a 2>/dev/null");
});

function randomString(len: number): string {
  const pool = " \t\n'\"\\$`!*?[]{}()<>|&;#~=%-_./:aZ09\u00e9\u202e\u0001";
  let s = "";
  const r = crypto.getRandomValues(new Uint32Array(len));
  for (let i = 0; i < len; i++) s += pool[r[i]! % pool.length];
  return s;
}

Deno.test("INPUT-1 property: `sh -c 'printf %s <quoted>'` round-trips 300 random strings", async () => {
  const cases = Array.from({ length: 300 }, (_, i) => randomString(1 + (i % 40)));
  cases.push("", "'", "''", "\\", "a\nb", "-n", "--", "\u0000".replace("\u0000", "x"));
  // one sh process per 50 strings keeps this fast: printf each value between NUL separators
  for (let i = 0; i < cases.length; i += 50) {
    const chunk = cases.slice(i, i + 50);
    const script = chunk.map((c) => sh`printf '%s\\0' ${c}`).join("; ");
    const out = await new Deno.Command("sh", { args: ["-c", script], stdout: "piped" }).output();
    const got = new TextDecoder().decode(out.stdout).split("\0").slice(0, -1);
    assert.deepEqual(got, chunk);
  }
});
