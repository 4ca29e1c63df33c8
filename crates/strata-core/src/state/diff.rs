//! What changed between the latest run and this one, and why.
//!
//! [`diff`] compares this run's memberships with the store's open intervals
//! and yields the intervals to close and open and the transitions. A
//! transition is *movement* when the segmentation's definition is the same
//! version as before and *redefinition* when it is not, so editing a rule
//! does not look like the whole base moved.
//!
//! [`explain`] then gives every transition its reasons: the rule that
//! matched before (from the stored definition that produced the old
//! membership) and the rule that matches now, the values of the features
//! those rules read, before and after (the previous run's values come from a
//! compact Arrow IPC snapshot of just those columns), and for clusters the
//! distances to the old and new centroids and the features that moved most
//! in the clustering's own standardized units.
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Cursor;
use std::rc::Rc;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::util::display::array_value_to_string;

use super::{
    Cause, CloseMembership, CurrentMembership, OpenMembership, SegmentationSnapshot, Snapshot,
    Transition,
};
use crate::catalog::format_value;
use crate::error::Result;
use crate::rules;

pub(super) struct DiffInput<'a> {
    pub run_id: i64,
    pub as_of: NaiveDate,
    pub result: &'a Snapshot<'a>,
    pub versions: &'a BTreeMap<String, i64>,
    pub current: &'a HashMap<String, HashMap<String, CurrentMembership>>,
    /// No live run yet: record memberships, report no transitions.
    pub baseline: bool,
}

#[derive(Debug, Default)]
pub(super) struct Changes {
    pub closes: Vec<CloseMembership>,
    pub opens: Vec<OpenMembership>,
    pub transitions: Vec<Transition>,
}

fn segment_name(segmentation: &SegmentationSnapshot<'_>, idx: Option<usize>) -> Option<String> {
    idx.and_then(|idx| segmentation.segments.get(idx))
        .map(|segment| segment.name.to_string())
}

pub(super) fn diff(input: DiffInput<'_>) -> Changes {
    let mut changes = Changes::default();
    let accounts = input.result.account_ids();
    let mut seq = 0i64;
    let mut transition = |segmentation: &str,
                          account: &str,
                          from: Option<&CurrentMembership>,
                          to: Option<String>,
                          to_version: i64,
                          cause: Cause| {
        seq += 1;
        Transition {
            run_id: input.run_id,
            seq,
            as_of: input.as_of,
            segmentation: segmentation.to_string(),
            account_id: account.to_string(),
            from: from.and_then(|f| f.segment.clone()),
            to,
            from_version: from.map(|f| f.version_id),
            to_version,
            cause,
            from_rule: None,
            to_rule: None,
            reason: String::new(),
            explanation: serde_json::Value::Null,
        }
    };
    let mut live: HashSet<&str> = HashSet::new();
    for segmentation in &input.result.segmentations {
        live.insert(segmentation.name);
        let version_id = input.versions.get(segmentation.name).copied().unwrap_or(0);
        let current = input.current.get(segmentation.name);
        let report = !input.baseline && current.is_some();
        let mut seen: HashSet<&str> = HashSet::with_capacity(accounts.len());
        for (account, membership) in accounts.iter().zip(segmentation.membership) {
            seen.insert(account);
            let segment = segment_name(segmentation, *membership);
            let open = OpenMembership {
                segmentation: segmentation.name.to_string(),
                account_id: account.clone(),
                segment: segment.clone(),
                version_id,
            };
            match current.and_then(|c| c.get(account)) {
                None => {
                    if report {
                        changes.transitions.push(transition(
                            segmentation.name,
                            account,
                            None,
                            segment,
                            version_id,
                            Cause::Entered,
                        ));
                    }
                    changes.opens.push(open);
                }
                Some(previous) if previous.segment != segment => {
                    let cause = if previous.version_id == version_id {
                        Cause::Movement
                    } else {
                        Cause::Redefinition
                    };
                    changes.transitions.push(transition(
                        segmentation.name,
                        account,
                        Some(previous),
                        segment,
                        version_id,
                        cause,
                    ));
                    changes.closes.push((
                        segmentation.name.to_string(),
                        account.clone(),
                        previous.from_run,
                    ));
                    changes.opens.push(open);
                }
                Some(previous) if previous.version_id != version_id => {
                    changes.closes.push((
                        segmentation.name.to_string(),
                        account.clone(),
                        previous.from_run,
                    ));
                    changes.opens.push(open);
                }
                Some(_) => {}
            }
        }
        if let Some(current) = current {
            let mut gone: Vec<(&String, &CurrentMembership)> = current
                .iter()
                .filter(|(account, _)| !seen.contains(account.as_str()))
                .collect();
            gone.sort_by(|a, b| a.0.cmp(b.0));
            for (account, previous) in gone {
                if report {
                    changes.transitions.push(transition(
                        segmentation.name,
                        account,
                        Some(previous),
                        None,
                        version_id,
                        Cause::Left,
                    ));
                }
                changes.closes.push((
                    segmentation.name.to_string(),
                    account.clone(),
                    previous.from_run,
                ));
            }
        }
    }
    // Segmentations removed from the project: their memberships end here,
    // silently (nobody is told that a segmentation no longer exists).
    let mut removed: Vec<(&String, &HashMap<String, CurrentMembership>)> = input
        .current
        .iter()
        .filter(|(name, _)| !live.contains(name.as_str()))
        .collect();
    removed.sort_by(|a, b| a.0.cmp(b.0));
    for (name, members) in removed {
        for (account, previous) in members {
            changes
                .closes
                .push((name.clone(), account.clone(), previous.from_run));
        }
    }
    changes
}

