//! The allocation algorithm, written once over a small key-value `Store` port
//! that both adapters implement. It keeps the number of store round trips
//! constant however many workers share a base name:
//!
//! 1. one batch read: the `WORKER#` item and every rule candidate's `NAME#`
//!    items (all namespaces);
//! 2. if the worker already holds names, return them (reactivating a
//!    tombstone with one transaction);
//! 3. otherwise the first rule candidate free in every namespace wins; when
//!    none is, one atomic increment of the `SUFFIX#<base>` counter hands out
//!    the next numeric suffix, so the 1000th "John Smith" skips the 998
//!    suffixes before it without looking at them;
//! 4. one transaction reserves the three names and the `WORKER#` item, each
//!    conditional on not existing.
//!
//! A lost race (another worker took the same name between 1 and 4) comes back
//! as a conflict carrying the items that won; they are folded into what we
//! know and the decision is taken again, without a new read unless the store
//! could not say what won. The counter is a hint, never a lock: uniqueness is
//! guaranteed only by the conditional writes.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::Utc;
use dayone_core::{AllocatedNames, Candidate, Decision, Namespace, TraceEntry, UsernamePlan};

use crate::record::{
    NameRecord, NameStatus, StoredItem, TransactError, WorkerRecord, Write, check_key, name_key,
    suffix_key, worker_key,
};
use crate::{Allocation, LedgerError};

/// Lost races tolerated before giving up with a retryable error. Each rule
/// candidate can be lost at most once, and suffixes are handed out uniquely,
/// so only a pathological race exhausts this.
pub(crate) const MAX_ATTEMPTS: u32 = 16;

/// Largest numeric suffix handed out before the base name counts as exhausted.
pub(crate) const MAX_SUFFIX: u64 = 9_999_999;

/// The persistence port. Adapters translate these three operations into one
/// store request each (`get_many` may need more for very large reads and
/// reports how many it used).
#[async_trait]
pub(crate) trait Store: Send + Sync {
    /// Strongly consistent read of `keys`; absent keys are simply missing.
    async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<(HashMap<String, StoredItem>, u32), LedgerError>;

    /// Atomically increments `SUFFIX#<key>` and returns the new value; the
    /// first call for a key returns 2 ("jsmith2" follows "jsmith").
    async fn next_suffix(&self, key: &str) -> Result<u64, LedgerError>;

    /// Applies every write or none.
    async fn transact(&self, writes: &[Write]) -> Result<(), TransactError>;

    /// Raises the `SUFFIX#<key>` counter to at least `at_least` (never lowers it).
    async fn raise_suffix(&self, key: &str, at_least: u64) -> Result<(), LedgerError>;
}

