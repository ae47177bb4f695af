// Entry point for runtimes that may not compile WebAssembly from bytes and whose bundlers
// import a `.wasm` file as a compiled module: Next.js's edge runtime (condition `edge-light`,
// built as edge-light.js, importing `./gate.wasm?module`) and Cloudflare Workers (conditions
// `workerd` and `worker`, built as workerd.js, importing `./gate.wasm`). The module loads at
// import, no init call needed.

import wasm from "tollgate:wasm-module";
import { load } from "./load.js";

export { Catalog, Gate, GateError, buildSnapshot } from "./api.js";

load(wasm, "@tollgate/gate");
