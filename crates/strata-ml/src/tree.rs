//! A small CART classification tree, used to measure how *detectable* a
//! segmentation is: can a cheap model predict an account's segment from what
//! is known at signup (employees, industry, country, plan, days since
//! signup)? A segmentation whose segments can be told apart from firmographics
//! can be acted on before any usage exists; one that cannot is only visible
//! in hindsight.
//!
//! **The method.** A classification tree asks yes/no questions about one
//! attribute at a time (`employees <= 180.5`, `industry = 'software'`) and
//! predicts, at each leaf, the class most common among the training rows
//! that reached it. It is grown greedily from the root (CART): at each node
//! every candidate question is scored by how much it lowers the *Gini
//! impurity* `1 − Σ p_c²` of the rows, where `p_c` is the share of class `c`,
//! and the best question splits the node in two. Growth stops at
//! `max_depth`, when a node is pure, when no question leaves at least
//! `min_samples_leaf` rows on each side, or when the best question lowers the
//! impurity by less than `min_impurity_decrease` (measured as in
//! scikit-learn: the node's share of the total weight times its impurity
//! minus its children's weighted impurities). A question must lower the
//! impurity at all to be asked.
//!
//! **Balanced class weights.** Segments differ greatly in size. Unweighted, a
//! tree predicting the largest segment everywhere scores well on plain
//! accuracy while detecting nothing. So every training row of class `c`
//! weighs `n / (k · n_c)`, where `n` is the number of training rows, `n_c`
//! those of class `c` and `k` the number of classes present (scikit-learn's
//! `class_weight="balanced"`): each class carries the same total weight, the
//! impurity treats them as equally important, and a leaf predicts the class
//! with the largest *share of its own training rows* at that leaf (ties go
//! to the lower class index). This is what makes
//! [balanced accuracy](balanced_accuracy), the mean recall over classes, the
//! natural score: 1/k for guessing, 1 for perfect detection.
//!
//! **Questions asked.**
//!
//! - *Numeric* attributes are cut at thresholds: `value <= t` goes left.
//!   With at most `max_thresholds + 1` distinct values among the training
//!   rows every midpoint between neighbouring values is tried (exact CART);
//!   with more, the values are first grouped into `max_thresholds + 1`
//!   bins of about equal row counts (quantiles) and only cuts between bins
//!   are tried, which keeps each node's search linear in its rows. The
//!   threshold is the midpoint between the largest value on the left and the
//!   smallest on the right among the training rows. NULLs go to the side
//!   that scores better (if equal, the side with more rows); when the node
//!   had no NULL rows they go right, since the comparison is false for
//!   them. `value is null` is a question of its own.
//! - *Categorical* attributes are asked one category against the rest:
//!   `industry = 'software'` goes left. NULL is a category of its own
//!   (`industry is null`). Only the `max_categories` most frequent values in
//!   the training rows are kept; the rest, and values first seen when
//!   predicting, fold into one category, shown as `industry = (other)`.
//!
//! **Cross-validation.** [`cross_val_predict`] splits the rows into
//! stratified folds (each class spread evenly over the folds, shuffled from
//! a seed), fits a tree on all folds but one and predicts the held-out one,
//! so every row gets an out-of-fold prediction. [`balanced_accuracy`] then
//! scores them, overall and per class.
//!
//! ```
//! use strata_ml::tree::{Attribute, DecisionTreeParams, balanced_accuracy, cross_val_predict};
//!
//! let employees: Vec<Option<f64>> = (0..20).map(|i| Some(f64::from(i % 10 + 100 * (i / 10)))).collect();
//! let plan: Vec<Option<&str>> = (0..20).map(|i| Some(if i % 2 == 0 { "pro" } else { "free" })).collect();
//! let attributes = [
//!     Attribute::Numeric { name: "employees", values: &employees },
//!     Attribute::Categorical { name: "plan", values: &plan },
//! ];
//! let segments: Vec<usize> = (0..20).map(|i| i / 10).collect();
//! let params = DecisionTreeParams::new().with_min_samples_leaf(1).check().unwrap();
//!
//! let tree = params.fit(&attributes, &segments, 2).unwrap();
//! assert_eq!(tree.to_string(), "if employees <= 54.5 {\n    class 0 (10 rows)\n} else {\n    class 1 (10 rows)\n}");
//!
//! let predicted = cross_val_predict(&attributes, &segments, 2, 5, 7, &params).unwrap();
//! assert_eq!(balanced_accuracy(&segments, &predicted, 2).unwrap().overall, 1.0);
//! ```
use std::collections::{BTreeSet, HashMap};
use std::fmt;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The usual number of cross-validation folds.
pub const DEFAULT_FOLDS: usize = 5;

/// How much better one question must score than another to be preferred,
/// and how much a question must lower the impurity to be asked at all. Two
/// questions that split the rows the same way can score a few ulps apart
/// depending on the order of the sums; this keeps ties going to the first.
const GAIN_TOLERANCE: f64 = 1e-12;

/// The largest `max_thresholds` and `max_categories` accepted: beyond it a
/// tree is no longer cheap, and bins and codes fit in `u32`.
const MAX_BINS_SETTING: usize = 100_000;

/// Marks a NULL in the binned numeric values.
const NULL_BIN: u32 = u32::MAX;

/// One column of attributes, one value per row, borrowed from the caller.
///
/// Building one from Arrow arrays is a collect of the array's iterator:
/// `float_array.iter().collect::<Vec<Option<f64>>>()` or
/// `string_array.iter().collect::<Vec<Option<&str>>>()`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attribute<'a> {
    /// A number per row (employees, days since signup); `None` is NULL.
    Numeric {
        /// The attribute's name, used in descriptions and errors.
        name: &'a str,
        /// The values, one per row; they must be finite.
        values: &'a [Option<f64>],
    },
    /// A category per row (industry, country, plan); `None` is NULL.
    Categorical {
        /// The attribute's name, used in descriptions and errors.
        name: &'a str,
        /// The values, one per row.
        values: &'a [Option<&'a str>],
    },
}

impl Attribute<'_> {
    /// The attribute's name.
    pub fn name(&self) -> &str {
        match self {
            Attribute::Numeric { name, .. } | Attribute::Categorical { name, .. } => name,
        }
    }

    /// The number of values (rows).
    pub fn len(&self) -> usize {
        match self {
            Attribute::Numeric { values, .. } => values.len(),
            Attribute::Categorical { values, .. } => values.len(),
        }
    }

    /// Whether the attribute has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn kind(&self) -> &'static str {
        match self {
            Attribute::Numeric { .. } => "numeric",
            Attribute::Categorical { .. } => "categorical",
        }
    }
}

/// Tree settings as the caller wrote them; [`DecisionTreeParams::check`]
/// turns them into [`DecisionTreeValidParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTreeParams {
    max_depth: usize,
    min_samples_leaf: usize,
    min_impurity_decrease: f64,
    max_categories: usize,
    max_thresholds: usize,
}

/// Tree settings that passed [`DecisionTreeParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTreeValidParams(DecisionTreeParams);

/// One problem with tree settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecisionTreeParamsProblem {
    /// `min_samples_leaf = 0`.
    #[error("min_samples_leaf must be at least 1 (rows in every leaf), got 0")]
    ZeroMinSamplesLeaf,
    /// Negative or non-finite `min_impurity_decrease`.
    #[error("min_impurity_decrease must be a finite number ≥ 0, got {0}")]
    MinImpurityDecrease(f64),
    /// `max_categories` out of range.
    #[error("max_categories must be between 1 and {MAX_BINS_SETTING}, got {0}")]
    MaxCategories(usize),
    /// `max_thresholds` out of range.
    #[error("max_thresholds must be between 1 and {MAX_BINS_SETTING}, got {0}")]
    MaxThresholds(usize),
}

/// Every problem found in tree settings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid decision tree settings: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct DecisionTreeParamsError {
    /// The problems, in the order the settings are checked.
    pub problems: Vec<DecisionTreeParamsProblem>,
}

