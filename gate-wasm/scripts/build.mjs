// Builds the npm package @tollgate/gate into gate-wasm/pkg/:
//   1. cargo: tollgate-gate for wasm32-unknown-unknown, profile `wasm`, feature `js`;
//   2. wasm-bindgen (target `web`, whose glue offers initSync({ module }));
//   3. wasm-opt -Oz from npm `binaryen` (Debian's binaryen produces broken modules);
//   4. esbuild: the bytes entry as ESM (index.js) and CommonJS (index.cjs), both reading the
//      module from wasm-base64.cjs; the module-import entry for Next.js's edge runtime
//      (edge-light.js) and for Cloudflare Workers (workerd.js); the explicit-init entry (edge.js);
//   5. declarations, README and package.json (version taken from the crate).
//
// Usage: npm --prefix gate-wasm run build   (WASM_BINDGEN_BIN overrides the wasm-bindgen binary)

import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const crate = join(here, "..");
const js = join(crate, "js");
const pkg = join(crate, "pkg");

function fail(message) {
  console.error(`build: ${message}`);
  process.exit(1);
}

function run(command, args) {
  console.log(`$ ${command} ${args.join(" ")}`);
  try {
    execFileSync(command, args, { cwd: crate, stdio: "inherit" });
  } catch (err) {
    fail(`${command} failed${err.status === null ? ` (${err.code ?? err.signal})` : ` with exit status ${err.status}`}`);
  }
}

function output(command, args) {
  return execFileSync(command, args, { cwd: crate, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
}

// Where cargo puts its output (honours CARGO_TARGET_DIR) and the crate's version.
const metadata = JSON.parse(output("cargo", ["metadata", "--format-version", "1", "--no-deps"]));
const engine = metadata.packages.find((p) => p.name === "tollgate-gate");
if (engine === undefined) fail("package tollgate-gate not found in the cargo workspace");
const profileDir = join(metadata.target_directory, "wasm32-unknown-unknown", "wasm");

// 1. The wasm module.
run("cargo", [
  "build",
  "--package",
  "tollgate-gate",
  "--lib",
  "--target",
  "wasm32-unknown-unknown",
  "--profile",
  "wasm",
  "--features",
  "js",
]);

// 2. wasm-bindgen, whose version must equal the wasm-bindgen crate's in Cargo.lock.
const bindgen = process.env.WASM_BINDGEN_BIN ?? "wasm-bindgen";
const lock = readFileSync(join(metadata.workspace_root, "Cargo.lock"), "utf8");
const locked = /\[\[package\]\]\nname = "wasm-bindgen"\nversion = "([^"]+)"/.exec(lock)?.[1];
let installed;
try {
  installed = output(bindgen, ["--version"]).trim().split(/\s+/)[1];
} catch {
  fail(`${bindgen} not found: run scripts/install-tools (cargo install wasm-bindgen-cli --version ${locked})`);
}
if (installed !== locked) {
  fail(`${bindgen} is ${installed} but Cargo.lock has wasm-bindgen ${locked}: run scripts/install-tools`);
}
const glue = join(profileDir, "npm-bindgen");
rmSync(glue, { recursive: true, force: true });
run(bindgen, [
  "--target",
  "web",
  "--no-typescript",
  "--out-dir",
  glue,
  "--out-name",
  "gate",
  join(profileDir, "tollgate_gate.wasm"),
]);

// 3. wasm-opt from npm binaryen.
rmSync(pkg, { recursive: true, force: true });
mkdirSync(pkg, { recursive: true });
const wasmOpt = join(crate, "node_modules", ".bin", "wasm-opt");
try {
  statSync(wasmOpt);
} catch {
  fail(`${wasmOpt} not found: run scripts/install-tools (npm ci in gate-wasm)`);
}
// The features rustc enables by default for wasm32-unknown-unknown (wasm-bindgen drops the
// section that would tell wasm-opt); every runtime the package targets supports them.
const features = [
  "bulk-memory",
  "bulk-memory-opt",
  "nontrapping-float-to-int",
  "sign-ext",
  "mutable-globals",
  "multivalue",
  "reference-types",
].map((feature) => `--enable-${feature}`);
// --converge repeats -Oz until the module stops shrinking. --low-memory-unused lets wasm-opt fold
// constant offsets into loads and stores; it is sound for rustc's layout (the 1 MiB stack first,
// growing down towards 0, statics above it), where nothing lives in the first KiB. The
// producers and target-features sections only describe the toolchain; runtimes ignore them.
run(wasmOpt, [
  "-Oz",
  "--converge",
  "--low-memory-unused",
  "--strip-producers",
  "--strip-target-features",
  ...features,
  join(glue, "gate_bg.wasm"),
  "-o",
  join(pkg, "gate.wasm"),
]);

