// Type declarations of @tollgate/gate/edge: the Node API plus `initGate`.

export * from "./index.js";

/**
 * Instantiates the gate from an already compiled module, for runtimes that may not compile
 * WebAssembly from bytes (Cloudflare Workers, Next.js edge middleware). Call it once before
 * using the API; later calls do nothing.
 *
 *     import wasm from "@tollgate/gate/gate.wasm";
 *     import { initGate } from "@tollgate/gate/edge";
 *     initGate(wasm);
 */
export declare function initGate(module: WebAssembly.Module): void;
