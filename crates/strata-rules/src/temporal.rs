//! Reading and writing the text inside `DATE '...'` and `TIMESTAMP '...'` literals.
//!
//! The accepted forms are deliberately strict and small, so that a rule means
//! the same thing in every engine it is compiled for: a date is exactly
//! `YYYY-MM-DD`, and a timestamp is a date optionally followed by `T` or a
//! space, `HH:MM`, optional `:SS`, an optional fraction of up to nine digits
//! and an optional `Z`. Timestamps are naive and read as UTC. The writers
//! produce text that the readers turn back into the same value, which the
//! printer relies on.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// Reads `YYYY-MM-DD`, or `None` when the text is not exactly a real calendar date.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = parse_digits(&text[0..4])?;
    let month = parse_digits(&text[5..7])?;
    let day = parse_digits(&text[8..10])?;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// Reads a timestamp in the forms described in the module docs, or `None`.
pub(crate) fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let date = parse_date(text.get(0..10)?)?;
    let rest = &text[10..];
    if rest.is_empty() {
        return date.and_hms_opt(0, 0, 0);
    }
    let rest = rest.strip_prefix(['T', ' '])?;
    let rest = rest.strip_suffix('Z').unwrap_or(rest);
    let (clock, fraction) = match rest.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (rest, None),
    };
    let mut clock_parts = clock.split(':');
    let hour = parse_two_digits(clock_parts.next()?)?;
    let minute = parse_two_digits(clock_parts.next()?)?;
    let second = match clock_parts.next() {
        Some(second_text) => parse_two_digits(second_text)?,
        None => 0,
    };
    if clock_parts.next().is_some() {
        return None;
    }
    // A fraction only makes sense after the seconds, so `12:30.5` is refused.
    let nanoseconds = match fraction {
        None => 0,
        Some(_) if clock.len() != 8 => return None,
        Some(fraction) => {
            if fraction.is_empty() || fraction.len() > 9 {
                return None;
            }
            let digits = parse_digits(fraction)?;
            digits * 10u32.pow(9 - fraction.len() as u32)
        }
    };
    // Seconds above 59 are refused so that leap-second values never enter a rule.
    if second > 59 {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanoseconds)?;
    Some(date.and_time(time))
}

/// Writes a date as `YYYY-MM-DD`.
pub(crate) fn format_date(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// Writes a timestamp as `YYYY-MM-DD HH:MM:SS`, followed by the fraction when there is one.
pub(crate) fn format_timestamp(timestamp: NaiveDateTime) -> String {
    let mut text = format!(
        "{} {:02}:{:02}:{:02}",
        format_date(timestamp.date()),
        timestamp.hour(),
        timestamp.minute(),
        timestamp.second()
    );
    let nanoseconds = timestamp.nanosecond() % 1_000_000_000;
    if nanoseconds != 0 {
        let fraction = format!("{nanoseconds:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text
}

/// Reads a run of ASCII digits (no sign, no spaces).
fn parse_digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads exactly two ASCII digits.
fn parse_two_digits(text: &str) -> Option<u32> {
    if text.len() != 2 {
        return None;
    }
    parse_digits(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        check_date("2024-01-31", Some("2024-01-31"));
        check_date("0001-12-01", Some("0001-12-01"));
        check_date("2024-02-29", Some("2024-02-29"));
        check_date("2023-02-29", None);
        check_date("2024-13-01", None);
        check_date("2024-1-01", None);
        check_date("24-01-01", None);
        check_date("2024-01-01 ", None);
        check_date("+202-01-01", None);
        check_date("2024/01/01", None);
        check_date("", None);
        check_date("２０２４-01-01", None);
    }

    #[test]
    fn timestamps() {
        check_timestamp("2024-01-31", Some("2024-01-31 00:00:00"));
        check_timestamp("2024-01-31 12:30", Some("2024-01-31 12:30:00"));
        check_timestamp("2024-01-31T12:30:05", Some("2024-01-31 12:30:05"));
        check_timestamp("2024-01-31T12:30:05Z", Some("2024-01-31 12:30:05"));
        check_timestamp("2024-01-31 12:30:05.5", Some("2024-01-31 12:30:05.5"));
        check_timestamp(
            "2024-01-31 12:30:05.000123",
            Some("2024-01-31 12:30:05.000123"),
        );
        check_timestamp(
            "2024-01-31 12:30:05.123456789",
            Some("2024-01-31 12:30:05.123456789"),
        );
        check_timestamp("2024-01-31 12:30:05.1234567891", None);
        check_timestamp("2024-01-31 12:30:05.", None);
        check_timestamp("2024-01-31 12:30.5", None);
        check_timestamp("2024-01-31 24:00:00", None);
        check_timestamp("2024-01-31 23:59:60", None);
        check_timestamp("2024-01-31 1:00", None);
        check_timestamp("2024-01-31X12:00", None);
        check_timestamp("2024-01-31 12:00:00:00", None);
        check_timestamp("2024-01-31 12:00:00+02:00", None);
        check_timestamp("2024-01-3é", None);
    }

    fn check_date(text: &str, expected: Option<&str>) {
        let actual = parse_date(text).map(format_date);
        assert_eq!(actual.as_deref(), expected, "date text {text:?}");
    }

    fn check_timestamp(text: &str, expected: Option<&str>) {
        let actual = parse_timestamp(text).map(format_timestamp);
        assert_eq!(actual.as_deref(), expected, "timestamp text {text:?}");
        if let Some(printed) = &actual {
            assert_eq!(
                parse_timestamp(printed),
                parse_timestamp(text),
                "reprinted {printed:?}"
            );
        }
    }
}