/// What can go wrong fitting, applying or scoring a tree.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TreeError {
    /// There is nothing to fit or score.
    #[error("there are no rows; give at least one labelled row")]
    NoRows,
    /// An attribute does not have one value per row.
    #[error(
        "attribute `{attribute}` has {n_values} values for {n_rows} rows; give every attribute one value per row (NULL where unknown)"
    )]
    AttributeLength {
        /// The attribute's name.
        attribute: String,
        /// Values it has.
        n_values: usize,
        /// Rows expected (the number of labels, or of the first attribute's values).
        n_rows: usize,
    },
    /// A label or prediction that is not a class index.
    #[error(
        "{what} {class} at row {row} is not a class index; with {n_classes} classes they run from 0 to {}",
        .n_classes.saturating_sub(1)
    )]
    ClassOutOfRange {
        /// `"label"` or `"prediction"`.
        what: &'static str,
        /// The row.
        row: usize,
        /// The bad class index.
        class: usize,
        /// Number of classes.
        n_classes: usize,
    },
    /// A numeric value is NaN or infinite.
    #[error(
        "attribute `{attribute}` is {value} at row {row}; numeric attributes must be finite (use NULL where unknown)"
    )]
    NotFinite {
        /// The attribute's name.
        attribute: String,
        /// The row.
        row: usize,
        /// The value.
        value: f64,
    },
    /// Cross-validation with fewer than 2 folds.
    #[error("cross-validation needs at least 2 folds, got {n_folds}")]
    TooFewFolds {
        /// Folds asked for.
        n_folds: usize,
    },
    /// Too few rows to give every fold 2.
    #[error(
        "{n_rows} rows are too few for {n_folds} folds of at least 2 rows; give at least {} rows or use fewer folds",
        .n_folds.saturating_mul(2)
    )]
    TooFewRowsForFolds {
        /// Rows given.
        n_rows: usize,
        /// Folds asked for.
        n_folds: usize,
    },
    /// Truth and predictions differ in length.
    #[error(
        "{n_truth} true labels but {n_predicted} predictions; give one prediction per labelled row"
    )]
    PredictionCount {
        /// Number of true labels.
        n_truth: usize,
        /// Number of predictions.
        n_predicted: usize,
    },
    /// Predicting with a different number of attributes than the fit.
    #[error(
        "the tree was fitted on {expected} {} but {found} {} given; pass the same attributes in the same order",
        if *.expected == 1 { "attribute" } else { "attributes" },
        if *.found == 1 { "was" } else { "were" }
    )]
    AttributeCount {
        /// Attributes at fit time.
        expected: usize,
        /// Attributes given.
        found: usize,
    },
    /// Predicting with a different attribute at some position than the fit.
    #[error(
        "attribute {position} is {found} but the tree was fitted with {expected} there; pass the same attributes in the same order"
    )]
    AttributeMismatch {
        /// Position in the attribute list, from 0.
        position: usize,
        /// What the fit had there, as "numeric `employees`".
        expected: String,
        /// What was given.
        found: String,
    },
    /// Predicting a row past the end of an attribute.
    #[error("row {row} is out of range: attribute `{attribute}` has {n_values} values")]
    RowOutOfRange {
        /// The row asked for.
        row: usize,
        /// The attribute's name.
        attribute: String,
        /// Values it has.
        n_values: usize,
    },
    /// Something that should be impossible happened.
    #[error("internal error: {0}; this is a bug in strata, please report it")]
    Internal(String),
}

impl Default for DecisionTreeParams {
    fn default() -> Self {
        DecisionTreeParams::new()
    }
}

impl DecisionTreeParams {
    /// The defaults: depth at most 4, at least 20 rows per leaf, any
    /// impurity decrease accepted, 64 categories and 64 thresholds per
    /// attribute at most.
    pub fn new() -> Self {
        DecisionTreeParams {
            max_depth: 4,
            min_samples_leaf: 20,
            min_impurity_decrease: 0.0,
            max_categories: 64,
            max_thresholds: 64,
        }
    }

    /// Sets the largest number of questions from the root to a leaf; 0
    /// gives a single leaf.
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets the fewest training rows (unweighted) each side of a split keeps.
    pub fn with_min_samples_leaf(mut self, min_samples_leaf: usize) -> Self {
        self.min_samples_leaf = min_samples_leaf;
        self
    }

    /// Sets the smallest weighted impurity decrease a split must bring.
    pub fn with_min_impurity_decrease(mut self, min_impurity_decrease: f64) -> Self {
        self.min_impurity_decrease = min_impurity_decrease;
        self
    }

    /// Sets how many of the most frequent values of a categorical attribute
    /// are kept; the rest fold into `(other)`.
    pub fn with_max_categories(mut self, max_categories: usize) -> Self {
        self.max_categories = max_categories;
        self
    }

    /// Sets how many thresholds per numeric attribute are tried at most.
    pub fn with_max_thresholds(mut self, max_thresholds: usize) -> Self {
        self.max_thresholds = max_thresholds;
        self
    }

    /// Checks the settings, reporting every problem at once.
    pub fn check(self) -> Result<DecisionTreeValidParams, DecisionTreeParamsError> {
        let mut problems = Vec::new();
        if self.min_samples_leaf == 0 {
            problems.push(DecisionTreeParamsProblem::ZeroMinSamplesLeaf);
        }
        if !(self.min_impurity_decrease.is_finite() && self.min_impurity_decrease >= 0.0) {
            problems.push(DecisionTreeParamsProblem::MinImpurityDecrease(
                self.min_impurity_decrease,
            ));
        }
        if !(1..=MAX_BINS_SETTING).contains(&self.max_categories) {
            problems.push(DecisionTreeParamsProblem::MaxCategories(
                self.max_categories,
            ));
        }
        if !(1..=MAX_BINS_SETTING).contains(&self.max_thresholds) {
            problems.push(DecisionTreeParamsProblem::MaxThresholds(
                self.max_thresholds,
            ));
        }
        if problems.is_empty() {
            Ok(DecisionTreeValidParams(self))
        } else {
            Err(DecisionTreeParamsError { problems })
        }
    }
}

impl DecisionTreeValidParams {
    /// The largest depth.
    pub fn max_depth(&self) -> usize {
        self.0.max_depth
    }

    /// The fewest rows per leaf.
    pub fn min_samples_leaf(&self) -> usize {
        self.0.min_samples_leaf
    }

    /// The smallest impurity decrease of a split.
    pub fn min_impurity_decrease(&self) -> f64 {
        self.0.min_impurity_decrease
    }

    /// The most categories kept per categorical attribute.
    pub fn max_categories(&self) -> usize {
        self.0.max_categories
    }

    /// The most thresholds tried per numeric attribute.
    pub fn max_thresholds(&self) -> usize {
        self.0.max_thresholds
    }

    /// Gives the settings back, to change them.
    pub fn into_params(self) -> DecisionTreeParams {
        self.0
    }

