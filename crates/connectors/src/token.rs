//! A cached OAuth bearer token, refreshed before it expires, shared by all calls of one client.
//!
//! Concurrent callers share one fetch (the lock is held while fetching), so a burst of calls
//! right after a cold start costs one token request, not one per call. Hits and misses are
//! counted for the benchmark's cache hit rate.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dayone_sdk::secrets::SecretString;

use crate::error::ConnectorError;

/// How often a client's token cache answered without a token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCacheStats {
    /// Calls served by the cached token.
    pub hits: u64,
    /// Calls that had to fetch a token (first call, expiry, or a 401 that invalidated it).
    pub misses: u64,
}

impl TokenCacheStats {
    /// hits / (hits + misses), or 0 when nothing was asked yet.
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

pub(crate) struct TokenCache {
    slot: tokio::sync::Mutex<Option<Cached>>,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Refresh this long before expiry (at most half the token's lifetime).
    margin: Duration,
}

impl TokenCache {
    pub fn new(margin: Duration) -> Self {
        TokenCache {
            slot: tokio::sync::Mutex::new(None),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            margin,
        }
    }

    /// The cached token if still fresh, else the one `fetch` returns (token, lifetime).
    pub async fn get<F, Fut>(&self, fetch: F) -> Result<SecretString, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(SecretString, Duration), ConnectorError>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some(cached) = slot.as_ref()
            && Instant::now() < cached.refresh_at
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(cached.token.clone());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let (token, lifetime) = fetch().await?;
        let margin = self.margin.min(lifetime / 2);
        *slot = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(token)
    }

    /// Forgets the token (after the target answered 401 to it).
    pub async fn invalidate(&self) {
        *self.slot.lock().await = None;
    }

    pub fn stats(&self) -> TokenCacheStats {
        TokenCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_fresh_token_is_reused_and_an_expiring_one_is_refreshed() {
        let cache = TokenCache::new(Duration::from_secs(300));
        let t1 = cache
            .get(|| async { Ok((SecretString::new("one"), Duration::from_secs(3600))) })
            .await
            .unwrap();
        let t2 = cache
            .get(|| async { panic!("must not fetch while the token is fresh") })
            .await
            .unwrap();
        assert_eq!((t1.expose(), t2.expose()), ("one", "one"));
        assert_eq!(cache.stats(), TokenCacheStats { hits: 1, misses: 1 });

        // A token whose lifetime is almost over is refreshed before it expires.
        let short = TokenCache::new(Duration::from_secs(300));
        short
            .get(|| async { Ok((SecretString::new("a"), Duration::from_millis(20))) })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(15)).await;
        let again = short
            .get(|| async { Ok((SecretString::new("b"), Duration::from_secs(60))) })
            .await
            .unwrap();
        assert_eq!(again.expose(), "b");
        assert_eq!(short.stats().misses, 2);
        assert!((cache.stats().hit_rate() - 0.5).abs() < f64::EPSILON);
    }
}
