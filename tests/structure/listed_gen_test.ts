/**
 * The build-time catalog files are what the server would compute from the
 * declarations at start: `src/registry/listed_gen.ts` (the `tools/list` input
 * schemas) and `src/tools/catalog_gen.ts` (every tool's metadata), both written
 * by `deno task gen` through scripts/gen_tool_schemas.ts. The served catalog
 * (`catalog_lazy.ts`) is built from them and loads each declaration on demand:
 * what it loads is the very declaration of the eager catalog.
 *
 * @module
 */

import assert from "node:assert/strict";
import { z } from "zod";
import { render, renderMeta } from "../../scripts/gen_tool_schemas.ts";
import { ALL_TOOLS } from "../../src/tools/catalog.ts";
import { LAZY_CATALOG } from "../../src/tools/catalog_lazy.ts";
import { defineTool } from "../../src/tools/define.ts";
import { metaOf } from "../../src/tools/meta.ts";
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
  assert.equal(current, render(), "src/registry/listed_gen.ts is stale: run `deno task gen`");
});

Deno.test("src/tools/catalog_gen.ts is up to date (run `deno task gen` after changing a tool's declaration)", async () => {
  const current = await Deno.readTextFile(
    new URL("../../src/tools/catalog_gen.ts", import.meta.url),
  );
  assert.equal(current, renderMeta(), "src/tools/catalog_gen.ts is stale: run `deno task gen`");
});

Deno.test("the served catalog has every tool's metadata in catalog order, and loads the eager catalog's own declaration", async () => {
  assert.deepEqual(LAZY_CATALOG.map((m) => m.name), ALL_TOOLS.map((t) => t.name));
  for (const [i, m] of LAZY_CATALOG.entries()) {
    const real = ALL_TOOLS[i]!;
    const { declared: _d, load: _l, ...want } = metaOf(real);
    const { load: _l2, ...got } = m;
    assert.deepEqual(got, want, m.name);
    assert.equal(m.declared, undefined, `${m.name}: the served catalog holds no declaration`);
    assert.equal(await m.load(), real, `${m.name}: load() returns the catalog's declaration`);
  }
});

Deno.test("every catalog and search-mode tool has a build-time schema equal to the runtime conversion", () => {
  for (const t of [...ALL_TOOLS, ...META_TOOLS]) {
    assert.ok(ADVERTISED_INPUT_SCHEMAS[t.name], `${t.name} missing: run \`deno task gen\``);
  }
  for (const [i, m] of LAZY_CATALOG.entries()) {
    assert.deepEqual(inputSchemaOf(m), advertisedInputSchema(ALL_TOOLS[i]!.input), m.name);
  }
  assert.deepEqual(
    listedTools(LAZY_CATALOG),
    listedTools(ALL_TOOLS.map(metaOf)),
    "listing the served catalog equals listing the declarations",
  );
});

Deno.test("a declared tool is converted from its own schema, even under a catalog name", () => {
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
  const js = inputSchemaOf(metaOf(impostor));
  assert.deepEqual(js, advertisedInputSchema(impostor.input));
  assert.notDeepEqual(js, ADVERTISED_INPUT_SCHEMAS[real.name]);
  assert.deepEqual(Object.keys(js.properties as object), ["host", "other"]);
});

Deno.test("the listed schema is a copy: changing it does not change the next listing", () => {
  const t = LAZY_CATALOG[0]!;
  const a = inputSchemaOf(t);
  a.type = "changed";
  assert.equal(inputSchemaOf(t).type, "object");
  assert.equal(ADVERTISED_INPUT_SCHEMAS[t.name]!.type, "object");
});
