// Instantiates the engine's WebAssembly module and hands its exports to the API layer. Shared
// by every entry point.
//
// The module is instantiated here rather than by wasm-bindgen's `initSync`, whose
// `instanceof WebAssembly.Module` test fails for a module compiled in another realm: Next.js's
// edge sandbox compiles an app's `.wasm?module` imports outside the sandbox. Any object that
// `WebAssembly.Instance` accepts is accepted.

import { finalize, imports } from "tollgate:bindgen";
import { GateError, attach } from "./api.js";

/** Whether `value` is a compiled `WebAssembly.Module`, from this realm or another. */
export function isCompiledModule(value) {
  return Object.prototype.toString.call(value) === "[object WebAssembly.Module]";
}

/** Instantiates a compiled module of @tollgate/gate/gate.wasm and makes the API usable. */
export function load(module, what) {
  if (!isCompiledModule(module)) {
    throw new GateError("invalid_module", `${what}: expected the WebAssembly.Module of @tollgate/gate/gate.wasm`);
  }
  attach(finalize(new WebAssembly.Instance(module, imports()), module));
}
