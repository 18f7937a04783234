//! The embedded ledger: one SQLite file (WAL) that several `dayone` processes
//! can share. Reads are plain snapshots; every transaction is `BEGIN
//! IMMEDIATE`, so condition checks and writes happen under SQLite's single
//! writer lock and a concurrent process either sees all of a hire's names or
//! none of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use dayone_core::Namespace;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::engine::{self, Store};
use crate::record::{
    NameRecord, NameStatus, StoredItem, TransactError, WORKER_PREFIX, WorkerRecord, Write,
    format_time, parse_name_key, parse_time, suffix_key,
};
use crate::{Allocation, Ledger, LedgerError, TOMBSTONE_EXECUTION};

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ledger_items (
    pk          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('name', 'worker', 'suffix')),
    owner       TEXT,
    status      TEXT CHECK (status IS NULL OR status IN ('active', 'tombstoned')),
    at          TEXT,
    execution   TEXT,
    sam         TEXT,
    upn         TEXT,
    mail        TEXT,
    next_suffix INTEGER
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS ledger_items_never_deleted
BEFORE DELETE ON ledger_items
BEGIN
    SELECT RAISE(ABORT, 'ledger items are never deleted; tombstone the worker instead');
END;
";

const COLUMNS: &str = "pk, kind, owner, status, at, execution, sam, upn, mail, next_suffix";

