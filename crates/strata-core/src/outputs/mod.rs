//! Outputs of a run: the files DESIGN.md names, written into an output folder.
//!
//! | file | content |
//! |---|---|
//! | `memberships.csv` | `account_id,segmentation,segment`, one row per account and segmentation (empty segment: unassigned) |
//! | `features.parquet` | `account_id` and every feature |
//! | `segments.json` | per segmentation and segment: economics; the overall base |
//!
//! Each file is written to a temporary name and renamed into place, so a
//! reader never sees half a file. With the same inputs the bytes are the same.
pub mod report;

use crate::files::write_atomically;
pub use crate::files::{csv_field, write_file_atomically};
use std::io::Write;
use std::path::{Path, PathBuf};

use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::pipeline::RunResult;

/// The memberships file name.
pub const MEMBERSHIPS: &str = "memberships.csv";
/// The features file name.
pub const FEATURES: &str = "features.parquet";
/// The segments file name.
pub const SEGMENTS: &str = "segments.json";
/// The learned risks, when the project learns them.
pub const RISK: &str = "risk.json";
/// The backtests, when a run (or `strata backtest`) made them.
pub const BACKTEST: &str = "backtest.json";

/// Writes `OUT/backtest.json` (see [`crate::backtest::backtests_json`]).
pub fn write_backtests(backtests: &[crate::backtest::Backtest], out_dir: &Path) -> Result<PathBuf> {
    let path = out_dir.join(BACKTEST);
    let text = serde_json::to_string_pretty(&crate::backtest::backtests_json(backtests))
        .map_err(|e| Error::Internal(format!("cannot serialize backtests: {e}")))?;
    write_file_atomically(&path, format!("{text}\n").as_bytes())?;
    Ok(path)
}

/// Writes every output of `result` into `out_dir`; returns the paths written.
pub fn write_all(result: &RunResult, out_dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let memberships = out_dir.join(MEMBERSHIPS);
    write_atomically(&memberships, |file| write_memberships(result, file))?;
    let features = out_dir.join(FEATURES);
    write_atomically(&features, |file| write_features(result, file))?;
    let segments = out_dir.join(SEGMENTS);
    write_atomically(&segments, |file| {
        // Buffered: the document is written piece by piece.
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut *file);
        write_segments(SegmentsDocument::of(result), &mut out)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
            .map_err(|e| Error::io(out_dir.join(SEGMENTS), e))
    })?;
    let mut written = vec![memberships, features, segments];
    if let Some(risk) = &result.risk {
        let path = out_dir.join(RISK);
        let json = risk.to_json(result.as_of, &result.account_ids());
        let text = serde_json::to_string_pretty(&json)
            .map_err(|e| Error::Internal(format!("cannot serialize risk: {e}")))?;
        write_file_atomically(&path, format!("{text}\n").as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `OUT/report.html` (see [`report`]); `history` adds segment sizes over time.
pub fn write_report(
    result: &RunResult,
    history: &[report::SizePoint],
    extras: report::Extras<'_>,
    out_dir: &Path,
) -> Result<PathBuf> {
    let path = out_dir.join("report.html");
    write_file_atomically(
        &path,
        report::report_html(result, history, extras).as_bytes(),
    )?;
    Ok(path)
}

/// Calls `visit(account_id, segmentation, segment)` for every account and
/// segmentation, accounts in feature-table order: the rows of
/// `memberships.csv` (`None`: unassigned).
pub fn for_each_membership<E>(
    result: &RunResult,
    mut visit: impl FnMut(&str, &str, Option<&str>) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    for (account_idx, id) in result.account_ids().iter().enumerate() {
        for segmentation in &result.segmentations {
            let segment = segmentation.membership[account_idx]
                .map(|idx| segmentation.segments[idx].name.as_str());
            visit(id, &segmentation.name, segment)?;
        }
    }
    Ok(())
}

/// The memberships as a record batch (`account_id`, `segmentation`,
/// `segment`; a null segment is unassigned), in the order of `memberships.csv`.
pub fn memberships_batch(result: &RunResult) -> Result<datafusion::arrow::array::RecordBatch> {
    use datafusion::arrow::array::{ArrayRef, StringBuilder};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let mut accounts = StringBuilder::new();
    let mut segmentations = StringBuilder::new();
    let mut segments = StringBuilder::new();
    for_each_membership::<std::convert::Infallible>(result, |id, segmentation, segment| {
        accounts.append_value(id);
        segmentations.append_value(segmentation);
        segments.append_option(segment);
        Ok(())
    })
    .ok();
    let schema = Schema::new(vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("segmentation", DataType::Utf8, false),
        Field::new("segment", DataType::Utf8, true),
    ]);
    Ok(datafusion::arrow::array::RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(accounts.finish()) as ArrayRef,
            Arc::new(segmentations.finish()),
            Arc::new(segments.finish()),
        ],
    )?)
}

