// The public API of @tollgate/gate over the engine's wasm exports.
//
// This layer converts and validates arguments; every rule lives in the engine. A check crosses
// into wasm with three numbers (feature index, amount, now) and reads the Decision back as
// numbers from a scratch block in wasm memory, then builds the plain Decision object from
// string tables read once. Feature indexes are cached per name, and ISO strings per instant.

import {
  ErrorReply,
  WasmGate,
  parseCatalog,
  reasonCodes,
  warningCodes,
} from "tollgate:bindgen";

/** An error of the gate: `code` is stable and machine-readable, `message` names the problem. */
export class GateError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "GateError";
    this.code = code;
  }
}

// Set by `attach` once the wasm instance exists.
let memory = null;
let reasons = [];
let warnings = [];

/** Called by `load` (load.js) once the wasm module is instantiated. */
export function attach(exports) {
  memory = exports.memory;
  reasons = JSON.parse(reasonCodes());
  warnings = JSON.parse(warningCodes());
}

/** Runs an engine call, turning its error replies into `GateError`s. */
function engine(call) {
  if (memory === null) {
    throw new GateError(
      "not_initialized",
      "the gate's WebAssembly module is not loaded: call initGate(module) from @tollgate/gate/edge first",
    );
  }
  try {
    return call();
  } catch (err) {
    if (err instanceof ErrorReply) {
      const error = new GateError(err.code, err.message);
      err.free();
      throw error;
    }
    throw err;
  }
}

// JavaScript's Date range, in milliseconds either side of the epoch.
const MAX_INSTANT = 8.64e15;

/** `now` as whole epoch milliseconds: a Date, a number, or the current time when omitted. */
function instant(now, what) {
  if (now === undefined) return Date.now();
  let ms = NaN;
  if (typeof now === "number") {
    ms = now;
  } else if (Object.prototype.toString.call(now) === "[object Date]") {
    ms = Date.prototype.getTime.call(now);
  } else {
    throw new GateError(
      "invalid_now",
      `${what}: now must be a Date or epoch milliseconds, got ${describe(now)}`,
    );
  }
  if (!(ms >= -MAX_INSTANT && ms <= MAX_INSTANT)) {
    throw new GateError("invalid_now", `${what}: now is not a valid instant (${String(ms)})`);
  }
  return Math.floor(ms);
}

/** The amount of a check: a non-negative safe integer, 1 when omitted. */
function units(amount, what) {
  if (amount === undefined) return 1;
  if (typeof amount === "number" && Number.isSafeInteger(amount) && amount >= 0) return amount;
  throw new GateError(
    "invalid_amount",
    `${what}: amount must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got ${describe(amount)}`,
  );
}

function pendingUnits(pending, what) {
  if (typeof pending === "number" && Number.isSafeInteger(pending) && pending >= 0) return pending;
  throw new GateError(
    "invalid_pending",
    `${what}: pending must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}, got ${describe(pending)}`,
  );
}

/** JSON text of a caller's object; what JSON cannot hold (a BigInt, a cycle) is that input's error. */
function toJson(value, code, what) {
  try {
    return JSON.stringify(value);
  } catch (err) {
    throw new GateError(code, `${what} cannot be written as JSON: ${err.message}`);
  }
}

function describe(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return `${typeof value} ${String(value)}`;
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}

// Stands in for a released wasm object, so later use fails with a clear error.
function released(what) {
  const fail = () => {
    throw new GateError("freed", `this ${what} was freed with free() and cannot be used`);
  };
  return { free() {}, buildSnapshot: fail, check: fail, resolve: fail };
}

// Guards the constructors: instances come from `Catalog.parse` and `Gate.fromSnapshot` only.
const internal = Symbol("internal");

// Reads a Catalog's wasm handle; set by Catalog's static block.
let catalogWasm;

/** A parsed, validated catalog of features and plans. */
export class Catalog {
  #wasm;

  constructor(token, wasm) {
    if (token !== internal) {
      throw new GateError("invalid_argument", "use Catalog.parse(toml) to create a Catalog");
    }
    this.#wasm = wasm;
  }

  /** Parses and validates the catalog's TOML text. */
  static parse(toml) {
    if (typeof toml !== "string") {
      throw new GateError(
        "invalid_argument",
        `Catalog.parse: expected the catalog's TOML text as a string, got ${describe(toml)}`,
      );
    }
    return new Catalog(internal, engine(() => parseCatalog(toml)));
  }

  static {
    catalogWasm = (catalog) => catalog.#wasm;
  }

  /** Releases the catalog's wasm memory now instead of when it is garbage-collected. */
  free() {
    this.#wasm.free();
    this.#wasm = released("Catalog");
  }
}

/** Builds a customer's snapshot: a plain, JSON-serialisable object for `Gate.fromSnapshot`. */
export function buildSnapshot(catalog, account, now) {
  if (!(catalog instanceof Catalog)) {
    throw new GateError(
      "invalid_argument",
      `buildSnapshot: expected a Catalog from Catalog.parse, got ${describe(catalog)}`,
    );
  }
  if (typeof account !== "object" || account === null || Array.isArray(account)) {
    throw new GateError(
      "invalid_account",
      `buildSnapshot: expected the account as an object, got ${describe(account)}`,
    );
  }
  const at = instant(now, "buildSnapshot");
  const json = toJson(account, "invalid_account", "buildSnapshot: the account");
  return JSON.parse(engine(() => catalogWasm(catalog).buildSnapshot(json, at)));
}

