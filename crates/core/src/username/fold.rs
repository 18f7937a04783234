//! Folding a name part into username material: locale overlay, any-script →
//! ASCII transliteration (`any_ascii`), lowercasing, and the `[username.clean]`
//! rules for separators, particles and digits.
//!
//! One pass produces both forms a template needs: the sAMAccountName form
//! (only `[a-z0-9]`) and the local-part form (`[a-z0-9]` plus `.`/`-` where the
//! clean rules ask for them, never leading or doubled).

use crate::config::{CleanConfig, KeepDrop, Locale, Separator};

/// Family-name particles, compared on the lowercased original word.
const PARTICLES: &[&str] = &[
    "van", "der", "den", "de", "del", "della", "dei", "degli", "di", "da", "das", "dos", "do",
    "du", "des", "la", "le", "les", "lo", "von", "vom", "zu", "zum", "zur", "ter", "ten", "te",
    "op", "het", "'t", "van't", "y", "e", "af", "av", "bin", "binti", "ibn", "al", "el",
];

pub fn is_particle(word_lower: &str) -> bool {
    PARTICLES.contains(&word_lower)
}

/// The two forms of one name part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded {
    /// `[a-z0-9]*`
    pub sam: String,
    /// `[a-z0-9.-]*`, no leading, trailing or doubled separators.
    pub local: String,
}

/// The locale overlay for one lowercase character, if any.
fn overlay(locale: Locale, c: char) -> Option<&'static str> {
    match (locale, c) {
        (Locale::De, 'ä') => Some("ae"),
        (Locale::De, 'ö') => Some("oe"),
        (Locale::De, 'ü') => Some("ue"),
        (Locale::De, 'ß') => Some("ss"),
        (Locale::Da | Locale::Nb, 'æ') => Some("ae"),
        (Locale::Da | Locale::Nb, 'ø') => Some("oe"),
        (Locale::Da | Locale::Nb, 'å') => Some("aa"),
        (Locale::Sv, 'å' | 'ä') => Some("a"),
        (Locale::Sv, 'ö') => Some("o"),
        _ => None,
    }
}

pub fn is_local_separator(c: u8) -> bool {
    matches!(c, b'.' | b'-' | b'_')
}

/// Push a separator to a local-part form unless it would lead or double up.
pub fn push_separator(out: &mut String, sep: char) {
    match out.as_bytes().last() {
        None => {}
        Some(b) if is_local_separator(*b) => {}
        Some(_) => out.push(sep),
    }
}

pub fn trim_trailing_separators(out: &mut String) {
    while out
        .as_bytes()
        .last()
        .is_some_and(|b| is_local_separator(*b))
    {
        out.pop();
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Hyphen,
    Apostrophe,
    Space,
}

/// Fold one name part (already validated and NFC-normalised by `hire`).
pub fn fold(src: &str, family: bool, locale: Locale, clean: &CleanConfig) -> Folded {
    let mut out = Folded {
        sam: String::with_capacity(src.len()),
        local: String::with_capacity(src.len()),
    };
    let mut words: Vec<&str> = src.split(' ').filter(|w| !w.is_empty()).collect();
    if family && clean.particles == KeepDrop::Drop {
        // Drop leading particles, but never the whole name ("De" alone stays).
        let lead = words
            .iter()
            .take_while(|w| is_particle(&w.to_lowercase()))
            .count();
        if lead < words.len() {
            words.drain(..lead);
        }
    }
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            separator(&mut out, Kind::Space, clean);
        }
        let mut prev = ' ';
        for c in word.chars() {
            if c.is_ascii() {
                push_ascii(&mut out, c as u8, clean);
                prev = c;
                continue;
            }
            for lc in c.to_lowercase() {
                // Greek "ου" is one vowel, "ou" (Παπαδόπουλος → papadopoulos);
                // letter by letter it would be "oy".
                let greek_ou = matches!(prev, 'ο' | 'ό') && matches!(lc, 'υ' | 'ύ');
                prev = lc;
                let ascii = if greek_ou {
                    "u"
                } else {
                    overlay(locale, lc).unwrap_or_else(|| any_ascii::any_ascii_char(lc))
                };
                for b in ascii.bytes() {
                    push_ascii(&mut out, b, clean);
                }
            }
        }
    }
    trim_trailing_separators(&mut out.local);
    out
}

