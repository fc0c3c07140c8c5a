/**
 * OpenTelemetry traces end to end (issue 14 item 4): the real server as a
 * child process (`deno run main.ts serve` over stdio) against a real sshd,
 * exporting OTLP/HTTP JSON to an in-process receiver. Checks the call span
 * and its SSH children (nesting, attributes), the W3C `traceparent` from the
 * request's `_meta`, §TELEM hygiene (no command text, path or header secret
 * anywhere), the flush at shutdown, and that nothing is sent (nor the SDK
 * started) without the OTEL_* endpoint or with OTEL_ENABLED=false, and that a
 * dead collector neither fails calls nor logs more than one WARNING.
 */

import assert from "node:assert/strict";
import { type Fleet, startFleet } from "../_support/fleet.ts";
import { startStdio, type StdioServer } from "../_support/mcp.ts";
import { put, userDir } from "./_files_fixture.ts";

/** One span as the OTLP JSON encoding carries it. */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number; message?: string };
}

/** SERVER in the OTLP enum. */
const KIND_SERVER = 2;

/** An in-process OTLP/HTTP receiver on 127.0.0.1. */
interface Receiver {
  url: string;
  spans: OtlpSpan[];
  /** raw request bodies (for the no-secret check) */
  bodies: string[];
  /** request headers of each POST /v1/traces */
  headers: Headers[];
  /** every request, whatever its path */
  requests: number;
  resources: Record<string, unknown>[];
  stop(): Promise<void>;
}

function startReceiver(): Receiver {
  const r: Receiver = {
    url: "",
    spans: [],
    bodies: [],
    headers: [],
    requests: 0,
    resources: [],
    stop: () => Promise.resolve(),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    r.requests++;
    const path = new URL(req.url).pathname;
    if (req.method !== "POST" || path !== "/v1/traces") {
      await req.body?.cancel();
      return new Response("not found", { status: 404 });
    }
    const text = await req.text();
    r.bodies.push(text);
    r.headers.push(req.headers);
    const body = JSON.parse(text) as {
      resourceSpans?: {
        resource?: Record<string, unknown>;
        scopeSpans?: { spans?: OtlpSpan[] }[];
      }[];
    };
    for (const rs of body.resourceSpans ?? []) {
      r.resources.push(rs.resource ?? {});
      for (const ss of rs.scopeSpans ?? []) r.spans.push(...(ss.spans ?? []));
    }
    return Response.json({ partialSuccess: {} });
  });
  r.url = `http://127.0.0.1:${server.addr.port}`;
  r.stop = () => server.shutdown();
  return r;
}

/** Attribute values of a span, decoded from the OTLP `AnyValue` encoding. */
function attrs(s: OtlpSpan): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of s.attributes ?? []) {
    if ("stringValue" in value) out[key] = String(value.stringValue);
    else if ("intValue" in value) out[key] = Number(value.intValue);
    else if ("doubleValue" in value) out[key] = Number(value.doubleValue);
    else if ("boolValue" in value) out[key] = Boolean(value.boolValue);
  }
  return out;
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True when `s` is `ancestor` or below it (parent links within `all`). */
function under(s: OtlpSpan, ancestor: OtlpSpan, all: OtlpSpan[]): boolean {
  let cur: OtlpSpan | undefined = s;
  for (let i = 0; cur && i < 50; i++) {
    if (cur.spanId === ancestor.spanId) return cur.traceId === ancestor.traceId;
    const parent: string | undefined = cur.parentSpanId;
    cur = parent ? all.find((x) => x.spanId === parent && x.traceId === cur!.traceId) : undefined;
  }
  return false;
}

const MARKER = "SECRET-MARKER-123";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";

/** The server env on `fleet` with the dangerous tier and any command allowed. */
function serverEnv(fleet: Fleet, extra: Record<string, string>): Record<string, string> {
  return fleet.env({
    ALLOW_DANGEROUS_TOOLS: "true",
    ALLOW_ANY_COMMAND: "true",
    LOG_LEVEL: "INFO",
    ...extra,
  });
}

async function withFleet(
  fn: (fleet: Fleet, root: string) => Promise<void>,
): Promise<void> {
  const root = await userDir("sshmcp-otel-");
  const fleet = await startFleet(1, { perHost: () => `path_allowlist = ["${root}"]` });
  try {
    await fn(fleet, root);
  } finally {
    await fleet.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
    await Deno.remove(fleet.dir, { recursive: true }).catch(() => {});
    for (const h of fleet.hosts) await Deno.remove(h.sshd.dir, { recursive: true }).catch(() => {});
  }
}

