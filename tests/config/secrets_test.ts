/**
 * Local secret sources (SECURITY.md AUTH-3, AUTH-4; CONFIG.md §4.7).
 */

import assert from "node:assert/strict";
import { isToolError } from "../../src/errors.ts";
import { Logger } from "../../src/log.ts";
import {
  readSecret,
  runSecretCommand,
  SECRET_COMMAND_TIMEOUT_MS,
  SECRET_NAME_RE,
  stripOneNewline,
} from "../../src/config/secrets.ts";
import { tempDir } from "../_support/sshd.ts";

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ level: "DEBUG", sink: (l) => lines.push(l) }), lines };
}

async function rejectsWith(
  p: Promise<unknown>,
  code: "AuthenticationFailed",
  check?: (msg: string) => void,
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isToolError(e, code), `expected ${code}, got ${String(e)}`);
    check?.(e.message);
    return true;
  });
}

function processGone(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // state is the field after the parenthesised command name
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

// ---------------------------------------------------------------------------
// runSecretCommand

Deno.test("AUTH-3: secret command stdout is the secret with exactly one trailing newline removed", async () => {
  const what = "password_cmd for host web01";
  assert.equal(await runSecretCommand("printf 's3cret\\n'", { what }), "s3cret");
  assert.equal(await runSecretCommand("printf 'a\\n\\n'", { what }), "a\n");
  assert.equal(await runSecretCommand("printf 'crlf\\r\\n'", { what }), "crlf");
  assert.equal(await runSecretCommand("printf 'none'", { what }), "none");
  assert.equal(await runSecretCommand("printf '  spaced  \\n'", { what }), "  spaced  ");
  assert.equal(await runSecretCommand("printf 'pässwörd\\n'", { what }), "pässwörd");
  assert.equal(stripOneNewline("x\n\n"), "x\n");
  assert.equal(stripOneNewline("x\r\n\r\n"), "x\r\n");
});

Deno.test("AUTH-3: secret command runs with stdin closed (a reader gets EOF at once)", async () => {
  const t0 = Date.now();
  assert.equal(await runSecretCommand("cat; echo done", { what: "x", timeoutMs: 5000 }), "done");
  assert.ok(Date.now() - t0 < 3000);
});

Deno.test("AUTH-3: secret command exiting 1 -> AuthenticationFailed with the exit code (AC-130)", async () => {
  await rejectsWith(
    runSecretCommand("echo hunter2; exit 1", { what: "password_cmd for host web01" }),
    "AuthenticationFailed",
    (m) => {
      assert.match(m, /password_cmd for host web01/);
      assert.match(m, /exit 1/);
      assert.ok(!m.includes("hunter2"), "stdout leaked into the error");
      assert.ok(!m.includes("echo"), "command text leaked into the error");
    },
  );
});

Deno.test("AUTH-3: secret command killed by a signal -> AuthenticationFailed naming the signal", async () => {
  await rejectsWith(
    runSecretCommand("kill -9 $$", { what: "password_cmd for host web01" }),
    "AuthenticationFailed",
    (m) => assert.match(m, /killed by SIGKILL/),
  );
});

Deno.test("AUTH-3: secret command stderr is never in the error (AC-130)", async () => {
  await rejectsWith(
    runSecretCommand("echo 'STDERR-LEAK-4711' >&2; exit 3", { what: "passphrase_cmd for host a" }),
    "AuthenticationFailed",
    (m) => {
      assert.match(m, /exit 3/);
      assert.ok(!m.includes("STDERR-LEAK-4711"));
    },
  );
  // successful command with stderr noise: stderr is not part of the secret
  assert.equal(
    await runSecretCommand("echo noise >&2; echo ok", { what: "x" }),
    "ok",
  );
});

Deno.test("AUTH-3: secret command sleeping 30 s is killed at the timeout (AC-130)", async () => {
  const dir = await tempDir("sshmcp-secret-");
  try {
    const pidFile = `${dir}/pid`;
    const t0 = performance.now();
    await rejectsWith(
      runSecretCommand(`sleep 30 & echo $! > ${pidFile}; wait; echo late`, {
        what: "password_cmd for host slow",
        timeoutMs: 500,
      }),
      "AuthenticationFailed",
      (m) => {
        assert.match(m, /password_cmd for host slow/);
        assert.match(m, /timed out after 0\.5 s/);
      },
    );
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 450, `failed too early (${elapsed} ms)`);
    assert.ok(elapsed < 5000, `took ${elapsed} ms for a 500 ms timeout`);
    // the whole process group died, including the backgrounded grandchild
    const pid = Number((await Deno.readTextFile(pidFile)).trim());
    assert.ok(pid > 0);
    for (let i = 0; i < 50 && !processGone(pid); i++) {
      // deno-lint-ignore no-await-in-loop
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(processGone(pid), `grandchild ${pid} survived the timeout`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-3: default timeout is 10 s; a plain `sleep 30` is killed at the deadline without waiting for pipes", async () => {
  assert.equal(SECRET_COMMAND_TIMEOUT_MS, 10_000);
  const t0 = performance.now();
  await rejectsWith(
    runSecretCommand("sleep 30", { what: "w", timeoutMs: 300 }),
    "AuthenticationFailed",
    (m) => assert.match(m, /timed out after 0\.3 s/),
  );
  assert.ok(performance.now() - t0 < 5000);
});

Deno.test("AUTH-3: secret commands do not block the event loop (a concurrent timer keeps ticking)", async () => {
  let ticks = 0;
  const id = setInterval(() => ticks++, 20);
  try {
    const t0 = performance.now();
    const v = await runSecretCommand("sleep 1; echo ok", { what: "x" });
    const elapsed = performance.now() - t0;
    assert.equal(v, "ok");
    assert.ok(elapsed >= 900);
    // ~50 ticks expected; a synchronous spawn would give 0-1
    assert.ok(ticks >= 20, `only ${ticks} timer ticks during a 1 s secret command`);
  } finally {
    clearInterval(id);
  }
});

Deno.test("AUTH-3: several secret commands run concurrently", async () => {
  // each command reports when it started and ended; run concurrently, every
  // one starts before any ends (no wall-clock threshold, so load cannot flake it)
  const vals = await Promise.all(
    [1, 2, 3, 4].map((i) =>
      runSecretCommand(`s=$(date +%s%N); sleep 0.5; echo "v${i} $s $(date +%s%N)"`, {
        what: "x",
      })
    ),
  );
  const rows = vals.map((v) => v.split(" "));
  assert.deepEqual(rows.map((r) => r[0]), ["v1", "v2", "v3", "v4"]);
  const lastStart = Math.max(...rows.map((r) => Number(r[1]) / 1e6));
  const firstEnd = Math.min(...rows.map((r) => Number(r[2]) / 1e6));
  assert.ok(lastStart < firstEnd, `commands ran one after another: ${JSON.stringify(rows)}`);
});

Deno.test("AUTH-3: secret command output over 64 KiB is refused", async () => {
  await rejectsWith(
    runSecretCommand("head -c 200000 /dev/zero | tr '\\0' a", { what: "big", timeoutMs: 5000 }),
    "AuthenticationFailed",
    (m) => assert.match(m, /64 KiB/),
  );
});

Deno.test("AUTH-3: a background child holding stdout does not stall a finished command", async () => {
  const t0 = performance.now();
  const v = await runSecretCommand("(sleep 30 &) ; echo pw", { what: "x", timeoutMs: 5000 });
  assert.equal(v, "pw");
  assert.ok(performance.now() - t0 < 3000);
});

// ---------------------------------------------------------------------------
// readSecret

async function secretsDir(): Promise<string> {
  const d = await tempDir("sshmcp-secrets-");
  await Deno.chmod(d, 0o700);
  return d;
}

async function writeSecret(dir: string, name: string, content: string, mode = 0o600) {
  await Deno.writeTextFile(`${dir}/${name}`, content);
  await Deno.chmod(`${dir}/${name}`, mode);
}

Deno.test("AUTH-4: secret file content with exactly one trailing newline stripped; read per use", async () => {
  const dir = await secretsDir();
  try {
    const { logger, lines } = capture();
    const opts = { dir, allowEnv: false, env: {}, what: "password_secret for host db", logger };
    await writeSecret(dir, "db_pw", "s3cret\n");
    assert.equal(await readSecret("db_pw", opts), "s3cret");
    await writeSecret(dir, "db_pw", "two\n\n");
    assert.equal(await readSecret("db_pw", opts), "two\n", "not cached, one newline only");
    await writeSecret(dir, "db_pw", "crlf\r\n");
    assert.equal(await readSecret("db_pw", opts), "crlf");
    await writeSecret(dir, "Db-Pw_2", "x");
    assert.equal(await readSecret("Db-Pw_2", opts), "x");
    assert.deepEqual(lines, [], "0600 files give no warning");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-4: traversal and absolute secret names are rejected (AC-131)", async () => {
  const dir = await secretsDir();
  try {
    const opts = { dir, allowEnv: true, env: {}, what: "password_secret for host db" };
    for (
      const bad of [
        "../../etc/shadow",
        "/abs",
        "/etc/shadow",
        "a/b",
        "..",
        ".",
        "",
        "x y",
        "a".repeat(101),
      ]
    ) {
      assert.ok(!SECRET_NAME_RE.test(bad), bad);
      // deno-lint-ignore no-await-in-loop
      await rejectsWith(readSecret(bad, opts), "AuthenticationFailed", (m) => {
        assert.match(m, /invalid secret name/);
      });
    }
    assert.ok(SECRET_NAME_RE.test("a".repeat(100)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-4: a symlink inside the secrets dir is refused (AC-131)", async () => {
  const dir = await secretsDir();
  const outside = await secretsDir();
  try {
    await writeSecret(outside, "real", "leaked-if-followed\n");
    await Deno.symlink(`${outside}/real`, `${dir}/link`);
    await writeSecret(dir, "target", "inside\n");
    await Deno.symlink(`${dir}/target`, `${dir}/link2`);
    for (const name of ["link", "link2"]) {
      // deno-lint-ignore no-await-in-loop
      await rejectsWith(
        readSecret(name, { dir, allowEnv: false, env: {}, what: "password_secret for host db" }),
        "AuthenticationFailed",
        (m) => {
          assert.match(m, /symlink/);
          assert.ok(!m.includes("leaked-if-followed") && !m.includes("inside"));
        },
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("AUTH-4: directories, missing files, empty files and an unset SSH_SECRETS_DIR fail with AuthenticationFailed", async () => {
  const dir = await secretsDir();
  try {
    const what = "password_secret for host db";
    await Deno.mkdir(`${dir}/sub`);
    await rejectsWith(
      readSecret("sub", { dir, allowEnv: false, env: {}, what }),
      "AuthenticationFailed",
      (m) => assert.match(m, /not a regular file/),
    );
    await rejectsWith(
      readSecret("missing", { dir, allowEnv: false, env: {}, what }),
      "AuthenticationFailed",
      (m) => assert.match(m, /not found/),
    );
    await writeSecret(dir, "empty", "\n");
    await rejectsWith(
      readSecret("empty", { dir, allowEnv: false, env: {}, what }),
      "AuthenticationFailed",
      (m) => assert.match(m, /empty/),
    );
    await rejectsWith(
      readSecret("x", { dir: null, allowEnv: false, env: {}, what }),
      "AuthenticationFailed",
      (m) => assert.match(m, /SSH_SECRETS_DIR/),
    );
    await rejectsWith(
      readSecret("x", { dir: `${dir}/nope`, allowEnv: false, env: {}, what }),
      "AuthenticationFailed",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-2: SSH_MCP_SECRET_<NAME> wins only when ALLOW_ENV_SECRETS=true (AC-132)", async () => {
  const dir = await secretsDir();
  try {
    const env = { SSH_MCP_SECRET_DB: "from-env" };
    const what = "password_secret for host db";
    await writeSecret(dir, "db", "from-file\n");
    assert.equal(await readSecret("db", { dir, allowEnv: true, env, what }), "from-env");
    assert.equal(await readSecret("db", { dir, allowEnv: false, env, what }), "from-file");
    // no file and env not allowed: the variable is ignored entirely
    await rejectsWith(
      readSecret("db", { dir: null, allowEnv: false, env, what }),
      "AuthenticationFailed",
      (m) => assert.ok(!m.includes("from-env")),
    );
    assert.equal(await readSecret("db", { dir: null, allowEnv: true, env, what }), "from-env");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-4: group/world-readable secret file -> WARNING naming the file, never the content", async () => {
  const dir = await secretsDir();
  try {
    const { logger, lines } = capture();
    await writeSecret(dir, "open", "WORLD-READABLE-VALUE\n", 0o644);
    assert.equal(
      await readSecret("open", { dir, allowEnv: false, env: {}, what: "x", logger }),
      "WORLD-READABLE-VALUE",
    );
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /WARNING/);
    assert.ok(lines[0]!.includes(`${dir}/open`));
    assert.ok(!lines[0]!.includes("WORLD-READABLE-VALUE"));
    await writeSecret(dir, "group", "g\n", 0o640);
    await readSecret("group", { dir, allowEnv: false, env: {}, what: "x", logger });
    assert.equal(lines.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AUTH-4: ~ and ${VAR} in SSH_SECRETS_DIR are expanded", async () => {
  const dir = await secretsDir();
  try {
    await Deno.mkdir(`${dir}/s`);
    await writeSecret(`${dir}/s`, "k", "v\n");
    const what = "x";
    assert.equal(
      await readSecret("k", { dir: "~/s", allowEnv: false, env: { HOME: dir }, what }),
      "v",
    );
    assert.equal(
      await readSecret("k", { dir: "${BASE}/s", allowEnv: false, env: { BASE: dir }, what }),
      "v",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
