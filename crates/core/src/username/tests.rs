use super::*;
use crate::config::{Config, KeepDrop, UsernameRule};
use proptest::prelude::*;
use serde_json::json;

fn contoso() -> UsernamePolicy {
    let cfg = Config::from_toml_str(include_str!("../../../../dayone.toml")).unwrap();
    UsernamePolicy::from_config(&cfg.username).unwrap()
}

fn hire(first: &str, middle: Option<&str>, last: &str) -> HireEvent {
    let mut name = json!({"first": first, "last": last});
    if let Some(m) = middle {
        name["middle"] = json!(m);
    }
    HireEvent::from_value(json!({
        "eventId": "EVT-1", "workerId": "W1", "workerType": "employee",
        "legalName": name, "hireDate": "2026-03-02", "department": "Engineering", "country": "DE"
    }))
    .unwrap()
}

fn sams(plan: &UsernamePlan) -> Vec<&str> {
    plan.candidates
        .iter()
        .map(|c| c.sam_account_name.as_str())
        .collect()
}

fn first_sam(policy: &UsernamePolicy, first: &str, last: &str) -> String {
    let plan = policy.plan(&hire(first, None, last)).unwrap();
    plan.candidates[0].sam_account_name.clone()
}

#[test]
fn john_smith_gets_the_ordered_contoso_candidates_and_a_suffix() {
    let plan = contoso()
        .plan(&hire("John", Some("Quincy"), "Smith"))
        .unwrap();
    assert_eq!(sams(&plan), ["jsmith", "jqsmith", "johns", "johnsmith"]);
    assert_eq!(plan.candidates[0].upn, "john.smith@contoso.com");
    assert_eq!(plan.candidates[1].upn, "john.q.smith@contoso.com");
    assert_eq!(plan.candidates[0].rule, "{first:1}{last}");
    assert_eq!(plan.suffix_key, "jsmith");
    let second = plan.suffix.suffixed(2);
    assert_eq!(second.sam_account_name, "jsmith2");
    assert_eq!(second.upn, "john.smith2@contoso.com");
    assert_eq!(plan.display_name, "John Smith");
    assert_eq!(plan.cn, "John Smith");
}

#[test]
fn accents_are_transliterated_jose_nunez_becomes_jnunez() {
    let plan = contoso().plan(&hire("José", None, "Núñez")).unwrap();
    assert_eq!(plan.candidates[0].sam_account_name, "jnunez");
    assert_eq!(plan.candidates[0].upn, "jose.nunez@contoso.com");
    assert_eq!(plan.display_name, "José Núñez", "display keeps the accents");
    let t = &plan.trace[0];
    assert_eq!(t.rule, "transliterate");
    assert!(t.detail.contains("\"Núñez\" → \"nunez\""), "{}", t.detail);
}

#[test]
fn german_locale_turns_juergen_mueller_into_jmueller() {
    assert_eq!(first_sam(&contoso(), "Jürgen", "Müller"), "jmueller");
    let generic = UsernamePolicy::from_config(&UsernameConfig::default()).unwrap();
    assert_eq!(first_sam(&generic, "Jürgen", "Müller"), "jmuller");
    let plan = contoso().plan(&hire("Jürgen", None, "Müller")).unwrap();
    assert!(plan.trace[0].detail.contains("locale de"));
}

#[test]
fn apostrophes_hyphens_and_mc_names() {
    let p = contoso();
    let plan = p.plan(&hire("SEAN", None, "O'BRIEN")).unwrap();
    assert_eq!(plan.candidates[0].sam_account_name, "sobrien");
    assert_eq!(plan.display_name, "Sean O'Brien");
    let plan = p.plan(&hire("ronald", None, "mcdonald")).unwrap();
    assert_eq!(plan.candidates[0].sam_account_name, "rmcdonald");
    assert_eq!(plan.display_name, "Ronald McDonald");
    let plan = p.plan(&hire("GABRIEL", None, "GARCÍA-MÁRQUEZ")).unwrap();
    assert_eq!(plan.candidates[0].sam_account_name, "ggarciamarquez");
    assert_eq!(plan.candidates[0].upn, "gabriel.garciamarquez@contoso.com");
    assert_eq!(plan.display_name, "Gabriel García-Márquez");
    let plan = p.plan(&hire("jean-luc", None, "picard")).unwrap();
    assert_eq!(plan.candidates[0].sam_account_name, "jpicard");
    assert_eq!(plan.candidates[1].sam_account_name, "jeanlucp");
    assert_eq!(plan.display_name, "Jean-Luc Picard");
}