Deno.test("OpenTelemetry: call spans, nested SSH spans, traceparent, no secrets, flush at shutdown", async (t) => {
  const rx = startReceiver();
  try {
    await withFleet(async (fleet, root) => {
      const file = `${root}/otel-secret-name.txt`;
      await put(file, "twelve bytes");
      // a long batch delay: every span reaches the receiver through the flush at shutdown
      const s: StdioServer = await startStdio(serverEnv(fleet, {
        OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
        OTEL_EXPORTER_OTLP_HEADERS: "x-otel-test=tok-4711",
        OTEL_BSP_SCHEDULE_DELAY: "60000",
        OTEL_SERVICE_NAME: "ssh-mcp-e2e",
      }));
      let stderr = "";
      try {
        const run = await s.client.callTool({
          name: "ssh_exec_run",
          arguments: { host: "h1", command: `echo ${MARKER}` },
          _meta: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
        });
        assert.ok(!run.isError, JSON.stringify(run.content));
        assert.equal((run.structuredContent as { stdout: string }).stdout, `${MARKER}\n`);
        const dl = await s.ok("ssh_sftp_download", { host: "h1", path: file });
        assert.equal(dl.size, 12);
        assert.equal(rx.requests, 0, "nothing exported before the batch delay or the shutdown");
      } finally {
        stderr = s.stderr();
        await s.close();
        stderr = s.stderr();
      }
      await until(
        "the call spans",
        () => rx.spans.filter((x) => x.name === "ssh-mcp.tool_call").length >= 2,
      );
      const all = rx.spans;
      const calls = all.filter((x) => x.name === "ssh-mcp.tool_call");
      const execCall = calls.find((c) => attrs(c)["mcp.tool.name"] === "ssh_exec_run")!;
      const dlCall = calls.find((c) => attrs(c)["mcp.tool.name"] === "ssh_sftp_download")!;

      await t.step("a SERVER span per tool call with the audit-level attributes", () => {
        assert.ok(execCall && dlCall, JSON.stringify(calls.map(attrs)));
        for (const c of [execCall, dlCall]) {
          assert.equal(c.kind, KIND_SERVER);
          const a = attrs(c);
          assert.equal(a["ssh_mcp.host"], "h1");
          assert.equal(a["ssh_mcp.result"], "ok");
          assert.equal(a["ssh_mcp.error"], undefined);
          assert.match(String(a["ssh_mcp.correlation_id"]), /^[0-9a-f]{16}$/);
        }
        const e = attrs(execCall);
        assert.equal(e["ssh_mcp.tier"], "dangerous");
        assert.match(String(e["ssh_mcp.command_hash"]), /^sha256:[0-9a-f]{16}$/);
        assert.equal(e["ssh_mcp.exit_code"], 0);
        const d = attrs(dlCall);
        assert.equal(d["ssh_mcp.tier"], "read");
        assert.match(String(d["ssh_mcp.path_hash"]), /^sha256:[0-9a-f]{16}$/);
        assert.ok(
          rx.resources.some((r) =>
            JSON.stringify(r).includes('"service.name"') &&
            JSON.stringify(r).includes("ssh-mcp-e2e")
          ),
          "OTEL_SERVICE_NAME is the resource's service.name",
        );
        assert.ok(rx.headers.every((h) => h.get("x-otel-test") === "tok-4711"));
        assert.match(stderr, /OpenTelemetry tracing on/);
      });

      await t.step(
        "ssh.exec is a child of the call span; ssh.connect once, with its handshake",
        () => {
          const execs = all.filter((x) => x.name === "ssh.exec");
          const ex = execs.find((x) => x.traceId === execCall.traceId);
          assert.ok(ex, "an ssh.exec span in the exec call's trace");
          assert.equal(ex.parentSpanId, execCall.spanId);
          const a = attrs(ex);
          assert.equal(a["ssh.host"], "h1");
          assert.equal(a["ssh.exit_code"], 0);
          assert.equal(a["ssh.stdout_bytes"], MARKER.length + 1);
          assert.equal(a["ssh.stderr_bytes"], 0);
          const connects = all.filter((x) => x.name === "ssh.connect");
          assert.equal(connects.length, 1, "the second call reuses the pooled connection");
          const c = connects[0]!;
          assert.equal(c.parentSpanId, execCall.spanId);
          assert.equal(c.traceId, execCall.traceId);
          const ca = attrs(c);
          assert.equal(ca["ssh.host"], "h1");
          assert.equal(ca["net.peer.port"], fleet.hosts[0]!.sshd.port);
          assert.match(String(ca["ssh.host_key.fingerprint"]), /^SHA256:/);
          const hs = all.find((x) => x.name === "ssh.handshake");
          assert.ok(hs && hs.parentSpanId === c.spanId, "ssh.handshake under ssh.connect");
          assert.match(String(attrs(hs)["ssh.host_key.type"]), /^(ssh-|ecdsa-|rsa-)/);
        },
      );

      await t.step("SFTP operations are spans under the download's call span", () => {
        const sftp = all.filter((x) => x.name.startsWith("sftp.") && x.traceId === dlCall.traceId);
        assert.ok(sftp.length > 0, "sftp spans in the download's trace");
        for (const x of sftp) assert.ok(under(x, dlCall, all), `${x.name} under the call span`);
        const read = sftp.find((x) => x.name === "sftp.read");
        assert.ok(read, `an sftp.read span (got ${sftp.map((x) => x.name).join(", ")})`);
        assert.equal(attrs(read)["sftp.bytes"], 12);
        assert.notEqual(
          dlCall.traceId,
          execCall.traceId,
          "a call without traceparent starts a trace",
        );
      });

      await t.step("no attribute or payload carries the command text, the path or a header", () => {
        const bodies = rx.bodies.join("\n");
        for (const secret of [MARKER, file, "otel-secret-name", root, "tok-4711"]) {
          assert.ok(!bodies.includes(secret), `exported spans contain ${secret}`);
        }
        for (const x of all) {
          for (const v of Object.values(attrs(x))) {
            assert.ok(!String(v).includes(MARKER) && !String(v).includes(root));
          }
        }
        assert.ok(!stderr.includes("tok-4711"), "the OTLP header value is never logged");
      });

      // needs the MCP layer to hand `_meta.traceparent` to the pipeline (CallExtra.trace)
      await t.step("the request's _meta.traceparent is the call span's parent", () => {
        assert.equal(execCall.traceId, TRACE_ID);
        assert.equal(execCall.parentSpanId, PARENT_ID);
      });
    });
  } finally {
    await rx.stop();
  }
});