fn write_memberships(result: &RunResult, file: &mut std::fs::File) -> Result<()> {
    let path = PathBuf::from(MEMBERSHIPS);
    let mut out = std::io::BufWriter::new(file);
    let io = |e| Error::io(&path, e);
    writeln!(out, "account_id,segmentation,segment").map_err(io)?;
    for_each_membership(result, |id, segmentation, segment| {
        writeln!(
            out,
            "{},{},{}",
            csv_field(id),
            csv_field(segmentation),
            csv_field(segment.unwrap_or(""))
        )
    })
    .map_err(io)?;
    out.flush().map_err(io)
}

fn write_features(result: &RunResult, file: &mut std::fs::File) -> Result<()> {
    write_batch(&result.features.batch, file)
}

fn write_batch(
    batch: &datafusion::arrow::array::RecordBatch,
    file: &mut std::fs::File,
) -> Result<()> {
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(properties))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(())
}

/// Writes `batch` to a Parquet file at `path`, atomically.
pub fn write_parquet(path: &Path, batch: &datafusion::arrow::array::RecordBatch) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    write_atomically(path, |file| write_batch(batch, file))
}

/// The content of `segments.json`.
///
/// With score segmentations, `scores` holds per segmentation every
/// account's score explained group by group and measure by measure.
pub fn segments_json(result: &RunResult) -> serde_json::Value {
    serde_json::to_value(SegmentsDocument::of(result)).unwrap_or_default()
}

/// `segments.json` as it is serialized: what [`segments_json`] holds,
/// written piece by piece (every account's explained score would take
/// gigabytes as a `serde_json::Value` at a million accounts).
#[derive(serde::Serialize)]
struct SegmentsDocument<'a> {
    as_of: String,
    accounts: usize,
    events: u64,
    overall: &'a crate::measures::Economics,
    nrr_spread: &'a crate::measures::quality::NrrSpread,
    segmentations: &'a [crate::pipeline::SegmentationResult],
    unknown_events: &'a crate::features::UnknownEvents,
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Scores::is_empty")]
    scores: Scores<'a>,
}

impl<'a> SegmentsDocument<'a> {
    fn of(result: &'a RunResult) -> Self {
        let lists: Vec<(&str, &[crate::score::AccountScore])> = result
            .segmentations
            .iter()
            .filter_map(|s| Some((s.name.as_str(), s.scores.as_deref()?)))
            .collect();
        // Account ids only where a score is written beside them.
        let ids = match lists.is_empty() {
            true => Vec::new(),
            false => result.account_ids(),
        };
        SegmentsDocument {
            as_of: result.as_of.to_string(),
            accounts: result.features.batch.num_rows(),
            events: result.event_rows,
            overall: &result.overall,
            nrr_spread: &result.nrr_spread,
            segmentations: &result.segmentations,
            unknown_events: &result.features.unknown,
            warnings: result.warnings.iter().map(|w| w.to_string()).collect(),
            scores: Scores { ids, lists },
        }
    }
}

/// Items of an array rendered at once, a chunk of them per task.
const ITEMS_AT_ONCE: usize = 1 << 16;

/// Writes `document` as `serde_json::to_writer_pretty` does, byte for byte,
/// the scores' rows rendered on every core ([`write_pretty_array`]).
fn write_segments(mut document: SegmentsDocument<'_>, out: &mut impl Write) -> std::io::Result<()> {
    let scores = std::mem::replace(
        &mut document.scores,
        Scores {
            ids: Vec::new(),
            lists: Vec::new(),
        },
    );
    let head = serde_json::to_vec_pretty(&document)?;
    if scores.is_empty() {
        return out.write_all(&head);
    }
    // The document without its closing "\n}", then its last field.
    out.write_all(&head[..head.len().saturating_sub(2)])?;
    out.write_all(b",\n  \"scores\": {")?;
    for (position, (name, list)) in scores.lists.iter().enumerate() {
        let separator: &[u8] = if position == 0 { b"\n    " } else { b",\n    " };
        out.write_all(separator)?;
        serde_json::to_writer(&mut *out, name)?;
        out.write_all(b": ")?;
        let rows = scores.ids.len().min(list.len());
        write_pretty_array(out, rows, 2, |row| ScoreRow {
            score: &list[row],
            account_id: &scores.ids[row],
        })?;
    }
    out.write_all(b"\n  }\n}")
}

