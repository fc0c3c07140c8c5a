/**
 * SECURITY.md §24.10 (AC-650..AC-679) through `ssh_read_redacted` on a real
 * host, plus the bypass policy of the raw readers (AC-664..AC-668), the
 * startup rules (AC-660, AC-663), and issue 9 §4 end to end: a sample of
 * the redaction corpus (RED-32) read from a real sshd host through both
 * redacted readers, with and without a weaker `format` (RED-35), UTF-16
 * files included (RED-31).
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";
import { startFleet } from "../_support/fleet.ts";
import { startInProcess } from "../_support/mcp.ts";
import { type FilesCtx, mkdirUser, put, withFiles } from "./_files_fixture.ts";
import { decodeForRedaction } from "../../src/policy/redact.ts";
import { leaks, type SecretCase, secretCorpus } from "../fixtures/redact/corpus.ts";
import { rootFile, startBedServer, startSudoBed } from "../_support/sudo.ts";

type R = Record<string, unknown>;
interface Red {
  key: string | null;
  hash: string;
  line: number | null;
  kind: string;
}

const MARK = /<sha:[0-9a-f]{12} len:\d+(?: hint:[^>]*)?>/;

async function read(c: FilesCtx, name: string, content: string, extra: R = {}) {
  await put(`${c.root}/${name}`, content);
  return await c.s.ok<R & { content: string; redactions: Red[] }>("ssh_read_redacted", {
    host: "h1",
    path: `${c.root}/${name}`,
    ...extra,
  });
}

function plain(v: string): string {
  return createHash("sha256").update(v).digest("hex").slice(0, 12);
}

Deno.test("AC-650/AC-651/AC-652/AC-653/AC-654: key matches in env, yaml, json and ini; quotes kept", async () => {
  await withFiles(async (c) => {
    const env = await read(c, ".env", "DB_PASSWORD=hunter2\n");
    assert.equal(env.content, `DB_PASSWORD=<sha:${plain("hunter2")} len:7>\n`);
    assert.deepEqual(env.redactions, [{
      key: "DB_PASSWORD",
      hash: plain("hunter2"),
      line: 1,
      kind: "key_match",
    }]);
    const q = await read(c, "q.env", "API_KEY=\"abc123\"\nTOKEN='x'\n");
    assert.match(
      q.content,
      /^API_KEY="<sha:[0-9a-f]{12} len:6>"\nTOKEN='<sha:[0-9a-f]{12} len:1>'\n$/,
    );
    const y = await read(c, "a.yaml", 'password: s3cret\nother: "s3cret"\npassword: "s3cret"\n');
    assert.match(
      y.content,
      /^password: <sha:[0-9a-f]{12} len:6>\nother: "s3cret"\npassword: "<sha:[0-9a-f]{12} len:6>"\n$/,
    );
    assert.equal(y.format_detected, "yaml");
    const j = await read(c, "a.json", '{"token":"a\\"b","user":"x","secret":"c\\\\d"}\n');
    assert.ok(j.content.includes('"user":"x"'), j.content);
    assert.ok(!j.content.includes('a\\"b') && !j.content.includes("c\\\\d"), j.content);
    assert.equal(j.redactions.length, 2);
    for (const ext of ["ini", "cfg", "conf"]) {
      const i = await read(c, `x.${ext}`, "password = x\n");
      assert.match(i.content, /^password = <sha:[0-9a-f]{12} len:1>\n$/, ext);
      assert.equal(i.format_detected, "ini");
    }
  });
});

Deno.test("AC-655/AC-656/AC-657/AC-658: entropy runs (on/off), comments exempt, PEM blocks always", async () => {
  const hex = "0123456789abcdef0123456789abcdef01234567";
  const b64 = "QWxhZGRpbjpvcGVuIHNlc2FtZQ";
  const pem =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";
  await withFiles(async (c) => {
    const g = await read(c, "notes.txt", `id ${hex}\nb ${b64}\n# ${hex}\n// ${hex}\n`);
    assert.equal(g.format_detected, "generic");
    const lines = g.content.split("\n");
    assert.match(lines[0]!, MARK);
    assert.match(lines[1]!, MARK);
    assert.equal(lines[2], `# ${hex}`);
    assert.equal(lines[3], `// ${hex}`);
    assert.ok(g.redactions.some((r) => r.kind === "entropy_hex" && r.key === null));
    assert.ok(g.redactions.some((r) => r.kind === "entropy_base64"));
  });
  await withFiles(async (c) => {
    const g = await read(c, "notes.txt", `id ${hex}\n`);
    assert.equal(g.content, `id ${hex}\n`);
    const k = await read(c, "id.txt", pem);
    assert.ok(k.content.startsWith("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
    assert.ok(k.content.includes("-----END (redacted)-----"));
    assert.ok(!k.content.includes("b3BlbnNzaC1rZXktdjEAAAAA"));
    assert.ok(k.redactions.some((r) => r.kind === "pem_block" && r.line === null));
  }, { env: { SSH_REDACT_ENTROPY_DETECTION: "false" } });
});

Deno.test("AC-659/AC-661: same value -> same marker; salts differ -> markers differ; empty salt warns; hints", async () => {
  const salt1 = "s".repeat(32);
  const salt2 = "t".repeat(40);
  let m1 = "";
  await withFiles(async (c) => {
    const r = await read(c, ".env", "A_PASSWORD=samevalue\nB_PASSWORD=samevalue\n");
    const [l1, l2] = r.content.split("\n");
    assert.equal(l1!.split("=")[1], l2!.split("=")[1]);
    assert.ok(
      (r.output_warnings as string[]).some((w) => /SHA-256|salt/i.test(w)),
      JSON.stringify(r.output_warnings),
    );
  });
  await withFiles(async (c) => {
    const r = await read(c, ".env", "A_PASSWORD=samevalue\n");
    m1 = r.content;
    const want = createHmac("sha256", salt1).update("samevalue").digest("hex").slice(0, 12);
    assert.equal(r.redactions[0]!.hash, want);
  }, { env: { SSH_REDACT_SALT: salt1 } });
  await withFiles(async (c) => {
    const r = await read(c, ".env", "A_PASSWORD=samevalue\n");
    assert.notEqual(r.content, m1);
  }, { env: { SSH_REDACT_SALT: salt2 } });
  await withFiles(async (c) => {
    const two = await read(c, ".env", "A_PASSWORD=abcdefgh\nB_TOKEN=abc\n");
    const [a, b] = two.content.split("\n");
    assert.match(a!, / hint:ab\.\.\.gh>$/);
    assert.doesNotMatch(b!, /hint/);
  }, { env: { SSH_REDACT_HINT_CHARS: "2" } });
  await withFiles(async (c) => {
    const none = await read(c, ".env", "A_PASSWORD=abcdefgh\n");
    assert.doesNotMatch(none.content, /hint/);
  }, { env: { SSH_REDACT_HINT_CHARS: "0" } });
});

Deno.test("AC-660/AC-663: invalid redaction settings are fatal at startup", async () => {
  const fleet = await startFleet(1, { perHost: () => 'path_allowlist = ["/tmp"]' });
  try {
    for (
      const env of [
        { SSH_REDACT_SALT: "x".repeat(31) } as Record<string, string>,
        { SSH_REDACT_KEYS_ADD: "A", SSH_REDACT_KEYS_REPLACE: "B" },
        { SSH_REDACT_HINT_CHARS: "5" },
        { SSH_REDACT_HINT_CHARS: "-1" },
      ]
    ) {
      await assert.rejects(() => startInProcess(fleet.env(env)), JSON.stringify(env));
    }
    const ok = await startInProcess(fleet.env({ SSH_REDACT_SALT: "x".repeat(32) }));
    await ok.close();
    await fleet.writeHostsToml(
      "",
      () => 'path_allowlist = ["/tmp"]\nredact_keys_add = ["A"]\nredact_keys_replace = ["B"]',
    );
    await assert.rejects(() => startInProcess(fleet.env()));
  } finally {
    await fleet.stop();
  }
});

Deno.test("AC-662/AC-672/AC-677: key semantics (prefix, suffix, exact), PWD, homoglyph keys fail closed", async () => {
  await withFiles(async (c) => {
    const r = await read(
      c,
      ".env",
      "PASS_WORD=a\nMY_PASS_X=b\nDB_PASS=c\nTOKEN=d\nMY_TOKEN=e\nMYSQL_PWD=f\nP\u0410SSWORD=g\n",
    );
    const lines = r.content.split("\n");
    assert.match(lines[0]!, MARK); // ^PASS_
    assert.equal(lines[1], "MY_PASS_X=b"); // neither ^PASS_ nor _PASS$
    assert.match(lines[2]!, MARK); // _PASS$
    assert.match(lines[3]!, MARK); // ^TOKEN$
    assert.equal(lines[4], "MY_TOKEN=e"); // exact only
    assert.match(lines[5]!, MARK); // PWD
    assert.match(lines[6]!, MARK); // Cyrillic A
  }, { env: { SSH_REDACT_KEYS_REPLACE: "^PASS_,_PASS$,^TOKEN$,PWD,PASSWORD" } });
});

Deno.test("AC-673/AC-674/AC-675/AC-676/AC-678: URL passwords, commented secrets, YAML blocks, JSON non-strings, export and headers", async () => {
  await withFiles(async (c) => {
    const url = await read(c, ".env", "DATABASE_URL=postgres://app:s3cret@db/app\n");
    assert.ok(!url.content.includes("s3cret"), url.content);
    assert.ok(url.content.includes("postgres://app:"));
    const com = await read(c, "c.env", "# PASSWORD=oldsecret\n");
    assert.ok(!com.content.includes("oldsecret"));
    assert.ok(com.content.startsWith("# PASSWORD="));
    const y = await read(
      c,
      "k.yaml",
      "private_key: |\n  line-one-secret\n  line-two-secret\nname: x\n",
    );
    assert.ok(
      !y.content.includes("line-one-secret") && !y.content.includes("line-two-secret"),
      y.content,
    );
    assert.ok(y.content.includes("name: x"));
    const j = await read(c, "n.json", '{"password": 12345678, "token": ["a","b"], "user": "u"}\n');
    assert.ok(!j.content.includes("12345678") && !j.content.includes('["a","b"]'), j.content);
    assert.ok(j.content.includes('"user": "u"'));
    const e = await read(
      c,
      "x.env",
      "export AWS_SECRET_ACCESS_KEY=abc\nAuthorization: Bearer eyJhbGciOi.payload.sig\n",
    );
    assert.ok(!e.content.includes("=abc"), e.content);
    assert.ok(!e.content.includes("eyJhbGciOi.payload.sig"), e.content);
  });
});

Deno.test("AC-669/AC-670/AC-671/AC-679: restricted stays restricted; over cap truncated; explicit format; empty input", async () => {
  await withFiles(async (c) => {
    await mkdirUser(`${c.root}/zone`);
    await put(`${c.root}/zone/.env`, "A=1");
    const e = await c.s.err("ssh_read_redacted", { host: "h1", path: `${c.root}/zone/.env` });
    assert.equal(e.code, "PathRestricted");
    await put(`${c.root}/secret.key`, "x");
    assert.equal(
      (await c.s.err("ssh_read_redacted", { host: "h1", path: `${c.root}/secret.key` })).code,
      "PathRestricted",
    );
    const big = await read(c, "big.env", "A_PASSWORD=" + "x".repeat(200) + "\n");
    assert.deepEqual([big.truncated, big.content, big.redactions.length], [true, "", 0]);
    assert.ok(
      (big.output_warnings as string[]).some((w) => w.includes("SSH_UPLOAD_MAX_FILE_BYTES")),
    );
    const y = await read(c, "x.env", "password: s3cret\n", { format: "yaml" });
    assert.equal(y.format_detected, "yaml");
    assert.match(y.content, /^password: <sha:/);
    for (
      const [n, f] of [["e.env", "env"], ["e.yaml", "yaml"], ["e.json", "json"], ["e.ini", "ini"], [
        "e.txt",
        "generic",
      ]]
    ) {
      const r = await read(c, n!, "");
      assert.deepEqual([r.content, r.redactions, r.format_detected], ["", [], f], n);
    }
  }, {
    env: { SSH_UPLOAD_MAX_FILE_BYTES: "100" },
    perHost: (_a, root) =>
      `restricted_paths = ["${root}/zone"]\nrestricted_globs = ["**/*.key"]\nredact_paths_globs = ["**/.env", "**/*.key"]`,
  });
});

Deno.test("AC-664..AC-668: bypass policy of raw readers (host wins over env; block/warn/audit_only; non-matching)", async () => {
  const WARN = "redact-list path: prefer ssh_read_redacted (this delivered raw secrets to the LLM)";
  for (
    const [hostPolicy, envPolicy, expect] of [
      ["block", "warn", "block"],
      [null, "warn", "warn"],
      ["audit_only", "block", "audit_only"],
    ] as const
  ) {
    await withFiles(async (c) => {
      await put(`${c.root}/.env`, "SECRET=1\n");
      await put(`${c.root}/plain.txt`, "x\n");
      const r = await c.s.call("ssh_sftp_download", { host: "h1", path: `${c.root}/.env` });
      const lines = await c.audit();
      const last = lines.filter((l) => l.type === "audit" && l.tool === "ssh_sftp_download").at(
        -1,
      )!;
      if (expect === "block") {
        assert.equal(r.isError, true);
        const t = r.content.map((x) => (x.type === "text" ? x.text : "")).join("");
        assert.match(t, /^RedactBypassBlocked: .*ssh_read_redacted/);
        assert.equal(last.error, "RedactBypassBlocked");
        assert.equal(last.redact_bypass, undefined);
      } else {
        const sc = r.structuredContent as R;
        assert.equal(Buffer.from(String(sc.content_base64), "base64").toString(), "SECRET=1\n");
        assert.equal((sc.output_warnings as string[]).includes(WARN), expect === "warn");
        assert.equal(last.redact_bypass, true);
      }
      const p = await c.s.ok<R>("ssh_sftp_download", { host: "h1", path: `${c.root}/plain.txt` });
      assert.ok(!(p.output_warnings as string[]).includes(WARN));
      const pl = (await c.audit()).filter((l) =>
        l.type === "audit" && l.tool === "ssh_sftp_download"
      ).at(-1)!;
      assert.equal(pl.redact_bypass, undefined);
    }, {
      env: { SSH_REDACT_BYPASS_POLICY: envPolicy },
      perHost: () =>
        `redact_paths_globs = ["**/.env"]${
          hostPolicy ? `\nredact_bypass_policy = "${hostPolicy}"` : ""
        }`,
    });
  }
});

/**
 * The end-to-end sample: every family of the corpus (env, YAML, JSON, XML,
 * INI/properties, directives, `.pgpass`, `.netrc`, PHP, HCL, shell, keys,
 * bare tokens, UTF-16 with and without BOM, Latin-1).
 */
const SAMPLE = [
  ".env",
  "docker-compose.yml",
  "deployment.yaml",
  "values.yaml",
  "task-definition.json",
  "Web.config",
  "application.properties",
  "redis.conf",
  ".pgpass",
  ".netrc",
  "wp-config.php",
  "variables.tf",
  "deploy.sh",
  "id_rsa",
  "tokens.txt",
  "registry.reg",
  "agent.ini",
  "legacy.properties",
];

/** A format other than the file's own (the caller's choice cannot weaken it). */
function weaker(name: string): string {
  return name.endsWith(".json") ? "env" : "json";
}

function sample(): SecretCase[] {
  const all = secretCorpus();
  const picked = SAMPLE.map((n) => all.find((c) => c.name === n));
  assert.ok(picked.every((c) => c !== undefined), "every sample file is in the corpus");
  return picked as SecretCase[];
}

type Read = R & { content: string; redactions: Red[]; format_detected: string };

Deno.test("RED-32/RED-35/RED-31: a corpus sample leaks nothing through ssh_read_redacted, in its own format or a weaker one", async () => {
  const files = sample();
  await withFiles(async (c) => {
    for (const f of files) await put(`${c.root}/${f.name}`, f.bytes);
    const failures: string[] = [];
    for (const f of files) {
      const text = decodeForRedaction(f.bytes).text;
      for (const format of [null, weaker(f.name)]) {
        const r = await c.s.ok<Read>("ssh_read_redacted", {
          host: "h1",
          path: `${c.root}/${f.name}`,
          ...(format ? { format } : {}),
        });
        if (format) assert.equal(r.format_detected, format);
        assert.ok(!r.content.includes("\0"), `${f.name}: NUL characters in the output`);
        const bad = leaks(text, r.content, f.secrets);
        if (bad.length) failures.push(`${f.name} (${format ?? "detected"}): ${bad.join(", ")}`);
        assert.ok(r.redactions.length > 0, f.name);
      }
    }
    assert.deepEqual(failures, []);
  });
});

Deno.test("RED-32/RED-31: corpus files read as root through ssh_sudo_read_redacted leak nothing", async () => {
  const files = sample().filter((f) =>
    ["values.yaml", "Web.config", ".pgpass", "registry.reg", "deploy.sh"].includes(f.name)
  );
  const bed = await startSudoBed();
  const s = await startBedServer(bed);
  try {
    for (const f of files) {
      await rootFile(`${bed.root}/private/${f.name}`, f.bytes);
      const r = await s.ok<Read>("ssh_sudo_read_redacted", {
        host: "pw",
        path: `${bed.root}/private/${f.name}`,
        format: "json",
      });
      assert.deepEqual(leaks(decodeForRedaction(f.bytes).text, r.content, f.secrets), [], f.name);
    }
  } finally {
    await s.close();
    await bed.stop();
  }
});
