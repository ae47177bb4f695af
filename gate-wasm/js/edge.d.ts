// Type declarations of @tollgate/gate/edge: the Node API plus `initGate`.

export * from "./index.js";

/**
 * Instantiates the gate from an already compiled module (from this realm or another), for
 * runtimes that may not compile WebAssembly from bytes and that `@tollgate/gate`'s own edge
 * entries do not cover. Call it once before using the API; later calls do nothing.
 *
 *     import wasm from "@tollgate/gate/gate.wasm";
 *     import { initGate } from "@tollgate/gate/edge";
 *     initGate(wasm);
 */
export declare function initGate(module: WebAssembly.Module): void;