/// In a segmentation whose definition changed, a change is the
/// redefinition's doing only if the *old* rules, applied to this run's data,
/// still give the old segment; otherwise the account moved anyway and the
/// change is movement. Old definitions whose rules no longer check against
/// the feature table (a removed feature) leave their changes as
/// redefinitions.
pub(super) async fn reclassify_redefinitions(
    transitions: &mut [Transition],
    result: &Snapshot<'_>,
    bodies: &HashMap<i64, String>,
) -> Result<()> {
    let schema = result.rule_schema();
    let mut old_versions: Vec<(String, i64)> = transitions
        .iter()
        .filter(|t| t.cause == Cause::Redefinition)
        .filter_map(|t| t.from_version.map(|v| (t.segmentation.clone(), v)))
        .collect();
    old_versions.sort();
    old_versions.dedup();
    if old_versions.is_empty() {
        return Ok(());
    }
    let rows: HashMap<String, usize> = result.account_rows();
    let ctx = datafusion::prelude::SessionContext::new();
    for (segmentation, version) in old_versions {
        let Some(body) = bodies.get(&version) else {
            continue;
        };
        let segments = super::definitions::segments_of(body);
        let checked: Option<Vec<rules::CheckedRule>> = segments
            .iter()
            .map(|segment| rules::check_predicate(&segment.when, &schema).ok())
            .collect();
        let Some(checked) = checked.filter(|rules| !rules.is_empty()) else {
            continue;
        };
        let old_members = crate::eval::first_matches(&ctx, result.features, &checked)?;
        for transition in transitions.iter_mut().filter(|t| {
            t.cause == Cause::Redefinition
                && t.segmentation == segmentation
                && t.from_version == Some(version)
        }) {
            let Some(&row) = rows.get(&transition.account_id) else {
                continue;
            };
            let old_now = old_members[row].map(|idx| segments[idx].name.clone());
            if old_now != transition.from {
                transition.cause = Cause::Movement;
            }
        }
    }
    Ok(())
}

/// The feature columns a run's segmentations read.
fn explained_columns(result: &Snapshot<'_>) -> Vec<String> {
    let schema = result.rule_schema();
    let mut columns: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !columns.iter().any(|c| c == name) {
            columns.push(name.to_string());
        }
    };
    for segmentation in &result.segmentations {
        if let Some(discovery) = segmentation.discovery {
            for feature in &discovery.model.features {
                add(feature);
            }
        } else {
            for segment in &segmentation.segments {
                for column in rule_columns(segment.rule, &schema) {
                    add(&column);
                }
            }
        }
    }
    columns
}

fn rule_columns(rule: &str, schema: &rules::Schema) -> Vec<String> {
    if rule.is_empty() {
        return Vec::new();
    }
    rules::check_predicate(rule, schema)
        .map(|rule| rule.columns())
        .unwrap_or_default()
}

/// The account ids and the feature columns the run's segmentations read, as
/// Arrow IPC: what the next run explains its transitions with.
pub fn feature_snapshot(result: &Snapshot<'_>) -> Result<Vec<u8>> {
    let batch = result.features;
    let schema = batch.schema();
    let mut indices = vec![0usize];
    for column in explained_columns(result) {
        if let Ok(idx) = schema.index_of(&column)
            && idx != 0
        {
            indices.push(idx);
        }
    }
    let projected = batch.project(&indices)?;
    let mut bytes = Vec::new();
    {
        let mut writer = StreamWriter::try_new(&mut bytes, &projected.schema())?;
        writer.write(&projected)?;
        writer.finish()?;
    }
    Ok(bytes)
}

