// Entry point where WebAssembly may be compiled from bytes: Node (ESM, and CommonJS through the
// bundled index.cjs), Next.js's Node runtime, browsers, Deno, Bun. The module's bytes are
// embedded as base64 text (wasm-base64.cjs), so bundlers need no rule for `.wasm` files and no
// file is read at run time; the module loads at import, no init call needed.

import wasm from "tollgate:wasm-base64";
import { load } from "./load.js";

export { Catalog, Gate, GateError, buildSnapshot } from "./api.js";

/** The bytes of base64 text: Buffer where there is one (Node), atob elsewhere. */
function decode(text) {
  if (typeof globalThis.Buffer === "function") return globalThis.Buffer.from(text, "base64");
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

load(new WebAssembly.Module(decode(wasm.base64)), "@tollgate/gate");