Deno.test("OpenTelemetry off: no endpoint, or OTEL_ENABLED=false -> nothing sent, no SDK; a dead collector warns once", async (t) => {
  const rx = startReceiver();
  try {
    await withFleet(async (fleet) => {
      const runOne = async (extra: Record<string, string>) => {
        const s = await startStdio(serverEnv(fleet, extra));
        try {
          const r = await s.ok("ssh_exec_run", { host: "h1", command: "echo hi" });
          assert.equal(r.exit_code, 0);
        } finally {
          await s.close();
        }
        return s.stderr();
      };

      await t.step(
        "no OTEL_EXPORTER_OTLP_*ENDPOINT: no request, no OpenTelemetry line",
        async () => {
          const stderr = await runOne({
            OTEL_SERVICE_NAME: "ignored",
            OTEL_BSP_SCHEDULE_DELAY: "50",
          });
          await new Promise((r) => setTimeout(r, 300));
          assert.equal(rx.requests, 0);
          assert.doesNotMatch(stderr, /opentelemetry/i);
        },
      );

      await t.step("OTEL_ENABLED=false wins over an endpoint", async () => {
        const stderr = await runOne({
          OTEL_ENABLED: "false",
          OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
          OTEL_BSP_SCHEDULE_DELAY: "50",
        });
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(rx.requests, 0);
        assert.doesNotMatch(stderr, /opentelemetry/i);
      });

      await t.step("a dead collector: calls succeed, one WARNING", async () => {
        // a port nothing listens on
        const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = (l.addr as Deno.NetAddr).port;
        l.close();
        const s = await startStdio(serverEnv(fleet, {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/v1/traces`,
          OTEL_BSP_SCHEDULE_DELAY: "50",
          OTEL_EXPORTER_OTLP_TIMEOUT: "1000",
        }));
        try {
          for (let i = 0; i < 3; i++) {
            const r = await s.ok("ssh_exec_run", { host: "h1", command: `echo ${i}` });
            assert.equal(r.exit_code, 0);
            await new Promise((r) => setTimeout(r, 200));
          }
          await until("the export failure warning", () => /export failed/.test(s.stderr()), 8000);
          await new Promise((r) => setTimeout(r, 500));
        } finally {
          await s.close();
        }
        const warnings = s.stderr().split("\n").filter((l) => l.includes("export failed"));
        assert.equal(warnings.length, 1, s.stderr());
      });
    });
  } finally {
    await rx.stop();
  }
});