/// The SQLite adapter. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct SqliteLedger {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteLedger {
    /// Opens (creating when missing, with its parent directories) the ledger file at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref().to_path_buf();
        let for_task = path.clone();
        let conn = tokio::task::spawn_blocking(move || open_file(&for_task))
            .await
            .map_err(|e| {
                LedgerError::Misconfigured(format!("opening the ledger panicked: {e}"))
            })??;
        Ok(SqliteLedger {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The file this ledger lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with_conn<T, F>(&self, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-applied
            // transaction (SQLite rolls it back), so a poisoned lock is usable.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| LedgerError::Unavailable(format!("ledger task failed: {e}")))?
    }
}

fn open_file(path: &Path) -> Result<Connection, LedgerError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            LedgerError::Misconfigured(format!(
                "cannot create the ledger directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    let conn = Connection::open(path).map_err(|e| {
        LedgerError::Misconfigured(format!(
            "cannot open the ledger file {}: {e}",
            path.display()
        ))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL lets readers run while another process writes; FULL sync because a
    // name handed out and then lost in a crash could be handed out twice.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::Misconfigured(format!(
            "the ledger file {} cannot use WAL journaling (got '{mode}'); put it on a local disk",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn read_item(row: &rusqlite::Row<'_>) -> Result<(String, StoredItem), LedgerError> {
    let pk: String = row.get(0)?;
    let kind: String = row.get(1)?;
    let text = |i: usize, what: &str| -> Result<String, LedgerError> {
        row.get::<_, Option<String>>(i)?
            .ok_or_else(|| LedgerError::Corrupt {
                key: pk.clone(),
                problem: format!("missing {what}"),
            })
    };
    let item = match kind.as_str() {
        "name" => {
            let (namespace, value) = parse_name_key(&pk)?;
            StoredItem::Name(NameRecord {
                namespace,
                value,
                owner: text(2, "owner")?,
                status: NameStatus::parse(&pk, &text(3, "status")?)?,
                when: parse_time(&pk, &text(4, "at")?)?,
                execution: text(5, "execution")?,
            })
        }
        "worker" => StoredItem::Worker(WorkerRecord {
            worker_id: pk.strip_prefix(WORKER_PREFIX).unwrap_or(&pk).to_string(),
            status: NameStatus::parse(&pk, &text(3, "status")?)?,
            when: parse_time(&pk, &text(4, "at")?)?,
            execution: text(5, "execution")?,
            sam_account_name: text(6, "sam")?,
            upn: text(7, "upn")?,
            mail: text(8, "mail")?,
        }),
        "suffix" => StoredItem::Suffix(row.get::<_, i64>(9)?.max(0) as u64),
        other => {
            return Err(LedgerError::Corrupt {
                key: pk.clone(),
                problem: format!("unknown kind '{other}'"),
            });
        }
    };
    Ok((pk, item))
}

fn get_one(conn: &Connection, key: &str) -> Result<Option<StoredItem>, LedgerError> {
    let sql = format!("SELECT {COLUMNS} FROM ledger_items WHERE pk = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![key])?;
    match rows.next()? {
        Some(row) => Ok(Some(read_item(row)?.1)),
        None => Ok(None),
    }
}

/// Whether `write`'s condition holds; returns the item in the way when not.
fn check(conn: &Connection, write: &Write) -> Result<Result<(), Option<StoredItem>>, LedgerError> {
    let current = get_one(conn, &write.key())?;
    let ok = match (write, &current) {
        (Write::InsertName(_) | Write::InsertWorker(_), None) => true,
        (Write::InsertName(_) | Write::InsertWorker(_), Some(_)) => false,
        (Write::SetNameStatus { owner, .. }, Some(StoredItem::Name(rec))) => rec.owner == *owner,
        (Write::SetWorkerStatus { from, .. }, Some(StoredItem::Worker(rec))) => rec.status == *from,
        _ => false,
    };
    Ok(if ok { Ok(()) } else { Err(current) })
}

fn apply(conn: &Connection, write: &Write) -> Result<(), LedgerError> {
    let key = write.key();
    match write {
        Write::InsertName(r) => {
            conn.prepare_cached(
                "INSERT INTO ledger_items (pk, kind, owner, status, at, execution) VALUES (?1, 'name', ?2, ?3, ?4, ?5)",
            )?
            .execute(params![key, r.owner, r.status.as_str(), format_time(&r.when), r.execution])?;
        }
        Write::InsertWorker(r) => {
            conn.prepare_cached(
                "INSERT INTO ledger_items (pk, kind, status, at, execution, sam, upn, mail) \
                 VALUES (?1, 'worker', ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                key,
                r.status.as_str(),
                format_time(&r.when),
                r.execution,
                r.sam_account_name,
                r.upn,
                r.mail
            ])?;
        }
        Write::SetNameStatus {
            status,
            when,
            execution,
            ..
        }
        | Write::SetWorkerStatus {
            to: status,
            when,
            execution,
            ..
        } => {
            conn.prepare_cached(
                "UPDATE ledger_items SET status = ?2, at = ?3, execution = ?4 WHERE pk = ?1",
            )?
            .execute(params![key, status.as_str(), format_time(when), execution])?;
        }
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteLedger {
    async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<(HashMap<String, StoredItem>, u32), LedgerError> {
        let keys = keys.to_vec();
        self.with_conn(move |conn| {
            let mut items = HashMap::new();
            // One statement (and one snapshot) however many keys, within
            // SQLite's bound-parameter limit.
            for chunk in keys.chunks(900) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let sql = format!("SELECT {COLUMNS} FROM ledger_items WHERE pk IN ({marks})");
                let mut stmt = conn.prepare(&sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(chunk.iter()))?;
                while let Some(row) = rows.next()? {
                    let (pk, item) = read_item(row)?;
                    items.insert(pk, item);
                }
            }
            Ok((items, keys.len().div_ceil(900).max(1) as u32))
        })
        .await
    }

    async fn next_suffix(&self, key: &str) -> Result<u64, LedgerError> {
        let pk = suffix_key(key);
        self.with_conn(move |conn| {
            let next: i64 = conn
                .prepare_cached(
                    "INSERT INTO ledger_items (pk, kind, next_suffix) VALUES (?1, 'suffix', 2) \
                     ON CONFLICT (pk) DO UPDATE SET next_suffix = next_suffix + 1 RETURNING next_suffix",
                )?
                .query_row(params![pk], |r| r.get(0))?;
            Ok(next.max(0) as u64)
        })
        .await
    }

    async fn raise_suffix(&self, key: &str, at_least: u64) -> Result<(), LedgerError> {
        let pk = suffix_key(key);
        let at_least = i64::try_from(at_least).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            conn.prepare_cached(
                "INSERT INTO ledger_items (pk, kind, next_suffix) VALUES (?1, 'suffix', ?2) \
                 ON CONFLICT (pk) DO UPDATE SET next_suffix = max(next_suffix, excluded.next_suffix)",
            )?
            .execute(params![pk, at_least])?;
            Ok(())
        })
        .await
    }

    async fn transact(&self, writes: &[Write]) -> Result<(), TransactError> {
        let writes = writes.to_vec();
        let outcome = self
            .with_conn(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let mut conflicts = Vec::new();
                for write in &writes {
                    if let Err(current) = check(&tx, write)? {
                        conflicts.push((write.key(), current));
                    }
                }
                if !conflicts.is_empty() {
                    // Dropping `tx` rolls back; nothing was written.
                    return Ok(Err(conflicts));
                }
                for write in &writes {
                    apply(&tx, write)?;
                }
                tx.commit()?;
                Ok(Ok(()))
            })
            .await?;
        outcome.map_err(TransactError::Conflict)
    }
}

#[async_trait]
impl Ledger for SqliteLedger {
    async fn allocate(
        &self,
        worker_id: &str,
        execution_id: &str,
        plan: &dayone_core::UsernamePlan,
    ) -> Result<Allocation, LedgerError> {
        engine::allocate(self, worker_id, execution_id, plan).await
    }

    async fn tombstone(&self, worker_id: &str) -> Result<(), LedgerError> {
        engine::tombstone(self, worker_id, TOMBSTONE_EXECUTION).await
    }

    async fn holder(&self, ns: Namespace, value: &str) -> Result<Option<NameRecord>, LedgerError> {
        engine::holder(self, ns, value).await
    }

    async fn worker(&self, worker_id: &str) -> Result<Option<WorkerRecord>, LedgerError> {
        engine::worker(self, worker_id).await
    }

    async fn import(
        &self,
        account: &crate::ExistingAccount,
        suffix_start: u64,
    ) -> Result<crate::ImportOutcome, LedgerError> {
        crate::import::import(self, account, suffix_start).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn deleting_a_name_is_refused_by_the_file_itself() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(dir.path().join("l.sqlite"))
            .await
            .unwrap();
        let err = ledger
            .with_conn(|conn| {
                conn.execute(
                    "INSERT INTO ledger_items (pk, kind, owner, status, at, execution) \
                     VALUES ('NAME#sam#x', 'name', 'w', 'active', '2026-01-01T00:00:00Z', 'e')",
                    [],
                )?;
                conn.execute("DELETE FROM ledger_items WHERE pk = 'NAME#sam#x'", [])?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("never deleted"), "{err}");
    }

    #[tokio::test]
    async fn the_suffix_counter_starts_at_two_and_never_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(dir.path().join("l.sqlite"))
            .await
            .unwrap();
        assert_eq!(ledger.next_suffix("jsmith").await.unwrap(), 2);
        assert_eq!(ledger.next_suffix("jsmith").await.unwrap(), 3);
        assert_eq!(ledger.next_suffix("adoe").await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_ledger_directory_that_cannot_be_created_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = SqliteLedger::open(file.join("sub/ledger.sqlite"))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot create the ledger directory"),
            "{err}"
        );
    }
}
