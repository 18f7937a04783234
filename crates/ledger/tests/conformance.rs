//! One conformance suite, run against both adapters: whatever the store, the
//! ledger gives the same names, refuses the same reuses and explains itself
//! the same way.

mod common;

use common::{candidate, john_smith, template};
use dayone_core::{Decision, Namespace, StepErrorName, UsernamePlan};
use dayone_ledger::{ExistingAccount, ImportOutcome, Ledger, LedgerError, NameStatus};

mod cases {
    use super::*;

    pub async fn first_hire_gets_the_first_rule_in_two_round_trips(ledger: &dyn Ledger) {
        // GIVEN an empty ledger WHEN John Smith is hired
        let a = ledger
            .allocate("W1", "exec-1", &john_smith())
            .await
            .unwrap();
        // THEN he gets the first rule's names, reserved in every namespace
        assert_eq!(a.names.sam_account_name, "jsmith");
        assert_eq!(a.names.upn, "john.smith@contoso.com");
        assert_eq!(a.names.mail, "john.smith@contoso.com");
        assert_eq!(a.names.display_name, "John Smith");
        assert!(!a.reused);
        assert_eq!(a.round_trips, 2, "one read and one transaction");
        let last = a.trace.last().unwrap();
        assert_eq!(last.decision, Decision::Chosen);
        assert_eq!(last.rule, "{first:1}{last}");
        for (ns, value) in [
            (Namespace::Sam, "JSmith"),
            (Namespace::Upn, "John.Smith@Contoso.com"),
            (Namespace::Mail, "john.smith@contoso.com"),
        ] {
            let rec = ledger.holder(ns, value).await.unwrap().expect("reserved");
            assert_eq!(rec.owner, "W1");
            assert_eq!(rec.status, NameStatus::Active);
            assert_eq!(rec.execution, "exec-1");
        }
        let held = ledger.worker("W1").await.unwrap().expect("worker record");
        assert_eq!(held.sam_account_name, "jsmith");
    }

    pub async fn a_namesake_gets_the_next_rule_and_the_trace_says_why(ledger: &dyn Ledger) {
        ledger.allocate("W1", "e1", &john_smith()).await.unwrap();
        let b = ledger.allocate("W2", "e2", &john_smith()).await.unwrap();
        assert_eq!(b.names.sam_account_name, "johns");
        assert_eq!(b.names.upn, "johns@contoso.com");
        let rejected = &b.trace[0];
        assert_eq!(rejected.rule, "{first:1}{last}");
        assert_eq!(rejected.decision, Decision::Taken);
        assert!(
            rejected
                .detail
                .contains("sam jsmith held by another worker"),
            "{}",
            rejected.detail
        );
        assert!(
            !rejected.detail.contains("W1"),
            "the trace must not reveal who holds a name"
        );
        assert_eq!(b.trace.last().unwrap().decision, Decision::Chosen);
    }

    pub async fn namesakes_beyond_the_rules_get_numeric_suffixes_in_three_round_trips(
        ledger: &dyn Ledger,
    ) {
        for w in ["W1", "W2"] {
            ledger.allocate(w, "e", &john_smith()).await.unwrap();
        }
        let third = ledger.allocate("W3", "e", &john_smith()).await.unwrap();
        let fourth = ledger.allocate("W4", "e", &john_smith()).await.unwrap();
        assert_eq!(third.names.sam_account_name, "jsmith2");
        assert_eq!(third.names.upn, "john.smith2@contoso.com");
        assert_eq!(fourth.names.sam_account_name, "jsmith3");
        assert_eq!(third.round_trips, 3, "read, suffix counter, transaction");
        assert_eq!(fourth.round_trips, 3);
        let chosen = fourth.trace.last().unwrap();
        assert_eq!(chosen.rule, "suffix 3");
        assert!(
            chosen.detail.contains("2..2 are already handed out"),
            "{}",
            chosen.detail
        );
        assert_eq!(
            fourth
                .trace
                .iter()
                .filter(|t| t.decision == Decision::Taken)
                .count(),
            2,
            "both rule candidates are explained as taken: {:?}",
            fourth.trace
        );
    }

    pub async fn suffixes_start_where_the_policy_says(ledger: &dyn Ledger) {
        let mut plan = john_smith();
        plan.suffix.start = 10;
        for w in ["W1", "W2"] {
            ledger.allocate(w, "e", &plan).await.unwrap();
        }
        let third = ledger.allocate("W3", "e", &plan).await.unwrap();
        let fourth = ledger.allocate("W4", "e", &plan).await.unwrap();
        assert_eq!(third.names.sam_account_name, "jsmith10");
        assert_eq!(fourth.names.sam_account_name, "jsmith11");
    }

