//! When a Temporary Access Pass becomes usable.
//!
//! The manager should be able to hand the pass over at the start of the new hire's first day,
//! so it starts on the hire date at the configured local time (`[tap].issue_at`) in the hire's
//! own time zone, and Graph wants that instant in UTC.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use dayone_core::config::TapConfig;
use dayone_core::hire::HireEvent;

/// When the pass starts, and whether Graph has to be told at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapSchedule {
    /// The `startDateTime` to send; `None` when the computed start has already passed, in which
    /// case the pass is usable immediately (a late re-run must not ask for a start in the past).
    pub start: Option<DateTime<Utc>>,
    /// The instant the pass actually becomes usable (reported in the receipt).
    pub effective: DateTime<Utc>,
}

/// The hire's own time zone, else `[tap].default_timezone`.
pub fn zone_of(tap: &TapConfig, hire: &HireEvent) -> Tz {
    hire.timezone
        .as_ref()
        .map(|t| t.tz())
        .unwrap_or_else(|| tap.default_tz())
}

/// When the pass should start for this hire: `[tap].issue_at` on the hire date, hire's zone.
pub fn tap_start(tap: &TapConfig, hire: &HireEvent) -> DateTime<Utc> {
    local_start_utc(hire.hire_date, tap.issue_at, zone_of(tap, hire))
}

/// What CreateAccount reports as `issueTapAt`: the start time when `[tap].wait_until_issue`
/// asks the state machine to wait for it, `None` (issue at once, with a future start) otherwise
/// or when TAPs are off. A time already past is still returned; the Wait state passes it at once.
pub fn issue_tap_at(tap: &TapConfig, hire: &HireEvent) -> Option<DateTime<Utc>> {
    (tap.enabled && tap.wait_until_issue).then(|| tap_start(tap, hire))
}

/// The UTC instant of `issue_at` on `hire_date` in `zone`.
///
/// Daylight-saving edges are resolved the way a person would read the clock: in a repeated hour
/// the first occurrence wins; in a skipped hour the pass starts at the first valid minute after it.
pub fn local_start_utc(hire_date: NaiveDate, issue_at: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let wall = NaiveDateTime::new(hire_date, issue_at);
    match zone.from_local_datetime(&wall) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // A spring-forward gap: walk forward minute by minute (gaps are at most a couple of
            // hours anywhere in the tz database) until the wall clock exists again.
            let mut probe = wall;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = zone.from_local_datetime(&probe).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            // Unreachable with real zone data; fall back to reading the wall clock as UTC.
            Utc.from_utc_datetime(&wall)
        }
    }
}