pub(crate) async fn allocate<S: Store + ?Sized>(
    store: &S,
    worker_id: &str,
    execution_id: &str,
    plan: &UsernamePlan,
) -> Result<Allocation, LedgerError> {
    if worker_id.trim().is_empty() {
        return Err(LedgerError::InvalidInput("the worker id is empty".into()));
    }
    let wkey = worker_key(worker_id);
    check_key(&wkey)?;
    let mut keys = vec![wkey.clone()];
    let mut seen: HashSet<String> = keys.iter().cloned().collect();
    for candidate in &plan.candidates {
        for ns in Namespace::ALL {
            let key = name_key(ns, &candidate.name_in(ns));
            check_key(&key)?;
            if seen.insert(key.clone()) {
                keys.push(key);
            }
        }
    }
    check_key(&suffix_key(&plan.suffix_key))?;

    let mut round_trips = 0u32;
    let mut known: Option<HashMap<String, StoredItem>> = None;
    // Suffixes lost to other base names that produce the same strings (or to
    // reserved names): explained once in the trace, whatever attempt found them.
    let mut suffix_trace: Vec<TraceEntry> = Vec::new();

    for _attempt in 0..MAX_ATTEMPTS {
        if known.is_none() {
            let (items, trips) = store.get_many(&keys).await?;
            round_trips += trips;
            known = Some(items);
        }
        let items = known.as_mut().expect("read above");
        let now = Utc::now();

        if let Some(StoredItem::Worker(held)) = items.get(&wkey).cloned() {
            let reactivated = held.status == NameStatus::Tombstoned;
            if reactivated {
                let writes = reactivation(&held, execution_id, now);
                round_trips += 1;
                match store.transact(&writes).await {
                    Ok(()) => {}
                    Err(TransactError::Conflict(_)) => {
                        known = None;
                        continue;
                    }
                    Err(TransactError::Failed(e)) => return Err(e),
                }
            }
            let mut trace = plan.trace.clone();
            trace.push(TraceEntry {
                rule: "ledger".into(),
                candidate: Some(held.sam_account_name.clone()),
                decision: Decision::AlreadyHeld,
                detail: if reactivated {
                    format!("worker {worker_id} left earlier; rehired, so their tombstoned names are reactivated")
                } else {
                    format!(
                        "worker {worker_id} already holds these names (allocated by execution {}); returned unchanged",
                        held.execution
                    )
                },
            });
            return Ok(Allocation {
                worker_id: worker_id.to_string(),
                names: names_of(&held, plan),
                trace,
                round_trips,
                reused: true,
            });
        }

        let mut trace = plan.trace.clone();
        let mut chosen: Option<(Candidate, String)> = None;
        for candidate in &plan.candidates {
            match blocker(items, candidate) {
                None => {
                    chosen = Some((candidate.clone(), "free in every namespace".into()));
                    break;
                }
                Some((decision, detail)) => trace.push(TraceEntry {
                    rule: candidate.rule.clone(),
                    candidate: Some(candidate.sam_account_name.clone()),
                    decision,
                    detail,
                }),
            }
        }

        if chosen.is_none() {
            let (candidate, detail) =
                next_suffixed(store, plan, &mut round_trips, &mut suffix_trace).await?;
            chosen = Some((candidate, detail));
        }
        trace.extend(suffix_trace.iter().cloned());
        let (candidate, detail) = chosen.expect("set above");

        let writes = reservation(worker_id, execution_id, &candidate, now);
        round_trips += 1;
        match store.transact(&writes).await {
            Ok(()) => {
                trace.push(TraceEntry {
                    rule: candidate.rule.clone(),
                    candidate: Some(candidate.sam_account_name.clone()),
                    decision: Decision::Chosen,
                    detail,
                });
                return Ok(Allocation {
                    worker_id: worker_id.to_string(),
                    names: AllocatedNames {
                        sam_account_name: candidate.sam_account_name,
                        upn: candidate.upn,
                        mail: candidate.mail,
                        display_name: plan.display_name.clone(),
                        cn: plan.cn.clone(),
                    },
                    trace,
                    round_trips,
                    reused: false,
                });
            }
            Err(TransactError::Conflict(conflicts)) => {
                let mut reread = false;
                let mut lost_suffix = Vec::new();
                for (key, item) in conflicts {
                    match item {
                        // If the worker itself won a concurrent allocation, its
                        // record is folded in too and the next pass returns it.
                        Some(item) => {
                            if let StoredItem::Name(rec) = &item {
                                lost_suffix.push(format!(
                                    "{} {}",
                                    rec.namespace.as_str(),
                                    rec.value
                                ));
                            }
                            items.insert(key, item);
                        }
                        None => reread = true,
                    }
                }
                if is_suffix(&candidate) {
                    suffix_trace.push(TraceEntry {
                        rule: candidate.rule.clone(),
                        candidate: Some(candidate.sam_account_name.clone()),
                        decision: Decision::Taken,
                        detail: if lost_suffix.is_empty() {
                            "lost a race for this name; trying the next suffix".into()
                        } else {
                            format!("{} already held by another worker", lost_suffix.join(", "))
                        },
                    });
                }
                if reread {
                    known = None;
                }
            }
            Err(TransactError::Failed(e)) => return Err(e),
        }
    }
    Err(LedgerError::Contention {
        attempts: MAX_ATTEMPTS,
    })
}

