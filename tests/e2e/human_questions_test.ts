/**
 * Issue 13: the questions only a human may answer, asked through the
 * protocol: approvals for chosen tiers (`SSH_APPROVAL_TIERS`,
 * `SSH_APPROVAL_GRANT_S`) and first-contact host-key pinning
 * (`SSH_CONFIRM_NEW_HOST_KEYS`, `SSH_PINNED_KNOWN_HOSTS`), with a 2026-07-28
 * client (input_required round trips) and a 1.32 client (2025-11-25
 * elicitation through the SDK's shim), against real sshd hosts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { z } from "zod";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/types.d.ts"
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { type Fleet, startFleet } from "../_support/fleet.ts";
import { type Client, type Client2, startInProcess, startInProcess2 } from "../_support/mcp.ts";
import { generateKey, tempDir } from "../_support/sshd.ts";

type Reply =
  | { action: "accept"; content: Record<string, string> }
  | { action: "decline" }
  | { action: "cancel" };

/** A scripted user: answers each question with the next reply, records what it was shown. */
class User {
  readonly asked: { message: string; schema: unknown }[] = [];
  constructor(readonly replies: Reply[]) {}
  answer(params: { message?: string; requestedSchema?: unknown }): Reply {
    this.asked.push({ message: String(params.message ?? ""), schema: params.requestedSchema });
    return this.replies.shift() ?? { action: "cancel" };
  }
}

const approve: Reply = { action: "accept", content: { decision: "approve" } };
const deny: Reply = { action: "accept", content: { decision: "deny" } };
const yes: Reply = { action: "accept", content: { decision: "yes" } };
const no: Reply = { action: "accept", content: { decision: "no" } };

const ELICIT = { elicitation: { form: {} } };

function modernUser(user: User) {
  return {
    client: { capabilities: ELICIT },
    setup: (c: Client2) =>
      c.setRequestHandler(
        "elicitation/create",
        (req) => Promise.resolve(user.answer(req.params as never) as never),
      ),
  };
}

function legacyUser(user: User) {
  return {
    clientCapabilities: { elicitation: {} },
    setup: (c: Client) =>
      c.setRequestHandler(
        ElicitRequestSchema,
        (req) => Promise.resolve(user.answer(req.params as never) as never),
      ),
  };
}