/// The schedule for a pass computed at `now`.
pub fn schedule(
    hire_date: NaiveDate,
    issue_at: NaiveTime,
    zone: Tz,
    now: DateTime<Utc>,
) -> TapSchedule {
    let start = local_start_utc(hire_date, issue_at, zone);
    if start > now {
        TapSchedule {
            start: Some(start),
            effective: start,
        }
    } else {
        TapSchedule {
            start: None,
            effective: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn parse_issue_at(s: &str) -> Option<NaiveTime> {
        NaiveTime::parse_from_str(s, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
            .ok()
    }

    fn parse_zone(s: &str) -> Option<Tz> {
        s.parse().ok()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn london_in_winter_is_utc() {
        let t = local_start_utc(
            date("2026-12-01"),
            parse_issue_at("08:00").unwrap(),
            parse_zone("Europe/London").unwrap(),
        );
        assert_eq!(t, utc("2026-12-01T08:00:00Z"));
    }

    #[test]
    fn berlin_in_summer_is_two_hours_ahead() {
        let t = local_start_utc(
            date("2026-07-01"),
            parse_issue_at("08:30").unwrap(),
            parse_zone("Europe/Berlin").unwrap(),
        );
        assert_eq!(t, utc("2026-07-01T06:30:00Z"));
    }

    #[test]
    fn new_york_start_lands_on_the_same_utc_day_afternoon() {
        let t = local_start_utc(
            date("2026-12-01"),
            parse_issue_at("09:00:00").unwrap(),
            parse_zone("America/New_York").unwrap(),
        );
        assert_eq!(t, utc("2026-12-01T14:00:00Z"));
    }

    #[test]
    fn tokyo_start_is_the_previous_utc_day() {
        let t = local_start_utc(
            date("2026-12-01"),
            parse_issue_at("08:00").unwrap(),
            parse_zone("Asia/Tokyo").unwrap(),
        );
        assert_eq!(t, utc("2026-11-30T23:00:00Z"));
    }

    #[test]
    fn a_skipped_spring_forward_hour_moves_to_the_first_valid_minute() {
        // 2026-03-08 02:30 does not exist in New York (clocks jump 02:00 -> 03:00 EDT).
        let t = local_start_utc(
            date("2026-03-08"),
            parse_issue_at("02:30").unwrap(),
            parse_zone("America/New_York").unwrap(),
        );
        assert_eq!(t, utc("2026-03-08T07:00:00Z"));
    }

    #[test]
    fn a_repeated_autumn_hour_takes_the_first_occurrence() {
        // 2026-10-25 02:30 happens twice in Berlin; the first is still CEST (UTC+2).
        let t = local_start_utc(
            date("2026-10-25"),
            parse_issue_at("02:30").unwrap(),
            parse_zone("Europe/Berlin").unwrap(),
        );
        assert_eq!(t, utc("2026-10-25T00:30:00Z"));
    }

    #[test]
    fn a_start_in_the_past_makes_the_pass_usable_now() {
        let now = utc("2026-12-02T10:00:00Z");
        let s = schedule(
            date("2026-12-01"),
            parse_issue_at("08:00").unwrap(),
            parse_zone("Europe/London").unwrap(),
            now,
        );
        assert_eq!(s.start, None);
        assert_eq!(s.effective, now);
    }

    #[test]
    fn a_future_start_is_sent_to_graph() {
        let now = utc("2026-11-20T10:00:00Z");
        let s = schedule(
            date("2026-12-01"),
            parse_issue_at("08:00").unwrap(),
            parse_zone("Europe/London").unwrap(),
            now,
        );
        assert_eq!(s.start, Some(utc("2026-12-01T08:00:00Z")));
        assert_eq!(s.effective, utc("2026-12-01T08:00:00Z"));
    }

    fn hire(tz: Option<&str>) -> HireEvent {
        let tz = tz
            .map(|t| format!(r#","timezone":"{t}""#))
            .unwrap_or_default();
        HireEvent::parse(&format!(
            r#"{{"eventId":"E1","workerId":"21001","workerType":"employee",
                "legalName":{{"first":"Ada","last":"Lovelace"}},"hireDate":"2026-12-01",
                "department":"Engineering","country":"GB"{tz}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn the_hire_zone_wins_over_the_default() {
        let tap = TapConfig {
            default_timezone: "America/New_York".into(),
            ..TapConfig::default()
        };
        assert_eq!(
            tap_start(&tap, &hire(Some("Europe/Berlin"))),
            utc("2026-12-01T07:00:00Z")
        );
        assert_eq!(tap_start(&tap, &hire(None)), utc("2026-12-01T13:00:00Z"));
    }

    #[test]
    fn issue_tap_at_is_set_only_when_the_flow_waits() {
        let mut tap = TapConfig {
            wait_until_issue: false,
            ..TapConfig::default()
        };
        assert_eq!(issue_tap_at(&tap, &hire(Some("Europe/London"))), None);
        tap.wait_until_issue = true;
        assert_eq!(
            issue_tap_at(&tap, &hire(Some("Europe/London"))),
            Some(utc("2026-12-01T08:00:00Z"))
        );
        tap.enabled = false;
        assert_eq!(issue_tap_at(&tap, &hire(Some("Europe/London"))), None);
    }
}