fn push_ascii(out: &mut Folded, b: u8, clean: &CleanConfig) {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => {
            let l = b.to_ascii_lowercase() as char;
            out.sam.push(l);
            out.local.push(l);
        }
        b'0'..=b'9' if clean.digits == KeepDrop::Keep => {
            out.sam.push(b as char);
            out.local.push(b as char);
        }
        b'-' => separator(out, Kind::Hyphen, clean),
        b'\'' | b'`' => separator(out, Kind::Apostrophe, clean),
        b' ' => separator(out, Kind::Space, clean),
        // Everything else (punctuation, quotes, operators) carries no name
        // content and is exactly what injection attempts are made of: drop it.
        _ => {}
    }
}

fn separator(out: &mut Folded, kind: Kind, clean: &CleanConfig) {
    let rule = match kind {
        Kind::Hyphen => clean.hyphens,
        Kind::Apostrophe => clean.apostrophes,
        Kind::Space => clean.spaces,
    };
    match rule {
        Separator::Drop => {}
        Separator::Dot => push_separator(&mut out.local, '.'),
        Separator::Keep => push_separator(&mut out.local, '-'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(src: &str, locale: Locale) -> Folded {
        fold(src, true, locale, &CleanConfig::default())
    }

    #[test]
    fn latin_diacritics_fold_to_ascii() {
        assert_eq!(f("Núñez", Locale::None).sam, "nunez");
        assert_eq!(f("Dvořák", Locale::None).sam, "dvorak");
        assert_eq!(f("Łukasiewicz", Locale::None).sam, "lukasiewicz");
    }

    #[test]
    fn locale_overlays_apply_before_generic_transliteration() {
        assert_eq!(f("Müller", Locale::De).sam, "mueller");
        assert_eq!(f("Müller", Locale::None).sam, "muller");
        assert_eq!(f("Strauß", Locale::De).sam, "strauss");
        assert_eq!(f("ÖZTÜRK", Locale::De).sam, "oeztuerk");
        assert_eq!(f("Søren Ærø Åberg", Locale::Da).sam, "soerenaeroeaaberg");
        assert_eq!(f("Åsa Öberg", Locale::Sv).sam, "asaoberg");
    }

    #[test]
    fn separators_follow_the_clean_rules() {
        let mut clean = CleanConfig::default();
        assert_eq!(
            fold("García-Márquez", true, Locale::None, &clean).local,
            "garciamarquez"
        );
        clean.hyphens = Separator::Keep;
        clean.spaces = Separator::Dot;
        let out = fold("García-Márquez de la Cruz", true, Locale::None, &clean);
        assert_eq!(out.local, "garcia-marquez.de.la.cruz");
        assert_eq!(out.sam, "garciamarquezdelacruz");
    }

    #[test]
    fn particles_can_be_dropped_from_family_names_only() {
        let mut clean = CleanConfig::default();
        assert_eq!(
            fold("van der Berg", true, Locale::None, &clean).sam,
            "vanderberg"
        );
        clean.particles = KeepDrop::Drop;
        assert_eq!(fold("van der Berg", true, Locale::None, &clean).sam, "berg");
        assert_eq!(
            fold("De", true, Locale::None, &clean).sam,
            "de",
            "never drop the whole name"
        );
        assert_eq!(
            fold("Van Nguyen", false, Locale::None, &clean).sam,
            "vannguyen"
        );
    }

    #[test]
    fn digits_and_punctuation_never_survive_by_default() {
        let out = f("O'Brien') or 1=1--", Locale::None);
        assert_eq!(out.sam, "obrienor");
        assert_eq!(out.local, "obrienor");
        let keep = CleanConfig {
            digits: KeepDrop::Keep,
            ..CleanConfig::default()
        };
        assert_eq!(fold("Smith 3", true, Locale::None, &keep).sam, "smith3");
    }
}