#[test]
fn hyphens_can_be_kept_in_upn_but_never_in_sam() {
    let mut cfg = UsernameConfig::default();
    cfg.clean.hyphens = Separator::Keep;
    let p = UsernamePolicy::from_config(&cfg).unwrap();
    let plan = p.plan(&hire("Jean-Luc", None, "García-Márquez")).unwrap();
    assert_eq!(plan.candidates[0].sam_account_name, "jgarciamarquez");
    assert_eq!(
        plan.candidates[0].upn,
        "jean-luc.garcia-marquez@example.com"
    );
}

#[test]
fn particles_van_der_berg_kept_or_dropped() {
    let plan = contoso().plan(&hire("JAN", None, "VAN DER BERG")).unwrap();
    assert_eq!(plan.candidates[0].sam_account_name, "jvanderberg");
    assert_eq!(plan.display_name, "Jan van der Berg");
    let mut cfg = UsernameConfig::default();
    cfg.clean.particles = KeepDrop::Drop;
    let p = UsernamePolicy::from_config(&cfg).unwrap();
    let plan = p.plan(&hire("María", None, "de la Cruz")).unwrap();
    assert_eq!(plan.candidates[0].sam_account_name, "mcruz");
    assert_eq!(
        plan.display_name, "María de la Cruz",
        "particles stay in the display name"
    );
}

