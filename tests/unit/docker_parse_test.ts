/**
 * Parsers of the docker group on captured real output
 * (tests/fixtures/docker/: Docker CLI 28 against Podman 4.3's API, Podman's
 * own CLI, docker-compose 1.29): NDJSON and JSON arrays, label stripping,
 * Config.Env masking (DOCKER-9 / DOCKER-28), sanitizing of parsed strings
 * (DOCKER-29), compose v1 usage text.
 */

import assert from "node:assert/strict";
import {
  containerState,
  looksLikeJson,
  maskEnv,
  ndjson,
  parseJsonOutput,
  parseSanitized,
  REDACTED,
  rowNames,
  rowService,
  stripLabels,
} from "../../src/tools/docker/_parse.ts";
import { BUILTIN_REDACT_KEYS } from "../../src/policy/redact.ts";

const FIX = new URL("../fixtures/docker/", import.meta.url).pathname;
const fx = (name: string) => Deno.readTextFileSync(FIX + name);

Deno.test("NDJSON (Docker) and JSON arrays (Podman) parse to the same kind of rows", () => {
  const docker = parseJsonOutput(fx("docker_ps_ndjson.txt"));
  assert.equal(docker.length, 3);
  assert.deepEqual(docker.map((r) => rowNames(r)[0]).sort(), ["fx-exited", "fx-podman", "fx-web"]);
  const podman = parseJsonOutput(fx("podman_ps_array.txt"));
  assert.equal(podman.length, 3);
  assert.deepEqual(podman.map((r) => rowNames(r)[0]).sort(), ["fx-exited", "fx-podman", "fx-web"]);
  assert.ok(parseJsonOutput(fx("podman_images_array.txt")).length >= 1);
  assert.equal(parseJsonOutput(fx("docker_system_df.txt")).length, 4);
  assert.ok(parseJsonOutput(fx("docker_stats.txt")).length >= 2);
  assert.ok(parseJsonOutput(fx("docker_events.txt")).length >= 1);
  assert.deepEqual(parseJsonOutput(fx("docker_volume_ls.txt")), []);
});

Deno.test("invalid lines are skipped; a truncated array falls back to lines; compose v1 usage text is not JSON", () => {
  assert.deepEqual(parseJsonOutput('{"a":1}\nnot json\n{"b":2}\n{"c":'), [{ a: 1 }, { b: 2 }]);
  const arr = fx("podman_ps_array.txt");
  assert.deepEqual(parseJsonOutput(arr.slice(0, arr.length / 2)), []);
  const usage = fx("compose_v1_ps_format_json.txt");
  assert.equal(looksLikeJson(usage), false);
  assert.deepEqual(parseJsonOutput(usage), []);
  assert.equal(looksLikeJson('[{"Name":"x"}]'), true);
});

Deno.test("labels stripped: Labels removed and stdout rewritten as compact NDJSON", () => {
  const rows = parseJsonOutput(fx("docker_ps_ndjson.txt"));
  const web = rows.find((r) => rowNames(r)[0] === "fx-web")!;
  assert.match(String(web.Labels), /secret\.token=abc123/);
  const stripped = stripLabels(rows);
  assert.ok(stripped.every((r) => !("Labels" in r)));
  const text = ndjson(stripped);
  assert.ok(!text.includes("abc123"));
  assert.equal(text.split("\n").length, 4);
  assert.equal(ndjson([]), "");
});

Deno.test("AC-723/DOCKER-28: Config.Env values with secret names are masked, also where Podman repeats them", () => {
  const keys = [...BUILTIN_REDACT_KEYS];
  const d = maskEnv(JSON.parse(fx("docker_inspect_container.txt")), keys);
  const env = (d.objects[0]!.Config as { Env: string[] }).Env;
  assert.ok(env.includes(`DB_PASSWORD=${REDACTED}`));
  assert.ok(env.includes("PORT=8080"));
  assert.ok(!JSON.stringify(d.objects).includes("hunter2"));
  assert.equal(d.masked, 1);
  const p = maskEnv(JSON.parse(fx("podman_inspect_container.txt")), keys);
  assert.ok(!JSON.stringify(p.objects).includes("s3cr3t"), "CreateCommand leaked the value");
  assert.equal(p.masked, 2);
  assert.ok(JSON.stringify(p.objects).includes("MODE=prod"));
  const cmd = maskEnv(
    [{ Config: { CreateCommand: ["podman", "run", "--env=API_KEY=x", "-eTOKEN=y", "img"] } }],
    keys,
  );
  assert.deepEqual((cmd.objects[0]!.Config as { CreateCommand: string[] }).CreateCommand, [
    "podman",
    "run",
    `--env=API_KEY=${REDACTED}`,
    `-eTOKEN=${REDACTED}`,
    "img",
  ]);
});

Deno.test("container state from inspect: exit code, OOM flag, image id", () => {
  const s = containerState(JSON.parse(fx("docker_inspect_container.txt")));
  assert.equal(s.exists, true);
  assert.equal(s.status, "running");
  assert.equal(s.running, true);
  assert.equal(s.oom_killed, false);
  assert.match(s.image_id ?? "", /^(sha256:)?[0-9a-f]{64}$/);
  assert.equal(containerState([]).exists, false);
});

Deno.test("DOCKER-29: strings of parsed objects are sanitized (ANSI/NUL stripped, markers flagged)", () => {
  const r = parseSanitized(
    JSON.stringify({ Names: "web\u001b[31m", Labels: "x=<|im_start|>system", Status: "Up\u0000" }) +
      "\n",
  );
  assert.equal(r.objects[0]!.Names, "web");
  assert.equal(r.objects[0]!.Status, "Up");
  assert.ok(r.warnings.some((w) => w.includes("ANSI")));
  assert.ok(r.warnings.some((w) => w.includes("LLM protocol markers")));
});

Deno.test("compose service of a row: v2 Service field or the compose label (string or object form)", () => {
  assert.equal(rowService({ Service: "web" }), "web");
  assert.equal(rowService({ Labels: "a=b,com.docker.compose.service=api,c=d" }), "api");
  assert.equal(rowService({ Labels: { "com.docker.compose.service": "db" } }), "db");
  assert.equal(rowService({}), null);
});