fn read_snapshot(bytes: &[u8]) -> Result<Option<RecordBatch>> {
    let reader = StreamReader::try_new(Cursor::new(bytes), None)?;
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.collect::<std::result::Result<_, _>>()?;
    Ok(Some(datafusion::arrow::compute::concat_batches(
        &schema, &batches,
    )?))
}

/// A column's value at a row, for display, and as a number when numeric.
struct Column {
    array: ArrayRef,
    numbers: Option<ArrayRef>,
    integer: bool,
}

impl Column {
    fn new(array: ArrayRef) -> Column {
        let numbers = if array.data_type().is_numeric() || array.data_type() == &DataType::Boolean {
            cast(&array, &DataType::Float64).ok()
        } else {
            None
        };
        let integer = array.data_type().is_integer();
        Column {
            array,
            numbers,
            integer,
        }
    }
    fn number(&self, row: usize) -> Option<f64> {
        let numbers = self.numbers.as_ref()?.as_primitive::<Float64Type>();
        numbers.is_valid(row).then(|| numbers.value(row))
    }
    fn text(&self, name: &str, row: usize) -> String {
        if self.array.is_null(row) {
            return "NULL".to_string();
        }
        match self.number(row) {
            Some(value) if self.integer => format!("{}", value as i64),
            Some(value) => format_value(name, value),
            None => array_value_to_string(&self.array, row).unwrap_or_default(),
        }
    }
    fn json(&self, row: usize) -> serde_json::Value {
        if self.array.is_null(row) {
            return serde_json::Value::Null;
        }
        match self.number(row) {
            Some(value) if self.integer => serde_json::json!(value as i64),
            Some(value) => serde_json::json!(value),
            None => serde_json::json!(array_value_to_string(&self.array, row).unwrap_or_default()),
        }
    }
}

/// A batch's columns by name, each converted to numbers once, on first use:
/// a run explains many transitions from the same few columns.
struct Columns<'a> {
    batch: &'a RecordBatch,
    cache: RefCell<HashMap<String, Option<Rc<Column>>>>,
}

