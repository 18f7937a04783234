//! Display names and CNs: the original script and accents, properly capitalised.
//!
//! HR systems often export names in one case (`O'BRIEN`, `jean-luc`). A part
//! written entirely in upper or lower case is re-capitalised word by word
//! (`O'Brien`, `Jean-Luc`, `McDonald`, `van der Berg`, `García-Márquez`); a part in
//! mixed case is trusted, because HR then knows better (`DeShawn`, `MacKenzie`).

use super::fold::is_particle;
use crate::config::{DisplayCase, DisplayConfig};

/// The longest CN Active Directory accepts (`cn` rangeUpper).
pub const MAX_CN_CHARS: usize = 64;
/// The longest display name Entra ID accepts.
pub const MAX_DISPLAY_CHARS: usize = 256;

/// `Mac` names that are not `Mac` + a capitalised name.
const MAC_EXCEPTIONS: &[&str] = &[
    "mace", "macey", "machado", "macias", "mack", "mackie", "macklin", "macon", "macedo", "machin",
    "macaulay", "macri", "macy", "macario",
];

/// Capitalise one name part as configured. `family` enables particle handling.
pub fn capitalise(part: &str, family: bool, cfg: &DisplayConfig) -> String {
    if cfg.case == DisplayCase::AsGiven || !is_single_case(part) {
        return part.to_string();
    }
    let words: Vec<&str> = part.split(' ').collect();
    let last_non_particle = words.iter().rposition(|w| !is_particle(&w.to_lowercase()));
    let mut out = String::with_capacity(part.len() + 2);
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = word.to_lowercase();
        // Leading particles of a family name stay lowercase: "van der Berg".
        if family && is_particle(&lower) && last_non_particle.is_some_and(|l| i < l) {
            out.push_str(&lower);
            continue;
        }
        capitalise_word(&lower, cfg.mac_prefix, &mut out);
    }
    out
}

/// True when every cased letter has the same case (all-caps or all-lowercase).
fn is_single_case(s: &str) -> bool {
    let mut upper = false;
    let mut lower = false;
    for c in s.chars() {
        upper |= c.is_uppercase();
        lower |= c.is_lowercase();
    }
    !(upper && lower)
}

/// Capitalise a lowercased word: each hyphen-separated piece, after an
/// `O'`/`D'`-style apostrophe, and after `Mc` (and `Mac` when enabled).
fn capitalise_word(lower: &str, mac: bool, out: &mut String) {
    for (i, piece) in lower.split('-').enumerate() {
        if i > 0 {
            out.push('-');
        }
        // Apostrophe: O'Brien, D'Angelo; but not a possessive-looking tail.
        let (head, tail) = match piece.find(['\'', '’']) {
            Some(pos) if piece[..pos].chars().count() <= 2 && pos + 1 < piece.len() => {
                let apos_len = piece[pos..].chars().next().map_or(1, char::len_utf8);
                (&piece[..pos + apos_len], Some(&piece[pos + apos_len..]))
            }
            _ => (piece, None),
        };
        match tail {
            Some(t) => {
                upper_first(head, out);
                capitalise_prefixed(t, mac, out);
            }
            None => capitalise_prefixed(head, mac, out),
        }
    }
}

fn capitalise_prefixed(piece: &str, mac: bool, out: &mut String) {
    let n = piece.chars().count();
    if piece.starts_with("mc") && n > 3 {
        out.push_str("Mc");
        upper_first(&piece[2..], out);
    } else if mac && piece.starts_with("mac") && n > 5 && !MAC_EXCEPTIONS.contains(&piece) {
        out.push_str("Mac");
        upper_first(&piece[3..], out);
    } else {
        upper_first(piece, out);
    }
}

fn upper_first(s: &str, out: &mut String) {
    let mut chars = s.chars();
    if let Some(c) = chars.next() {
        out.extend(c.to_uppercase());
        out.push_str(chars.as_str());
    }
}

/// Fill the display format (`{first} {last}`) in one pass, so a name that
/// itself contains `{last}` is never expanded again, and cap its length.
pub fn format_display(format: &str, first: &str, middle: &str, last: &str) -> String {
    let mut out = String::with_capacity(format.len() + first.len() + middle.len() + last.len());
    let mut rest = format;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let (value, len) = if after.starts_with("{first}") {
            (first, 7)
        } else if after.starts_with("{middle}") {
            (middle, 8)
        } else if after.starts_with("{last}") {
            (last, 6)
        } else {
            ("{", 1)
        };
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
    // An absent middle name must not leave a double space behind.
    if middle.is_empty() {
        out = out
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
    }
    truncate_chars(out.trim(), MAX_DISPLAY_CHARS)
}

pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].trim_end().to_string(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smart(s: &str, family: bool) -> String {
        capitalise(s, family, &DisplayConfig::default())
    }

    #[test]
    fn single_case_hr_input_is_recapitalised() {
        assert_eq!(smart("O'BRIEN", true), "O'Brien");
        assert_eq!(smart("o'brien", true), "O'Brien");
        assert_eq!(smart("MCDONALD", true), "McDonald");
        assert_eq!(smart("GARCÍA-MÁRQUEZ", true), "García-Márquez");
        assert_eq!(smart("VAN DER BERG", true), "van der Berg");
        assert_eq!(smart("jean-luc", false), "Jean-Luc");
        assert_eq!(smart("ΣΩΚΡΑΤΗΣ", false), "Σωκρατης");
        assert_eq!(smart("ИВАНОВ", true), "Иванов");
    }

    #[test]
    fn mixed_case_is_trusted() {
        assert_eq!(smart("DeShawn", false), "DeShawn");
        assert_eq!(smart("MacKenzie", true), "MacKenzie");
        assert_eq!(smart("van der Berg", true), "van der Berg");
    }

    #[test]
    fn mac_is_opt_in_and_avoids_known_exceptions() {
        assert_eq!(smart("MACDONALD", true), "Macdonald");
        let cfg = DisplayConfig {
            mac_prefix: true,
            ..DisplayConfig::default()
        };
        assert_eq!(capitalise("MACDONALD", true, &cfg), "MacDonald");
        assert_eq!(capitalise("MACHADO", true, &cfg), "Machado");
    }

    #[test]
    fn scripts_without_case_are_untouched() {
        assert_eq!(smart("王小明", false), "王小明");
        assert_eq!(smart("محمد", false), "محمد");
    }

    #[test]
    fn display_format_handles_a_missing_middle_name() {
        assert_eq!(
            format_display("{first} {middle} {last}", "Ana", "", "Silva"),
            "Ana Silva"
        );
        assert_eq!(
            format_display("{last}, {first}", "Ana", "", "Silva"),
            "Silva, Ana"
        );
        assert_eq!(
            format_display("{first} {last}", "{last}", "", "Silva"),
            "{last} Silva",
            "names are never re-expanded"
        );
    }
}
