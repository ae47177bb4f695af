// The package's TypeScript declarations: a strict compile of code that uses them (including
// mistakes they must reject), and no `any` anywhere in them.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { consumerDir, gateDir, pkgDir } from "./support.mjs";

test("declarations compile under strict TypeScript and reject misuse", () => {
  const dir = consumerDir();
  for (const file of ["usage.mts", "require.cts"]) {
    copyFileSync(join(gateDir, "test", "types", file), join(dir, file));
  }
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        lib: ["es2022", "dom"],
        types: [],
        noUnusedLocals: true,
      },
      files: ["usage.mts", "require.cts"],
    }),
  );
  const tsc = join(gateDir, "node_modules", "typescript", "bin", "tsc");
  try {
    execFileSync(process.execPath, [tsc, "-p", dir], { cwd: dir, encoding: "utf8" });
  } catch (err) {
    assert.fail(`tsc reported:\n${err.stdout}${err.stderr}`);
  }
});

test("declarations never say any", () => {
  for (const file of readdirSync(pkgDir).filter((f) => /\.d\.c?ts$/.test(f))) {
    const source = readFileSync(join(pkgDir, file), "utf8").replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, "");
    assert.doesNotMatch(source, /\bany\b/, file);
  }
});
