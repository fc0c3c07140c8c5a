/**
 * Pure parts of the SFTP layer and the file tools: patch rules, edit rules,
 * strict UTF-8, fnmatch, digest parsing, PowerShell encoding, path prefixes,
 * base64, timestamps and modes.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  isoTime,
  kindOf,
  modeString,
  SFTP_STATUS,
  SftpError,
  TEMP_NAME_RE,
  tempPathFor,
} from "../../src/ssh/sftp_channel.ts";
import { applyStrict, parseOneFilePatch } from "../../src/tools/file-ops/_patch.ts";
import { editText } from "../../src/tools/file-ops/ssh_edit.ts";
import { assertMode, strictUtf8 } from "../../src/tools/file-ops/_common.ts";
import { invalidUtf8Offset } from "../../src/util/text.ts";
import { pathPrefixes } from "../../src/tools/file-ops/ssh_mkdir.ts";
import { fnmatchRegExp, R_FIND_NAME } from "../../src/tools/sftp-read/ssh_find.ts";
import { parseDigest, powershellHashCommand } from "../../src/tools/sftp-read/ssh_file_hash.ts";
import { compareCodePoints } from "../../src/tools/sftp-read/_common.ts";
import { childPath } from "../../src/ssh/fs.ts";
import { backupStamp, decodeContentBase64 } from "../../src/tools/file-ops/_write.ts";
import type { Settings } from "../../src/config/types.ts";

function code(e: unknown): string {
  return (e as { code?: string }).code ?? "";
}

Deno.test("patch: applies hunks in order with exact context (diff package, fuzz 0)", () => {
  const src = "a\nb\nc\nd\ne\n";
  const p = parseOneFilePatch(
    "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n@@ -4,2 +4,3 @@\n d\n e\n+f\n",
  );
  assert.deepEqual(applyStrict(src, p), { text: "A\nb\nc\nd\ne\nf\n", hunks: 2 });
  // insertion into an empty file
  assert.equal(
    applyStrict("", parseOneFilePatch("--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n")).text,
    "x\ny\n",
  );
  // CRLF content compares with its \r
  assert.equal(
    applyStrict(
      "a\r\nb\r\n",
      parseOneFilePatch("--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n"),
    ).text,
    "a\r\nc\r\n",
  );
});

Deno.test("AC-247 patch rules: one file only, hunks present, exact context, ordered, no offset search", () => {
  assert.throws(() => parseOneFilePatch(""), /no hunks/);
  assert.throws(() => parseOneFilePatch("hello\n"), /no hunks/);
  assert.throws(
    () =>
      parseOneFilePatch(
        "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-1\n+2\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-1\n+2\n",
      ),
    /2 files/,
  );
  assert.throws(() => parseOneFilePatch("--- a\n+++ b\n@@ -1,3 +1,3 @@\n a\n"), /malformed/);
  const src = "1\n2\n3\n4\n5\n";
  const ctx = assert.throws(
    () => applyStrict(src, parseOneFilePatch("--- a\n+++ b\n@@ -2,2 +2,2 @@\n 2\n-X\n+Y\n")),
    (e) => code(e) === "WriteError" && /removal line 3 does not match/.test((e as Error).message),
  );
  void ctx;
  // the same hunk would fit one line lower: an offset search must NOT happen
  assert.throws(
    () => applyStrict(src, parseOneFilePatch("--- a\n+++ b\n@@ -1,2 +1,2 @@\n 3\n-4\n+four\n")),
    /context line 1 does not match/,
  );
  assert.throws(
    () =>
      applyStrict(
        src,
        parseOneFilePatch("--- a\n+++ b\n@@ -2,2 +2,2 @@\n 2\n-3\n+x\n@@ -3,1 +3,1 @@\n-3\n+y\n"),
      ),
    /before the end of hunk 1/,
  );
  assert.throws(
    () => applyStrict(src, parseOneFilePatch("--- a\n+++ b\n@@ -5,2 +5,2 @@\n 5\n-6\n+7\n")),
    /past the end of the file/,
  );
});

Deno.test("AC-246 edit rules: not found, ambiguous single (count named), all, literal replacement", () => {
  assert.throws(() => editText("abc", "x", "y", "single"), (e) => code(e) === "WriteError");
  assert.throws(() => editText("x x x", "x", "y", "single"), /3 times/);
  assert.deepEqual(editText("x x x", "x", "y", "all"), { text: "y y y", count: 3 });
  assert.deepEqual(editText("a-b", "-", "$&$'", "single"), { text: "a$&$'b", count: 1 });
  assert.deepEqual(editText("aaaa", "aa", "b", "all"), { text: "bb", count: 2 }); // non-overlapping
});

Deno.test("PATH-29/AC-010: strict UTF-8 with the offset of the first bad byte", () => {
  assert.equal(invalidUtf8Offset(new TextEncoder().encode("h\u00e9llo \u{1F600}")), -1);
  assert.equal(invalidUtf8Offset(new Uint8Array([0x61, 0x62, 0xe9, 0x63])), 2);
  assert.equal(invalidUtf8Offset(new Uint8Array([0xc0, 0x80])), 0); // overlong
  assert.equal(invalidUtf8Offset(new Uint8Array([0x61, 0xed, 0xa0, 0x80])), 1); // surrogate
  assert.equal(invalidUtf8Offset(new Uint8Array([0x61, 0xf0, 0x9f])), 1); // truncated
  assert.throws(() => strictUtf8(new Uint8Array([0x61, 0xff]), "/f", "ssh_edit"), /offset 1/);
  assert.equal(strictUtf8(new TextEncoder().encode("ok"), "/f", "ssh_edit"), "ok");
});

Deno.test("R_FIND_NAME and fnmatch semantics (Windows walk)", () => {
  for (const ok of ["*", "*.log", "a?c", "[abc].txt", "x-y_z.1"]) {
    assert.ok(R_FIND_NAME.test(ok), ok);
  }
  for (const bad of ["", "a b", "$(id)", "*; rm", "a/b", "x".repeat(129), "a\n"]) {
    assert.ok(!R_FIND_NAME.test(bad), bad);
  }
  assert.ok(fnmatchRegExp("*.log").test("a.log"));
  assert.ok(!fnmatchRegExp("*.log").test("a.log.1"));
  assert.ok(fnmatchRegExp("a?c").test("abc"));
  assert.ok(fnmatchRegExp("[!x]y").test("ay"));
  assert.ok(!fnmatchRegExp("[!x]y").test("xy"));
  assert.ok(fnmatchRegExp("a.b").test("a.b") && !fnmatchRegExp("a.b").test("axb"));
});

Deno.test("digests: GNU escaped names; PowerShell -EncodedCommand doubles quotes (AC-028)", () => {
  assert.equal(parseDigest("ABCDEF0123  /x\n"), "abcdef0123");
  assert.equal(parseDigest("\\e3b0c442  /a\\\\b\n"), "e3b0c442");
  const b64 = powershellHashCommand("C:\\Users\\O'Brien\\a.txt", "sha256");
  const buf = Buffer.from(b64, "base64");
  const script = new TextDecoder("utf-16le").decode(buf);
  assert.match(script, /Get-FileHash -Algorithm SHA256 -LiteralPath 'C:\\Users\\O''Brien\\a\.txt'/);
  assert.match(b64, /^[A-Za-z0-9+/]+=*$/);
});

Deno.test("mkdir prefixes, child paths, code-point order", () => {
  assert.deepEqual(pathPrefixes("/a/b/c", "posix"), ["/a", "/a/b", "/a/b/c"]);
  assert.deepEqual(pathPrefixes("C:/x/y", "windows"), ["C:/x", "C:/x/y"]);
  assert.equal(childPath("/", "etc"), "/etc");
  assert.equal(childPath("/a", "b"), "/a/b");
  const names = ["b", "\u{1F600}", "\uFF21", "a", "B"];
  assert.deepEqual(names.sort(compareCodePoints), ["B", "a", "b", "\uFF21", "\u{1F600}"]);
});

Deno.test("base64 strictness, backup stamps, times, modes, kinds, temp names, status constants (AC-014)", () => {
  assert.deepEqual([...decodeContentBase64("AAEC")], [0, 1, 2]);
  assert.deepEqual([...decodeContentBase64("")], []);
  for (const bad of ["@@@", "AAE", "AA==A", "A A=", "AAE=\n"]) {
    assert.throws(() => decodeContentBase64(bad), (e) => code(e) === "ValueError", bad);
  }
  assert.equal(backupStamp(new Date("2026-04-16T12:03:04.567Z")), "20260416T120304Z");
  assert.equal(isoTime(1776340984), "2026-04-16T12:03:04+00:00");
  assert.equal(isoTime(0), "");
  assert.equal(modeString(0o100644), "0644");
  assert.equal(modeString(0o104755), "4755");
  assert.deepEqual(
    [kindOf(0o100644), kindOf(0o40755), kindOf(0o120777), kindOf(0o10644)],
    ["file", "dir", "symlink", "other"],
  );
  const t = tempPathFor("/srv/app/f.conf");
  assert.match(t, /^\/srv\/app\/f\.conf\.ssh-mcp-tmp\.[0-9a-f]{16}$/);
  assert.ok(TEMP_NAME_RE.test(t));
  assert.notEqual(tempPathFor("/x"), tempPathFor("/x"));
  assert.deepEqual(
    [
      SFTP_STATUS.NO_SUCH_FILE,
      SFTP_STATUS.PERMISSION_DENIED,
      SFTP_STATUS.FAILURE,
      SFTP_STATUS.OP_UNSUPPORTED,
    ],
    [2, 3, 4, 8],
  );
  const e = new SftpError("rename", "/x", SFTP_STATUS.FAILURE, "Failure");
  assert.ok(e.is("FAILURE", "OP_UNSUPPORTED") && !e.is("PERMISSION_DENIED"));
  assert.equal(e.statusName, "FAILURE");
  assert.equal(new SftpError("read", "/x", null, "closed").statusName, "TRANSPORT");
});

Deno.test("PATH-27: special mode bits need ALLOW_SPECIAL_MODE_BITS", () => {
  const off = { ALLOW_SPECIAL_MODE_BITS: false } as Settings;
  const on = { ALLOW_SPECIAL_MODE_BITS: true } as Settings;
  assertMode(0o755, off);
  assertMode(0o777, off);
  for (const m of [0o4755, 0o2755, 0o1777, 0o7777]) {
    assert.throws(() => assertMode(m, off), (e) => code(e) === "ValueError");
    assertMode(m, on);
  }
});
