//! The initial password of a new account.
//!
//! Nobody ever needs to know it: the new hire signs in on day one with the Temporary Access
//! Pass and registers their own methods, and `forceChangePasswordNextSignIn` makes the password
//! useless to anyone who might see it. It is still generated strongly, because an account with a
//! weak password is an account anyone can take before day one. It is never logged, returned or
//! stored: it lives in this value, goes into one request body, and is dropped.

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};

const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
// Symbols Entra accepts in passwords and that need no escaping in JSON.
const SYMBOLS: &[u8] = b"!#$%&()*+-.:;=?@[]^_{}~";

/// Entra accepts 8–256 characters; 24 drawn from ~79 symbols is ~150 bits.
pub const LENGTH: usize = 24;

/// A generated password. `Debug` and `Display` never show it.
pub struct InitialPassword(String);

impl InitialPassword {
    /// A fresh password from the thread-local CSPRNG (ChaCha seeded from the OS), with at least
    /// one character of every class so any Entra complexity rule is met.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let classes: [&[u8]; 4] = [UPPER, LOWER, DIGITS, SYMBOLS];
        let all: Vec<u8> = classes.concat();
        let mut chars: Vec<u8> = classes
            .iter()
            .map(|class| *class.choose(&mut rng).expect("class is not empty"))
            .collect();
        while chars.len() < LENGTH {
            chars.push(all[rng.random_range(0..all.len())]);
        }
        chars.shuffle(&mut rng);
        InitialPassword(chars.into_iter().map(char::from).collect())
    }

    /// The value, for the one request body that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for InitialPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitialPassword([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_mixed_and_different_every_time() {
        let a = InitialPassword::generate();
        let b = InitialPassword::generate();
        assert_ne!(a.expose(), b.expose());
        for p in [&a, &b] {
            let s = p.expose();
            assert_eq!(s.chars().count(), LENGTH);
            assert!(s.bytes().any(|c| UPPER.contains(&c)));
            assert!(s.bytes().any(|c| LOWER.contains(&c)));
            assert!(s.bytes().any(|c| DIGITS.contains(&c)));
            assert!(s.bytes().any(|c| SYMBOLS.contains(&c)));
        }
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let p = InitialPassword::generate();
        let shown = format!("{p:?}");
        assert!(!shown.contains(p.expose()));
        assert!(shown.contains("redacted"));
    }
}
