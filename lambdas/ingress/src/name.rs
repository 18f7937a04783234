//! The execution name: the idempotency key of a delivery.
//!
//! Step Functions refuses a second execution with the same name (for 90 days after the first
//! one closes), so a name derived only from `workerId` + `eventId` turns every redelivery of
//! one Workday event into the same execution. The name is readable (`w<worker>-e<event>-…`)
//! so people can find it in the console, and ends in a hash of the exact ids so two
//! different events never share a name even when the readable part is cut or cleaned.

use sha2::{Digest, Sha256};

/// Step Functions' limit on an execution name.
pub const MAX_NAME_LEN: usize = 80;
/// Hex characters of SHA-256 kept: 128 bits, so an accidental collision is not a practical
/// concern.
const HASH_HEX: usize = 32;

/// `w<workerId>-e<eventId>-<hash>`, at most 80 characters of `[A-Za-z0-9_-]`.
pub fn execution_name(worker_id: &str, event_id: &str) -> String {
    // Length-prefixing makes the hashed encoding unambiguous: ("a-b","c") and ("a","b-c")
    // hash differently.
    let mut h = Sha256::new();
    h.update(format!(
        "dayone/v1\n{}\n{worker_id}\n{}\n{event_id}",
        worker_id.len(),
        event_id.len()
    ));
    let digest = hex::encode(h.finalize());
    let hash = &digest[..HASH_HEX];

    let readable = format!("w{}-e{}", clean(worker_id), clean(event_id));
    let room = MAX_NAME_LEN - HASH_HEX - 1;
    let prefix: String = readable.chars().take(room).collect();
    format!("{prefix}-{hash}")
}

/// Keeps `[A-Za-z0-9_-]`, replaces anything else with `_`. The hash carries the exact value.
fn clean(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn valid(name: &str) -> bool {
        name.len() <= MAX_NAME_LEN
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }

    #[test]
    fn the_same_event_always_gets_the_same_name() {
        assert_eq!(
            execution_name("21001", "EVT-7"),
            execution_name("21001", "EVT-7")
        );
    }

    #[test]
    fn names_are_readable_in_the_console() {
        let name = execution_name("21001", "EVT-7");
        assert!(name.starts_with("w21001-eEVT-7-"), "{name}");
        assert!(valid(&name));
    }

    #[test]
    fn ids_that_clean_to_the_same_text_still_get_different_names() {
        // GIVEN ids that differ only in characters the name cannot hold
        let a = execution_name("W/1", "e 1");
        let b = execution_name("W:1", "e#1");
        // THEN the readable part is the same but the names are not
        assert_eq!(a[..a.len() - HASH_HEX], b[..b.len() - HASH_HEX]);
        assert_ne!(a, b);
        assert!(valid(&a) && valid(&b));
    }

    #[test]
    fn moving_a_separator_between_the_ids_changes_the_name() {
        assert_ne!(execution_name("a-b", "c"), execution_name("a", "b-c"));
    }

    #[test]
    fn long_and_non_ascii_ids_still_give_a_valid_name() {
        let long = "x".repeat(500);
        let name = execution_name(&long, "Ereignis-äöü-日本");
        assert_eq!(name.len(), MAX_NAME_LEN);
        assert!(valid(&name), "{name}");
        // Two long ids that share the first 47 characters stay distinct.
        assert_ne!(execution_name(&long, "1"), execution_name(&long, "2"));
    }

    #[test]
    fn many_distinct_events_never_share_a_name() {
        let mut seen = HashSet::new();
        for w in 0..100 {
            for e in 0..100 {
                assert!(seen.insert(execution_name(&format!("W{w}"), &format!("E{e}"))));
            }
        }
    }
}
