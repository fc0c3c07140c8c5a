/** Identical-output grouping (src/fleet/group.ts). */

import assert from "node:assert/strict";
import { groupOutputs } from "../../src/fleet/group.ts";

const r = (
  stdout: string,
  exit_code = 0,
  extra: Partial<{ stderr: string; timed_out: boolean; stdout_truncated: boolean }> = {},
) => ({
  exit_code,
  timed_out: false,
  stdout,
  stderr: "",
  stdout_truncated: false,
  stderr_truncated: false,
  ...extra,
});

Deno.test("groupOutputs: identical output grouped, largest group first, input order inside", () => {
  const m = new Map([
    ["a", r("x\n")],
    ["b", r("y\n")],
    ["c", r("y\n")],
    ["d", r("x\n", 1)],
    ["e", r("y\n")],
    ["f", r("x\n")],
  ]);
  const { groups, indexOf } = groupOutputs(m);
  assert.deepEqual(groups.map((g) => g.hosts), [["b", "c", "e"], ["a", "f"], ["d"]]);
  assert.deepEqual(groups.map((g) => g.count), [3, 2, 1]);
  assert.equal(indexOf.get("d"), 2);
  assert.equal(groups[2]!.exit_code, 1);
});

Deno.test("groupOutputs: stderr and timeout flag are part of the identity; truncation flags merge", () => {
  const m = new Map([
    ["a", r("x", 0, { stderr: "warn" })],
    ["b", r("x")],
    ["c", r("x", 0, { timed_out: true })],
    ["d", r("x", 0, { stdout_truncated: true })],
  ]);
  const { groups } = groupOutputs(m);
  assert.equal(groups.length, 3);
  assert.deepEqual(groups[0]!.hosts, ["b", "d"]);
  assert.equal(groups[0]!.stdout_truncated, true);
});

Deno.test("groupOutputs: empty input", () => {
  assert.deepEqual(groupOutputs(new Map()).groups, []);
});