    /// Fits a tree predicting `labels` (class indices below `n_classes`, one
    /// per row) from `attributes`, with balanced class weights.
    pub fn fit(
        &self,
        attributes: &[Attribute<'_>],
        labels: &[usize],
        n_classes: usize,
    ) -> Result<DecisionTree, TreeError> {
        check_inputs(attributes, labels, n_classes)?;
        let all_rows: Vec<usize> = (0..labels.len()).collect();
        self.fit_rows(attributes, labels, n_classes, all_rows)
    }

    /// Fits on the rows `training_rows` of checked inputs.
    fn fit_rows(
        &self,
        attributes: &[Attribute<'_>],
        labels: &[usize],
        n_classes: usize,
        training_rows: Vec<usize>,
    ) -> Result<DecisionTree, TreeError> {
        let params = &self.0;
        let mut class_totals = vec![0usize; n_classes];
        for &row in &training_rows {
            class_totals[labels[row]] += 1;
        }
        let n_present = class_totals.iter().filter(|&&count| count > 0).count();
        let n_training = training_rows.len() as f64;
        let weights: Vec<f64> = class_totals
            .iter()
            .map(|&count| {
                if count > 0 {
                    n_training / (n_present as f64 * count as f64)
                } else {
                    0.0
                }
            })
            .collect();
        let columns: Vec<Column> = attributes
            .iter()
            .map(|attribute| Column::new(attribute, &training_rows, params))
            .collect();
        let schema: Vec<AttributeSchema> = attributes
            .iter()
            .zip(&columns)
            .map(|(attribute, column)| AttributeSchema {
                name: attribute.name().to_string(),
                kind: match column {
                    Column::Numeric { .. } => SchemaKind::Numeric,
                    Column::Categorical { kept, .. } => SchemaKind::Categorical {
                        kept: kept.iter().cloned().collect(),
                    },
                },
            })
            .collect();
        let splitter = Splitter {
            labels,
            n_classes,
            weights: &weights,
            total_weight: n_training,
            columns: &columns,
            min_samples_leaf: params.min_samples_leaf,
            min_impurity_decrease: params.min_impurity_decrease,
        };

        let mut nodes = vec![Node::Leaf {
            class: 0,
            n_rows: 0,
        }];
        let mut pending = vec![(0usize, training_rows, 0usize)];
        while let Some((node_idx, rows, depth)) = pending.pop() {
            let counts = splitter.class_counts(&rows);
            let leaf = Node::Leaf {
                class: majority_class(&counts, &class_totals),
                n_rows: rows.len(),
            };
            let n_classes_here = counts.iter().filter(|&&count| count > 0).count();
            let can_split = depth < params.max_depth
                && n_classes_here > 1
                && rows.len() >= params.min_samples_leaf.saturating_mul(2);
            let best = if can_split {
                splitter.best_split(&rows, &counts)
            } else {
                None
            };
            let Some(best) = best else {
                nodes[node_idx] = leaf;
                continue;
            };
            let test = best.cut.to_test(&columns);
            let mut left_rows = Vec::with_capacity(best.n_left);
            let mut right_rows = Vec::with_capacity(rows.len() - best.n_left);
            for row in rows {
                if goes_left(&test, &schema, attributes, row)? {
                    left_rows.push(row);
                } else {
                    right_rows.push(row);
                }
            }
            if left_rows.len() != best.n_left {
                return Err(TreeError::Internal(format!(
                    "the split `{}` sends {} training rows left but was scored with {}",
                    test.condition(&schema),
                    left_rows.len(),
                    best.n_left
                )));
            }
            let left_idx = nodes.len();
            let right_idx = left_idx + 1;
            nodes.push(Node::Leaf {
                class: 0,
                n_rows: 0,
            });
            nodes.push(Node::Leaf {
                class: 0,
                n_rows: 0,
            });
            nodes[node_idx] = Node::Split {
                test,
                left: left_idx,
                right: right_idx,
            };
            pending.push((right_idx, right_rows, depth + 1));
            pending.push((left_idx, left_rows, depth + 1));
        }
        Ok(DecisionTree {
            schema,
            n_classes,
            nodes,
        })
    }
}

/// A fitted classification tree. Its [`Display`](fmt::Display) shows it as
/// nested `if`/`else` text; [`DecisionTree::describe`] does the same with
/// class names.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionTree {
    schema: Vec<AttributeSchema>,
    n_classes: usize,
    /// The root is node 0; children come after their parent.
    nodes: Vec<Node>,
}

impl DecisionTree {
    /// The number of classes the tree was fitted for.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// The number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|node| matches!(node, Node::Leaf { .. }))
            .count()
    }

