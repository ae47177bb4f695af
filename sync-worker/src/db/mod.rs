//! PostgreSQL access, one file per table.
//!
//! Every function takes `&mut PgConnection`, so callers compose them inside one transaction.
//! Polar objects are upserted under one rule: a row is only replaced by a strictly newer
//! version (`version_at`, the object's `modified_at` or else `created_at`), which makes applying
//! the same or an older webhook a no-op whatever order deliveries arrive in.
//!
//! Each upsert first checks, without locking, that no version as new is stored
//! (`INSERT … SELECT … WHERE NOT EXISTS`): `ON CONFLICT DO UPDATE` locks the existing row even
//! when its `WHERE` then declines the update, and the product that every subscription event
//! embeds would otherwise serialise all deliveries on one row lock.

pub mod api_tokens;
pub mod audit;
pub mod benefit_grants;
pub mod checkouts;
pub mod clerk_events;
pub mod customers;
pub mod idempotency_keys;
pub mod orders;
pub mod products;
pub mod refunds;
pub mod snapshots;
pub mod subscriptions;
pub mod webhook_events;

/// `sql` with every parameter `$n` renumbered `$n+by`, to combine statements into one.
fn renumbered(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

/// The database's migrations, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[cfg(test)]
mod tests {
    #[test]
    fn renumbering_shifts_every_parameter() {
        assert_eq!(
            super::renumbered("SELECT $1, $12::text WHERE x = $2", 6),
            "SELECT $7, $18::text WHERE x = $8"
        );
    }
}
