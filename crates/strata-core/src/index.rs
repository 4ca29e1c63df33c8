//! The in-memory membership index: an account id to its segment in every
//! segmentation, built once per run and then only read.
//!
//! It is what `GET /v1/accounts/{id}/segments` answers from, so a lookup is
//! one hash probe and a few slice reads, and the JSON answer is written from
//! names escaped when the index was built.
//!
//! **Invariants**: an index is immutable after [`MembershipIndex::build`];
//! the server swaps whole indexes, so a reader never sees half of a run.
//! Account ids are unique (the sources reject duplicates); the first row of a
//! duplicated id would win.
use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::pipeline::RunResult;

/// Membership code of an account that is in no segment of a segmentation.
const NONE: u16 = u16::MAX;

/// One segmentation as the index knows it.
#[derive(Debug, Clone)]
struct IndexedSegmentation {
    /// The name as a JSON string, quotes included.
    name_json: String,
    /// Segment names as JSON strings, quotes included.
    segments_json: Vec<String>,
    /// Segment names.
    segments: Vec<String>,
    /// The name.
    name: String,
}

/// Account id → segment per segmentation, for one run.
#[derive(Debug, Clone)]
pub struct MembershipIndex {
    run_id: Option<i64>,
    as_of: NaiveDate,
    segmentations: Vec<IndexedSegmentation>,
    rows: HashMap<Box<str>, u32>,
    /// Row-major: `rows.len() × segmentations.len()` codes.
    codes: Vec<u16>,
}

/// One account's segments: (segmentation, segment or `None` when unassigned).
pub type AccountSegments<'a> = Vec<(&'a str, Option<&'a str>)>;

impl MembershipIndex {
    /// Builds an index from account ids and, per segmentation, its name, its
    /// segment names and every account's segment index (same order as `ids`).
    ///
    /// # Errors
    ///
    /// A membership list whose length differs from `ids`, a segment index out
    /// of range, or more than 65,534 segments in one segmentation: all bugs of
    /// the caller, reported rather than indexed wrongly.
    pub fn build(
        run_id: Option<i64>,
        as_of: NaiveDate,
        ids: Vec<String>,
        segmentations: Vec<(String, Vec<String>, &[Option<usize>])>,
    ) -> Result<MembershipIndex> {
        let width = segmentations.len();
        let mut codes = vec![NONE; ids.len() * width];
        let mut indexed = Vec::with_capacity(width);
        for (column, (name, segments, membership)) in segmentations.into_iter().enumerate() {
            if membership.len() != ids.len() {
                return Err(Error::Internal(format!(
                    "segmentation `{name}` has {} memberships for {} accounts",
                    membership.len(),
                    ids.len()
                )));
            }
            if segments.len() >= usize::from(NONE) {
                return Err(Error::Internal(format!(
                    "segmentation `{name}` has {} segments; the index holds at most {}",
                    segments.len(),
                    NONE - 1
                )));
            }
            for (row, member) in membership.iter().enumerate() {
                if let Some(segment) = member {
                    if *segment >= segments.len() {
                        return Err(Error::Internal(format!(
                            "segmentation `{name}`: segment {segment} of {}",
                            segments.len()
                        )));
                    }
                    codes[row * width + column] = *segment as u16;
                }
            }
            indexed.push(IndexedSegmentation {
                name_json: json_string(&name),
                segments_json: segments.iter().map(|s| json_string(s)).collect(),
                segments,
                name,
            });
        }
        let mut rows = HashMap::with_capacity(ids.len());
        for (row, id) in ids.into_iter().enumerate() {
            rows.entry(id.into_boxed_str()).or_insert(row as u32);
        }
        Ok(MembershipIndex {
            run_id,
            as_of,
            segmentations: indexed,
            rows,
            codes,
        })
    }