fn is_suffix(candidate: &Candidate) -> bool {
    candidate.rule.starts_with("suffix ")
}

/// Takes suffix numbers from the counter until one is usable under the policy.
async fn next_suffixed<S: Store + ?Sized>(
    store: &S,
    plan: &UsernamePlan,
    round_trips: &mut u32,
    trace: &mut Vec<TraceEntry>,
) -> Result<(Candidate, String), LedgerError> {
    let template = &plan.suffix;
    if plan.suffix_key.trim().is_empty() || template.sam_stem.is_empty() {
        return Err(LedgerError::Exhausted {
            suffix_key: plan.suffix_key.clone(),
            detail:
                "every rule candidate is taken and the name has no stem to add a numeric suffix to"
                    .into(),
        });
    }
    for _ in 0..MAX_ATTEMPTS {
        // The counter hands out 2, 3, …; the policy may start its suffixes elsewhere.
        let n = store.next_suffix(&plan.suffix_key).await? - 2 + template.start;
        *round_trips += 1;
        let digits = n.to_string().len();
        if n > MAX_SUFFIX || digits >= template.sam_max {
            return Err(LedgerError::Exhausted {
                suffix_key: plan.suffix_key.clone(),
                detail: format!("the numeric suffix reached {n}"),
            });
        }
        let candidate = template.suffixed(n);
        if template.is_reserved(&candidate) {
            trace.push(TraceEntry {
                rule: candidate.rule.clone(),
                candidate: Some(candidate.sam_account_name.clone()),
                decision: Decision::Reserved,
                detail: "on the policy's reserved list".into(),
            });
            continue;
        }
        let detail = if n == template.start {
            format!(
                "every rule candidate is held, so the first numeric suffix for '{}' is used",
                plan.suffix_key
            )
        } else {
            format!(
                "every rule candidate is held; the suffix counter for '{}' says {}..{} are already handed out",
                plan.suffix_key,
                template.start,
                n - 1
            )
        };
        return Ok((candidate, detail));
    }
    Err(LedgerError::Exhausted {
        suffix_key: plan.suffix_key.clone(),
        detail: "too many consecutive suffixed names are reserved".into(),
    })
}

/// Why `candidate` cannot be reserved, judging from what is known to be held.
fn blocker(
    items: &HashMap<String, StoredItem>,
    candidate: &Candidate,
) -> Option<(Decision, String)> {
    let mut decision = None;
    let mut why = Vec::new();
    for ns in Namespace::ALL {
        let value = candidate.name_in(ns);
        if let Some(StoredItem::Name(rec)) = items.get(&name_key(ns, &value)) {
            let (d, text) = match rec.status {
                NameStatus::Active => (Decision::Taken, "held by another worker"),
                NameStatus::Tombstoned => (
                    Decision::Tombstoned,
                    "tombstoned (a former worker's; never reused)",
                ),
            };
            why.push(format!("{} {} {}", ns.as_str(), value, text));
            decision.get_or_insert(d);
        }
    }
    decision.map(|d| (d, why.join("; ")))
}

fn reservation(
    worker_id: &str,
    execution_id: &str,
    candidate: &Candidate,
    when: chrono::DateTime<Utc>,
) -> Vec<Write> {
    let mut writes: Vec<Write> = Namespace::ALL
        .into_iter()
        .map(|ns| {
            Write::InsertName(NameRecord {
                namespace: ns,
                value: candidate.name_in(ns),
                owner: worker_id.to_string(),
                status: NameStatus::Active,
                when,
                execution: execution_id.to_string(),
            })
        })
        .collect();
    writes.push(Write::InsertWorker(WorkerRecord {
        worker_id: worker_id.to_string(),
        sam_account_name: candidate.sam_account_name.clone(),
        upn: candidate.upn.clone(),
        mail: candidate.mail.clone(),
        status: NameStatus::Active,
        when,
        execution: execution_id.to_string(),
    }));
    writes
}

