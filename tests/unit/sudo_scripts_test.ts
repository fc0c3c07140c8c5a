/**
 * Generated root scripts (`sh -n` parses each), stage naming (AC-616), the
 * `ls -la` parser (AC-621), the `sudo -l` parser, strict UTF-8 (AC-010) and
 * the write script run locally against a scratch directory (SUDO-8..10).
 */

import assert from "node:assert/strict";
import {
  CODE_CHANGED_SINCE_READ,
  CODE_PATH_CHANGED,
  CODE_SPECIAL_BITS,
  listScript,
  parseLsLa,
  parseWriteInfo,
  readScript,
  writeScript,
  writeStage,
} from "../../src/sudo/scripts.ts";
import { parseEntry, parseSudoList, runsRootShell } from "../../src/sudo/capabilities.ts";
import { countOccurrences, invalidUtf8Offset } from "../../src/util/text.ts";

async function sh(script: string, stdin = ""): Promise<{ code: number; out: string; err: string }> {
  const p = new Deno.Command("/bin/sh", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  try {
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  } catch (e) {
    // a script that exits before reading its stdin (refusals) closes the pipe: not an error here
    if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
  }
  const o = await p.output();
  const d = new TextDecoder();
  return { code: o.code, out: d.decode(o.stdout), err: d.decode(o.stderr) };
}

const NASTY = `/tmp/x y/it's $(id) \`id\`;"a"`;

Deno.test("SUDO-9: every generated script parses with sh -n, values only as quoted assignments", async () => {
  const scripts = [
    readScript(NASTY, NASTY, 10),
    listScript(NASTY, NASTY),
    writeScript({
      raw: NASTY,
      expect: NASTY,
      mode: "0600",
      user: "root",
      group: "0",
      allowSpecial: false,
      expectSha256: "ab".repeat(32),
      size: 3,
    }),
    writeScript({
      raw: "a",
      expect: "/a",
      mode: null,
      user: null,
      group: null,
      allowSpecial: true,
      size: 0,
    }),
  ];
  for (const s of scripts) {
    const r = await sh(`sh -n -c "$1"`.replace('"$1"', `'${s.replaceAll("'", `'"'"'`)}'`));
    assert.equal(r.code, 0, `${s}\n${r.err}`);
    assert.ok(s.startsWith("raw="), "assignments first");
  }
});

Deno.test("AC-616: stage codes 1..5 name mktemp / cat>tmp / chmod / chown / mv; others unknown(exit=N)", () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(writeStage),
    ["mktemp", "cat>tmp", "chmod", "chown", "mv"],
  );
  assert.equal(writeStage(42), "unknown(exit=42)");
  assert.equal(writeStage(CODE_PATH_CHANGED), "path changed during operation");
});

Deno.test("SUDO-8/9/10: the write script run locally: re-check, inherit owner+mode, atomic, temp removed on failure", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = `${dir}/secret.conf`;
    await Deno.writeTextFile(f, "old");
    await Deno.chmod(f, 0o600);
    const w = (o: Partial<Parameters<typeof writeScript>[0]>) =>
      writeScript({
        raw: f,
        expect: f,
        mode: null,
        user: null,
        group: null,
        allowSpecial: false,
        size: 11,
        ...o,
      });
    let r = await sh(w({}), "new content");
    assert.equal(r.code, 0, r.err);
    assert.equal(await Deno.readTextFile(f), "new content");
    assert.equal((await Deno.stat(f)).mode! & 0o7777, 0o600, "mode kept");
    const info = parseWriteInfo(r.out)!;
    assert.equal(info.existed, true);
    assert.equal(info.mode, "600");
    // path changed: expect differs from what realpath says now
    // a short stdin (payload never sent or cut off) fails cat>tmp and never truncates the file
    r = await sh(w({}), "");
    assert.equal(r.code, 2);
    assert.equal(await Deno.readTextFile(f), "new content");
    r = await sh(w({ expect: `${dir}/other` }), "x");
    assert.equal(r.code, CODE_PATH_CHANGED);
    assert.equal(await Deno.readTextFile(f), "new content");
    // edit guard: the file changed since it was read
    r = await sh(w({ expectSha256: "00".repeat(32) }), "x");
    assert.equal(r.code, CODE_CHANGED_SINCE_READ);
    // inherited setuid bit refused unless allowed
    await Deno.chmod(f, 0o4755);
    r = await sh(w({}), "x");
    assert.equal(r.code, CODE_SPECIAL_BITS);
    // failing chown stage (unknown user) -> exit 4 and no temp file left
    r = await sh(w({ mode: "0644", user: "no-such-user-xyz", size: 1 }), "x");
    assert.equal(r.code, 4);
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(left, ["secret.conf"]);
    // new file: root:root (the current user here) and 0644 by default
    const nf = `${dir}/new.txt`;
    r = await sh(w({ raw: nf, expect: nf, size: 1 }), "n");
    assert.equal(r.code, 0, r.err);
    assert.equal(parseWriteInfo(r.out)!.existed, false);
    assert.equal((await Deno.stat(nf)).mode! & 0o777, 0o644);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AC-621: ls -la rows parsed, total/./../device/BusyBox rows skipped, sorted, symlink targets", () => {
  const text = [
    "total 144",
    "drwxr-xr-x    3 root root   4096 2026-11-21 13:47:43.549731785 +0000 .",
    "drwxrwxrwt 2612 root root 135168 2026-11-21 13:47:43.545731784 +0000 ..",
    "-rw-r--r--    1 root root      7 2026-11-21 13:47:43.549222862 +0000 b b",
    "drwsr-S---    2 root root   4096 2026-11-21 13:47:43.549731785 +0000 a",
    "lrwxrwxrwx    1 root root     10 2026-11-21 13:47:43.549731785 +0000 lnk -> /etc/hosts",
    "crw-rw-rw-    1 root root   1, 3 2026-11-19 23:15:30.207006297 +0000 null",
    "-rw-r--r--    1 0        0               7 Nov 21 13:47 busybox-row",
  ].join("\n");
  const e = parseLsLa(text);
  assert.deepEqual(e.map((x) => x.name), ["a", "b b", "lnk"]);
  assert.deepEqual(e[0], {
    name: "a",
    kind: "dir",
    size: 4096,
    mode: "0740",
    mtime: "2026-11-21T13:47:43.549731785+00:00",
    symlink_target: null,
  });
  assert.equal(e[2]!.kind, "symlink");
  assert.equal(e[2]!.symlink_target, "/etc/hosts");
});