    /// The index of a finished run (`run_id` is the state store's id, if recorded).
    ///
    /// # Errors
    ///
    /// As [`MembershipIndex::build`].
    pub fn of_run(result: &RunResult, run_id: Option<i64>) -> Result<MembershipIndex> {
        let segmentations = result
            .segmentations
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.segments
                        .iter()
                        .map(|segment| segment.name.clone())
                        .collect(),
                    s.membership.as_slice(),
                )
            })
            .collect();
        MembershipIndex::build(run_id, result.as_of, result.account_ids(), segmentations)
    }

    /// Number of accounts.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the index holds no account.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The run the index was built from, if it was recorded.
    pub fn run_id(&self) -> Option<i64> {
        self.run_id
    }

    /// The as-of date of that run.
    pub fn as_of(&self) -> NaiveDate {
        self.as_of
    }

    /// The account's segment in every segmentation, or `None` for an unknown account.
    pub fn segments_of(&self, account: &str) -> Option<AccountSegments<'_>> {
        let row = *self.rows.get(account)? as usize;
        Some(
            self.segmentations
                .iter()
                .zip(self.row_codes(row))
                .map(|(segmentation, code)| {
                    (
                        segmentation.name.as_str(),
                        (*code != NONE).then(|| segmentation.segments[*code as usize].as_str()),
                    )
                })
                .collect(),
        )
    }

    /// The JSON answer for one account, or `None` for an unknown account:
    /// `{"account_id":…,"as_of":"YYYY-MM-DD","run_id":…,"segments":{"size":"SMB","usage":null}}`.
    pub fn account_json(&self, account: &str) -> Option<String> {
        let row = *self.rows.get(account)? as usize;
        let mut out = String::with_capacity(96 + 32 * self.segmentations.len());
        out.push_str("{\"account_id\":");
        out.push_str(&json_string(account));
        let _ = write!(out, ",\"as_of\":\"{}\",\"run_id\":", self.as_of);
        match self.run_id {
            Some(id) => {
                let _ = write!(out, "{id}");
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"segments\":{");
        for (idx, (segmentation, code)) in self
            .segmentations
            .iter()
            .zip(self.row_codes(row))
            .enumerate()
        {
            if idx > 0 {
                out.push(',');
            }
            out.push_str(&segmentation.name_json);
            out.push(':');
            if *code == NONE {
                out.push_str("null");
            } else {
                out.push_str(&segmentation.segments_json[*code as usize]);
            }
        }
        out.push_str("}}");
        Some(out)
    }

    /// Bytes the index holds on the heap (ids, hash table, codes), estimated
    /// from capacities; the allocator's own overhead is not counted.
    pub fn heap_bytes(&self) -> usize {
        let slot = std::mem::size_of::<(Box<str>, u32)>() + 1;
        let ids: usize = self.rows.keys().map(|id| id.len()).sum();
        self.rows.capacity() * slot + ids + self.codes.capacity() * 2
    }

    fn row_codes(&self, row: usize) -> &[u16] {
        let width = self.segmentations.len();
        &self.codes[row * width..(row + 1) * width]
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> MembershipIndex {
        let size = [Some(0), Some(1), None];
        let usage = [None, Some(0), Some(0)];
        MembershipIndex::build(
            Some(7),
            NaiveDate::from_ymd_opt(2026, 3, 31).unwrap_or_default(),
            vec!["a1".into(), "a\"2".into(), "a3".into()],
            vec![
                ("size".into(), vec!["SMB".into(), "Mid".into()], &size[..]),
                ("usage".into(), vec!["power".into()], &usage[..]),
            ],
        )
        .expect("valid index")
    }

    #[test]
    fn looks_up_every_segmentation() {
        let index = index();
        assert_eq!(index.len(), 3);
        assert_eq!(
            index.segments_of("a1"),
            Some(vec![("size", Some("SMB")), ("usage", None)])
        );
        assert_eq!(
            index.segments_of("a3"),
            Some(vec![("size", None), ("usage", Some("power"))])
        );
        assert_eq!(index.segments_of("nobody"), None);
    }

    #[test]
    fn answers_escaped_json() {
        let index = index();
        let text = index.account_json("a\"2").expect("known account");
        assert_eq!(
            text,
            r#"{"account_id":"a\"2","as_of":"2026-03-31","run_id":7,"segments":{"size":"Mid","usage":"power"}}"#
        );
        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(value["segments"]["size"], "Mid");
        assert_eq!(index.account_json("missing"), None);
    }

    #[test]
    fn rejects_inconsistent_inputs() {
        let short = [Some(0)];
        let error = MembershipIndex::build(
            None,
            NaiveDate::default(),
            vec!["a".into(), "b".into()],
            vec![("size".into(), vec!["SMB".into()], &short[..])],
        )
        .expect_err("length mismatch");
        assert!(error.to_string().contains("1 memberships for 2 accounts"));
        let out_of_range = [Some(3)];
        let error = MembershipIndex::build(
            None,
            NaiveDate::default(),
            vec!["a".into()],
            vec![("size".into(), vec!["SMB".into()], &out_of_range[..])],
        )
        .expect_err("out of range");
        assert!(error.to_string().contains("segment 3 of 1"));
    }
}
