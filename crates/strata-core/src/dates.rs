//! Days as the engine counts them: whole days since 1970-01-01 (UTC), the
//! unit of every window, as_of and signup comparison.
use chrono::{Datelike, Months, NaiveDate};

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

/// The month number of a date, `year * 12 + month0` (as revenue months
/// are counted).
pub fn month_number(date: NaiveDate) -> i32 {
    date.year() * 12 + date.month0() as i32
}

/// `days` after `date` (the date itself past the calendar's end).
pub fn days_after(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_add_days(chrono::Days::new(u64::from(days)))
        .unwrap_or(date)
}

/// How often a backfill (or a backtest) computes a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// Every day.
    Day,
    /// Every 7 days.
    Week,
    /// Every calendar month, on the day of month of the first date; from a
    /// month's last day, on every month's last day.
    Month,
}

/// Whether `date` is the last day of its month.
pub fn is_month_end(date: NaiveDate) -> bool {
    date.succ_opt()
        .is_none_or(|next| next.month() != date.month())
}

/// The last day of `date`'s month.
pub fn month_end(date: NaiveDate) -> NaiveDate {
    let first = date.with_day(1).unwrap_or(date);
    first
        .checked_add_months(Months::new(1))
        .and_then(|next| next.pred_opt())
        .unwrap_or(date)
}

/// The dates from `from` to `to`, both included, `every` apart. Monthly
/// steps are counted from `from` (Jan 31 → Feb 28 → Mar 31), and stay on
/// month ends when `from` is one (Apr 30 → May 31).
pub fn backfill_dates(from: NaiveDate, to: NaiveDate, every: Every) -> Vec<NaiveDate> {
    let mut dates = Vec::new();
    let month_ends = is_month_end(from);
    let mut step = 0u32;
    loop {
        let date = match every {
            Every::Day => from.checked_add_days(chrono::Days::new(u64::from(step))),
            Every::Week => from.checked_add_days(chrono::Days::new(7 * u64::from(step))),
            Every::Month => from
                .checked_add_months(Months::new(step))
                .map(|date| if month_ends { month_end(date) } else { date }),
        };
        match date {
            Some(date) if date <= to => dates.push(date),
            _ => break,
        }
        step += 1;
    }
    dates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn monthly_steps_keep_month_ends() {
        let dates = backfill_dates(date("2026-04-30"), date("2026-08-31"), Every::Month);
        let texts: Vec<String> = dates.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "2026-04-30",
                "2026-05-31",
                "2026-06-30",
                "2026-07-31",
                "2026-08-31"
            ]
        );
        let dates = backfill_dates(date("2026-01-31"), date("2026-03-31"), Every::Month);
        assert_eq!(
            dates,
            [date("2026-01-31"), date("2026-02-28"), date("2026-03-31")]
        );
        // Mid-month dates keep their day.
        let dates = backfill_dates(date("2026-01-15"), date("2026-03-20"), Every::Month);
        assert_eq!(
            dates,
            [date("2026-01-15"), date("2026-02-15"), date("2026-03-15")]
        );
        assert_eq!(
            backfill_dates(date("2026-01-01"), date("2026-01-15"), Every::Week).len(),
            3
        );
        assert_eq!(month_end(date("2028-02-03")), date("2028-02-29"));
    }
}
