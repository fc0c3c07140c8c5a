/**
 * A real `redis-server` for the shared-state tests: a free loopback port, no
 * persistence, a private directory; killed by `stop()`. A machine without
 * redis-server fails the test with the command that installs it (never a
 * skip).
 *
 * @module
 */

import { createConnection } from "node:net";
import { freePort } from "./port.ts";

/** A running redis-server. */
export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

function findRedisServer(): string {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").concat(["/usr/bin"])) {
    try {
      const p = `${dir}/redis-server`;
      Deno.statSync(p);
      return p;
    } catch {
      // next
    }
  }
  throw new Error(
    "redis-server is not installed; the shared-state tests need it. Install it with: " +
      "sudo apt-get install -y redis-server",
  );
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port });
    let buf = "";
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.on("connect", () => s.write("PING\r\n"));
    s.on("data", (d) => {
      buf += d.toString();
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG"));
    });
    s.on("error", () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

/** Starts redis-server and waits until it answers PING. */
export async function startRedis(): Promise<RedisServer> {
  const bin = findRedisServer();
  const dir = await Deno.makeTempDir({ prefix: "sshmcp-redis-" });
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const child = new Deno.Command(bin, {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--protected-mode",
        "yes",
      ],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn();
    const end = Date.now() + 10_000;
    let up = false;
    while (Date.now() < end) {
      if (await ping(port)) {
        up = true;
        break;
      }
      const exited = await Promise.race([
        child.status.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 50)),
      ]);
      if (exited) break;
    }
    if (!up) {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited
      }
      await child.status;
      continue;
    }
    return {
      url: `redis://127.0.0.1:${port}/0`,
      port,
      async stop() {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited
        }
        await child.status;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  throw new Error("redis-server did not start (5 attempts)");
}
