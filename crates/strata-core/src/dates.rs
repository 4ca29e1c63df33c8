//! Days as the engine counts them: whole days since 1970-01-01 (UTC), the
//! unit of every window, as_of and signup comparison.
use chrono::NaiveDate;

/// Days since 1970-01-01 of a date.
pub fn day_number(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (date - epoch).num_days() as i32
}

/// The date of a day number.
pub fn date_of_day(day: i32) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    epoch + chrono::Duration::days(i64::from(day))
}
