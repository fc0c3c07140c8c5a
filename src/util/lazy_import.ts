/**
 * Imports a module of this project by a URL computed at run time. Deno loads
 * every module a string-literal `import("./x.ts")` can reach together with
 * the importer's graph, before any code runs; a computed specifier is loaded
 * only when the import runs. Measured (issue 17): the launcher isolate loaded
 * the whole server graph for its `import("./cli.ts")`, and the served catalog
 * the 100+ tool modules it only needs on a tool's first call.
 *
 * `deno compile` packs such a module only when it is passed with `--include`:
 * {@link LAZY_MODULES} is that list (scripts/compile.ts uses it) and
 * tests/structure/imports_test.ts checks that every `importLazy` target is in
 * it. Each module's own static imports are packed with it.
 *
 * @module
 */

/**
 * Every module imported through {@link importLazy} (repo-relative), plus the
 * Worker entries loaded by URL. Keep in step with the call sites (a structure
 * test does).
 */
export const LAZY_MODULES: readonly string[] = [
  "src/worker_entry.ts",
  "src/ssh/kdf_worker.ts",
  "src/ssh/connection.ts",
  "src/ssh/auth.ts",
  "src/ssh/fs.ts",
  "src/sudo/elevation.ts",
  "src/cli.ts",
  "src/mcp/server.ts",
  "src/mcp/sdk.ts",
  "src/registry/pipeline.ts",
  "src/policy/commands.ts",
  "src/policy/paths.ts",
  "src/config/ip_lib.ts",
  "src/init.ts",
  "src/serve_ssh.ts",
  "src/bridge/bridge.ts",
  "src/bridge/args.ts",
  "src/bridge/connect.ts",
  "src/client_config.ts",
  "src/doctor.ts",
  "src/http/auth.ts",
  "src/mcp/http.ts",
  "src/telemetry/otel_sdk.ts",
  "src/tools/host/mod.ts",
  "src/tools/session/mod.ts",
  "src/tools/sftp-read/mod.ts",
  "src/tools/file-ops/mod.ts",
  "src/tools/exec/mod.ts",
  "src/tools/sudo/mod.ts",
  "src/tools/shell/mod.ts",
  "src/tools/docker/mod.ts",
  "src/tools/systemctl/mod.ts",
  "src/tools/pkg/mod.ts",
  "src/tools/bridge/mod.ts",
  "src/skills/embedded_texts_gen.ts",
];

/**
 * `import(url)` with the module's type given by the caller, e.g.
 * `importLazy<typeof import("./cli.ts")>(url)` (a type-only reference loads
 * nothing); `url` is `new URL(<relative path literal>, import.meta.url)`.
 */
export function importLazy<T>(url: URL): Promise<T> {
  return import(url.href) as Promise<T>;
}
