// Entry point for runtimes that may not compile WebAssembly from bytes (Cloudflare Workers,
// Next.js edge middleware): the application imports the module itself and hands it over.
//
//   import wasm from "@tollgate/gate/gate.wasm";
//   import { initGate, Gate } from "@tollgate/gate/edge";
//   initGate(wasm);

import { initSync } from "tollgate:bindgen";
import { GateError, attach } from "./api.js";

export { Catalog, Gate, GateError, buildSnapshot } from "./api.js";

let ready = false;

/** Instantiates the gate from an already compiled `WebAssembly.Module`; later calls do nothing. */
export function initGate(module) {
  if (ready) return;
  if (!(module instanceof WebAssembly.Module)) {
    throw new GateError(
      "invalid_module",
      "initGate: expected the WebAssembly.Module of @tollgate/gate/gate.wasm",
    );
  }
  attach(initSync({ module }));
  ready = true;
}
