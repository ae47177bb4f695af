// The engine's WebAssembly module, as bundlers for edge runtimes import it
// (Cloudflare Workers: `import wasm from "@tollgate/gate/gate.wasm"`).

declare const module: WebAssembly.Module;
export default module;