    /// The number of questions on the longest path from the root to a leaf.
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut pending = vec![(0usize, 0usize)];
        while let Some((node_idx, depth)) = pending.pop() {
            deepest = deepest.max(depth);
            if let Some(Node::Split { left, right, .. }) = self.nodes.get(node_idx) {
                pending.push((*left, depth + 1));
                pending.push((*right, depth + 1));
            }
        }
        deepest
    }

    /// The class predicted for `row` of `attributes`, which must be the
    /// attributes the tree was fitted on, in the same order (the rows may be
    /// new ones).
    pub fn predict(&self, attributes: &[Attribute<'_>], row: usize) -> Result<usize, TreeError> {
        self.check_schema(attributes)?;
        self.predict_checked(attributes, row)
    }

    /// The classes predicted for each of `rows`, in order.
    pub fn predict_rows(
        &self,
        attributes: &[Attribute<'_>],
        rows: &[usize],
    ) -> Result<Vec<usize>, TreeError> {
        self.check_schema(attributes)?;
        rows.iter()
            .map(|&row| self.predict_checked(attributes, row))
            .collect()
    }

    /// The tree as nested `if`/`else` text, naming class `c` by
    /// `class_names[c]` (or `class c` past the end of `class_names`).
    ///
    /// A numeric comparison is false for NULL unless it says `or … is null`.
    pub fn describe(&self, class_names: &[&str]) -> String {
        enum Step {
            Node(usize, usize),
            Text(usize, &'static str),
        }
        let mut lines = Vec::new();
        let mut pending = vec![Step::Node(0, 0)];
        while let Some(step) = pending.pop() {
            match step {
                Step::Text(indent, text) => lines.push(format!("{}{text}", "    ".repeat(indent))),
                Step::Node(node_idx, indent) => match self.nodes.get(node_idx) {
                    Some(Node::Leaf { class, n_rows }) => {
                        let class_name = match class_names.get(*class) {
                            Some(name) => (*name).to_string(),
                            None => format!("class {class}"),
                        };
                        let rows = if *n_rows == 1 { "row" } else { "rows" };
                        lines.push(format!(
                            "{}{class_name} ({n_rows} {rows})",
                            "    ".repeat(indent)
                        ));
                    }
                    Some(Node::Split { test, left, right }) => {
                        lines.push(format!(
                            "{}if {} {{",
                            "    ".repeat(indent),
                            test.condition(&self.schema)
                        ));
                        pending.push(Step::Text(indent, "}"));
                        pending.push(Step::Node(*right, indent + 1));
                        pending.push(Step::Text(indent, "} else {"));
                        pending.push(Step::Node(*left, indent + 1));
                    }
                    None => {}
                },
            }
        }
        lines.join("\n")
    }

    fn check_schema(&self, attributes: &[Attribute<'_>]) -> Result<(), TreeError> {
        if attributes.len() != self.schema.len() {
            return Err(TreeError::AttributeCount {
                expected: self.schema.len(),
                found: attributes.len(),
            });
        }
        for (position, (attribute, schema)) in attributes.iter().zip(&self.schema).enumerate() {
            let kind = match schema.kind {
                SchemaKind::Numeric => "numeric",
                SchemaKind::Categorical { .. } => "categorical",
            };
            if attribute.name() != schema.name || attribute.kind() != kind {
                return Err(TreeError::AttributeMismatch {
                    position,
                    expected: format!("{kind} `{}`", schema.name),
                    found: format!("{} `{}`", attribute.kind(), attribute.name()),
                });
            }
        }
        Ok(())
    }

    fn predict_checked(
        &self,
        attributes: &[Attribute<'_>],
        row: usize,
    ) -> Result<usize, TreeError> {
        let mut node_idx = 0;
        loop {
            match self.nodes.get(node_idx) {
                Some(Node::Leaf { class, .. }) => return Ok(*class),
                Some(Node::Split { test, left, right }) => {
                    node_idx = if goes_left(test, &self.schema, attributes, row)? {
                        *left
                    } else {
                        *right
                    };
                }
                None => {
                    return Err(TreeError::Internal(format!(
                        "tree node {node_idx} does not exist"
                    )));
                }
            }
        }
    }
}

impl fmt::Display for DecisionTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(&[]))
    }
}

/// Out-of-fold predictions: the rows are split into `n_folds` stratified
/// folds, shuffled from `seed`; for each fold a tree is fitted on the other
/// folds and predicts its rows. Returns one prediction per row.
///
/// Each class's rows are shuffled and dealt to the folds in turn, continuing
/// from class to class, so every class is spread as evenly as it can be and
/// fold sizes differ by at most one row. A class with fewer rows than folds
/// simply appears in fewer folds; when all its rows are held out, the tree
/// predicting them has never seen it and cannot predict it. Folds are fitted
/// in parallel; the result depends only on the inputs and `seed`.
pub fn cross_val_predict(
    attributes: &[Attribute<'_>],
    labels: &[usize],
    n_classes: usize,
    n_folds: usize,
    seed: u64,
    params: &DecisionTreeValidParams,
) -> Result<Vec<usize>, TreeError> {
    check_inputs(attributes, labels, n_classes)?;
    if n_folds < 2 {
        return Err(TreeError::TooFewFolds { n_folds });
    }
    let n_rows = labels.len();
    if n_rows < n_folds.saturating_mul(2) {
        return Err(TreeError::TooFewRowsForFolds { n_rows, n_folds });
    }
    let folds = stratified_folds(labels, n_classes, n_folds, seed);
    let fold_predictions = (0..n_folds)
        .into_par_iter()
        .map(|fold| -> Result<Vec<(usize, usize)>, TreeError> {
            let (held_out, training): (Vec<usize>, Vec<usize>) =
                (0..n_rows).partition(|&row| folds[row] == fold);
            let tree = params.fit_rows(attributes, labels, n_classes, training)?;
            let predicted = tree.predict_rows(attributes, &held_out)?;
            Ok(held_out.into_iter().zip(predicted).collect())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut predictions = vec![0usize; n_rows];
    for (row, class) in fold_predictions.into_iter().flatten() {
        predictions[row] = class;
    }
    Ok(predictions)
}

/// The fold of every row, as described on [`cross_val_predict`].
fn stratified_folds(labels: &[usize], n_classes: usize, n_folds: usize, seed: u64) -> Vec<usize> {
    let mut rows_by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (row, &label) in labels.iter().enumerate() {
        rows_by_class[label].push(row);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut folds = vec![0usize; labels.len()];
    let mut dealt = 0usize;
    for mut rows in rows_by_class {
        rows.shuffle(&mut rng);
        for row in rows {
            folds[row] = dealt % n_folds;
            dealt += 1;
        }
    }
    folds
}

/// Balanced accuracy of predicted classes, overall and per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalancedAccuracy {
    /// The mean recall (share of a class's rows predicted as that class)
    /// over the classes present in the truth: 1/k for guessing among `k`
    /// classes, 1 when every row is predicted right.
    pub overall: f64,
    /// For each class, the one-vs-rest balanced accuracy `(TPR + TNR) / 2`:
    /// the mean of its recall and of the share of other rows not predicted
    /// as it. 0.5 is no better than chance. `None` when the class is absent
    /// from the truth, or is the only class in it.
    pub per_class: Vec<Option<f64>>,
}

/// Scores `predicted` against `truth`, both class indices below `n_classes`.
pub fn balanced_accuracy(
    truth: &[usize],
    predicted: &[usize],
    n_classes: usize,
) -> Result<BalancedAccuracy, TreeError> {
    if truth.len() != predicted.len() {
        return Err(TreeError::PredictionCount {
            n_truth: truth.len(),
            n_predicted: predicted.len(),
        });
    }
    if truth.is_empty() {
        return Err(TreeError::NoRows);
    }
    check_classes("label", truth, n_classes)?;
    check_classes("prediction", predicted, n_classes)?;
    let n_rows = truth.len();
    let mut truth_totals = vec![0usize; n_classes];
    let mut predicted_totals = vec![0usize; n_classes];
    let mut correct = vec![0usize; n_classes];
    for (&true_class, &predicted_class) in truth.iter().zip(predicted) {
        truth_totals[true_class] += 1;
        predicted_totals[predicted_class] += 1;
        if true_class == predicted_class {
            correct[true_class] += 1;
        }
    }
    let n_present = truth_totals.iter().filter(|&&count| count > 0).count();
    let recall = |class: usize| correct[class] as f64 / truth_totals[class] as f64;
    let overall = (0..n_classes)
        .filter(|&class| truth_totals[class] > 0)
        .map(recall)
        .sum::<f64>()
        / n_present as f64;
    let per_class = (0..n_classes)
        .map(|class| {
            if truth_totals[class] == 0 || n_present < 2 {
                return None;
            }
            let negatives = n_rows - truth_totals[class];
            let false_positives = predicted_totals[class] - correct[class];
            let specificity = (negatives - false_positives) as f64 / negatives as f64;
            Some((recall(class) + specificity) / 2.0)
        })
        .collect();
    Ok(BalancedAccuracy { overall, per_class })
}

/// Checks what [`DecisionTreeValidParams::fit`] and [`cross_val_predict`]
/// take: rows, one value per row, class indices, finite numbers.
fn check_inputs(
    attributes: &[Attribute<'_>],
    labels: &[usize],
    n_classes: usize,
) -> Result<(), TreeError> {
    if labels.is_empty() {
        return Err(TreeError::NoRows);
    }
    for attribute in attributes {
        if attribute.len() != labels.len() {
            return Err(TreeError::AttributeLength {
                attribute: attribute.name().to_string(),
                n_values: attribute.len(),
                n_rows: labels.len(),
            });
        }
    }
    check_classes("label", labels, n_classes)?;
    for attribute in attributes {
        let Attribute::Numeric { name, values } = attribute else {
            continue;
        };
        let not_finite = values.iter().enumerate().find_map(|(row, value)| {
            value
                .filter(|value| !value.is_finite())
                .map(|value| (row, value))
        });
        if let Some((row, value)) = not_finite {
            return Err(TreeError::NotFinite {
                attribute: (*name).to_string(),
                row,
                value,
            });
        }
    }
    Ok(())
}

fn check_classes(what: &'static str, classes: &[usize], n_classes: usize) -> Result<(), TreeError> {
    match classes.iter().position(|&class| class >= n_classes) {
        Some(row) => Err(TreeError::ClassOutOfRange {
            what,
            row,
            class: classes[row],
            n_classes,
        }),
        None => Ok(()),
    }
}

/// The class with the largest share of its training rows among `counts`
/// (the balanced-weight majority), compared exactly in integers; ties go to
/// the lower index.
fn majority_class(counts: &[usize], class_totals: &[usize]) -> usize {
    let mut best: Option<usize> = None;
    for (class, (&count, &total)) in counts.iter().zip(class_totals).enumerate() {
        if total == 0 {
            continue;
        }
        let is_better = match best {
            None => true,
            Some(best_class) => {
                count as u128 * class_totals[best_class] as u128
                    > counts[best_class] as u128 * total as u128
            }
        };
        if is_better {
            best = Some(class);
        }
    }
    best.unwrap_or(0)
}

/// What the fitted tree knows about one attribute.
#[derive(Debug, Clone, PartialEq)]
struct AttributeSchema {
    name: String,
    kind: SchemaKind,
}

#[derive(Debug, Clone, PartialEq)]
enum SchemaKind {
    Numeric,
    /// The categories kept at fit time; any other value is `(other)`.
    Categorical {
        kept: BTreeSet<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Leaf {
        class: usize,
        n_rows: usize,
    },
    Split {
        test: Test,
        left: usize,
        right: usize,
    },
}

/// A question; rows for which it holds go left.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    /// `value <= threshold`; NULL goes left when `null_left`.
    AtMost {
        attribute: usize,
        threshold: f64,
        null_left: bool,
    },
    /// The numeric value is NULL.
    IsNull { attribute: usize },
    /// The categorical value is `category`.
    Is {
        attribute: usize,
        category: Category,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Category {
    Value(String),
    Other,
    Null,
}

impl Test {
    fn condition(&self, schema: &[AttributeSchema]) -> String {
        let name = |attribute: usize| {
            schema
                .get(attribute)
                .map_or("?", |schema| schema.name.as_str())
        };
        match self {
            Test::AtMost {
                attribute,
                threshold,
                null_left: false,
            } => format!("{} <= {threshold}", name(*attribute)),
            Test::AtMost {
                attribute,
                threshold,
                null_left: true,
            } => {
                let name = name(*attribute);
                format!("{name} <= {threshold} or {name} is null")
            }
            Test::IsNull { attribute }
            | Test::Is {
                attribute,
                category: Category::Null,
            } => format!("{} is null", name(*attribute)),
            Test::Is {
                attribute,
                category: Category::Value(value),
            } => format!("{} = '{}'", name(*attribute), value.replace('\'', "''")),
            Test::Is {
                attribute,
                category: Category::Other,
            } => format!("{} = (other)", name(*attribute)),
        }
    }
}

/// Whether `row` goes left at `test`: the one place a question is answered,
/// for routing training rows and for predicting.
fn goes_left(
    test: &Test,
    schema: &[AttributeSchema],
    attributes: &[Attribute<'_>],
    row: usize,
) -> Result<bool, TreeError> {
    let attribute_idx = match test {
        Test::AtMost { attribute, .. }
        | Test::IsNull { attribute }
        | Test::Is { attribute, .. } => *attribute,
    };
    let (Some(attribute), Some(attribute_schema)) =
        (attributes.get(attribute_idx), schema.get(attribute_idx))
    else {
        return Err(TreeError::Internal(format!(
            "a split uses attribute {attribute_idx} of {}",
            attributes.len()
        )));
    };
    if row >= attribute.len() {
        return Err(TreeError::RowOutOfRange {
            row,
            attribute: attribute.name().to_string(),
            n_values: attribute.len(),
        });
    }
    match (test, attribute, &attribute_schema.kind) {
        (
            Test::AtMost {
                threshold,
                null_left,
                ..
            },
            Attribute::Numeric { name, values },
            SchemaKind::Numeric,
        ) => match values[row] {
            Some(value) if !value.is_finite() => Err(TreeError::NotFinite {
                attribute: (*name).to_string(),
                row,
                value,
            }),
            Some(value) => Ok(value <= *threshold),
            None => Ok(*null_left),
        },
        (Test::IsNull { .. }, Attribute::Numeric { values, .. }, SchemaKind::Numeric) => {
            Ok(values[row].is_none())
        }
        (
            Test::Is { category, .. },
            Attribute::Categorical { values, .. },
            SchemaKind::Categorical { kept },
        ) => Ok(match (category, values[row]) {
            (Category::Value(wanted), Some(value)) => wanted == value,
            (Category::Other, Some(value)) => !kept.contains(value),
            (Category::Null, None) => true,
            _ => false,
        }),
        _ => Err(TreeError::Internal(format!(
            "a split on attribute `{}` does not match its kind",
            attribute.name()
        ))),
    }
}

/// One attribute prepared for a fit from its training rows.
enum Column {
    /// Bin of every row (`NULL_BIN` for NULL); bin `b` holds the training
    /// values from `bin_min[b]` to `bin_max[b]`, bins in increasing order.
    Numeric {
        bins: Vec<u32>,
        bin_min: Vec<f64>,
        bin_max: Vec<f64>,
    },
    /// Code of every row: `i` for `kept[i]`, `kept.len()` for other values,
    /// `kept.len() + 1` for NULL. `kept` is by decreasing frequency.
    Categorical { codes: Vec<u32>, kept: Vec<String> },
}

impl Column {
    fn new(
        attribute: &Attribute<'_>,
        training_rows: &[usize],
        params: &DecisionTreeParams,
    ) -> Self {
        match attribute {
            Attribute::Numeric { values, .. } => {
                let (bin_min, bin_max) = numeric_bins(values, training_rows, params.max_thresholds);
                let last_bin = bin_max.len().saturating_sub(1);
                let bins = values
                    .iter()
                    .map(|value| match value {
                        // Values outside the training rows may fall past the
                        // last bin; they are never looked up.
                        Some(value) => {
                            bin_max.partition_point(|&max| max < *value).min(last_bin) as u32
                        }
                        None => NULL_BIN,
                    })
                    .collect();
                Column::Numeric {
                    bins,
                    bin_min,
                    bin_max,
                }
            }
            Attribute::Categorical { values, .. } => {
                let mut frequencies: HashMap<&str, usize> = HashMap::new();
                for &row in training_rows {
                    if let Some(value) = values[row] {
                        *frequencies.entry(value).or_default() += 1;
                    }
                }
                let mut by_frequency: Vec<(&str, usize)> = frequencies.into_iter().collect();
                by_frequency
                    .sort_unstable_by(|left, right| right.1.cmp(&left.1).then(left.0.cmp(right.0)));
                by_frequency.truncate(params.max_categories);
                let code_of: HashMap<&str, u32> = by_frequency
                    .iter()
                    .enumerate()
                    .map(|(code, (value, _))| (*value, code as u32))
                    .collect();
                let other_code = by_frequency.len() as u32;
                let codes = values
                    .iter()
                    .map(|value| match value {
                        Some(value) => code_of.get(value).copied().unwrap_or(other_code),
                        None => other_code + 1,
                    })
                    .collect();
                Column::Categorical {
                    codes,
                    kept: by_frequency
                        .into_iter()
                        .map(|(value, _)| value.to_string())
                        .collect(),
                }
            }
        }
    }
}

/// The bins of a numeric attribute's training values, as `(bin_min,
/// bin_max)`: one per distinct value when there are at most
/// `max_thresholds + 1`, otherwise at most `max_thresholds + 1` runs of
/// distinct values with about equal row counts.
fn numeric_bins(
    values: &[Option<f64>],
    training_rows: &[usize],
    max_thresholds: usize,
) -> (Vec<f64>, Vec<f64>) {
    let mut sorted: Vec<f64> = training_rows
        .iter()
        .filter_map(|&row| values[row])
        .collect();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for value in sorted.iter().copied() {
        match distinct.last_mut() {
            Some((last, count)) if *last == value => *count += 1,
            _ => distinct.push((value, 1)),
        }
    }
    let max_bins = max_thresholds.saturating_add(1);
    if distinct.len() <= max_bins {
        return distinct.iter().map(|&(value, _)| (value, value)).unzip();
    }
    let n_values = sorted.len() as u128;
    let mut bin_min = Vec::new();
    let mut bin_max = Vec::new();
    let mut cumulative = 0u128;
    let mut open_min: Option<f64> = None;
    for (idx, &(value, count)) in distinct.iter().enumerate() {
        let low = *open_min.get_or_insert(value);
        cumulative += count as u128;
        let quantile_reached =
            cumulative * max_bins as u128 >= (bin_min.len() as u128 + 1) * n_values;
        if quantile_reached || idx + 1 == distinct.len() {
            bin_min.push(low);
            bin_max.push(value);
            open_min = None;
        }
    }
    (bin_min, bin_max)
}

/// The midpoint between neighbouring values `low < high`, kept strictly
/// below `high` so that `high` goes right.
fn threshold_between(low: f64, high: f64) -> f64 {
    let middle = low.midpoint(high);
    if middle < high { middle } else { low }
}

/// A question found while searching, in the cheap form of bin and code
/// indices.
#[derive(Debug, Clone, Copy)]
enum Cut {
    AtMost {
        attribute: usize,
        threshold: f64,
        null_left: bool,
    },
    IsNull {
        attribute: usize,
    },
    Code {
        attribute: usize,
        code: usize,
    },
}

impl Cut {
    fn to_test(self, columns: &[Column]) -> Test {
        match self {
            Cut::AtMost {
                attribute,
                threshold,
                null_left,
            } => Test::AtMost {
                attribute,
                threshold,
                null_left,
            },
            Cut::IsNull { attribute } => Test::IsNull { attribute },
            Cut::Code { attribute, code } => {
                let category = match columns.get(attribute) {
                    Some(Column::Categorical { kept, .. }) => match kept.get(code) {
                        Some(value) => Category::Value(value.clone()),
                        None if code == kept.len() => Category::Other,
                        None => Category::Null,
                    },
                    _ => Category::Null,
                };
                Test::Is {
                    attribute,
                    category,
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    cut: Cut,
    gain: f64,
    n_left: usize,
}

/// Scores the questions at a node.
struct Splitter<'a> {
    labels: &'a [usize],
    n_classes: usize,
    weights: &'a [f64],
    total_weight: f64,
    columns: &'a [Column],
    min_samples_leaf: usize,
    min_impurity_decrease: f64,
}

impl Splitter<'_> {
    fn class_counts(&self, rows: &[usize]) -> Vec<usize> {
        let mut counts = vec![0usize; self.n_classes];
        for &row in rows {
            counts[self.labels[row]] += 1;
        }
        counts
    }

    /// The node's share of the total weight times its weighted Gini
    /// impurity; a split's gain is the parent's term minus its children's.
    fn impurity_term(&self, counts: &[usize]) -> f64 {
        let mut weight = 0.0;
        let mut squares = 0.0;
        for (&count, &class_weight) in counts.iter().zip(self.weights) {
            let class_mass = count as f64 * class_weight;
            weight += class_mass;
            squares += class_mass * class_mass;
        }
        if weight > 0.0 {
            (weight - squares / weight) / self.total_weight
        } else {
            0.0
        }
    }

    /// The best question at a node with `rows` and class `counts`.
    fn best_split(&self, rows: &[usize], counts: &[usize]) -> Option<Candidate> {
        let mut search = Search {
            splitter: self,
            node_term: self.impurity_term(counts),
            node_counts: counts,
            n_rows: rows.len(),
            right_counts: vec![0; self.n_classes],
            best: None,
        };
        for (attribute, column) in self.columns.iter().enumerate() {
            match column {
                Column::Numeric {
                    bins,
                    bin_min,
                    bin_max,
                } => self.offer_numeric(&mut search, attribute, rows, bins, bin_min, bin_max),
                Column::Categorical { codes, kept } => {
                    self.offer_categorical(&mut search, attribute, rows, codes, kept.len() + 2)
                }
            }
        }
        search.best
    }

    fn offer_numeric(
        &self,
        search: &mut Search<'_, '_>,
        attribute: usize,
        rows: &[usize],
        bins: &[u32],
        bin_min: &[f64],
        bin_max: &[f64],
    ) {
        let n_classes = self.n_classes;
        let n_bins = bin_max.len();
        // Counts per bin and class, the NULLs in a last bin of their own.
        let mut histogram = vec![0usize; (n_bins + 1) * n_classes];
        let mut bin_rows = vec![0usize; n_bins + 1];
        for &row in rows {
            let bin = match bins[row] {
                NULL_BIN => n_bins,
                bin => bin as usize,
            };
            histogram[bin * n_classes + self.labels[row]] += 1;
            bin_rows[bin] += 1;
        }
        let null_counts = &histogram[n_bins * n_classes..];
        let n_null = bin_rows[n_bins];
        let n_non_null = rows.len() - n_null;
        let mut left = vec![0usize; n_classes];
        let mut with_nulls = vec![0usize; n_classes];
        let mut n_left = 0;
        let mut previous_bin: Option<usize> = None;
        for bin in 0..n_bins {
            if bin_rows[bin] == 0 {
                continue;
            }
            if let Some(previous_bin) = previous_bin {
                let threshold = threshold_between(bin_max[previous_bin], bin_min[bin]);
                // On a tie, NULLs join the side with more rows. Without
                // NULLs at the node they go right: the comparison is false
                // for them, as the description reads.
                let null_sides = if n_null > 0 && n_left >= n_non_null - n_left {
                    [true, false]
                } else {
                    [false, true]
                };
                for null_left in null_sides {
                    if null_left && n_null == 0 {
                        continue;
                    }
                    let (left_counts, n_left_rows) = if null_left {
                        for (sum, (&count, &null_count)) in
                            with_nulls.iter_mut().zip(left.iter().zip(null_counts))
                        {
                            *sum = count + null_count;
                        }
                        (&with_nulls, n_left + n_null)
                    } else {
                        (&left, n_left)
                    };
                    let cut = Cut::AtMost {
                        attribute,
                        threshold,
                        null_left,
                    };
                    search.offer(cut, left_counts, n_left_rows);
                }
            }
            let bin_counts = &histogram[bin * n_classes..(bin + 1) * n_classes];
            for (sum, &count) in left.iter_mut().zip(bin_counts) {
                *sum += count;
            }
            n_left += bin_rows[bin];
            previous_bin = Some(bin);
        }
        if n_null > 0 && n_non_null > 0 {
            search.offer(Cut::IsNull { attribute }, null_counts, n_null);
        }
    }

    fn offer_categorical(
        &self,
        search: &mut Search<'_, '_>,
        attribute: usize,
        rows: &[usize],
        codes: &[u32],
        n_codes: usize,
    ) {
        let n_classes = self.n_classes;
        let mut histogram = vec![0usize; n_codes * n_classes];
        let mut code_rows = vec![0usize; n_codes];
        for &row in rows {
            let code = codes[row] as usize;
            histogram[code * n_classes + self.labels[row]] += 1;
            code_rows[code] += 1;
        }
        for (code, &n_left) in code_rows.iter().enumerate() {
            if n_left > 0 && n_left < rows.len() {
                search.offer(
                    Cut::Code { attribute, code },
                    &histogram[code * n_classes..(code + 1) * n_classes],
                    n_left,
                );
            }
        }
    }
}

/// The running search for the best question at one node.
struct Search<'s, 'a> {
    splitter: &'s Splitter<'a>,
    node_term: f64,
    node_counts: &'s [usize],
    n_rows: usize,
    right_counts: Vec<usize>,
    best: Option<Candidate>,
}

impl Search<'_, '_> {
    /// Scores the question sending `left_counts` (`n_left` rows) left and
    /// keeps it if it is allowed and beats the best so far; ties keep the
    /// earlier question.
    fn offer(&mut self, cut: Cut, left_counts: &[usize], n_left: usize) {
        let min_rows = self.splitter.min_samples_leaf;
        if n_left < min_rows || self.n_rows - n_left < min_rows {
            return;
        }
        for (right, (&total, &left)) in self
            .right_counts
            .iter_mut()
            .zip(self.node_counts.iter().zip(left_counts))
        {
            *right = total - left;
        }
        let gain = self.node_term
            - self.splitter.impurity_term(left_counts)
            - self.splitter.impurity_term(&self.right_counts);
        if gain <= GAIN_TOLERANCE || gain + GAIN_TOLERANCE < self.splitter.min_impurity_decrease {
            return;
        }
        if self
            .best
            .is_none_or(|best| gain > best.gain + GAIN_TOLERANCE)
        {
            self.best = Some(Candidate { cut, gain, n_left });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn params(min_samples_leaf: usize) -> DecisionTreeValidParams {
        DecisionTreeParams::new()
            .with_min_samples_leaf(min_samples_leaf)
            .check()
            .expect("valid settings")
    }

    /// Fits a tree and checks its description, then its predictions on the
    /// training rows.
    fn check_tree(
        attributes: &[Attribute<'_>],
        labels: &[usize],
        n_classes: usize,
        params: &DecisionTreeValidParams,
        expected_tree: &str,
        expected_predictions: &[usize],
    ) -> DecisionTree {
        let tree = params.fit(attributes, labels, n_classes).expect("fits");
        assert_eq!(tree.to_string(), expected_tree, "\n{tree}");
        let rows: Vec<usize> = (0..labels.len()).collect();
        assert_eq!(
            tree.predict_rows(attributes, &rows).expect("predicts"),
            expected_predictions
        );
        tree
    }

    /// Checks balanced accuracy against numbers worked out by hand.
    fn check_balanced(
        truth: &[usize],
        predicted: &[usize],
        n_classes: usize,
        expected: Result<(f64, &[Option<f64>]), &str>,
    ) {
        let outcome = balanced_accuracy(truth, predicted, n_classes);
        match (outcome, expected) {
            (Ok(got), Ok((overall, per_class))) => {
                assert!(
                    (got.overall - overall).abs() < 1e-12,
                    "{truth:?} vs {predicted:?}: {got:?}"
                );
                assert_eq!(got.per_class.len(), per_class.len());
                for (got, want) in got.per_class.iter().zip(per_class) {
                    match (got, want) {
                        (Some(got), Some(want)) => {
                            assert!((got - want).abs() < 1e-12, "{got} vs {want}")
                        }
                        (got, want) => assert_eq!(got, want),
                    }
                }
            }
            (outcome, expected) => assert_eq!(
                outcome.map(|_| ()).map_err(|error| error.to_string()),
                expected.map(|_| ()).map_err(str::to_string)
            ),
        }
    }

    fn numeric(values: &[f64]) -> Vec<Option<f64>> {
        values.iter().copied().map(Some).collect()
    }

    #[test]
    fn numeric_attribute_separating_two_classes() {
        // Class 0 at 1..=10, class 1 at 101..=110: the cut is (10 + 101) / 2.
        let values: Vec<Option<f64>> = (1..=10)
            .chain(101..=110)
            .map(|v| Some(f64::from(v)))
            .collect();
        let labels: Vec<usize> = (0..20).map(|row| row / 10).collect();
        let attributes = [Attribute::Numeric {
            name: "employees",
            values: &values,
        }];
        let tree = check_tree(
            &attributes,
            &labels,
            2,
            &params(1),
            "if employees <= 55.5 {\n    class 0 (10 rows)\n} else {\n    class 1 (10 rows)\n}",
            &labels,
        );
        assert_eq!((tree.n_leaves(), tree.depth(), tree.n_classes()), (2, 1, 2));
        // New rows on both sides of the cut, and exactly on it.
        let new_values = numeric(&[55.5, 55.6, -3.0]);
        let new_attributes = [Attribute::Numeric {
            name: "employees",
            values: &new_values,
        }];
        assert_eq!(
            tree.predict_rows(&new_attributes, &[0, 1, 2]),
            Ok(vec![0, 1, 0])
        );
        let predicted = cross_val_predict(&attributes, &labels, 2, DEFAULT_FOLDS, 3, &params(1))
            .expect("predicts");
        assert_eq!(predicted, labels);
        check_balanced(&labels, &predicted, 2, Ok((1.0, &[Some(1.0), Some(1.0)])));
    }

    #[test]
    fn categorical_attribute_and_depth_two() {
        // Class 2 is exactly employees > 267.5 = (35 + 500) / 2. At the root
        // that cut lowers the Gini impurity from 2/3 to 6/9 · 1/2 = 1/3, more
        // than any industry (retail: 4/9 · 3/8 + 5/9 · 12/25 = 13/30); below
        // it `industry = 'retail'` is pure.
        let employees = numeric(&[10.0, 20.0, 30.0, 15.0, 25.0, 35.0, 500.0, 600.0, 700.0]);
        let industry: Vec<Option<&str>> = [
            "software", "software", "health", "retail", "retail", "retail", "software", "retail",
            "health",
        ]
        .into_iter()
        .map(Some)
        .collect();
        let labels = [0, 0, 0, 1, 1, 1, 2, 2, 2];
        let attributes = [
            Attribute::Numeric {
                name: "employees",
                values: &employees,
            },
            Attribute::Categorical {
                name: "industry",
                values: &industry,
            },
        ];
        let full = "if employees <= 267.5 {\n    if industry = 'retail' {\n        class 1 (3 rows)\n    } else {\n        class 0 (3 rows)\n    }\n} else {\n    class 2 (3 rows)\n}";
        let tree = check_tree(&attributes, &labels, 3, &params(1), full, &labels);
        assert_eq!(
            tree.describe(&["SMB", "Retail", "Enterprise"]),
            "if employees <= 267.5 {\n    if industry = 'retail' {\n        Retail (3 rows)\n    } else {\n        SMB (3 rows)\n    }\n} else {\n    Enterprise (3 rows)\n}"
        );
        // The root gains 1/3 and its left child 6/9 · 1/2 = 1/3.
        let with_decrease = |decrease: f64| {
            DecisionTreeParams::new()
                .with_min_samples_leaf(1)
                .with_min_impurity_decrease(decrease)
                .check()
                .expect("valid")
        };
        check_tree(&attributes, &labels, 3, &with_decrease(0.3), full, &labels);
        check_tree(
            &attributes,
            &labels,
            3,
            &with_decrease(0.34),
            "class 0 (9 rows)",
            &[0; 9],
        );
        // Depth 1: the left leaf ties between classes 0 and 1 and says 0.
        let shallow = DecisionTreeParams::new()
            .with_min_samples_leaf(1)
            .with_max_depth(1)
            .check()
            .expect("valid");
        check_tree(
            &attributes,
            &labels,
            3,
            &shallow,
            "if employees <= 267.5 {\n    class 0 (6 rows)\n} else {\n    class 2 (3 rows)\n}",
            &[0, 0, 0, 0, 0, 0, 2, 2, 2],
        );
        let stump = shallow
            .into_params()
            .with_max_depth(0)
            .check()
            .expect("valid");
        check_tree(&attributes, &labels, 3, &stump, "class 0 (9 rows)", &[0; 9]);
    }

    #[test]
    fn min_samples_leaf_and_class_weights() {
        // One row of class 1 cannot be isolated with 2 rows per leaf. With
        // weights 6/10 and 3, cutting at 4.5 leaves {5, 6} with Gini 10/36 on
        // 3.6 of 6 weight (0.167); at 3.5, {4, 5, 6} has 20/49 on 4.2 (0.286).
        // {5, 6} predicts class 1: it holds 1/1 of class 1 but 1/5 of class 0.
        let values = numeric(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let labels = [0, 0, 0, 0, 0, 1];
        let attributes = [Attribute::Numeric {
            name: "x",
            values: &values,
        }];
        check_tree(
            &attributes,
            &labels,
            2,
            &params(2),
            "if x <= 4.5 {\n    class 0 (4 rows)\n} else {\n    class 1 (2 rows)\n}",
            &[0, 0, 0, 0, 1, 1],
        );
        // The default of 20 rows per leaf leaves a single leaf. At the root
        // every class has all of its rows, a tie: class 0.
        check_tree(
            &attributes,
            &labels,
            2,
            &params(20),
            "class 0 (6 rows)",
            &[0; 6],
        );
    }

    #[test]
    fn constant_attribute_gives_one_leaf_and_chance_accuracy() {
        let values = vec![Some(5.0); 40];
        let labels: Vec<usize> = (0..40).map(|row| row % 2).collect();
        let attributes = [Attribute::Numeric {
            name: "employees",
            values: &values,
        }];
        check_tree(
            &attributes,
            &labels,
            2,
            &params(1),
            "class 0 (40 rows)",
            &[0; 40],
        );
        // Every training fold holds 16 rows of each class: a tie, so class 0.
        let predicted =
            cross_val_predict(&attributes, &labels, 2, 5, 11, &params(20)).expect("predicts");
        assert_eq!(predicted, vec![0; 40]);
        check_balanced(&labels, &predicted, 2, Ok((0.5, &[Some(0.5), Some(0.5)])));
    }

    #[test]
    fn nulls() {
        let labels = [0, 0, 0, 0, 1, 1, 1, 1];
        // NULLs belong with the large values: they go right of 6.5.
        let high = [1.0, 2.0, 3.0, 4.0, 9.0, 11.0].map(Some);
        let values: Vec<Option<f64>> = high.into_iter().chain([None, None]).collect();
        let attributes = [Attribute::Numeric {
            name: "employees",
            values: &values,
        }];
        let tree = check_tree(
            &attributes,
            &labels,
            2,
            &params(1),
            "if employees <= 6.5 {\n    class 0 (4 rows)\n} else {\n    class 1 (4 rows)\n}",
            &labels,
        );
        // Now with the small values: the cut says so.
        let values: Vec<Option<f64>> = [
            Some(1.0),
            Some(2.0),
            None,
            None,
            Some(11.0),
            Some(12.0),
            Some(13.0),
            Some(14.0),
        ]
        .to_vec();
        let attributes_left = [Attribute::Numeric {
            name: "employees",
            values: &values,
        }];
        check_tree(
            &attributes_left,
            &labels,
            2,
            &params(1),
            "if employees <= 6.5 or employees is null {\n    class 0 (4 rows)\n} else {\n    class 1 (4 rows)\n}",
            &labels,
        );
        // NULL alone decides: a question of its own.
        let values: Vec<Option<f64>> = [
            None,
            None,
            None,
            None,
            Some(1.0),
            Some(2.0),
            Some(3.0),
            Some(4.0),
        ]
        .to_vec();
        let attributes_null = [Attribute::Numeric {
            name: "employees",
            values: &values,
        }];
        check_tree(
            &attributes_null,
            &labels,
            2,
            &params(1),
            "if employees is null {\n    class 0 (4 rows)\n} else {\n    class 1 (4 rows)\n}",
            &labels,
        );
        // A NULL never seen in training goes right, like a learned one above.
        let unseen = [None];
        let unseen_attributes = [Attribute::Numeric {
            name: "employees",
            values: &unseen,
        }];
        let no_nulls = numeric(&[1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0, 14.0]);
        let seen = [Attribute::Numeric {
            name: "employees",
            values: &no_nulls,
        }];
        let tree_no_nulls = params(1)
            .fit(&seen, &[0, 0, 0, 1, 1, 1, 1, 1], 2)
            .expect("fits");
        assert_eq!(tree_no_nulls.predict(&unseen_attributes, 0), Ok(1));
        assert_eq!(tree.predict(&unseen_attributes, 0), Ok(1));
        // A categorical NULL is a category; `retail` comes first (more frequent).
        let industry = [
            Some("retail"),
            Some("retail"),
            Some("retail"),
            None,
            None,
            None,
        ];
        let attributes = [Attribute::Categorical {
            name: "industry",
            values: &industry,
        }];
        check_tree(
            &attributes,
            &[1, 1, 1, 0, 0, 0],
            2,
            &params(1),
            "if industry = 'retail' {\n    class 1 (3 rows)\n} else {\n    class 0 (3 rows)\n}",
            &[1, 1, 1, 0, 0, 0],
        );
        let industry = [
            Some("retail"),
            Some("retail"),
            Some("retail"),
            None,
            None,
            Some("health"),
        ];
        let attributes = [Attribute::Categorical {
            name: "industry",
            values: &industry,
        }];
        check_tree(
            &attributes,
            &[1, 1, 1, 0, 0, 1],
            2,
            &params(1),
            "if industry is null {\n    class 0 (2 rows)\n} else {\n    class 1 (4 rows)\n}",
            &[1, 1, 1, 0, 0, 1],
        );
    }

    #[test]
    fn rare_categories_fold_into_other() {
        // Keeping 2 categories, `y` and `z` are (other), and only (other)
        // holds class 1; an unseen `q` is (other) too.
        let industry = ["x", "x", "x", "x", "w", "w", "w", "y", "z", "it's"].map(Some);
        let labels = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1];
        let attributes = [Attribute::Categorical {
            name: "industry",
            values: &industry,
        }];
        let two = DecisionTreeParams::new()
            .with_min_samples_leaf(1)
            .with_max_categories(2)
            .check()
            .expect("valid");
        let tree = check_tree(
            &attributes,
            &labels,
            2,
            &two,
            "if industry = (other) {\n    class 1 (3 rows)\n} else {\n    class 0 (7 rows)\n}",
            &labels,
        );
        let new_values = [Some("q"), Some("w"), None];
        let new_attributes = [Attribute::Categorical {
            name: "industry",
            values: &new_values,
        }];
        assert_eq!(
            tree.predict_rows(&new_attributes, &[0, 1, 2]),
            Ok(vec![1, 0, 0])
        );
        // With every category kept, quotes in a category are doubled.
        let labels = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        check_tree(
            &attributes,
            &labels,
            2,
            &params(1),
            "if industry = 'it''s' {\n    class 1 (1 row)\n} else {\n    class 0 (9 rows)\n}",
            &labels,
        );
    }

    #[test]
    fn quantile_thresholds() {
        // 200 distinct values, class 1 from 90. With 4 thresholds the bins
        // are 0–39, 40–79, 80–119, 120–159, 160–199; the best cut between
        // them is 79.5. With 199 every midpoint is tried: 89.5.
        let values: Vec<Option<f64>> = (0..200).map(|v| Some(f64::from(v))).collect();
        let labels: Vec<usize> = (0..200).map(|v| usize::from(v >= 90)).collect();
        let attributes = [Attribute::Numeric {
            name: "x",
            values: &values,
        }];
        let with_thresholds = |max_thresholds: usize| {
            DecisionTreeParams::new()
                .with_min_samples_leaf(1)
                .with_max_depth(1)
                .with_max_thresholds(max_thresholds)
                .check()
                .expect("valid")
        };
        let coarse: Vec<usize> = (0..200).map(|v| usize::from(v >= 80)).collect();
        check_tree(
            &attributes,
            &labels,
            2,
            &with_thresholds(4),
            "if x <= 79.5 {\n    class 0 (80 rows)\n} else {\n    class 1 (120 rows)\n}",
            &coarse,
        );
        check_tree(
            &attributes,
            &labels,
            2,
            &with_thresholds(199),
            "if x <= 89.5 {\n    class 0 (90 rows)\n} else {\n    class 1 (110 rows)\n}",
            &labels,
        );
        assert_eq!(
            numeric_bins(&values, &(0..200).collect::<Vec<_>>(), 4),
            (
                vec![0.0, 40.0, 80.0, 120.0, 160.0],
                vec![39.0, 79.0, 119.0, 159.0, 199.0]
            )
        );
    }

    #[test]
    fn balanced_accuracy_by_hand() {
        // Recalls 2/3, 1/2 and 0; class 3 is absent.
        // One-vs-rest: class 0 TNR 1/3, class 1 TNR 3/4, class 2 TNR 1.
        check_balanced(
            &[0, 0, 0, 1, 1, 2],
            &[0, 0, 1, 1, 0, 0],
            4,
            Ok((7.0 / 18.0, &[Some(0.5), Some(0.625), Some(0.5), None])),
        );
        check_balanced(&[1, 1], &[1, 0], 2, Ok((0.5, &[None, None])));
        check_balanced(&[0, 1], &[0, 1], 2, Ok((1.0, &[Some(1.0), Some(1.0)])));
        check_balanced(
            &[0, 1],
            &[0],
            2,
            Err("2 true labels but 1 predictions; give one prediction per labelled row"),
        );
        check_balanced(
            &[],
            &[],
            2,
            Err("there are no rows; give at least one labelled row"),
        );
        check_balanced(
            &[0, 1],
            &[0, 2],
            2,
            Err("prediction 2 at row 1 is not a class index; with 2 classes they run from 0 to 1"),
        );
    }

    #[test]
    fn cross_val_predict_is_deterministic_and_stratified() {
        let mut rng = StdRng::seed_from_u64(5);
        let n_rows = 300;
        let labels: Vec<usize> = (0..n_rows).map(|row| row % 3).collect();
        let employees: Vec<Option<f64>> = labels
            .iter()
            .map(|&label| {
                (rng.random_range(0..10) > 0)
                    .then(|| label as f64 * 50.0 + rng.random_range(0.0..80.0))
            })
            .collect();
        let plans = ["free", "pro", "enterprise", "trial"];
        let plan: Vec<Option<&str>> = labels
            .iter()
            .map(|&label| Some(plans[(label + rng.random_range(0..2)) % 4]))
            .collect();
        let attributes = [
            Attribute::Numeric {
                name: "employees",
                values: &employees,
            },
            Attribute::Categorical {
                name: "plan",
                values: &plan,
            },
        ];
        let first =
            cross_val_predict(&attributes, &labels, 3, 5, 42, &params(5)).expect("predicts");
        let again =
            cross_val_predict(&attributes, &labels, 3, 5, 42, &params(5)).expect("predicts");
        assert_eq!(first, again);
        let score = balanced_accuracy(&labels, &first, 3).expect("scores");
        assert!(score.overall > 0.6 && score.overall <= 1.0, "{score:?}");

        let folds = stratified_folds(&labels, 3, 5, 42);
        for fold in 0..5 {
            for class in 0..3 {
                let n_in_fold = (0..n_rows)
                    .filter(|&row| folds[row] == fold && labels[row] == class)
                    .count();
                assert_eq!(n_in_fold, 20, "fold {fold}, class {class}");
            }
        }
        assert_ne!(folds, stratified_folds(&labels, 3, 5, 43));
        // A class with fewer rows than folds is fine.
        let mut rare = labels.clone();
        rare[0] = 3;
        let predicted =
            cross_val_predict(&attributes, &rare, 4, 5, 1, &params(5)).expect("predicts");
        assert_eq!(predicted.len(), n_rows);
    }

    #[test]
    fn errors() {
        let values = numeric(&[1.0, 2.0, 3.0]);
        let short = numeric(&[1.0, 2.0]);
        let bad = [Some(1.0), Some(f64::NAN), None];
        let industry = [Some("a"), None, Some("b")];
        let fit = |attributes: &[Attribute<'_>], labels: &[usize], n_classes: usize| {
            params(1)
                .fit(attributes, labels, n_classes)
                .map(|_| ())
                .map_err(|error| error.to_string())
        };
        let x = Attribute::Numeric {
            name: "x",
            values: &values,
        };
        let cases: &[(&[Attribute<'_>], &[usize], usize, &str)] = &[
            (
                &[x],
                &[],
                2,
                "there are no rows; give at least one labelled row",
            ),
            (
                &[
                    x,
                    Attribute::Numeric {
                        name: "employees",
                        values: &short,
                    },
                ],
                &[0, 1, 0],
                2,
                "attribute `employees` has 2 values for 3 rows; give every attribute one value per row (NULL where unknown)",
            ),
            (
                &[x],
                &[0, 1, 2],
                2,
                "label 2 at row 2 is not a class index; with 2 classes they run from 0 to 1",
            ),
            (
                &[Attribute::Numeric {
                    name: "arr",
                    values: &bad,
                }],
                &[0, 1, 0],
                2,
                "attribute `arr` is NaN at row 1; numeric attributes must be finite (use NULL where unknown)",
            ),
        ];
        for (attributes, labels, n_classes, expected) in cases {
            assert_eq!(
                fit(attributes, labels, *n_classes),
                Err(expected.to_string())
            );
        }
        let cv = |n_folds: usize| {
            cross_val_predict(&[x], &[0, 1, 0], 2, n_folds, 0, &params(1))
                .map_err(|error| error.to_string())
        };
        assert_eq!(
            cv(1),
            Err("cross-validation needs at least 2 folds, got 1".to_string())
        );
        assert_eq!(
            cv(2),
            Err("3 rows are too few for 2 folds of at least 2 rows; give at least 4 rows or use fewer folds".to_string())
        );

        let tree = params(1).fit(&[x], &[0, 0, 1], 2).expect("fits");
        let predict = |attributes: &[Attribute<'_>], row: usize| {
            tree.predict(attributes, row)
                .map_err(|error| error.to_string())
        };
        assert_eq!(predict(&[x], 2), Ok(1));
        assert_eq!(
            predict(&[], 0),
            Err("the tree was fitted on 1 attribute but 0 were given; pass the same attributes in the same order".to_string())
        );
        assert_eq!(
            predict(&[Attribute::Categorical { name: "x", values: &industry }], 0),
            Err("attribute 0 is categorical `x` but the tree was fitted with numeric `x` there; pass the same attributes in the same order".to_string())
        );
        assert_eq!(
            predict(&[x], 3),
            Err("row 3 is out of range: attribute `x` has 3 values".to_string())
        );
        assert_eq!(
            predict(&[Attribute::Numeric { name: "x", values: &bad }], 1),
            Err("attribute `x` is NaN at row 1; numeric attributes must be finite (use NULL where unknown)".to_string())
        );

        let invalid = DecisionTreeParams::new()
            .with_min_samples_leaf(0)
            .with_min_impurity_decrease(f64::NAN)
            .with_max_categories(0)
            .with_max_thresholds(1_000_000)
            .check();
        assert_eq!(
            invalid.map(|_| ()).map_err(|error| error.to_string()),
            Err("invalid decision tree settings: min_samples_leaf must be at least 1 (rows in every leaf), got 0; min_impurity_decrease must be a finite number ≥ 0, got NaN; max_categories must be between 1 and 100000, got 0; max_thresholds must be between 1 and 100000, got 1000000".to_string())
        );
    }
}
