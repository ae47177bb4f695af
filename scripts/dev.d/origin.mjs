// The demo origin behind the local edge worker: a stand-in for your API. It answers every
// request with what the edge told it (the X-Tollgate-* headers it may trust) and serves the
// page the edge's upgrade links point at.
//
//   node scripts/dev.d/origin.mjs PORT SIMULATOR_URL

import { createServer } from "node:http";

const [port = "3000", simulator = "http://127.0.0.1:8100"] = process.argv.slice(2);

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://origin.local");
  if (url.pathname === "/billing/upgrade") {
    const plan = url.searchParams.get("plan") ?? "premium";
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    res.end(
      `This is where your app would open a Polar checkout for plan "${plan}".\n` +
        `Locally, subscribe a customer through the simulator instead:\n\n` +
        `  polar-sim scenario subscribe --sim ${simulator} --customer <customer> --product ${plan}\n`,
    );
    return;
  }
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        ok: true,
        method: req.method,
        path: url.pathname,
        customer: req.headers["x-tollgate-customer"] ?? null,
        plan: req.headers["x-tollgate-plan"] ?? null,
        remaining: req.headers["x-tollgate-remaining"] ?? null,
      }) + "\n",
    );
  });
});

server.on("error", (error) => {
  console.error(`demo origin: ${error.message}`);
  process.exit(1);
});
server.listen(Number(port), "127.0.0.1", () => {
  console.log(`demo origin listening on http://127.0.0.1:${server.address().port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