impl<'a> Columns<'a> {
    fn new(batch: &'a RecordBatch) -> Columns<'a> {
        Columns {
            batch,
            cache: RefCell::new(HashMap::new()),
        }
    }

    fn get(&self, name: &str) -> Option<Rc<Column>> {
        let mut cache = self.cache.borrow_mut();
        cache
            .entry(name.to_string())
            .or_insert_with(|| {
                let idx = self.batch.schema().index_of(name).ok()?;
                Some(Rc::new(Column::new(Arc::clone(self.batch.column(idx)))))
            })
            .clone()
    }
}

/// Feature values before and after for the named columns, those that
/// changed, largest relative change first: `(name, before, after, json)`.
fn explain_features(
    columns: &[String],
    before: Option<(&Columns<'_>, usize)>,
    after: (&Columns<'_>, usize),
) -> Vec<(String, String, String, serde_json::Value)> {
    let mut out: Vec<(f64, String, String, String, serde_json::Value)> = Vec::new();
    for name in columns {
        let Some(after_column) = after.0.get(name) else {
            continue;
        };
        let after_text = after_column.text(name, after.1);
        let (before_text, before_json, change) = match before {
            Some((columns, row)) => match columns.get(name) {
                Some(column) => {
                    let change = match (column.number(row), after_column.number(after.1)) {
                        (Some(b), Some(a)) => (a - b).abs() / b.abs().max(a.abs()).max(1e-9),
                        _ => 1.0,
                    };
                    (column.text(name, row), column.json(row), change)
                }
                None => ("?".to_string(), serde_json::Value::Null, 0.5),
            },
            None => ("?".to_string(), serde_json::Value::Null, 0.5),
        };
        if before_text == after_text {
            continue;
        }
        let json = serde_json::json!({"name": name, "before": before_json, "after": after_column.json(after.1)});
        out.push((change, name.clone(), before_text, after_text, json));
    }
    out.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    out.into_iter()
        .map(|(_, name, b, a, json)| (name, b, a, json))
        .collect()
}

/// Fills in every transition's rules, reason and explanation.
pub(super) fn explain(
    transitions: &mut [Transition],
    result: &Snapshot<'_>,
    previous: Option<&[u8]>,
    bodies: &HashMap<i64, String>,
) {
    if transitions.is_empty() {
        return;
    }
    let previous = previous.and_then(|bytes| read_snapshot(bytes).ok().flatten());
    let previous_rows: HashMap<String, usize> = previous
        .as_ref()
        .map(|batch| {
            batch
                .column(0)
                .as_string::<i32>()
                .iter()
                .enumerate()
                .filter_map(|(row, id)| id.map(|id| (id.to_string(), row)))
                .collect()
        })
        .unwrap_or_default();
    let accounts: HashMap<String, usize> = result.account_rows();
    let schema = result.rule_schema();
    let by_name: HashMap<&str, &SegmentationSnapshot<'_>> =
        result.segmentations.iter().map(|s| (s.name, s)).collect();
    let current_columns = Columns::new(result.features);
    let previous_columns = previous.as_ref().map(Columns::new);
    let mut old_rules: HashMap<(i64, String), Option<String>> = HashMap::new();
    let mut columns_of_rule: HashMap<String, Vec<String>> = HashMap::new();
    for transition in transitions.iter_mut() {
        let Some(segmentation) = by_name.get(transition.segmentation.as_str()) else {
            continue;
        };
        let current_rule = |segment: &Option<String>| {
            segment.as_ref().and_then(|name| {
                segmentation
                    .segments
                    .iter()
                    .find(|s| s.name == name)
                    .map(|s| s.rule.to_string())
                    .filter(|rule| !rule.is_empty())
            })
        };
        transition.to_rule = current_rule(&transition.to);
        transition.from_rule = match (transition.from_version, &transition.from) {
            (Some(version), Some(segment)) if version != transition.to_version => old_rules
                .entry((version, segment.clone()))
                .or_insert_with(|| {
                    bodies
                        .get(&version)
                        .and_then(|body| super::definitions::rule_of(body, segment))
                })
                .clone()
                .or_else(|| current_rule(&transition.from)),
            _ => current_rule(&transition.from),
        };
        let row = accounts.get(&transition.account_id).copied();
        let before = previous_columns
            .as_ref()
            .zip(previous_rows.get(&transition.account_id).copied());
        let mut parts: Vec<String> = Vec::new();
        let mut explanation = serde_json::Map::new();
        explanation.insert("cause".into(), serde_json::json!(transition.cause.name()));
        explanation.insert(
            "before_rule".into(),
            serde_json::json!(transition.from_rule),
        );
        explanation.insert("after_rule".into(), serde_json::json!(transition.to_rule));
        if let (Some(discovery), Some(row)) = (segmentation.discovery, row) {
            let model = &discovery.model;
            let point = discovery.data.row(row);
            let distance_to = |name: &Option<String>| {
                let idx = model
                    .clusters
                    .iter()
                    .position(|c| Some(&c.name) == name.as_ref())?;
                let centroid = model.centroid_of(idx)?;
                Some(
                    point
                        .iter()
                        .zip(centroid)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt(),
                )
            };
            let (before_distance, after_distance) =
                (distance_to(&transition.from), distance_to(&transition.to));
            if let (Some(b), Some(a)) = (before_distance, after_distance) {
                parts.push(format!(
                    "distance to {} {:.2}, to {} {:.2}",
                    transition.from.as_deref().unwrap_or("?"),
                    b,
                    transition.to.as_deref().unwrap_or("?"),
                    a
                ));
            }
            explanation.insert(
                "cluster".into(),
                serde_json::json!({"distance_to_before": before_distance, "distance_to_after": after_distance}),
            );
            // The features that moved most, in the clustering's own
            // standardized units: a change of 1 is one spread unit.
            let moved = match before {
                Some((batch, previous_row)) => {
                    let old: Vec<Option<f64>> = model
                        .features
                        .iter()
                        .map(|name| {
                            batch
                                .get(name)
                                .and_then(|column| column.number(previous_row))
                        })
                        .collect();
                    match model.transform.apply(&old) {
                        Ok(old_point) => {
                            let mut deltas: Vec<(usize, f64)> = old_point
                                .iter()
                                .zip(point)
                                .map(|(o, n)| (n - o).abs())
                                .enumerate()
                                .collect();
                            deltas.sort_by(|a, b| b.1.total_cmp(&a.1));
                            deltas
                                .into_iter()
                                .filter(|(_, delta)| *delta > 1e-9)
                                .take(3)
                                .map(|(idx, _)| model.features[idx].clone())
                                .collect::<Vec<_>>()
                        }
                        Err(_) => model.features.clone(),
                    }
                }
                None => model.features.clone(),
            };
            let features = explain_features(&moved, before, (&current_columns, row));
            parts.extend(
                features
                    .iter()
                    .map(|(name, b, a, _)| format!("{name} {b} -> {a}")),
            );
            if before_distance.is_none()
                && transition.from.is_some()
                && transition.cause == Cause::Movement
            {
                parts.push(format!(
                    "cluster `{}` is not in this run's fit",
                    transition.from.as_deref().unwrap_or_default()
                ));
            }
            if features.is_empty() && before.is_some() {
                // k-means is refit every run: the centroids moved, not the account.
                parts.push(
                    "the clustering was refit; none of this account's features changed".to_string(),
                );
            }
            explanation.insert(
                "features".into(),
                serde_json::Value::Array(features.into_iter().map(|f| f.3).collect()),
            );
        } else if let (Some(scores), Some(row)) = (segmentation.scores, row) {
            // A score's move is explained by the score itself, measure by measure.
            if let Some(score) = scores.get(row) {
                parts.push(score.explanation.clone());
                explanation.insert(
                    "score".into(),
                    serde_json::to_value(score).unwrap_or_default(),
                );
            }
        } else if let Some(row) = row {
            let mut columns = Vec::new();
            for rule in [&transition.from_rule, &transition.to_rule]
                .into_iter()
                .flatten()
            {
                let read = columns_of_rule
                    .entry(rule.clone())
                    .or_insert_with(|| rule_columns(rule, &schema));
                for column in read.iter() {
                    if !columns.contains(column) {
                        columns.push(column.clone());
                    }
                }
            }
            let features = explain_features(&columns, before, (&current_columns, row));
            parts.extend(
                features
                    .iter()
                    .take(4)
                    .map(|(name, b, a, _)| format!("{name} {b} -> {a}")),
            );
            explanation.insert(
                "features".into(),
                serde_json::Value::Array(features.into_iter().map(|f| f.3).collect()),
            );
        }
        match transition.cause {
            Cause::Redefinition => parts.insert(
                0,
                format!(
                    "definition changed (v{} -> v{})",
                    transition.from_version.unwrap_or(0),
                    transition.to_version
                ),
            ),
            Cause::Entered => parts.insert(0, "new account".to_string()),
            Cause::Left => parts = vec!["no longer in the accounts table".to_string()],
            Cause::Movement => {
                if parts.is_empty() {
                    parts.push(if segmentation.kind == "themes" {
                        "dominant feedback theme changed".to_string()
                    } else {
                        "no explained feature changed".to_string()
                    });
                }
            }
        }
        transition.reason = parts.join(", ");
        transition.explanation = serde_json::Value::Object(explanation);
    }
}

/// Per owner (accounts' `owner` column; `(no owner)` without one), the
/// digest text of their accounts' transitions, Slack-style formatting.
pub(super) fn owner_digests(
    transitions: &[&Transition],
    result: &Snapshot<'_>,
) -> Vec<(String, String)> {
    const MAX_LINES: usize = 50;
    let batch = result.features;
    let text_column = |name: &str| {
        batch
            .schema()
            .index_of(name)
            .ok()
            .and_then(|idx| cast(batch.column(idx), &DataType::Utf8).ok())
    };
    let owners = text_column("owner");
    let names = text_column("name");
    let rows: HashMap<String, usize> = result.account_rows();
    let value_at = |column: &Option<ArrayRef>, row: Option<usize>| -> Option<String> {
        let column = column.as_ref()?.as_string::<i32>();
        let row = row?;
        (column.is_valid(row) && !column.value(row).is_empty())
            .then(|| column.value(row).to_string())
    };
    let mut by_owner: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for transition in transitions {
        let row = rows.get(&transition.account_id).copied();
        let owner = value_at(&owners, row).unwrap_or_else(|| "(no owner)".to_string());
        let name = value_at(&names, row)
            .map(|name| format!("{name} ({})", transition.account_id))
            .unwrap_or_else(|| transition.account_id.clone());
        by_owner.entry(owner).or_default().push(format!(
            "• {name}: {} {} → {} ({})",
            transition.segmentation,
            transition.from.as_deref().unwrap_or("(none)"),
            transition.to.as_deref().unwrap_or("(none)"),
            transition.reason
        ));
    }
    by_owner
        .into_iter()
        .map(|(owner, lines)| {
            let n_lines = lines.len();
            let as_of = transitions
                .first()
                .map(|t| t.as_of.to_string())
                .unwrap_or_default();
            let mut text = format!(
                "*{owner}*: {n_lines} change{} in your accounts as of {as_of}\n",
                if n_lines == 1 { "" } else { "s" }
            );
            for line in lines.iter().take(MAX_LINES) {
                text.push_str(line);
                text.push('\n');
            }
            if n_lines > MAX_LINES {
                text.push_str(&format!(
                    "… and {} more (`strata changes`)\n",
                    n_lines - MAX_LINES
                ));
            }
            (owner, text)
        })
        .collect()
}
