//! Day and month arithmetic for the demo generator.
//!
//! The generator walks millions of account-days, so it counts days as plain
//! integers since 1970-01-01 and months as `year * 12 + month - 1` instead of
//! going through `chrono` for every step. The conversions are infallible
//! (Howard Hinnant's civil-date algorithms), which keeps the hot loops free of
//! `Option` handling; `chrono` is used only at the edges, where the as-of date
//! comes in.
use chrono::{Datelike, Months, NaiveDate};

use crate::error::{Error, Problem, Result};

/// Microseconds in one day.
pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Seconds in one day.
pub(crate) const SECONDS_PER_DAY: u32 = 86_400;

/// `num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// The time frame of one generation run, in days since 1970-01-01.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    /// The as-of date; events end at the end of this day.
    pub(crate) as_of_day: i32,
    /// The first day with events: `as_of - months`.
    pub(crate) window_start_day: i32,
    /// The earliest signup date: six months before the event window.
    pub(crate) history_start_day: i32,
    /// The month index of the as-of date.
    pub(crate) as_of_month: i32,
    /// Whether each window day (indexed from `window_start_day`) falls in the
    /// year-end holidays, when B2B usage drops.
    is_holiday: Vec<bool>,
}

impl Calendar {
    /// Lays out the time frame for an as-of date and an event window length.
    pub(crate) fn new(as_of: NaiveDate, months: u32) -> Result<Calendar> {
        let window_start = as_of.checked_sub_months(Months::new(months));
        let history_start = as_of.checked_sub_months(Months::new(months.saturating_add(6)));
        let (Some(window_start), Some(history_start)) = (window_start, history_start) else {
            return Err(Error::invalid(
                Problem::new(
                    "demo parameters",
                    format!("{months} months before {as_of} is outside the supported dates"),
                )
                .with_help("use fewer months or a later as-of date"),
            ));
        };
        let as_of_day = day_from_date(as_of);
        let window_start_day = day_from_date(window_start);
        let is_holiday = (window_start_day..=as_of_day)
            .map(|day| {
                let (_, month, day_of_month) = civil_from_day(day);
                (month == 12 && day_of_month >= 24) || (month == 1 && day_of_month == 1)
            })
            .collect();
        Ok(Calendar {
            as_of_day,
            window_start_day,
            history_start_day: day_from_date(history_start),
            as_of_month: month_of_day(as_of_day),
            is_holiday,
        })
    }

    /// Whether `day` is a year-end holiday; days outside the window are not.
    pub(crate) fn is_holiday(&self, day: i32) -> bool {
        usize::try_from(day - self.window_start_day)
            .ok()
            .and_then(|offset| self.is_holiday.get(offset))
            .copied()
            .unwrap_or(false)
    }
}

/// Days since 1970-01-01 of a date.
pub(crate) fn day_from_date(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

/// Whether `day` is a Saturday or a Sunday (1970-01-01 was a Thursday).
pub(crate) fn is_weekend(day: i32) -> bool {
    (day + 3).rem_euclid(7) >= 5
}

/// `(year, month, day_of_month)` of a day since 1970-01-01.
pub(crate) fn civil_from_day(day: i32) -> (i32, u32, u32) {
    let shifted = i64::from(day) + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day_of_month = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // The ranges are bounded by construction: a month is 1..=12, a day 1..=31
    // and an i32 day count cannot produce a year outside i32.
    (year as i32, month as u32, day_of_month as u32)
}

/// Days since 1970-01-01 of a civil date.
pub(crate) fn day_from_civil(year: i32, month: u32, day_of_month: u32) -> i32 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day_of_month) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era - 719_468) as i32
}

/// Month index (`year * 12 + month - 1`) of a day.
pub(crate) fn month_of_day(day: i32) -> i32 {
    let (year, month, _) = civil_from_day(day);
    year * 12 + month as i32 - 1
}

/// The first day of a month index.
pub(crate) fn first_day_of_month(month_idx: i32) -> i32 {
    day_from_civil(
        month_idx.div_euclid(12),
        month_idx.rem_euclid(12) as u32 + 1,
        1,
    )
}

/// Appends `YYYY-MM-DD` for a day.
pub(crate) fn push_date(out: &mut String, day: i32) {
    use std::fmt::Write as _;
    let (year, month, day_of_month) = civil_from_day(day);
    // Writing into a String cannot fail.
    let _ = write!(out, "{year:04}-{month:02}-{day_of_month:02}");
}

/// Appends `YYYY-MM-DDTHH:MM:SSZ` for a day and a second of that day.
pub(crate) fn push_timestamp(out: &mut String, day: i32, second_of_day: u32) {
    use std::fmt::Write as _;
    push_date(out, day);
    let hours = second_of_day / 3600;
    let minutes = second_of_day / 60 % 60;
    let seconds = second_of_day % 60;
    // Writing into a String cannot fail.
    let _ = write!(out, "T{hours:02}:{minutes:02}:{seconds:02}Z");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(date: &str, expected_weekend: bool) {
        let parsed = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let day = day_from_date(parsed);
        assert_eq!(
            civil_from_day(day),
            (parsed.year(), parsed.month(), parsed.day()),
            "{date}"
        );
        assert_eq!(
            day_from_civil(parsed.year(), parsed.month(), parsed.day()),
            day,
            "{date}"
        );
        assert_eq!(is_weekend(day), expected_weekend, "{date}");
        let mut text = String::new();
        push_date(&mut text, day);
        assert_eq!(text, date);
        let month = month_of_day(day);
        let first = first_day_of_month(month);
        assert_eq!(civil_from_day(first), (parsed.year(), parsed.month(), 1));
    }

    #[test]
    fn civil_dates_round_trip() {
        check("1970-01-01", false);
        check("1969-12-31", false);
        check("2000-02-29", false);
        check("2024-02-29", false);
        check("2026-10-31", true);
        check("2026-11-01", true);
        check("2026-11-02", false);
        check("2100-03-01", false);
        check("1900-03-01", false);
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let mut text = String::new();
        push_timestamp(&mut text, 0, 86_399);
        assert_eq!(text, "1970-01-01T23:59:59Z");
    }

    #[test]
    fn calendar_window_matches_months() {
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let calendar = Calendar::new(as_of, 24).unwrap();
        let mut text = String::new();
        push_date(&mut text, calendar.window_start_day);
        push_date(&mut text, calendar.history_start_day);
        assert_eq!(text, "2024-10-312024-04-30");
        assert!(calendar.is_holiday(day_from_civil(2025, 12, 25)));
        assert!(!calendar.is_holiday(day_from_civil(2025, 12, 23)));
    }
}
