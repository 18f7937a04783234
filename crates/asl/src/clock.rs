//! Time for Wait states, Retry delays and history timestamps: real, or virtual.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The clock an execution runs on. Cheap to clone; clones share the same time line.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// `None`: real time. `Some(s)`: virtual; a wait of `d` sleeps `d * s` for real.
    scale: Option<f64>,
    start_wall: DateTime<Utc>,
    start: Instant,
    /// Virtual time skipped so far, in nanoseconds.
    skipped_ns: AtomicU64,
}

impl Clock {
    /// Wall-clock time; Wait states and retries really sleep.
    pub fn real() -> Clock {
        Clock::make(None)
    }

    /// Virtual time that never sleeps: a `Wait` of an hour returns at once, yet the history
    /// and `$$` timestamps advance by an hour.
    pub fn instant() -> Clock {
        Clock::make(Some(0.0))
    }

    /// Virtual time running `1/scale` times faster than real time (`scale` 0.01: a 10 s wait
    /// sleeps 100 ms). Timestamps still advance by the full amount.
    pub fn scaled(scale: f64) -> Clock {
        let s = if scale.is_finite() && scale >= 0.0 {
            scale
        } else {
            0.0
        };
        Clock::make(Some(s))
    }

    fn make(scale: Option<f64>) -> Clock {
        Clock {
            inner: Arc::new(Inner {
                scale,
                start_wall: Utc::now(),
                start: Instant::now(),
                skipped_ns: AtomicU64::new(0),
            }),
        }
    }

    /// True when waits are shortened.
    pub fn is_virtual(&self) -> bool {
        self.inner.scale.is_some()
    }

    /// The current (possibly virtual) time.
    pub fn now(&self) -> DateTime<Utc> {
        match self.inner.scale {
            None => Utc::now(),
            Some(_) => {
                let real = self.inner.start.elapsed();
                let skipped = Duration::from_nanos(self.inner.skipped_ns.load(Ordering::Relaxed));
                self.inner.start_wall
                    + chrono::Duration::from_std(real + skipped).unwrap_or(chrono::Duration::zero())
            }
        }
    }

    /// Waits `d` of clock time.
    pub async fn sleep(&self, d: Duration) {
        match self.inner.scale {
            None => tokio::time::sleep(d).await,
            Some(s) => {
                let real = d.mul_f64(s);
                let skipped = d.saturating_sub(real);
                self.inner.skipped_ns.fetch_add(
                    skipped.as_nanos().min(u64::MAX as u128) as u64,
                    Ordering::Relaxed,
                );
                if real.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(real).await;
                }
            }
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::real()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn instant_clock_advances_without_sleeping() {
        let c = Clock::instant();
        let t0 = c.now();
        let real = Instant::now();
        c.sleep(Duration::from_secs(3600)).await;
        assert!(real.elapsed() < Duration::from_secs(1));
        assert!(c.now() - t0 >= chrono::Duration::seconds(3600));
    }
}