// Bounds the per-gate caches when callers pass unbounded sets of names or instants.
const CACHE_LIMIT = 1024;

/** A customer's snapshot, compiled once, answering checks. */
export class Gate {
  #wasm;
  #scratch;
  #address;
  #plans;
  #features = new Map();
  #instants = new Map();

  constructor(token, wasm) {
    if (token !== internal) {
      throw new GateError("invalid_argument", "use Gate.fromSnapshot(snapshot) to create a Gate");
    }
    this.#wasm = wasm;
    this.#address = wasm.scratchAddress();
    this.#scratch = new Float64Array(memory.buffer, this.#address, WasmGate.scratchSlots());
    this.#plans = JSON.parse(wasm.plans());
  }

  /** Compiles a snapshot, given as the object `buildSnapshot` returns or as its JSON text. */
  static fromSnapshot(snapshot) {
    let json;
    if (typeof snapshot === "string") {
      json = snapshot;
    } else if (typeof snapshot === "object" && snapshot !== null && !Array.isArray(snapshot)) {
      json = toJson(snapshot, "invalid_snapshot", "Gate.fromSnapshot: the snapshot");
    } else {
      throw new GateError(
        "invalid_snapshot",
        `Gate.fromSnapshot: expected a snapshot object or its JSON text, got ${describe(snapshot)}`,
      );
    }
    return new Gate(internal, engine(() => WasmGate.fromJson(json)));
  }

  /**
   * May the customer use `amount` (default 1) of `feature` at `now` (default: the current time),
   * on top of `pending` (default 0) units used since the snapshot was issued and not yet in it?
   */
  check(feature, amount, now, pending) {
    let index = this.#features.get(feature);
    if (index === undefined) index = this.#resolve(feature, "check");
    this.#wasm.check(
      index,
      units(amount, "check"),
      instant(now, "check"),
      pending === undefined ? 0 : pendingUnits(pending, "check"),
    );
    return this.#decision();
  }

  /** Checks each `{ feature, amount? }` independently against the same snapshot and `now`. */
  checkMany(requests, now) {
    if (!Array.isArray(requests)) {
      throw new GateError(
        "invalid_request",
        `checkMany: expected an array of { feature, amount? }, got ${describe(requests)}`,
      );
    }
    const at = instant(now, "checkMany");
    const decisions = new Array(requests.length);
    for (let i = 0; i < requests.length; i += 1) {
      const request = requests[i];
      const what = `checkMany: request ${i}`;
      if (typeof request !== "object" || request === null) {
        throw new GateError(
          "invalid_request",
          `${what}: expected { feature, amount? }, got ${describe(request)}`,
        );
      }
      let index = this.#features.get(request.feature);
      if (index === undefined) index = this.#resolve(request.feature, what);
      this.#wasm.check(index, units(request.amount, what), at, 0);
      decisions[i] = this.#decision();
    }
    return decisions;
  }

  /** Releases the gate's wasm memory now instead of when it is garbage-collected. */
  free() {
    this.#wasm.free();
    this.#wasm = released("Gate");
  }

  #resolve(feature, what) {
    if (typeof feature !== "string") {
      throw new GateError(
        "invalid_feature",
        `${what}: feature must be a string, got ${describe(feature)}`,
      );
    }
    const index = this.#wasm.resolve(feature);
    if (this.#features.size < CACHE_LIMIT) this.#features.set(feature, index);
    return index;
  }

  #decision() {
    let slots = this.#scratch;
    if (slots.length === 0) {
      // Memory grew, which detaches the old buffer: view the new one.
      slots = new Float64Array(memory.buffer, this.#address, WasmGate.scratchSlots());
      this.#scratch = slots;
    }
    const upgrade = slots[9] < 0 ? null : this.#plans[slots[9]];
    return {
      allowed: slots[0] === 1,
      reason: reasons[slots[1]],
      plan: this.#plans[slots[2]].plan,
      limit: nullable(slots[3]),
      used: nullable(slots[4]),
      remaining: nullable(slots[5]),
      resetsAt: Number.isNaN(slots[6]) ? null : this.#iso(slots[6]),
      overage: slots[7],
      warning: slots[8] < 0 ? null : warnings[slots[8]],
      upgrade: upgrade === null ? null : { plan: upgrade.plan, name: upgrade.name },
      asOf: this.#iso(slots[10]),
      stale: slots[11] === 1,
    };
  }

  #iso(ms) {
    let text = this.#instants.get(ms);
    if (text === undefined) {
      text = new Date(ms).toISOString();
      if (this.#instants.size >= CACHE_LIMIT) this.#instants.clear();
      this.#instants.set(ms, text);
    }
    return text;
  }
}

function nullable(value) {
  return Number.isNaN(value) ? null : value;
}