async function withFleet(fn: (f: Fleet, dir: string) => Promise<void>): Promise<void> {
  const fleet = await startFleet(1);
  const dir = await tempDir("sshmcp-human-");
  try {
    await fn(fleet, dir);
  } finally {
    await fleet.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function approvalEnv(fleet: Fleet, dir: string, extra: Record<string, string> = {}) {
  return fleet.env({
    ALLOW_LOW_ACCESS_TOOLS: "true",
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
    SSH_APPROVAL_TIERS: "dangerous",
    SSH_AUDIT_LOG: `${dir}/audit.log`,
    ...extra,
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** A command whose only effect is a marker file on the host (so "nothing ran" is checkable). */
function touch(fleet: Fleet, name: string) {
  const home = fleet.hosts[0]!.sshd.user.home;
  return { path: `${home}/${name}`, command: `touch ${home}/${name}` };
}

Deno.test("APPROVAL-1/2/3/6: 2026-07-28 client: accept runs exactly the shown call; deny, decline and cancel run nothing", async () => {
  await withFleet(async (fleet, dir) => {
    const user = new User([approve, deny, { action: "decline" }, { action: "cancel" }]);
    const s = await startInProcess2(approvalEnv(fleet, dir), modernUser(user));
    try {
      const a = touch(fleet, "approved-1");
      const ok = await s.ok<{ exit_code: number }>("ssh_exec_run", {
        host: "h1",
        command: a.command,
      });
      assert.equal(ok.exit_code, 0);
      assert.ok(await exists(a.path));
      assert.equal(user.asked.length, 1);
      const shown = user.asked[0]!.message;
      assert.match(shown, /Tool: ssh_exec_run/);
      assert.match(shown, /Host\(s\): h1/);
      assert.ok(shown.includes(`Command: ${a.command}`), shown);
      const schema = user.asked[0]!.schema as { properties: Record<string, { default: string }> };
      assert.equal(schema.properties.decision!.default, "deny");
      // deny (an accepted form saying "deny"), decline, cancel: nothing runs
      for (const n of [2, 3, 4]) {
        const b = touch(fleet, `approved-${n}`);
        const e = await s.err("ssh_exec_run", { host: "h1", command: b.command });
        assert.equal(e.code, "ApprovalRequired");
        assert.match(e.message, /nothing ran/);
        assert.equal(await exists(b.path), false);
      }
      // a read-tier call is never asked about
      await s.ok("ssh_host_list");
      assert.equal(user.asked.length, 4);
    } finally {
      await s.close();
    }
    const human = (await Deno.readTextFile(`${dir}/audit.log`)).split("\n").filter((l) =>
      l.includes('"human_decision"')
    ).map((l) => JSON.parse(l));
    assert.deepEqual(
      human.filter((h) => h.kind === "approval").map((h) => h.decision),
      ["asked", "accept", "asked", "decline", "asked", "decline", "asked", "cancel"],
    );
    // the audit line never holds the command text
    assert.ok(!human.some((h) => JSON.stringify(h).includes("touch ")));
  });
});

Deno.test("APPROVAL-1/3: 1.32 client (2025-11-25 elicitation): accept runs, decline refuses", async () => {
  await withFleet(async (fleet, dir) => {
    const user = new User([approve, { action: "decline" }]);
    const s = await startInProcess(approvalEnv(fleet, dir), legacyUser(user));
    try {
      const a = touch(fleet, "legacy-ok");
      await s.ok("ssh_exec_run", { host: "h1", command: a.command });
      assert.ok(await exists(a.path));
      const b = touch(fleet, "legacy-no");
      const e = await s.err("ssh_exec_run", { host: "h1", command: b.command });
      assert.equal(e.code, "ApprovalRequired");
      assert.equal(await exists(b.path), false);
      assert.equal(user.asked.length, 2);
      assert.ok(user.asked[0]!.message.includes(a.command));
    } finally {
      await s.close();
    }
  });
});

Deno.test("APPROVAL-3: a client without elicitation is refused with a message saying approval was required", async () => {
  await withFleet(async (fleet, dir) => {
    for (
      const start of [
        () => startInProcess(approvalEnv(fleet, dir)),
        () => startInProcess2(approvalEnv(fleet, dir)),
      ]
    ) {
      const s = await start();
      try {
        const a = touch(fleet, "no-capability");
        const e = await s.err("ssh_exec_run", { host: "h1", command: a.command });
        assert.equal(e.code, "ApprovalRequired");
        assert.match(e.message, /need a human's approval/);
        assert.match(e.message, /cannot ask its user/);
        assert.equal(await exists(a.path), false);
      } finally {
        await s.close();
      }
    }
  });
});

Deno.test("APPROVAL-4: a grant re-uses an approval for the identical call only, and expires", async () => {
  await withFleet(async (fleet, dir) => {
    const user = new User([approve, approve, approve]);
    const s = await startInProcess2(
      approvalEnv(fleet, dir, { SSH_APPROVAL_GRANT_S: "2" }),
      modernUser(user),
    );
    try {
      const a = touch(fleet, "granted");
      await s.ok("ssh_exec_run", { host: "h1", command: a.command });
      await s.ok("ssh_exec_run", { host: "h1", command: a.command });
      assert.equal(user.asked.length, 1, "the identical call within the grant is not asked again");
      // another command is another call
      await s.ok("ssh_exec_run", { host: "h1", command: touch(fleet, "other").command });
      assert.equal(user.asked.length, 2);
      await new Promise((r) => setTimeout(r, 2200));
      await s.ok("ssh_exec_run", { host: "h1", command: a.command });
      assert.equal(user.asked.length, 3, "after the grant expired the call is asked again");
    } finally {
      await s.close();
    }
  });
});

Deno.test("APPROVAL-5: tampered, replayed and foreign state is refused (2026-07-28 manual rounds)", async () => {
  await withFleet(async (fleet, dir) => {
    const s = await startInProcess2(approvalEnv(fleet, dir), {
      client: { capabilities: ELICIT, autoFulfill: false },
    });
    type Ir = {
      resultType?: string;
      requestState?: string;
      inputRequests?: Record<string, unknown>;
    };
    const call = async (params: Record<string, unknown>) =>
      await s.client.request(
        { method: "tools/call", params } as never,
        z.looseObject({}),
        { allowInputRequired: true } as never,
      ) as unknown as Ir & { isError?: boolean; content?: { text: string }[] };
    try {
      const a = touch(fleet, "tamper");
      const args = { host: "h1", command: a.command };
      const first = await call({ name: "ssh_exec_run", arguments: args });
      assert.equal(first.resultType, "input_required");
      const state = first.requestState!;
      assert.ok(state.length > 20);
      const answer = { decision: { action: "accept", content: { decision: "approve" } } };
      // tampered: one character changed
      const i = Math.floor(state.length / 2);
      const flipped = state.slice(0, i) + (state[i] === "A" ? "B" : "A") + state.slice(i + 1);
      await assert.rejects(
        call({
          name: "ssh_exec_run",
          arguments: args,
          inputResponses: answer,
          requestState: flipped,
        }),
        (e: Error) => /Invalid or expired requestState/.test(e.message),
      );
      assert.equal(await exists(a.path), false);
      // the state of this call on ANOTHER call (other command): refused, nothing runs
      const b = touch(fleet, "foreign");
      const foreign = await call({
        name: "ssh_exec_run",
        arguments: { host: "h1", command: b.command },
        inputResponses: answer,
        requestState: state,
      });
      assert.equal(foreign.isError, true);
      assert.match(foreign.content![0]!.text, /belongs to another call or was already used/);
      assert.equal(await exists(b.path), false);
      // a fresh state, used once (runs), then replayed (refused)
      const again = await call({ name: "ssh_exec_run", arguments: args });
      const ok = await call({
        name: "ssh_exec_run",
        arguments: args,
        inputResponses: answer,
        requestState: again.requestState,
      });
      assert.notEqual(ok.isError, true);
      assert.ok(await exists(a.path));
      await Deno.remove(a.path);
      const replay = await call({
        name: "ssh_exec_run",
        arguments: args,
        inputResponses: answer,
        requestState: again.requestState,
      });
      assert.equal(replay.isError, true);
      assert.match(replay.content![0]!.text, /already used/);
      assert.equal(await exists(a.path), false);
    } finally {
      await s.close();
    }
  });
});

// ---------------------------------------------------------------------------
// first contact

async function firstContactEnv(fleet: Fleet, dir: string, extra: Record<string, string> = {}) {
  const kh = `${dir}/user_known_hosts`;
  await Deno.writeTextFile(kh, "# the user's file: never written by the server\n");
  return {
    kh,
    pins: `${dir}/cfg/pinned_known_hosts`,
    env: fleet.env({
      SSH_KNOWN_HOSTS: kh,
      SSH_PINNED_KNOWN_HOSTS: `${dir}/cfg/pinned_known_hosts`,
      SSH_CONFIRM_NEW_HOST_KEYS: "true",
      SSH_AUDIT_LOG: `${dir}/audit.log`,
      ...extra,
    }),
  };
}

/** The known_hosts name of the fleet's host (`addr`, or `[addr]:port` off port 22). */
function knownName(fleet: Fleet): string {
  const { address, port } = fleet.hosts[0]!.sshd;
  return port === 22 ? address : `[${address}]:${port}`;
}

function fingerprintOf(fleet: Fleet): string {
  return fleet.hosts[0]!.sshd.hostKeys[0]!.fingerprint;
}

Deno.test("KH-10/11/14: an explicit yes pins the key into the pin file and the call proceeds (both revisions)", async () => {
  for (const modern of [true, false]) {
    await withFleet(async (fleet, dir) => {
      const { env, kh, pins } = await firstContactEnv(fleet, dir);
      const before = await Deno.readFile(kh);
      const user = new User([yes]);
      const s = modern
        ? await startInProcess2(env, modernUser(user))
        : await startInProcess(env, legacyUser(user));
      try {
        const r = await s.ok<{ username: string }>("ssh_user_info", { host: "h1" });
        assert.equal(r.username, fleet.hosts[0]!.sshd.user.name);
        assert.equal(user.asked.length, 1);
        const shown = user.asked[0]!.message;
        const sshd = fleet.hosts[0]!.sshd;
        assert.ok(shown.includes(`"h1"`), shown);
        assert.ok(shown.includes(`${sshd.address} port ${sshd.port}`), shown);
        assert.match(shown, /ssh-ed25519|ecdsa|rsa/);
        assert.ok(shown.includes(fingerprintOf(fleet)), shown);
        assert.match(shown, /OUT OF BAND/);
        const schema = user.asked[0]!.schema as { properties: Record<string, { default: string }> };
        assert.equal(schema.properties.decision!.default, "no");
        const pinned = await Deno.readTextFile(pins);
        assert.ok(pinned.startsWith(`${knownName(fleet)} `), pinned);
        // KH-15: the pinned key is the one the host presented (and was shown)
        const line = pinned.trim().split("\n");
        assert.equal(line.length, 1);
        const key = line[0]!.split(" ").slice(1).join(" ");
        assert.ok(sshd.hostKeys.some((k) => k.publicKey === key), key);
        assert.ok(sshd.hostKeys.some((k) => k.publicKey === key && shown.includes(k.fingerprint)));
        assert.equal(((await Deno.stat(pins)).mode ?? 0) & 0o777, 0o600);
        // the next call connects without asking
        await s.ok("ssh_user_info", { host: "h1" });
        assert.equal(user.asked.length, 1);
      } finally {
        await s.close();
      }
      assert.deepEqual(await Deno.readFile(kh), before, "the user's known_hosts was written");
    });
  }
});

Deno.test("KH-13: decline, cancel, no answer and no capability refuse and pin nothing", async () => {
  await withFleet(async (fleet, dir) => {
    const { env, kh, pins } = await firstContactEnv(fleet, dir);
    const before = await Deno.readFile(kh);
    const user = new User([no, { action: "decline" }, { action: "cancel" }]);
    const s = await startInProcess2(env, modernUser(user));
    try {
      for (let i = 0; i < 3; i++) {
        const e = await s.err("ssh_user_info", { host: "h1" });
        assert.equal(e.code, "UnknownHost");
        assert.match(e.message, /was not pinned/);
      }
      assert.equal(user.asked.length, 3);
    } finally {
      await s.close();
    }
    const bare = await startInProcess2(env); // no elicitation capability
    try {
      const e = await bare.err("ssh_user_info", { host: "h1" });
      assert.equal(e.code, "UnknownHost");
    } finally {
      await bare.close();
    }
    assert.equal(await exists(pins), false, "a pin file was written");
    assert.deepEqual(await Deno.readFile(kh), before);
  });
});

Deno.test("KH-10: first contact is off unless SSH_CONFIRM_NEW_HOST_KEYS=true", async () => {
  await withFleet(async (fleet, dir) => {
    const { env, pins } = await firstContactEnv(fleet, dir, { SSH_CONFIRM_NEW_HOST_KEYS: "false" });
    const user = new User([yes]);
    const s = await startInProcess2(env, modernUser(user));
    try {
      const e = await s.err("ssh_user_info", { host: "h1" });
      assert.equal(e.code, "UnknownHost");
      assert.equal(user.asked.length, 0);
    } finally {
      await s.close();
    }
    assert.equal(await exists(pins), false);
  });
});

Deno.test("KH-12: a CHANGED key is never offered and always refused", async () => {
  await withFleet(async (fleet, dir) => {
    const { env, kh, pins } = await firstContactEnv(fleet, dir);
    // the user's file pins another key for this host: a mismatch
    const other = await generateKey(dir, { type: "ed25519", name: "not_the_host_key" });
    await Deno.writeTextFile(kh, `${knownName(fleet)} ${other.publicKey}\n`);
    {
      const user = new User([yes]);
      const s = await startInProcess2(env, modernUser(user));
      try {
        const e = await s.err("ssh_user_info", { host: "h1" });
        assert.equal(e.code, "HostKeyMismatch");
        assert.equal(user.asked.length, 0);
      } finally {
        await s.close();
      }
      assert.equal(await exists(pins), false);
    }
  });
});

Deno.test("KH-15/APPROVAL-1: first contact and approval together: one approval, one pin, one run", async () => {
  await withFleet(async (fleet, dir) => {
    const { env } = await firstContactEnv(fleet, dir, {
      ALLOW_LOW_ACCESS_TOOLS: "true",
      ALLOW_DANGEROUS_TOOLS: "true",
      ALLOW_ANY_COMMAND: "true",
      SSH_APPROVAL_TIERS: "dangerous",
    });
    const user = new User([approve, yes]);
    const s = await startInProcess2(env, modernUser(user));
    try {
      const a = touch(fleet, "both");
      await s.ok("ssh_exec_run", { host: "h1", command: a.command });
      assert.ok(await exists(a.path));
      assert.equal(user.asked.length, 2);
      assert.match(user.asked[0]!.message, /approve one call/);
      assert.match(user.asked[1]!.message, /first time/);
    } finally {
      await s.close();
    }
  });
});