#[test]
fn non_latin_scripts_transliterate_and_keep_their_script_for_display() {
    let p = contoso();
    for (first, last, want, display) in [
        ("小明", "王", "xwang", "小明 王"),
        ("Сергей", "Иванов", "sivanov", "Сергей Иванов"),
        (
            "Γιώργος",
            "Παπαδόπουλος",
            "gpapadopoulos",
            "Γιώργος Παπαδόπουλος",
        ),
        // Arabic and Hebrew are written without vowels: the username is the
        // consonant skeleton (a Latin preferred name gives a nicer one).
        ("محمد", "عباس", "mbs", "محمد عباس"),
        ("דוד", "כהן", "dkhhn", "דוד כהן"),
        ("はると", "やまだ", "hyamada", "はると やまだ"),
    ] {
        let plan = p.plan(&hire(first, None, last)).unwrap();
        let sam = &plan.candidates[0].sam_account_name;
        assert_eq!(sam, want, "{first} {last}");
        assert!(
            sam.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(plan.display_name, display);
    }
}

#[test]
fn injection_shaped_names_produce_plain_usernames() {
    let p = contoso();
    for (first, last) in [
        ("Robert", "O'Brien') or 1=1--"),
        ("x", "*)(uid=*"),
        ("Bobby", "'; DROP TABLE users;--"),
        ("Eve", "admin)(|(objectClass=*"),
        ("Mallory", "<script>alert(1)</script>"),
    ] {
        let plan = p.plan(&hire(first, None, last)).unwrap();
        for c in &plan.candidates {
            assert!(
                c.sam_account_name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{c:?}"
            );
            let local = c.upn.split('@').next().unwrap();
            assert!(
                local
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.'),
                "{c:?}"
            );
        }
    }
    assert_eq!(
        first_sam(&p, "Bobby", "'; DROP TABLE users;--"),
        "bdroptableusers"
    );
}

#[test]
fn bidi_overrides_never_reach_a_name() {
    let h = HireEvent::from_value(json!({
        "eventId": "E", "workerId": "W", "workerType": "employee",
        "legalName": {"first": "Ad\u{202E}nimda", "last": "Us\u{2066}er\u{2069}\u{200B}"},
        "hireDate": "2026-03-02", "department": "Ops", "country": "US"
    }))
    .unwrap();
    let plan = contoso().plan(&h).unwrap();
    for s in [&plan.display_name, &plan.cn] {
        assert!(!s.chars().any(crate::hire::is_invisible_format), "{s:?}");
    }
    assert_eq!(plan.display_name, "Adnimda User");
    assert_eq!(plan.candidates[0].sam_account_name, "auser");
}

#[test]
fn reserved_names_are_skipped_case_insensitively_with_a_trace() {
    let cfg = UsernameConfig {
        rules: vec![
            UsernameRule::new("{first}{last}", "{first}{last}"),
            UsernameRule::new("{first:1}{last}", "{first:1}.{last}"),
        ],
        reserved: vec!["ADMIN".into()],
        ..UsernameConfig::default()
    };
    let p = UsernamePolicy::from_config(&cfg).unwrap();
    let plan = p.plan(&hire("Ad", None, "Min")).unwrap();
    assert_eq!(sams(&plan), ["amin"]);
    let rejected = plan
        .trace
        .iter()
        .find(|t| t.decision == Decision::Reserved)
        .unwrap();
    assert_eq!(rejected.candidate.as_deref(), Some("admin"));
    assert!(rejected.detail.contains("reserved"));
    assert!(p.is_reserved("Admin@contoso.com"));
}

#[test]
fn reserved_names_ending_in_digits_also_block_suffixed_names() {
    let mut cfg = UsernameConfig::default();
    cfg.reserved.push("JSmith2".into());
    let plan = UsernamePolicy::from_config(&cfg)
        .unwrap()
        .plan(&hire("John", None, "Smith"))
        .unwrap();
    assert!(plan.suffix.is_reserved(&plan.suffix.suffixed(2)));
    assert!(!plan.suffix.is_reserved(&plan.suffix.suffixed(3)));
    assert_eq!(
        plan.suffix.reserved,
        ["jsmith2"],
        "only digit-ending names travel with the plan"
    );
}

#[test]
fn long_names_truncate_to_20_and_leave_room_for_the_suffix() {
    let plan = contoso()
        .plan(&hire(
            "Maximilian",
            None,
            "Wolfeschlegelsteinhausenbergerdorff",
        ))
        .unwrap();
    let sam = &plan.candidates[0].sam_account_name;
    assert_eq!(sam, "mwolfeschlegelsteinh");
    assert_eq!(sam.len(), 20);
    assert_eq!(plan.suffix.sam_stem.len(), 19);
    for n in [2, 10, 999, 123_456] {
        let c = plan.suffix.suffixed(n);
        assert!(c.sam_account_name.len() <= 20, "{c:?}");
        assert!(
            c.sam_account_name.ends_with(&n.to_string()),
            "digits never cut: {c:?}"
        );
    }
    let local = plan
        .candidates
        .last()
        .unwrap()
        .upn
        .split('@')
        .next()
        .unwrap()
        .to_string();
    assert!(local.len() <= 64);
}

#[test]
fn a_5000_character_name_never_gets_this_far() {
    let err = HireEvent::from_value(json!({
        "eventId": "E", "workerId": "W", "workerType": "employee",
        "legalName": {"first": "A", "last": "b".repeat(5000)},
        "hireDate": "2026-03-02", "department": "Ops", "country": "US"
    }))
    .unwrap_err();
    assert_eq!(err.fields()[0].field, "legalName.last");
}

#[test]
fn preferred_names_win_when_configured() {
    let h = HireEvent::from_value(json!({
        "eventId": "E", "workerId": "W", "workerType": "employee",
        "legalName": {"first": "Robert", "last": "Tables"},
        "preferredName": {"first": "Bobby"},
        "hireDate": "2026-03-02", "department": "Ops", "country": "US"
    }))
    .unwrap();
    let plan = contoso().plan(&h).unwrap();
    assert_eq!(plan.candidates[0].sam_account_name, "btables");
    assert_eq!(plan.candidates[0].upn, "bobby.tables@contoso.com");
    assert_eq!(plan.display_name, "Bobby Tables");
    assert!(plan.trace[0].detail.contains("preferred name used"));

    let cfg = UsernameConfig {
        prefer_preferred_name: false,
        ..UsernameConfig::default()
    };
    let legal = UsernamePolicy::from_config(&cfg).unwrap().plan(&h).unwrap();
    assert_eq!(legal.candidates[0].sam_account_name, "rtables");
    assert_eq!(legal.display_name, "Robert Tables");
}

#[test]
fn an_empty_rule_is_traced_and_the_next_one_used() {
    let cfg = UsernameConfig {
        rules: vec![
            UsernameRule::new("{middle}", "{middle}"),
            UsernameRule::new("{first:1}{last}", "{first}.{last}"),
        ],
        ..UsernameConfig::default()
    };
    let plan = UsernamePolicy::from_config(&cfg)
        .unwrap()
        .plan(&hire("John", None, "Smith"))
        .unwrap();
    let empty = &plan.trace[1];
    assert_eq!(empty.rule, "{middle}");
    assert_eq!(empty.decision, Decision::Empty);
    assert!(
        empty.detail.contains("the hire has no middle"),
        "{}",
        empty.detail
    );
    assert_eq!(sams(&plan), ["jsmith"]);
    assert_eq!(
        plan.suffix_key, "jsmith",
        "the suffix builds on the first usable rule"
    );
}

#[test]
fn a_name_with_no_latin_form_is_a_clear_error_with_the_full_trace() {
    // Rare CJK Extension B ideographs (as in some family registers) have no
    // romanisation in any_ascii: every rule comes out empty.
    let err = contoso()
        .plan(&hire("\u{20319}", None, "\u{20AA1}"))
        .unwrap_err();
    assert!(matches!(err, UsernameError::NoUsableName { .. }));
    assert!(
        err.to_string().contains("preferred name in Latin script"),
        "{err}"
    );
    assert_eq!(err.step_error_name().as_str(), "Dayone.InvalidHire");
    let empties = err
        .trace()
        .iter()
        .filter(|t| t.decision == Decision::Empty)
        .count();
    assert_eq!(
        empties,
        4,
        "every rule is traced as empty: {:?}",
        err.trace()
    );
    assert_eq!(err.trace()[0].rule, "transliterate");

    // The same person with a Latin preferred name is fine.
    let h = HireEvent::from_value(json!({
        "eventId": "E", "workerId": "W", "workerType": "employee",
        "legalName": {"first": "\u{20319}", "last": "\u{20AA1}"},
        "preferredName": {"first": "Kei", "last": "Tanaka"},
        "hireDate": "2026-03-02", "department": "Ops", "country": "JP"
    }))
    .unwrap();
    let plan = contoso().plan(&h).unwrap();
    assert_eq!(plan.candidates[0].sam_account_name, "ktanaka");
}

#[test]
fn a_rule_repeating_an_earlier_one_is_traced_as_duplicate() {
    let plan = contoso().plan(&hire("John", None, "Smith")).unwrap();
    let dup = plan
        .trace
        .iter()
        .find(|t| t.decision == Decision::Duplicate)
        .unwrap();
    assert_eq!(dup.rule, "{first:1}{middle:1}{last}");
    assert!(dup.detail.contains("no middle"), "{}", dup.detail);
}

#[test]
fn plans_are_deterministic() {
    let p = contoso();
    let h = hire("Zoë", Some("Ann"), "Saldaña");
    assert_eq!(p.plan(&h).unwrap(), p.plan(&h).unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever HR sends, validation either refuses it or the plan's names are safe.
    #[test]
    fn any_input_gives_safe_names_or_a_clean_error(
        first in "\\PC{0,40}|[\\x00-\\x7f]{0,40}|.{0,300}",
        last in "\\PC{0,40}|[\\x00-\\x7f]{0,40}",
        middle in proptest::option::of("\\PC{0,12}"),
    ) {
        let mut name = json!({"first": first, "last": last});
        if let Some(m) = middle { name["middle"] = json!(m); }
        let Ok(h) = HireEvent::from_value(json!({
            "eventId": "E", "workerId": "W", "workerType": "employee", "legalName": name,
            "hireDate": "2026-03-02", "department": "Ops", "country": "US"
        })) else { return Ok(()); };
        let p = contoso();
        match p.plan(&h) {
            Ok(plan) => {
                let sam_ok = |s: &str| (1..=20).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                let local_ok = |s: &str| {
                    let l = s.split('@').next().unwrap();
                    !l.is_empty() && l.len() <= 64 && !l.starts_with('.') && !l.ends_with('.')
                        && !l.contains("..")
                        && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.')
                };
                for c in plan.candidates.iter().cloned().chain([plan.suffix.suffixed(2), plan.suffix.suffixed(99_999)]) {
                    prop_assert!(sam_ok(&c.sam_account_name), "{:?}", c);
                    prop_assert!(local_ok(&c.upn) && local_ok(&c.mail), "{:?}", c);
                }
                prop_assert!(!plan.display_name.chars().any(|c| c.is_control() || crate::hire::is_invisible_format(c)));
                prop_assert!(plan.cn.chars().count() <= 64);
            }
            Err(e) => {
                let clean = matches!(e, UsernameError::NoUsableName { .. });
                prop_assert!(clean, "{}", e);
            }
        }
    }
}
