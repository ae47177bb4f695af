// Entry point for Node (ESM, and CommonJS through the bundled index.cjs): loads the wasm file
// next to this one synchronously at import, so no explicit init is needed.

import { readFileSync } from "node:fs";
import { initSync } from "tollgate:bindgen";
import { attach } from "./api.js";

export { Catalog, Gate, GateError, buildSnapshot } from "./api.js";

const bytes = readFileSync(new URL("./gate.wasm", import.meta.url));
attach(initSync({ module: new WebAssembly.Module(bytes) }));