Deno.test("sudo -l parser: defaults, run-as, tags carried over, escaped commas, options", () => {
  const text = `Matching Defaults entries for bob on vm:
    env_reset, mail_badpass, secure_path=/usr/sbin\\:/usr/bin, use_pty

Runas and Command-specific defaults for bob:
    Defaults!/usr/bin/vi !env_reset

User bob may run the following commands on vm:
    (ALL : ALL) ALL
    (root) NOPASSWD: /usr/bin/apt, /bin/systemctl restart nginx, PASSWD: /usr/bin/vim
    (bob, alice) CWD=* NOEXEC: /bin/echo a\\, b
`;
  const l = parseSudoList(text);
  assert.deepEqual(l.defaults, [
    "env_reset",
    "mail_badpass",
    "secure_path=/usr/sbin\\:/usr/bin",
    "use_pty",
  ]);
  assert.equal(l.rules.length, 5);
  assert.deepEqual(l.rules[0], {
    runas_users: ["ALL"],
    runas_groups: ["ALL"],
    command: "ALL",
    nopasswd: false,
    tags: [],
    options: [],
  });
  assert.deepEqual(l.rules.slice(1, 4).map((r) => [r.command, r.nopasswd]), [
    ["/usr/bin/apt", true],
    ["/bin/systemctl restart nginx", true],
    ["/usr/bin/vim", false],
  ]);
  assert.deepEqual(l.rules[4], {
    runas_users: ["bob", "alice"],
    runas_groups: [],
    command: "/bin/echo a\\, b",
    nopasswd: false,
    tags: ["NOEXEC"],
    options: ["CWD=*"],
  });
  assert.equal(runsRootShell(l.rules[0]!), true);
  assert.equal(runsRootShell(l.rules[1]!), false);
  assert.equal(runsRootShell(parseEntry("(root) NOPASSWD: /usr/bin/sh")[0]!), true);
  assert.deepEqual(parseSudoList("").rules, []);
});

Deno.test("AC-010: strict UTF-8 check names the first bad byte offset; occurrence count", () => {
  const enc = new TextEncoder();
  assert.equal(invalidUtf8Offset(enc.encode("héllo ✓ 😀")), -1);
  assert.equal(invalidUtf8Offset(new Uint8Array([0x61, 0x62, 0xe9, 0x63])), 2); // Latin-1 é
  assert.equal(invalidUtf8Offset(new Uint8Array([0xc0, 0x80])), 0); // overlong
  assert.equal(invalidUtf8Offset(new Uint8Array([0x61, 0xe2, 0x82])), 1); // truncated
  assert.equal(invalidUtf8Offset(new Uint8Array([0xed, 0xa0, 0x80])), 0); // surrogate
  assert.equal(countOccurrences("a.a.a", "a"), 3);
  assert.equal(countOccurrences("aaaa", "aa"), 2);
});
