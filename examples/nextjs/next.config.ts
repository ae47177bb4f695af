import type { NextConfig } from "next";

// @tollgate/gate is linked from this repository (`file:../../gate-wasm/pkg`), outside the
// app's folder: Turbopack and file tracing must see the repository's root. An app that installs
// the package from npm needs no configuration at all.
const repositoryRoot = new URL("../..", import.meta.url).pathname;

const config: NextConfig = {
  turbopack: { root: repositoryRoot },
  outputFileTracingRoot: repositoryRoot,
};

export default config;
