// Compiled by types.test.mjs: the CommonJS view of the declarations (never run).

import gate = require("@tollgate/gate");

const catalog: gate.Catalog = gate.Catalog.parse("default_plan = \"free\"");
const decision: gate.Decision = gate.Gate.fromSnapshot("{}").check("projects", 1, new Date());
console.log(catalog, decision.reason);
