//! State kept for the life of an isolate: the configuration (read once), and the caches of
//! compiled snapshots, API-key lookups, verified tokens and the issuer's keys.
//!
//! Workers run one request at a time per thread, so the state is thread-local behind
//! `RefCell`s; no borrow is ever held across an `.await`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use wasm_bindgen::JsValue;
use worker::Env;

use crate::config::{Config, ConfigError};
use crate::identity::jwks::KeySet;
use crate::identity::jwt::TokenIdentity;
use crate::metering::UsageEvent;
use crate::store::cache::SnapshotCache;

/// How long an API-key lookup (found or not) is trusted; revocations take this long, plus
/// KV's own propagation, to reach every isolate.
pub const KEY_CACHE_MS: i64 = 60_000;
/// Bound of the key and token caches.
pub const IDENTITY_CACHE_CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub struct Isolate {
    pub snapshots: SnapshotCache,
    /// Key hash → (customer, when read); `None` records a key KV does not know.
    pub keys: HashMap<String, (Option<String>, i64)>,
    /// SHA-256 hex of a token → its identity, until the token expires.
    pub tokens: HashMap<String, TokenIdentity>,
    /// The issuer's keys and when they were fetched.
    pub jwks: Option<(Rc<KeySet>, i64)>,
    /// When the keys were last fetched because a token named an unknown key.
    pub jwks_refetched_at: Option<i64>,
    /// Usage events waiting to be sent to the queue as one batch.
    pub usage_outbox: Vec<UsageEvent>,
    /// Whether a request's `wait_until` will send the outbox.
    pub usage_flush_scheduled: bool,
}

thread_local! {
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
    static STATE: RefCell<Isolate> = RefCell::new(Isolate::default());
}

/// The configuration, read from `env` on first use.
pub fn config(env: &Env) -> Result<Rc<Config>, ConfigError> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    let config = Rc::new(Config::from_lookup(|name| binding_text(env, name))?);
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}

/// A variable or secret as text. `[vars]` written as TOML tables or arrays reach the Worker as
/// objects: they are read back as JSON rather than taken for unset, which would silently drop
/// every route rule.
fn binding_text(env: &Env, name: &str) -> Option<String> {
    let value = worker::js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    if value.is_undefined() || value.is_null() {
        return None;
    }
    value
        .as_string()
        .or_else(|| worker::js_sys::JSON::stringify(&value).ok()?.as_string())
}

/// Runs `f` with the isolate's state. `f` must not await.
pub fn with<R>(f: impl FnOnce(&mut Isolate) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

/// Inserts into a bounded map, clearing it when full: the caches only save work, and a full
/// clear is rare and cheap to recover from.
pub fn bounded_insert<V>(map: &mut HashMap<String, V>, key: String, value: V) {
    if map.len() >= IDENTITY_CACHE_CAPACITY && !map.contains_key(&key) {
        map.clear();
    }
    map.insert(key, value);
}

/// Milliseconds since the epoch, by the isolate's clock.
pub fn now_ms() -> i64 {
    i64::try_from(worker::Date::now().as_millis()).unwrap_or(i64::MAX)
}
