//! Stable short ids made by hashing: the same parts always give the same id, so a retry or a
//! second replica names the same thing.

use sha2::{Digest, Sha256};

/// `prefix` and, in hex, the first 16 bytes of the SHA-256 of `parts` separated by NUL (which
/// no part holds, so different parts never hash alike).
pub(crate) fn short_id(prefix: &str, parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hash.update([0]);
        }
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    format!(
        "{prefix}{}",
        hex::encode(digest.get(..16).unwrap_or_default())
    )
}

#[cfg(test)]
mod tests {
    use super::short_id;

    #[test]
    fn ids_are_stable_and_parts_do_not_run_together() {
        assert_eq!(short_id("x_", &["a", "b"]), short_id("x_", &["a", "b"]));
        assert_ne!(short_id("x_", &["a", "b"]), short_id("x_", &["ab", ""]));
        assert_eq!(short_id("x_", &["a"]).len(), 2 + 32);
    }
}
