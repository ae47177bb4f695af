// Entry point for runtimes where the application hands over the compiled module itself:
//
//   import wasm from "@tollgate/gate/gate.wasm";
//   import { initGate, Gate } from "@tollgate/gate/edge";
//   initGate(wasm);
//
// Next.js and Cloudflare Workers need none of this: `@tollgate/gate` loads the module there.

import { load } from "./load.js";

export { Catalog, Gate, GateError, buildSnapshot } from "./api.js";

let ready = false;

/** Instantiates the gate from an already compiled `WebAssembly.Module`; later calls do nothing. */
export function initGate(module) {
  if (ready) return;
  load(module, "initGate");
  ready = true;
}
