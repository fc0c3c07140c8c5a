/**
 * The build-time `tools/list` schemas (`src/registry/listed_gen.ts`, written by
 * `deno task gen` through scripts/gen_tool_schemas.ts) are what the server
 * would compute from the zod schemas at start, and the server uses them only
 * for the schema object they were generated from.
 *
 * @module
 */

import assert from "node:assert/strict";
import { z } from "zod";
import { render } from "../../scripts/gen_tool_schemas.ts";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";
import { defineTool } from "../../src/tools/define.ts";
import { META_TOOLS } from "../../src/registry/search.ts";
import { ADVERTISED_INPUT_SCHEMAS } from "../../src/registry/listed_gen.ts";
import {
  advertisedInputSchema,
  inputSchemaOf,
  listedTools,
} from "../../src/registry/visibility.ts";

Deno.test("src/registry/listed_gen.ts is up to date (run `deno task gen` after changing a tool's input schema)", async () => {
  const current = await Deno.readTextFile(
    new URL("../../src/registry/listed_gen.ts", import.meta.url),
  );
  assert.equal(
    current,
    render(),
    "src/registry/listed_gen.ts is stale: run `deno task gen`",
  );
});

Deno.test("every catalog and search-mode tool has a build-time schema equal to the runtime conversion", () => {
  for (const t of [...ALL_TOOLS, ...META_TOOLS]) {
    assert.ok(ADVERTISED_INPUT_SCHEMAS[t.name], `${t.name} missing: run \`deno task gen\``);
    assert.deepEqual(inputSchemaOf(t), advertisedInputSchema(t.input), t.name);
  }
  assert.deepEqual(
    listedTools(ALL_TOOLS).map((l) => l.inputSchema),
    ALL_TOOLS.map((t) => advertisedInputSchema(t.input)),
  );
});

Deno.test("a tool not built from the catalog's schema object is converted, even under a catalog name", () => {
  const real = ALL_TOOLS.find((t) => t.name === "ssh_exec_run")!;
  const impostor = defineTool({
    name: real.name,
    group: real.group,
    tier: real.tier,
    description: "same name, other schema",
    input: z.strictObject({ host: z.string().describe("Host alias"), other: z.number() }),
    output: z.strictObject({}),
    handler: () => Promise.resolve({}),
  });
  const js = inputSchemaOf(impostor);
  assert.deepEqual(js, advertisedInputSchema(impostor.input));
  assert.notDeepEqual(js, ADVERTISED_INPUT_SCHEMAS[real.name]);
  assert.deepEqual(Object.keys(js.properties as object), ["host", "other"]);
});

Deno.test("the listed schema is a copy: changing it does not change the next listing", () => {
  const t = ALL_TOOLS[0]!;
  const a = inputSchemaOf(t);
  a.type = "changed";
  assert.equal(inputSchemaOf(t).type, "object");
  assert.equal(ADVERTISED_INPUT_SCHEMAS[t.name]!.type, "object");
});
