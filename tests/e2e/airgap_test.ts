/**
 * Issue 16 item 3: the server makes no network request at start-up, so it
 * runs on an air-gapped laptop. Proven by starting it (as `deno task start`
 * runs it, with the npm modules already in the local cache) inside a network
 * namespace with no interface but a down loopback (`unshare -n`, root), and
 * driving it through a real MCP client over stdio.
 *
 * @module
 */

import assert from "node:assert/strict";
import { baseEnv, Client, ROOT, START_PERMS } from "../_support/mcp.ts";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

Deno.test("AIRGAP: the server starts, lists its tools and answers in a namespace without network", async () => {
  // the namespace really has no network: only a loopback device, and it is down
  const links = await new Deno.Command("unshare", { args: ["-n", "ip", "-o", "link"] }).output();
  assert.equal(
    links.code,
    0,
    `unshare -n failed (root and util-linux needed): ${new TextDecoder().decode(links.stderr)}`,
  );
  const devices = new TextDecoder().decode(links.stdout).trim().split("\n");
  assert.equal(devices.length, 1, devices.join("\n"));
  assert.match(devices[0]!, /: lo: .*state DOWN/);

  const transport = new StdioClientTransport({
    command: "unshare",
    args: ["-n", Deno.execPath(), "run", "--quiet", ...START_PERMS, `${ROOT}main.ts`, "serve"],
    env: baseEnv({ SSH_HOSTS_FILE: "/nonexistent/hosts.toml", LOG_LEVEL: "WARNING" }),
    cwd: ROOT,
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
  const client = new Client({ name: "airgap-test", version: "1.0.0" });
  try {
    await client.connect(transport);
    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(tools.includes("ssh_host_list"), tools.join(","));
    const r = await client.callTool({ name: "ssh_host_list", arguments: {} });
    assert.notEqual(r.isError, true, JSON.stringify(r));
    const skill = await client.readResource({ uri: "skill://ssh-host-list/SKILL.md" });
    assert.match((skill.contents[0] as { text: string }).text, /ssh_host_list/);
  } finally {
    await client.close();
  }
  assert.ok(!/ERROR|fetch failed|ENETUNREACH|dns error/i.test(err), `start-up complained:\n${err}`);
});
