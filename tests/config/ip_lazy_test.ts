/**
 * The launcher's configuration load does not import `ipaddr.js` (a CommonJS
 * package whose set-up costs ~20 ms of a cold start, issue 17) unless an
 * address needs checking, and the answer is the same either way: an address
 * error still fails the load (so the launcher still gives the minimal plan).
 *
 * The slot is per isolate: this file must not import `ip_lib.ts`, `app.ts`
 * or `cli.ts` (each fills it), and its tests run in order.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import { loadConfig } from "../../src/config/load.ts";
import { ipLibLoaded } from "../../src/config/ip_slot.ts";
import { planFor } from "../../src/launcher.ts";

const BASE = { SSH_MCP_DISABLE_DOTENV: "1", HOME: "/nonexistent-home" };

async function withDir<T>(f: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "ssh-mcp-iplazy-" });
  try {
    return await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ipaddr.js: a configuration without addresses loads (and plans) without it", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/hosts.toml`,
      '[hosts.web]\nhostname = "web.example"\nuser = "deploy"\n',
    );
    const env = { ...BASE, SSH_HOSTS_FILE: `${dir}/hosts.toml`, MCP_HTTP_HOST: "::1" };
    const cfg = await loadConfig({ env, cwd: dir });
    assert.ok(cfg.hosts.hosts.has("web"));
    const plan = await planFor(["serve"], env, dir);
    assert.deepEqual(plan.notes, []);
    assert.equal(ipLibLoaded(), false, "the launcher's path imported ipaddr.js");
  });
});

Deno.test("ipaddr.js: an address to check loads it and is checked exactly (bad CIDR fails, minimal plan)", async () => {
  await withDir(async (dir) => {
    const env = { ...BASE, SSH_HOSTS_FILE: "", SSH_NETWORK_ALLOW_CIDRS: "10.0.0.0/33" };
    await assert.rejects(
      () => loadConfig({ env, cwd: dir }),
      (e) =>
        e instanceof ConfigError && /SSH_NETWORK_ALLOW_CIDRS: "10\.0\.0\.0\/33"/.test(e.message),
    );
    assert.equal(ipLibLoaded(), true);
    // the launcher: a configuration that does not load gives the minimal plan
    const plan = await planFor(["serve"], env, dir);
    assert.match(plan.notes.join(" "), /did not load/);
    assert.deepEqual(plan.write, []);
    assert.deepEqual(plan.run, []);
  });
});

Deno.test("ipaddr.js: per-host address lists, non-loopback bind addresses and good lists", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/hosts.toml`,
      '[hosts.web]\nhostname = "web.example"\n[hosts.web.network]\nallow_cidrs = ["10.1.2.3"]\n',
    );
    await assert.rejects(
      () => loadConfig({ env: { ...BASE, SSH_HOSTS_FILE: `${dir}/hosts.toml` }, cwd: dir }),
      (e) => e instanceof ConfigError && /a single address needs a prefix/.test(e.message),
    );
    await assert.rejects(
      () =>
        loadConfig({ env: { ...BASE, SSH_HOSTS_FILE: "", MCP_HTTP_HOST: "0.0.0.0" }, cwd: dir }),
      (e) => e instanceof ConfigError && /not a loopback address/.test(e.message),
    );
    const ok = await loadConfig({
      env: {
        ...BASE,
        SSH_HOSTS_FILE: "",
        MCP_HTTP_HOST: "127.0.0.2",
        SSH_NETWORK_BLOCK_CIDRS: "169.254.0.0/16,fd00::/8",
      },
      cwd: dir,
    });
    assert.deepEqual(ok.settings.SSH_NETWORK_BLOCK_CIDRS, ["169.254.0.0/16", "fd00::/8"]);
  });
});
