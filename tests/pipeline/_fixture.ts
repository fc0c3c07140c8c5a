/**
 * Fixture of the pipeline tests: fake SSH hosts (`tests/_support/fake_ssh.ts`,
 * in process, no root, no sshd), the real server in process behind a real MCP
 * client, and the audit log in a temp file.
 *
 * @module
 */

import {
  type FakeConfig,
  type FakeConfigOptions,
  type FakeSsh,
  type FakeSshOptions,
  startFakeSsh,
  writeFakeHostsConfig,
} from "../_support/fake_ssh.ts";
import { auditLines, type InProcess, startInProcess } from "../_support/mcp.ts";
import type { AppOptions } from "../../src/app.ts";
import { Logger } from "../../src/log.ts";
import type { Tool } from "../../src/tools/define.ts";

export { PID_MARKER_PREFIX, POSIX_PROBE, PROBE_MARKER_PREFIX } from "../_support/fake_ssh.ts";

/** One fake host of a fixture. */
export interface HostDef {
  alias: string;
  fake?: FakeSshOptions;
  /** extra `[hosts.<alias>]` TOML lines; a function sees the started fake (its home, ...) */
  toml?: string | ((f: FakeSsh) => string);
  /** hosts.toml `hostname` instead of the fake's address (see `FakeHostSpec.hostname`) */
  hostname?: string;
}

/** What a pipeline test gets. */
export interface PipeCtx {
  s: InProcess;
  /** fakes by alias */
  fakes: Record<string, FakeSsh>;
  cfg: FakeConfig;
  /** audit + policy_decision lines written so far */
  audit(): Promise<Record<string, unknown>[]>;
  /** the lines written since the previous call of `fresh()` (or since start) */
  fresh(): Promise<Record<string, unknown>[]>;
  /** sum of TCP connections over all fakes */
  connections(): number;
  /** every record of every fake */
  records(): number;
}

/** Options of {@link withFakeHosts}. */
export interface PipeOptions extends Omit<FakeConfigOptions, "env"> {
  /** server env; a function sees the started fakes */
  env?: Record<string, string> | ((fakes: Record<string, FakeSsh>) => Record<string, string>);
  /** the catalog to serve instead of ALL_TOOLS (test-only tools) */
  tools?: readonly Tool[];
  /** more App options (a test resolver, an observable socket factory, ...) */
  app?: AppOptions;
}

/** Starts the fakes and the server, runs `fn`, tears everything down. */
export async function withFakeHosts(
  hosts: readonly HostDef[],
  fn: (c: PipeCtx) => Promise<void>,
  opts: PipeOptions = {},
): Promise<void> {
  const fakes: Record<string, FakeSsh> = {};
  try {
    for (const h of hosts) fakes[h.alias] = await startFakeSsh(h.fake);
    const env = typeof opts.env === "function" ? opts.env(fakes) : opts.env;
    const cfg = await writeFakeHostsConfig(
      hosts.map((h) => ({
        alias: h.alias,
        fake: fakes[h.alias]!,
        toml: typeof h.toml === "function" ? h.toml(fakes[h.alias]!) : h.toml,
        ...(h.hostname === undefined ? {} : { hostname: h.hostname }),
      })),
      { ...opts, env },
    );
    const s = await startInProcess(cfg.env, {
      ...(Deno.env.get("SSHMCP_TEST_LOG") ? { logger: new Logger({ level: "ERROR" }) } : {}),
      ...(opts.tools ? { tools: opts.tools } : {}),
      ...opts.app,
    });
    const audit = async () => auditLines(await Deno.readTextFile(cfg.auditPath).catch(() => ""));
    let seen = 0;
    try {
      await fn({
        s,
        fakes,
        cfg,
        audit,
        async fresh() {
          const all = await audit();
          const out = all.slice(seen);
          seen = all.length;
          return out;
        },
        connections: () => Object.values(fakes).reduce((n, f) => n + f.connections, 0),
        records: () => Object.values(fakes).reduce((n, f) => n + f.records.length, 0),
      });
    } finally {
      await s.close();
      await Deno.remove(cfg.dir, { recursive: true }).catch(() => {});
    }
  } finally {
    await Promise.all(Object.values(fakes).map((f) => f.close()));
  }
}

/** The login shells the command tests run under. */
export const SHELLS: readonly string[] = ["/bin/dash", "/bin/bash"];

/** A path string as TOML. */
export const q = (s: string): string => JSON.stringify(s);
