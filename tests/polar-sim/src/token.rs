//! Random tokens in the shape of Polar's (checkout client secrets, session tokens, secrets).

use rand::Rng;
use rand::distr::Alphanumeric;

/// A random alphanumeric token, like Polar's secrets.
pub fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
