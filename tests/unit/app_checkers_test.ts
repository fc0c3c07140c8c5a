/**
 * The command and path checkers load after the early answers (issue 17,
 * start-up): stdio `serve` creates the App with `deferCheckers` and awaits
 * `App.loadCheckers()` together with the MCP layer. Checked: a deferred App
 * refuses to hand out a checker before the load (a thrown error, never a
 * checker that admits everything); one load serves both checkers, repeated
 * loads share it, and the loaded checkers enforce the policy; an App created
 * the default way has them at once; every start refusal still comes from
 * `App.create` with the checkers deferred (AUDIT-12).
 */

import assert from "node:assert/strict";
import { App } from "../../src/app.ts";
import { loadConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/errors.ts";
import { envHostPolicy } from "../../src/config/hosts.ts";
import type { HostPolicy } from "../../src/config/types.ts";
import { Logger } from "../../src/log.ts";
import { baseEnv } from "../_support/mcp.ts";

const NOT_LOADED = /checkers are not loaded yet \(await App\.loadCheckers\(\)\)/;
const quiet = () => new Logger({ level: "CRITICAL" });

async function appWith(extra: Record<string, string>, deferCheckers: boolean): Promise<App> {
  const cfg = await loadConfig({ env: baseEnv(extra), cwd: Deno.cwd() });
  return await App.create(cfg, { logger: quiet(), openAudit: false, deferCheckers });
}

/** A restrictive host policy: only `uptime` may run. */
function policy(app: App): HostPolicy {
  return { ...envHostPolicy("h1", app.settings), command_allowlist: ["uptime"] } as HostPolicy;
}

Deno.test("deferred checkers: no checker before loadCheckers(), the policy after it", async () => {
  const app = await appWith({ SSH_HOSTS_ALLOWLIST: "h1" }, true);
  try {
    assert.throws(() => app.commands, NOT_LOADED);
    assert.throws(() => app.paths, NOT_LOADED);
    const [a, b] = [app.loadCheckers(), app.loadCheckers()];
    assert.equal(a, b, "a second load shares the first");
    await a;
    const commands = app.commands;
    assert.equal(app.commands, commands, "one checker per App");
    assert.equal(typeof app.paths.checkSubtree, "function");
    const p = policy(app);
    // EXEC-22: under the allowlist the server re-emits the parsed words
    const ok = commands.admit({
      tool: "ssh_exec_run",
      kind: "command",
      command: "uptime",
      policy: p,
    });
    assert.equal(ok.decision.reason, "allowlist");
    assert.match(ok.command as string, / 'uptime'$/);
    assert.throws(
      () =>
        commands.admit({ tool: "ssh_exec_run", kind: "command", command: "rm -rf /", policy: p }),
      (e: Error) => e.name === "CommandNotAllowed",
    );
  } finally {
    await app.close();
  }
});

Deno.test("deferred checkers: an App created the default way has them at once", async () => {
  const app = await appWith({ SSH_HOSTS_ALLOWLIST: "h1" }, false);
  try {
    assert.equal(app.commands, app.commands);
    assert.equal(typeof app.paths.protectedZones, "function");
  } finally {
    await app.close();
  }
});

Deno.test("deferred checkers: AUDIT-12 still refuses the start from App.create", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cfg = await loadConfig({
      env: baseEnv({ SSH_AUDIT_LOG: `${dir}/no/such/dir/audit.jsonl` }),
      cwd: Deno.cwd(),
    });
    await assert.rejects(
      App.create(cfg, { logger: quiet(), deferCheckers: true }),
      (e: Error) => e instanceof ConfigError && /audit/i.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
