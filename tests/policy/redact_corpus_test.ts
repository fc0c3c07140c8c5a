/**
 * The redaction corpus (SECURITY.md §RED, docs/security/redact.md RED-32,
 * RED-33, RED-12, RED-30, RED-31): realistic secret-bearing files written
 * for this project (`tests/fixtures/redact/secret/`, each with the exact
 * secret values it holds) must leak nothing through `redact()`, in every
 * format a caller may name, from their bytes and from text a caller
 * decoded as UTF-8; secret-free config files (`clean/`) may get only a
 * bounded number of markers, and the figures are printed.
 */

import assert from "node:assert/strict";
import {
  BUILTIN_REDACT_KEYS,
  decodeForRedaction,
  detectFormat,
  redact,
  REDACT_FORMATS,
  type RedactOptions,
} from "../../src/policy/redact.ts";
import { cleanCorpus, leaks, secretCorpus } from "../fixtures/redact/corpus.ts";

const OPTS: RedactOptions = {
  keys: [...BUILTIN_REDACT_KEYS],
  salt: "0123456789abcdef0123456789abcdef",
  entropy: true,
  hintChars: 0,
};

const SECRET = secretCorpus();
const CLEAN = cleanCorpus();

function report(lines: string[]): void {
  // deno-lint-ignore no-console
  console.log(lines.join("\n"));
}

/** The kind of file, for the coverage check: what the name says it is. */
function family(name: string): string {
  const f = detectFormat(name);
  if (/\.(xml|config|plist)$/i.test(name) || /^(NuGet\.Config|Web\.config)$/.test(name)) {
    return "xml";
  }
  if (/\.(php|py|js|ps1)$/.test(name)) return "code";
  if (/\.(tf|tfvars|hcl)$/.test(name)) return "hcl";
  if (/\.(sh|bash_history)$|^(crontab|Makefile|Dockerfile)$/.test(name)) return "shell";
  if (/\.(pem|key|ppk|asc)$|^id_/.test(name)) return "key";
  if (/\.properties$/.test(name)) return "properties";
  return f;
}

Deno.test("RED-32: the corpus has 60+ secret files across the formats, each secret present in its file", () => {
  assert.ok(SECRET.length >= 60, `${SECRET.length} secret files`);
  const families = new Set(SECRET.map((c) => family(c.name)));
  for (
    const f of ["env", "yaml", "json", "ini", "xml", "code", "hcl", "shell", "key", "properties"]
  ) {
    assert.ok(families.has(f), `no ${f} file in the corpus`);
  }
  const encodings = new Set(SECRET.map((c) => decodeForRedaction(c.bytes).encoding));
  for (const e of ["utf-8", "utf-16le", "utf-16be", "windows-1252"]) {
    assert.ok(encodings.has(e as never), `no ${e} file`);
  }
  for (const c of SECRET) {
    assert.ok(c.secrets.length > 0, `${c.name}: empty secret list`);
    const text = decodeForRedaction(c.bytes).text;
    for (const s of c.secrets) {
      assert.ok(text.includes(s), `${c.name}: ${JSON.stringify(s)} not in the file`);
    }
  }
  assert.ok(CLEAN.length >= 20, `${CLEAN.length} clean files`);
});

Deno.test("RED-32/RED-12/RED-30: no secret of the corpus survives redact() from bytes, in any format", () => {
  const failures: string[] = [];
  let secrets = 0;
  for (const c of SECRET) {
    secrets += c.secrets.length;
    const text = decodeForRedaction(c.bytes).text;
    for (const f of REDACT_FORMATS) {
      const out = redact(c.bytes, f, OPTS, { path: c.name }).content;
      const bad = leaks(text, out, c.secrets);
      if (bad.length) {
        failures.push(`${c.name} as ${f}: ${bad.map((s) => JSON.stringify(s)).join(", ")}`);
      }
    }
  }
  report([
    `redaction corpus: ${SECRET.length} files, ${secrets} secrets, ${failures.length} leaks`,
  ]);
  assert.deepEqual(failures, []);
});