// 4. The JavaScript entries, each bundled with the glue. The glue also exports the two steps
// of its `initSync`, so load.js can instantiate a module compiled in another realm.
const glueFile = join(glue, "gate.js");
const glueResolver = {
  name: "tollgate-bindgen",
  setup(build) {
    build.onResolve({ filter: /^tollgate:bindgen$/ }, () => ({ path: glueFile }));
    build.onLoad({ filter: /[\\/]gate\.js$/ }, (args) => {
      if (args.path !== glueFile) return undefined;
      const source = readFileSync(glueFile, "utf8");
      return {
        contents: `${source}\nexport { __wbg_get_imports as imports, __wbg_finalize_init as finalize };\n`,
        loader: "js",
      };
    });
  },
};
// Resolves `tollgate:<name>` to a file next to the entry, left to the user's bundler or runtime.
const sibling = (files) => ({
  name: "tollgate-siblings",
  setup(build) {
    build.onResolve({ filter: /^tollgate:wasm-/ }, (args) => {
      const path = files[args.path];
      return path === undefined ? undefined : { path, external: true };
    });
  },
});
const common = {
  bundle: true,
  platform: "neutral",
  target: "es2022",
  legalComments: "none",
  logLevel: "warning",
};
const bytes = sibling({ "tollgate:wasm-base64": "./wasm-base64.cjs" });
for (const [format, outfile] of [["esm", "index.js"], ["cjs", "index.cjs"]]) {
  await esbuild.build({
    ...common,
    entryPoints: [join(js, "index.js")],
    outfile: join(pkg, outfile),
    format,
    plugins: [glueResolver, bytes],
    // Only the glue's unused async init reads import.meta.url; CommonJS has none to give.
    define: format === "cjs" ? { "import.meta.url": "undefined" } : {},
  });
}
for (const [outfile, wasmImport] of [["edge-light.js", "./gate.wasm?module"], ["workerd.js", "./gate.wasm"]]) {
  await esbuild.build({
    ...common,
    entryPoints: [join(js, "module.js")],
    outfile: join(pkg, outfile),
    format: "esm",
    plugins: [glueResolver, sibling({ "tollgate:wasm-module": wasmImport })],
  });
}
await esbuild.build({
  ...common,
  entryPoints: [join(js, "edge.js")],
  outfile: join(pkg, "edge.js"),
  format: "esm",
  plugins: [glueResolver],
});

// 5. Declarations, README and the package manifest.
copyFileSync(join(js, "index.d.ts"), join(pkg, "index.d.ts"));
copyFileSync(join(js, "index.d.ts"), join(pkg, "index.d.cts"));
copyFileSync(join(js, "edge.d.ts"), join(pkg, "edge.d.ts"));
copyFileSync(join(js, "gate.wasm.d.ts"), join(pkg, "gate.wasm.d.ts"));
copyFileSync(join(js, "README.md"), join(pkg, "README.md"));
const manifest = JSON.parse(readFileSync(join(js, "package.json"), "utf8"));
manifest.version = engine.version;
writeFileSync(join(pkg, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);

const wasm = readFileSync(join(pkg, "gate.wasm"));
const embedded = Buffer.from(
  `// The bytes of gate.wasm, for the entries that compile it themselves (index.js, index.cjs).\nexports.base64 = "${wasm.toString("base64")}";\n`,
);
writeFileSync(join(pkg, "wasm-base64.cjs"), embedded);
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const sizes = (bytes) => `${kb(bytes.length)} raw, ${kb(gzipSync(bytes, { level: 9 }).length)} gzipped`;
console.log(`built ${pkg}: gate.wasm ${sizes(wasm)}; wasm-base64.cjs ${sizes(embedded)}`);
