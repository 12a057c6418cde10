// CI check of the typed contract (npm run codegen:check):
// 1. generate the TypeScript types into a temporary directory (from schema.graphql, or from
//    the SDL file in PULSE_SCHEMA) and compare them with the committed generated/graphql.ts;
// 2. compile typecheck/ (a small frontend that imports them) with tsc --noEmit.
// Exit 1 with an explanation when either fails.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const committed = join(here, "generated", "graphql.ts");
const bin = (name) => join(here, "node_modules", ".bin", name);

function run(command, args, env = {}) {
  const result = spawnSync(command, args, {
    cwd: here,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}

function firstDifference(expected, actual) {
  const a = expected.split("\n");
  const b = actual.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    if (a[i] !== b[i]) {
      return `line ${i + 1}:\n  committed: ${a[i] ?? "<end of file>"}\n  generated: ${b[i] ?? "<end of file>"}`;
    }
  }
  return "";
}

const scratch = mkdtempSync(join(tmpdir(), "pulse-codegen-"));
let failed = false;
try {
  const fresh = join(scratch, "graphql.ts");
  const generated = run(bin("graphql-codegen"), ["--config", "codegen.yml"], {
    PULSE_CODEGEN_OUT: fresh,
    ...(process.env.PULSE_SCHEMA ? { PULSE_SCHEMA: process.env.PULSE_SCHEMA } : {}),
  });
  if (!generated.ok) {
    console.error("graphql-codegen failed: an operation in operations/ no longer matches the schema?");
    console.error(generated.output);
    failed = true;
  } else {
    const expected = readFileSync(committed, "utf8");
    const actual = readFileSync(fresh, "utf8");
    if (expected !== actual) {
      console.error("frontend-contract/generated/graphql.ts is stale: the schema or the operations changed.");
      console.error("Run `npm run codegen` in frontend-contract/ and commit the result.");
      console.error(`First difference at ${firstDifference(expected, actual)}`);
      failed = true;
    } else {
      console.log("generated/graphql.ts is up to date");
    }
  }
  const typecheck = run(bin("tsc"), ["--noEmit", "-p", "tsconfig.json"]);
  if (!typecheck.ok) {
    console.error("tsc --noEmit failed: the generated types no longer fit typecheck/ (what a frontend relies on).");
    console.error(typecheck.output);
    failed = true;
  } else {
    console.log("tsc --noEmit: ok");
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
