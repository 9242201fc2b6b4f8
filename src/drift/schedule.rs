//! Drift schedules: `drift_check` crontab lines (5 fields, or `@hourly`-style names)
//! parsed with croner, and the minute loop that starts the checks they call for.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use tokio::sync::watch;

use super::DriftService;

/// Parses a `drift_check` value: 5 crontab fields (minute hour day-of-month month
/// day-of-week) or `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`.
pub fn parse(expression: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| format!("{expression:?} is not a crontab schedule: {e}"))
}

/// Whether `cron` calls for a run in the minute starting at `minute`.
pub fn due(cron: &Cron, minute: DateTime<Utc>) -> bool {
    let minute = minute
        .with_second(0)
        .and_then(|m| m.with_nanosecond(0))
        .unwrap_or(minute);
    cron.is_time_matching(&minute).unwrap_or(false)
}

/// Wakes at the start of every minute and starts the checks that are due (each
/// provider with its own policy); a check still running from before is not doubled.
pub async fn run(service: Arc<DriftService>, mut stop: watch::Receiver<bool>) {
    loop {
        let now = Utc::now();
        let wait = 60_000 - (now.timestamp_millis().rem_euclid(60_000)) + 50;
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = stop.changed() => return,
        }
        let minute = Utc::now();
        for (provider, expression) in service.schedules() {
            let Ok(cron) = parse(&expression) else {
                continue;
            };
            if due(&cron, minute) {
                let service = service.clone();
                tokio::spawn(async move {
                    service.run_scheduled(&provider).await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn five_fields_and_names() {
        let every15 = parse("*/15 * * * *").unwrap();
        let at = |h, m| Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap();
        assert!(due(&every15, at(10, 30)));
        assert!(!due(&every15, at(10, 31)));
        let hourly = parse("@hourly").unwrap();
        assert!(due(&hourly, at(7, 0)));
        assert!(!due(&hourly, at(7, 1)));
        // Seconds past the minute still count as that minute.
        assert!(due(&hourly, at(7, 0) + chrono::Duration::seconds(3)));
        let daily = parse("@daily").unwrap();
        assert!(due(&daily, at(0, 0)));
        // 2026-03-02 is a Monday: Unix weekday 1.
        assert!(due(&parse("30 10 * * 1").unwrap(), at(10, 30)));
        assert!(!due(&parse("30 10 * * 0").unwrap(), at(10, 30)));
    }

    #[test]
    fn rejects_seconds_and_garbage() {
        assert!(parse("0 */15 * * * *").is_err());
        assert!(parse("*/15 * * *").is_err());
        assert!(parse("every hour").is_err());
        assert!(parse("61 * * * *").is_err());
    }
}