Deno.test("RED-32/RED-31: text already decoded as UTF-8 (UTF-16 and Latin-1 files included) leaks nothing", () => {
  const failures: string[] = [];
  for (const c of SECRET) {
    const asUtf8 = new TextDecoder().decode(c.bytes);
    const out = redact(asUtf8, detectFormat(c.name), OPTS, { path: c.name }).content;
    // compare on the NUL-free text: the secrets of a UTF-16 file are ASCII
    const bad = leaks(asUtf8.replaceAll("\0", ""), out, c.secrets);
    if (bad.length) failures.push(`${c.name}: ${bad.join(", ")}`);
  }
  assert.deepEqual(failures, []);
});

Deno.test("RED-29/RED-32: with entropy detection off, the secrets still do not leak (key, structure and shape rules)", () => {
  const failures: string[] = [];
  for (const c of SECRET) {
    const text = decodeForRedaction(c.bytes).text;
    const out = redact(c.bytes, detectFormat(c.name), { ...OPTS, entropy: false }, { path: c.name })
      .content;
    const bad = leaks(text, out, c.secrets);
    if (bad.length) failures.push(`${c.name}: ${bad.join(", ")}`);
  }
  assert.deepEqual(failures, []);
});

/** Files whose secrets carry no key: only their name tells (RED-39). */
const NAME_ONLY = ["chap-secrets", "db_password.txt", "passwd.client", "userlist.txt"];

Deno.test("RED-39: files whose secrets carry no key are redacted when the caller passes the path", () => {
  for (const name of NAME_ONLY) {
    const c = SECRET.find((x) => x.name === name);
    assert.ok(c, name);
    const text = decodeForRedaction(c.bytes).text;
    const format = detectFormat(name);
    const withPath = redact(c.bytes, format, OPTS, { path: `/etc/ppp/${name}` }).content;
    assert.deepEqual(leaks(text, withPath, c.secrets), [], name);
    // without the path nothing names these values: the rule by name does the work
    assert.notDeepEqual(leaks(text, redact(c.bytes, format, OPTS).content, c.secrets), [], name);
  }
});

Deno.test("RED-33: secret-free config files get at most their bounded number of markers", () => {
  const over: string[] = [];
  const rows: string[] = [];
  let total = 0;
  for (const c of CLEAN) {
    const r = redact(c.text, detectFormat(c.name), OPTS, { path: c.name });
    total += r.redactions.length;
    if (r.redactions.length > 0) {
      const lines = c.text.split("\n");
      rows.push(
        `  ${c.name}: ${r.redactions.length} (bound ${c.max})`,
        ...r.redactions.map((x) => `    line ${x.line}: ${lines[(x.line ?? 1) - 1]?.trim()}`),
      );
    }
    if (r.redactions.length > c.max) over.push(`${c.name}: ${r.redactions.length} > ${c.max}`);
  }
  report([
    `over-redaction: ${total} harmless values masked in ${CLEAN.length} secret-free files`,
    ...rows,
  ]);
  assert.deepEqual(over, []);
});

Deno.test("RED-32: the leak check finds leaks (control: a redactor that knows no keys and no entropy)", () => {
  const blind: RedactOptions = { ...OPTS, keys: ["NO_SUCH_KEY_TOKEN"], entropy: false };
  const c = SECRET.find((x) => x.name === "my.cnf")!;
  const text = decodeForRedaction(c.bytes).text;
  assert.deepEqual(
    leaks(text, text, c.secrets),
    c.secrets,
    "the unredacted text leaks every secret",
  );
  assert.ok(leaks(text, redact(c.bytes, "ini", blind).content, c.secrets).length > 0);
  // a piece of a secret that is also ordinary text of the file is no leak; any other piece is
  const input = "host=abcdefgh-db\npass=abcdefgh99\n";
  const masked = "host=abcdefgh-db\npass=<sha:0123456789ab len:10>\n";
  assert.deepEqual(leaks(input, masked, ["abcdefgh99"]), []);
  assert.deepEqual(leaks(input, masked + "bcdefgh9", ["abcdefgh99"]), ["abcdefgh99"]);
  assert.deepEqual(
    leaks("k=abc\n", "k=abc\n", ["abc"]),
    ["abc"],
    "short secrets are checked whole",
  );
});