fn status_change(
    held: &WorkerRecord,
    from: NameStatus,
    to: NameStatus,
    execution_id: &str,
    when: chrono::DateTime<Utc>,
) -> Vec<Write> {
    let mut writes: Vec<Write> = Namespace::ALL
        .into_iter()
        .map(|ns| Write::SetNameStatus {
            namespace: ns,
            value: held.name_in(ns).to_lowercase(),
            owner: held.worker_id.clone(),
            status: to,
            when,
            execution: execution_id.to_string(),
        })
        .collect();
    writes.push(Write::SetWorkerStatus {
        worker_id: held.worker_id.clone(),
        from,
        to,
        when,
        execution: execution_id.to_string(),
    });
    writes
}

fn reactivation(
    held: &WorkerRecord,
    execution_id: &str,
    when: chrono::DateTime<Utc>,
) -> Vec<Write> {
    status_change(
        held,
        NameStatus::Tombstoned,
        NameStatus::Active,
        execution_id,
        when,
    )
}

fn names_of(held: &WorkerRecord, plan: &UsernamePlan) -> AllocatedNames {
    AllocatedNames {
        sam_account_name: held.sam_account_name.clone(),
        upn: held.upn.clone(),
        mail: held.mail.clone(),
        display_name: plan.display_name.clone(),
        cn: plan.cn.clone(),
    }
}

pub(crate) async fn tombstone<S: Store + ?Sized>(
    store: &S,
    worker_id: &str,
    execution_id: &str,
) -> Result<(), LedgerError> {
    let wkey = worker_key(worker_id);
    check_key(&wkey)?;
    for _ in 0..MAX_ATTEMPTS {
        let held = match worker(store, worker_id).await? {
            None => return Err(LedgerError::UnknownWorker(worker_id.to_string())),
            Some(held) if held.status == NameStatus::Tombstoned => return Ok(()),
            Some(held) => held,
        };
        let writes = status_change(
            &held,
            NameStatus::Active,
            NameStatus::Tombstoned,
            execution_id,
            Utc::now(),
        );
        match store.transact(&writes).await {
            Ok(()) => return Ok(()),
            // A concurrent rehire or tombstone changed the record: look again.
            Err(TransactError::Conflict(_)) => continue,
            Err(TransactError::Failed(e)) => return Err(e),
        }
    }
    Err(LedgerError::ConditionalCheckFailed { keys: wkey })
}

pub(crate) async fn worker<S: Store + ?Sized>(
    store: &S,
    worker_id: &str,
) -> Result<Option<WorkerRecord>, LedgerError> {
    let key = worker_key(worker_id);
    check_key(&key)?;
    let (mut items, _) = store.get_many(std::slice::from_ref(&key)).await?;
    match items.remove(&key) {
        Some(StoredItem::Worker(w)) => Ok(Some(w)),
        None => Ok(None),
        Some(_) => Err(LedgerError::Corrupt {
            key,
            problem: "expected a worker item".into(),
        }),
    }
}

pub(crate) async fn holder<S: Store + ?Sized>(
    store: &S,
    ns: Namespace,
    value: &str,
) -> Result<Option<NameRecord>, LedgerError> {
    let key = name_key(ns, value);
    check_key(&key)?;
    let (mut items, _) = store.get_many(std::slice::from_ref(&key)).await?;
    match items.remove(&key) {
        Some(StoredItem::Name(r)) => Ok(Some(r)),
        None => Ok(None),
        Some(_) => Err(LedgerError::Corrupt {
            key,
            problem: "expected a name item".into(),
        }),
    }
}
