/**
 * Reads a Deno JUnit report and prints `<passed> <failed>` (test cases,
 * steps included). A missing or unreadable report counts as one failure.
 *
 * @module
 */

const path = Deno.args[0];
let out = "0 1";
try {
  const xml = await Deno.readTextFile(path ?? "");
  const m = /<testsuites\b[^>]*\btests="(\d+)"[^>]*\bfailures="(\d+)"[^>]*\berrors="(\d+)"/.exec(
    xml,
  );
  if (m) {
    const total = Number(m[1]);
    const bad = Number(m[2]) + Number(m[3]);
    out = `${total - bad} ${bad}`;
  }
} catch {
  // no report: the test run itself failed
}
Deno.stdout.writeSync(new TextEncoder().encode(out + "\n"));