    pub async fn a_retry_for_the_same_worker_returns_the_same_names_without_writing(
        ledger: &dyn Ledger,
    ) {
        let first = ledger
            .allocate("W1", "exec-1", &john_smith())
            .await
            .unwrap();
        let retry = ledger
            .allocate("W1", "exec-1-retry", &john_smith())
            .await
            .unwrap();
        assert_eq!(retry.names, first.names);
        assert!(retry.reused);
        assert_eq!(retry.round_trips, 1, "a retry is one read and no write");
        assert_eq!(retry.trace.last().unwrap().decision, Decision::AlreadyHeld);
        let rec = ledger
            .holder(Namespace::Sam, "jsmith")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            rec.execution, "exec-1",
            "nothing was rewritten by the retry"
        );
        // A namesake after the retry still gets a different name.
        let other = ledger
            .allocate("W2", "exec-2", &john_smith())
            .await
            .unwrap();
        assert_ne!(other.names.sam_account_name, first.names.sam_account_name);
    }

    pub async fn a_rehire_gets_the_tombstoned_names_back(ledger: &dyn Ledger) {
        let hired = ledger.allocate("W1", "e1", &john_smith()).await.unwrap();
        ledger.tombstone("W1").await.unwrap();
        ledger
            .tombstone("W1")
            .await
            .expect("tombstoning twice is harmless");
        let rec = ledger
            .holder(Namespace::Upn, "john.smith@contoso.com")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rec.status, NameStatus::Tombstoned);
        assert_eq!(rec.owner, "W1");

        // The rehire may come with a changed legal name: usernames stay, display name follows.
        let mut plan = john_smith();
        plan.display_name = "John Smith-Jones".into();
        let rehired = ledger.allocate("W1", "e-rehire", &plan).await.unwrap();
        assert!(rehired.reused);
        assert_eq!(rehired.names.sam_account_name, hired.names.sam_account_name);
        assert_eq!(rehired.names.upn, hired.names.upn);
        assert_eq!(rehired.names.display_name, "John Smith-Jones");
        assert!(rehired.round_trips <= 2);
        assert!(rehired.trace.last().unwrap().detail.contains("rehired"));
        for ns in Namespace::ALL {
            let value = match ns {
                Namespace::Sam => "jsmith",
                _ => "john.smith@contoso.com",
            };
            let rec = ledger.holder(ns, value).await.unwrap().unwrap();
            assert_eq!(rec.status, NameStatus::Active, "{ns:?} reactivated");
            assert_eq!(rec.execution, "e-rehire");
        }
        assert_eq!(
            ledger.worker("W1").await.unwrap().unwrap().status,
            NameStatus::Active
        );
    }

    pub async fn nobody_else_can_ever_take_a_tombstoned_name(ledger: &dyn Ledger) {
        ledger.allocate("W1", "e1", &john_smith()).await.unwrap();
        ledger.tombstone("W1").await.unwrap();
        let next = ledger.allocate("W2", "e2", &john_smith()).await.unwrap();
        assert_eq!(next.names.sam_account_name, "johns");
        let rejected = &next.trace[0];
        assert_eq!(rejected.decision, Decision::Tombstoned);
        assert!(
            rejected.detail.contains("never reused"),
            "{}",
            rejected.detail
        );
        // Even a plan that proposes nothing but the tombstoned name cannot get it.
        let mut only_jsmith = john_smith();
        only_jsmith.candidates.truncate(1);
        let third = ledger.allocate("W3", "e3", &only_jsmith).await.unwrap();
        assert_eq!(third.names.sam_account_name, "jsmith2");
        let rec = ledger
            .holder(Namespace::Sam, "jsmith")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (rec.owner.as_str(), rec.status),
            ("W1", NameStatus::Tombstoned)
        );
    }

    pub async fn a_collision_in_one_namespace_blocks_the_whole_candidate(ledger: &dyn Ledger) {
        // GIVEN someone whose UPN is john.smith@ but whose sAMAccountName is different
        let plan = UsernamePlan {
            candidates: vec![candidate("{first}.{last}", "jsmith99", "john.smith")],
            suffix_key: "jsmith99".into(),
            suffix: template("jsmith99", "john.smith", &[]),
            display_name: "John Smith".into(),
            cn: "John Smith".into(),
            trace: vec![],
        };
        ledger.allocate("W0", "e0", &plan).await.unwrap();
        // WHEN John Smith is hired, jsmith is free as a sAMAccountName but not as a UPN
        let a = ledger.allocate("W1", "e1", &john_smith()).await.unwrap();
        // THEN the whole candidate is rejected and nothing of it was reserved
        assert_eq!(a.names.sam_account_name, "johns");
        assert!(
            a.trace[0].detail.contains("upn john.smith@contoso.com"),
            "{}",
            a.trace[0].detail
        );
        assert!(!a.trace[0].detail.contains("sam "), "{}", a.trace[0].detail);
        assert_eq!(ledger.holder(Namespace::Sam, "jsmith").await.unwrap(), None);
    }

    pub async fn reserved_suffixes_are_skipped_and_explained(ledger: &dyn Ledger) {
        let mut plan = john_smith();
        plan.candidates.clear();
        plan.suffix = template("jsmith", "john.smith", &["jsmith2"]);
        let a = ledger.allocate("W1", "e", &plan).await.unwrap();
        assert_eq!(a.names.sam_account_name, "jsmith3");
        assert!(
            a.trace
                .iter()
                .any(|t| t.decision == Decision::Reserved
                    && t.candidate.as_deref() == Some("jsmith2"))
        );
    }

    pub async fn a_plan_with_nothing_left_is_username_exhausted(ledger: &dyn Ledger) {
        let mut plan = john_smith();
        plan.candidates.clear();
        plan.suffix.sam_stem.clear();
        plan.suffix_key.clear();
        let err = ledger.allocate("W1", "e", &plan).await.unwrap_err();
        assert!(matches!(err, LedgerError::Exhausted { .. }), "{err}");
        assert_eq!(err.step_error_name(), StepErrorName::UsernameExhausted);
        assert_eq!(
            ledger.worker("W1").await.unwrap(),
            None,
            "nothing half-written"
        );
    }

    pub async fn bad_requests_are_clear_errors(ledger: &dyn Ledger) {
        let err = ledger.allocate("  ", "e", &john_smith()).await.unwrap_err();
        assert_eq!(err.step_error_name(), StepErrorName::InvalidHire);
        let err = ledger
            .allocate(&"9".repeat(5000), "e", &john_smith())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("shorten"), "{err}");
        let err = ledger.tombstone("nobody").await.unwrap_err();
        assert!(matches!(err, LedgerError::UnknownWorker(_)), "{err}");
        assert_eq!(ledger.holder(Namespace::Sam, "nobody").await.unwrap(), None);
    }

    pub async fn the_trace_keeps_the_policy_decisions_first(ledger: &dyn Ledger) {
        let mut plan = john_smith();
        plan.trace.push(dayone_core::TraceEntry {
            rule: "transliterate".into(),
            candidate: None,
            decision: Decision::Chosen,
            detail: "Jöhn → john".into(),
        });
        let a = ledger.allocate("W1", "e", &plan).await.unwrap();
        assert_eq!(a.trace[0].rule, "transliterate");
        assert_eq!(a.trace.len(), 2);
    }

    fn existing(worker: &str, sam: &str, local: &str, status: NameStatus) -> ExistingAccount {
        ExistingAccount {
            worker_id: worker.into(),
            sam_account_name: sam.into(),
            upn: format!("{local}@contoso.com"),
            mail: None,
            status,
        }
    }

    pub async fn imported_names_are_never_offered_to_a_new_hire(ledger: &dyn Ledger) {
        // GIVEN the directory already has jsmith (no mail column: the UPN is reserved as mail)
        let jsmith = existing("W0", "JSmith", "john.smith", NameStatus::Active);
        let outcome = ledger.import(&jsmith, 2).await.unwrap();
        assert_eq!(outcome, ImportOutcome::Imported);
        let rec = ledger
            .holder(Namespace::Mail, "john.smith@contoso.com")
            .await
            .unwrap()
            .expect("the UPN is reserved as mail too");
        assert_eq!(
            (rec.owner.as_str(), rec.execution.as_str()),
            ("W0", "import")
        );
        // WHEN a new John Smith is hired THEN he gets the next rule, and the trace says why
        let a = ledger.allocate("W1", "e1", &john_smith()).await.unwrap();
        assert_eq!(a.names.sam_account_name, "johns");
        assert_eq!(a.trace[0].decision, Decision::Taken);
        assert!(
            a.trace[0]
                .detail
                .contains("sam jsmith held by another worker")
        );
        assert_eq!(a.round_trips, 2, "imported names cost no extra round trip");
    }

    pub async fn importing_again_is_unchanged_and_a_conflict_names_the_holder(ledger: &dyn Ledger) {
        let jsmith = existing("W0", "jsmith", "john.smith", NameStatus::Active);
        ledger.import(&jsmith, 2).await.unwrap();
        // The same account again (any letter case): nothing to do.
        let again = existing("W0", "JSMITH", "John.Smith", NameStatus::Active);
        assert_eq!(
            ledger.import(&again, 2).await.unwrap(),
            ImportOutcome::Unchanged
        );
        // Another worker with the same sAMAccountName: refused, naming who holds it.
        let clash = existing("W9", "jsmith", "jsmith.w9", NameStatus::Active);
        let err = ledger.import(&clash, 2).await.unwrap_err();
        assert!(matches!(err, LedgerError::AlreadyRecorded(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains("sam jsmith is already held by worker W0 (active)"),
            "{err}"
        );
        assert_eq!(err.step_error_name(), StepErrorName::TargetRejected);
        // All or nothing: W9's other names were not written.
        assert!(
            ledger
                .holder(Namespace::Upn, "jsmith.w9@contoso.com")
                .await
                .unwrap()
                .is_none()
        );
        assert!(ledger.worker("W9").await.unwrap().is_none());
        // The same worker with different names, or another status: refused too.
        let renamed = existing("W0", "jsmith0", "john.smith0", NameStatus::Active);
        let err = ledger.import(&renamed, 2).await.unwrap_err();
        assert!(
            err.to_string().contains("worker W0 already holds jsmith"),
            "{err}"
        );
        let left = existing("W0", "jsmith", "john.smith", NameStatus::Tombstoned);
        let err = ledger.import(&left, 2).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("is recorded as active, not tombstoned"),
            "{err}"
        );
        // Bad input is a field error and writes nothing.
        let bad = existing("W5", "jsmith5", "not-an-address@", NameStatus::Active);
        let err = ledger.import(&bad, 2).await.unwrap_err();
        assert!(err.to_string().contains("upn:"), "{err}");
        assert!(ledger.worker("W5").await.unwrap().is_none());
    }

    pub async fn an_imported_leaver_keeps_their_names_until_rehired(ledger: &dyn Ledger) {
        let former = existing("W0", "jsmith", "john.smith", NameStatus::Tombstoned);
        assert_eq!(
            ledger.import(&former, 2).await.unwrap(),
            ImportOutcome::Imported
        );
        let other = ledger.allocate("W1", "e1", &john_smith()).await.unwrap();
        assert_eq!(other.names.sam_account_name, "johns");
        assert_eq!(other.trace[0].decision, Decision::Tombstoned);
        // The former employee comes back: their own names, reactivated.
        let back = ledger.allocate("W0", "e2", &john_smith()).await.unwrap();
        assert!(back.reused);
        assert_eq!(back.names.sam_account_name, "jsmith");
        assert_eq!(back.names.upn, "john.smith@contoso.com");
        let rec = ledger
            .holder(Namespace::Sam, "jsmith")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rec.status, NameStatus::Active);
    }

    pub async fn imported_suffixes_move_the_suffix_counter(ledger: &dyn Ledger) {
        ledger
            .import(
                &existing("W0", "jsmith", "john.smith", NameStatus::Active),
                2,
            )
            .await
            .unwrap();
        ledger
            .import(&existing("W00", "johns", "johns", NameStatus::Active), 2)
            .await
            .unwrap();
        for n in [2, 3, 7] {
            let a = existing(
                &format!("W{n}"),
                &format!("jsmith{n}"),
                &format!("john.smith{n}"),
                NameStatus::Active,
            );
            ledger.import(&a, 2).await.unwrap();
        }
        // The next John Smith skips every imported suffix without a lost race.
        let a = ledger.allocate("W8", "e", &john_smith()).await.unwrap();
        assert_eq!(a.names.sam_account_name, "jsmith8");
        assert_eq!(a.names.upn, "john.smith8@contoso.com");
        assert_eq!(a.round_trips, 3, "read, suffix counter, transaction");
        // A counter already past an imported suffix is never moved back.
        ledger
            .import(
                &existing("W4", "jsmith4", "john.smith4", NameStatus::Active),
                2,
            )
            .await
            .unwrap();
        let b = ledger.allocate("W9", "e", &john_smith()).await.unwrap();
        assert_eq!(b.names.sam_account_name, "jsmith9");
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let l = super::common::sqlite_ledger().await;
                    super::cases::$case(&l.ledger).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $case() {
                    let l = super::common::dynamo_ledger(&stringify!($case)[..20]).await;
                    super::cases::$case(&l).await;
                }
            )*
        }
    };
}

conformance!(
    first_hire_gets_the_first_rule_in_two_round_trips,
    a_namesake_gets_the_next_rule_and_the_trace_says_why,
    namesakes_beyond_the_rules_get_numeric_suffixes_in_three_round_trips,
    suffixes_start_where_the_policy_says,
    a_retry_for_the_same_worker_returns_the_same_names_without_writing,
    a_rehire_gets_the_tombstoned_names_back,
    nobody_else_can_ever_take_a_tombstoned_name,
    a_collision_in_one_namespace_blocks_the_whole_candidate,
    reserved_suffixes_are_skipped_and_explained,
    a_plan_with_nothing_left_is_username_exhausted,
    bad_requests_are_clear_errors,
    the_trace_keeps_the_policy_decisions_first,
    imported_names_are_never_offered_to_a_new_hire,
    importing_again_is_unchanged_and_a_conflict_names_the_holder,
    an_imported_leaver_keeps_their_names_until_rehired,
    imported_suffixes_move_the_suffix_counter,
);
