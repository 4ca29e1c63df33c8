//! Column conversion with located errors.
//!
//! Every typed column strata uses goes through [`convert_column`], which
//! casts with Arrow's kernels (the same ones DataFusion uses) and, when a
//! value does not convert, reports the first offending row and its text.
//! This is how a bad date on row 48,113 of a CSV becomes an error that names
//! the file, the row, the column, the value and the expected type.
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, Int64Array, StringArray};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// The UTC timestamp type strata normalizes every timestamp to.
pub fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The target of a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Non-empty text; empty strings become NULL.
    Text,
    /// 64-bit integer.
    Integer,
    /// 64-bit float.
    Float,
    /// Calendar date from a date or a timestamp (the UTC date).
    Date,
    /// UTC microseconds since the epoch, from a timestamp with or without time zone.
    TimestampMicros,
}

impl Target {
    /// How the expected type is named in errors.
    pub fn describe(self) -> &'static str {
        match self {
            Target::Text => "text",
            Target::Integer => "an integer",
            Target::Float => "a number",
            Target::Date => "a date (YYYY-MM-DD) or timestamp",
            Target::TimestampMicros => "a timestamp (e.g. 2026-10-31T14:05:00Z)",
        }
    }
}

/// The first value that failed to convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    /// 0-based row inside the array.
    pub row: usize,
    /// The value as text.
    pub value: String,
}

/// Converts `array` to `target`; NULL stays NULL, anything else that does
/// not convert is a [`BadValue`].
pub fn convert_column(array: &ArrayRef, target: Target) -> Result<ArrayRef, BadValue> {
    let converted = match target {
        Target::Text => {
            let text = cast_safe(array, &DataType::Utf8);
            let strings = text.as_string::<i32>();
            // Empty and whitespace-only strings are missing values, not text.
            let cleaned: StringArray = strings
                .iter()
                .map(|value| value.filter(|v| !v.trim().is_empty()))
                .collect();
            return Ok(Arc::new(cleaned));
        }
        Target::Integer => {
            let direct = cast_safe(array, &DataType::Int64);
            // Floats with no fractional part ("12.0", 12.0) are integers too.
            if first_failure(array, &direct).is_some() {
                let as_float = cast_safe(array, &DataType::Float64);
                let floats = as_float.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
                let merged: Int64Array = (0..array.len())
                    .map(|idx| {
                        if direct.is_valid(idx) {
                            Some(
                                direct
                                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                                    .value(idx),
                            )
                        } else if floats.is_valid(idx) && floats.value(idx).fract() == 0.0 {
                            Some(floats.value(idx) as i64)
                        } else {
                            None
                        }
                    })
                    .collect();
                Arc::new(merged) as ArrayRef
            } else {
                direct
            }
        }
        Target::Float => cast_safe(array, &DataType::Float64),
        Target::Date => {
            let direct = if array.data_type().is_temporal() {
                let utc = cast_safe(array, &utc_micros());
                cast_safe(&utc, &DataType::Date32)
            } else {
                cast_safe(array, &DataType::Date32)
            };
            if first_failure(array, &direct).is_some() && !array.data_type().is_temporal() {
                // A timestamp string: parse it as a UTC instant, then take its date.
                let as_ts = cast_safe(array, &utc_micros());
                let from_ts = cast_safe(&as_ts, &DataType::Date32);
                let direct = direct.as_primitive::<datafusion::arrow::datatypes::Date32Type>();
                let from_ts = from_ts.as_primitive::<datafusion::arrow::datatypes::Date32Type>();
                let merged: Date32Array = (0..array.len())
                    .map(|idx| {
                        if direct.is_valid(idx) {
                            Some(direct.value(idx))
                        } else if from_ts.is_valid(idx) {
                            Some(from_ts.value(idx))
                        } else {
                            None
                        }
                    })
                    .collect();
                Arc::new(merged) as ArrayRef
            } else {
                direct
            }
        }
        Target::TimestampMicros => {
            let utc = cast_safe(array, &utc_micros());
            cast_safe(&utc, &DataType::Int64)
        }
    };
    match first_failure(array, &converted) {
        Some(row) => Err(BadValue {
            row,
            value: value_text(array, row),
        }),
        None => Ok(converted),
    }
}

/// Casts, turning values that do not convert into NULL.
fn cast_safe(array: &ArrayRef, to: &DataType) -> ArrayRef {
    let options = CastOptions {
        safe: true,
        ..Default::default()
    };
    // A cast between unsupported types fails as a whole; treat that as every
    // value failing so the caller reports the first one.
    cast_with_options(array, to, &options)
        .unwrap_or_else(|_| datafusion::arrow::array::new_null_array(to, array.len()))
}

/// The first row where the input had a non-blank value and the output has none.
fn first_failure(input: &ArrayRef, output: &ArrayRef) -> Option<usize> {
    let strings = match input.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            Some(cast_safe(input, &DataType::Utf8))
        }
        _ => None,
    };
    (0..input.len()).find(|&idx| {
        let blank = match &strings {
            Some(strings) => {
                let strings = strings.as_string::<i32>();
                strings.is_null(idx) || strings.value(idx).trim().is_empty()
            }
            None => input.is_null(idx),
        };
        !blank && output.is_null(idx)
    })
}

/// A value rendered as text for an error message.
pub fn value_text(array: &ArrayRef, row: usize) -> String {
    let options = FormatOptions::default();
    match ArrayFormatter::try_new(array.as_ref(), &options) {
        Ok(formatter) => formatter.value(row).to_string(),
        Err(_) => "?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(values: &[Option<&str>], target: Target, expected: Result<&str, (usize, &str)>) {
        let array: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        match (convert_column(&array, target), expected) {
            (Ok(converted), Ok(rendered)) => {
                let got: Vec<String> = (0..converted.len())
                    .map(|idx| {
                        if converted.is_null(idx) {
                            "∅".to_string()
                        } else {
                            value_text(&converted, idx)
                        }
                    })
                    .collect();
                assert_eq!(got.join(","), rendered);
            }
            (Err(bad), Err((row, value))) => assert_eq!(
                bad,
                BadValue {
                    row,
                    value: value.to_string()
                }
            ),
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn conversions() {
        check(
            &[Some("12"), None, Some(""), Some("7.0")],
            Target::Integer,
            Ok("12,∅,∅,7"),
        );
        check(&[Some("12"), Some("7.5")], Target::Integer, Err((1, "7.5")));
        check(&[Some("1.5"), Some("abc")], Target::Float, Err((1, "abc")));
        check(
            &[
                Some("2026-01-31"),
                Some("2026-02-01T23:30:00Z"),
                Some("2026-02-01T23:30:00-02:00"),
            ],
            Target::Date,
            Ok("2026-01-31,2026-02-01,2026-02-02"),
        );
        check(&[Some("2026-13-01")], Target::Date, Err((0, "2026-13-01")));
        check(
            &[
                Some("2026-01-01T00:00:01Z"),
                Some("2026-01-01 02:00:00+02:00"),
                Some("2026-01-01 00:00:00"),
            ],
            Target::TimestampMicros,
            Ok("1767225601000000,1767225600000000,1767225600000000"),
        );
        check(
            &[Some("yesterday")],
            Target::TimestampMicros,
            Err((0, "yesterday")),
        );
        check(&[Some("a"), Some("  "), None], Target::Text, Ok("a,∅,∅"));
    }
}
