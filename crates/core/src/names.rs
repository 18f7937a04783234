//! The vocabulary shared by the username policy (which proposes names) and the
//! ledger (which decides which of them a worker gets). No I/O here.

use serde::{Deserialize, Serialize};

/// A namespace in which a name must be unique across all workers, forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    /// sAMAccountName, at most 20 characters.
    Sam,
    /// userPrincipalName, compared on the whole value (local part + domain).
    Upn,
    /// Primary SMTP address.
    Mail,
}

impl Namespace {
    pub const ALL: [Namespace; 3] = [Namespace::Sam, Namespace::Upn, Namespace::Mail];

    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Sam => "sam",
            Namespace::Upn => "upn",
            Namespace::Mail => "mail",
        }
    }
}

/// One proposal: the three names a worker would hold together. They are
/// reserved all-or-nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The rule (template) that produced it, e.g. `{first:1}{last}` or `{first:1}{last}+suffix 7`.
    pub rule: String,
    pub sam_account_name: String,
    pub upn: String,
    pub mail: String,
}

impl Candidate {
    /// The value held in `ns`, as stored in the ledger (lowercased).
    pub fn name_in(&self, ns: Namespace) -> String {
        match ns {
            Namespace::Sam => self.sam_account_name.to_lowercase(),
            Namespace::Upn => self.upn.to_lowercase(),
            Namespace::Mail => self.mail.to_lowercase(),
        }
    }
}

/// Why a candidate was not chosen, or that it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Decision {
    Chosen,
    /// Held by another worker (active).
    Taken,
    /// Held as a tombstone: names are never reused.
    Tombstoned,
    /// On the policy's reserved list.
    Reserved,
    /// Longer than the namespace allows even after truncation.
    TooLong {
        namespace: Namespace,
        max: usize,
    },
    /// Nothing left after transliteration and cleaning.
    Empty,
    /// The same names as an earlier rule produced.
    Duplicate,
    /// The worker already holds names: a retry or a rehire gets them back.
    AlreadyHeld,
}

/// One line of the decision trace that `dayone username explain` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceEntry {
    /// The rule tried, or `transliterate` / `ledger` for non-rule steps.
    pub rule: String,
    /// The sAMAccountName candidate, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    #[serde(flatten)]
    pub decision: Decision,
    /// Human-readable detail (transliteration applied, which namespace collided, …).
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub detail: String,
}

/// Everything the policy proposes for one hire, before the ledger is asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsernamePlan {
    /// Candidates from the ordered rule templates, already cleaned, truncated,
    /// checked against reserved names and de-duplicated; in preference order.
    pub candidates: Vec<Candidate>,
    /// The stem every numeric-suffix candidate is built from; also the key of
    /// the ledger's per-base-name suffix counter (lowercased ASCII).
    pub suffix_key: String,
    /// The numeric-suffix fallback, expanded on demand: `suffixed(n)` for n ≥ 2.
    pub suffix: SuffixTemplate,
    /// Display name in the original script, correctly capitalised.
    pub display_name: String,
    /// Common Name (CN) in the original script.
    pub cn: String,
    /// What the policy already decided (transliteration, rejected rules).
    pub trace: Vec<TraceEntry>,
}

/// How to build the nth suffixed candidate without re-running the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuffixTemplate {
    /// sAMAccountName stem, already cut so that stem + digits fits.
    pub sam_stem: String,
    pub sam_max: usize,
    /// UPN local-part stem and its domain.
    pub upn_stem: String,
    pub upn_max: usize,
    pub upn_domain: String,
    /// Mail local-part stem and its domain.
    pub mail_stem: String,
    pub mail_max: usize,
    pub mail_domain: String,
    /// The first numeric suffix handed out (`[username] suffix_start`, 2 by default).
    #[serde(default = "default_suffix_start")]
    pub start: u64,
    /// Reserved names (lowercased) a suffixed candidate must also avoid.
    pub reserved: Vec<String>,
}

fn default_suffix_start() -> u64 {
    2
}

impl SuffixTemplate {
    /// The candidate with numeric suffix `n` (n ≥ 2 by convention: "jsmith2").
    /// Stems are shortened further when the digits would not fit.
    pub fn suffixed(&self, n: u64) -> Candidate {
        let digits = n.to_string();
        let fit = |stem: &str, max: usize| {
            let keep = max.saturating_sub(digits.len());
            let cut: String = stem.chars().take(keep).collect();
            format!("{cut}{digits}")
        };
        Candidate {
            rule: format!("suffix {n}"),
            sam_account_name: fit(&self.sam_stem, self.sam_max),
            upn: format!("{}@{}", fit(&self.upn_stem, self.upn_max), self.upn_domain),
            mail: format!(
                "{}@{}",
                fit(&self.mail_stem, self.mail_max),
                self.mail_domain
            ),
        }
    }

    /// Whether a suffixed candidate collides with a reserved name.
    pub fn is_reserved(&self, candidate: &Candidate) -> bool {
        let sam = candidate.sam_account_name.to_lowercase();
        self.reserved.contains(&sam)
    }
}

/// The names a worker ends up holding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocatedNames {
    pub sam_account_name: String,
    pub upn: String,
    pub mail: String,
    pub display_name: String,
    pub cn: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> SuffixTemplate {
        SuffixTemplate {
            sam_stem: "averyveryverylongnam".into(),
            sam_max: 20,
            upn_stem: "john.smith".into(),
            upn_max: 64,
            upn_domain: "contoso.com".into(),
            mail_stem: "john.smith".into(),
            mail_max: 64,
            mail_domain: "contoso.com".into(),
            start: 2,
            reserved: vec!["admin2".into()],
        }
    }

    #[test]
    fn suffix_keeps_the_sam_account_name_within_its_limit() {
        let c = template().suffixed(1234);
        assert_eq!(c.sam_account_name, "averyveryverylon1234");
        assert!(c.sam_account_name.len() <= 20);
        assert_eq!(c.upn, "john.smith1234@contoso.com");
    }

    #[test]
    fn ledger_keys_are_lowercase() {
        let c = Candidate {
            rule: "r".into(),
            sam_account_name: "JSmith".into(),
            upn: "John.Smith@Contoso.com".into(),
            mail: "John.Smith@Contoso.com".into(),
        };
        assert_eq!(c.name_in(Namespace::Upn), "john.smith@contoso.com");
    }
}