/// Writes the `n` items `item(0)`, ... as the JSON array serde_json's
/// pretty printer writes as a value `depth` levels deep (2 spaces a
/// level), byte for byte, rendering the items on every core: each item is
/// rendered on its own and indented to its depth (a rendered JSON text
/// holds line breaks only between its tokens: strings escape theirs), a
/// window of [`ITEMS_AT_ONCE`] items at a time.
fn write_pretty_array<T: serde::Serialize>(
    out: &mut impl Write,
    n: usize,
    depth: usize,
    item: impl Fn(usize) -> T + Sync,
) -> std::io::Result<()> {
    if n == 0 {
        return out.write_all(b"[]");
    }
    let indent = vec![b' '; 2 * (depth + 1)];
    out.write_all(b"[")?;
    for start in (0..n).step_by(ITEMS_AT_ONCE) {
        let end = (start + ITEMS_AT_ONCE).min(n);
        let rendered: Vec<Vec<u8>> = (start..end)
            .into_par_iter()
            .chunks(1024)
            .map(|chunk| -> serde_json::Result<Vec<u8>> {
                let mut text = Vec::new();
                for at in chunk {
                    text.extend_from_slice(if at == 0 { b"\n" } else { b",\n" });
                    text.extend_from_slice(&indent);
                    for byte in serde_json::to_vec_pretty(&item(at))? {
                        text.push(byte);
                        if byte == b'\n' {
                            text.extend_from_slice(&indent);
                        }
                    }
                }
                Ok(text)
            })
            .collect::<serde_json::Result<_>>()?;
        for text in rendered {
            out.write_all(&text)?;
        }
    }
    out.write_all(b"\n")?;
    out.write_all(&indent[2..])?;
    out.write_all(b"]")
}

/// Per score segmentation, every account's score with its `account_id`.
struct Scores<'a> {
    ids: Vec<String>,
    lists: Vec<(&'a str, &'a [crate::score::AccountScore])>,
}

impl Scores<'_> {
    fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

/// One account's score, then its id.
#[derive(serde::Serialize)]
struct ScoreRow<'a> {
    #[serde(flatten)]
    score: &'a crate::score::AccountScore,
    account_id: &'a str,
}

impl serde::Serialize for Scores<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.lists.len()))?;
        for (name, scores) in &self.lists {
            let rows: Vec<ScoreRow<'_>> = self
                .ids
                .iter()
                .zip(scores.iter())
                .map(|(id, score)| ScoreRow {
                    score,
                    account_id: id,
                })
                .collect();
            map.serialize_entry(name, &rows)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items with nested objects and arrays, empty ones, and strings with
    /// line breaks, quotes and non-ASCII text.
    fn items(n: usize) -> Vec<serde_json::Value> {
        (0..n)
            .map(|i| {
                serde_json::json!({
                    "id": format!("acct_{i}"),
                    "score": i as f64 / 3.0,
                    "why": "line one\nline \"two\" — ok",
                    "groups": [{"name": "usage", "measures": [], "points": [1, 2]}],
                    "none": null,
                    "empty": {},
                })
            })
            .collect()
    }

    fn rendered(n: usize, depth: usize) -> Vec<u8> {
        let all = items(n);
        let mut out = Vec::new();
        write_pretty_array(&mut out, n, depth, |at| &all[at]).unwrap();
        out
    }

    #[test]
    fn pretty_arrays_rendered_in_parallel_are_serdes_bytes() {
        // More items than one window, so windows and chunks join.
        for n in [0, 1, 2, 1500, ITEMS_AT_ONCE + 3] {
            let all = items(n);
            assert_eq!(
                rendered(n, 0),
                serde_json::to_vec_pretty(&all).unwrap(),
                "{n} items at the top"
            );
            // Two levels deep: the value of a key of an object in an object.
            let nested = serde_json::json!({"a": 1, "b": {"list": all}});
            let mut by_hand = b"{\n  \"a\": 1,\n  \"b\": {\n    \"list\": ".to_vec();
            by_hand.extend(rendered(n, 2));
            by_hand.extend(b"\n  }\n}");
            assert_eq!(
                String::from_utf8(by_hand).unwrap(),
                serde_json::to_string_pretty(&nested).unwrap(),
                "{n} items two levels deep"
            );
        }
    }
}
