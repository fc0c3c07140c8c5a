/**
 * Two server replicas sharing one Redis (issue 14 item 5): two in-process
 * servers (App + ToolRegistry + McpService, as `startInProcess` builds them)
 * with the same `SSH_STATE_URL`, against the same fleet, each behind its own
 * real MCP client. Both clients have the caller key "stdio": one client
 * behind a load balancer.
 *
 * @module
 */

import type { Fleet } from "./fleet.ts";
import { type InProcess, startInProcess } from "./mcp.ts";

/** Two replicas. */
export interface Replicas {
  a: InProcess;
  b: InProcess;
  close(): Promise<void>;
}

/** Starts replicas A and B of the dangerous tier (any command) on `fleet`, sharing `redisUrl`. */
export async function startReplicas(
  fleet: Fleet,
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<Replicas> {
  const e = fleet.env({
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
    SSH_STATE_URL: redisUrl,
    ...env,
  });
  const a = await startInProcess(e);
  let b: InProcess;
  try {
    b = await startInProcess(e);
  } catch (err) {
    await a.close();
    throw err;
  }
  let closed = { a: false, b: false };
  return {
    a,
    b,
    async close() {
      const jobs = [];
      if (!closed.a) jobs.push(a.close());
      if (!closed.b) jobs.push(b.close());
      closed = { a: true, b: true };
      await Promise.allSettled(jobs);
    },
  };
}
