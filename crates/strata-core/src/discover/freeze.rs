//! A clustering frozen as rules: nearest-centroid assignment written in the
//! rule language, so that any engine that runs rules (and so any warehouse
//! that runs their SQL) assigns new accounts exactly as the model does.
//!
//! With the transform `z = w · clip((t(x) − m) / s)` per feature, where
//! `t` is `ln(1 + x)` or the identity and a NULL is replaced by the training
//! median, the nearest centroid `c_j` maximises `z·c_j − |c_j|²/2`. Clipping
//! the scaled value at ±C is clipping `t(x)` at `m ± C·s` (and, for `log1p`
//! features, `x` at `expm1(m ± C·s)`), so every score is linear in the
//! clipped features:
//!
//! ```text
//! score_j = Σ_f A_jf · t_f + B_j,   A_jf = c_jf · w_f / s_f,
//!                                   B_j = −Σ_f A_jf · m_f − |c_j|² / 2
//! ```
//!
//! Segments are first-match-wins, so cluster `i` needs only to beat the
//! clusters after it: its rule is `AND` over `j > i` of
//! `Σ_f (A_if − A_jf) · t_f >= B_j − B_i`, and the last cluster's rule is
//! `TRUE`. Ties go to the lower index, as in [`crate::ml::KMeansModel::predict`].
//! Coefficients are written with 9 significant digits; assignments agree with
//! the model except for accounts within rounding of a boundary.
use super::ClusterModel;
use crate::rules::ToDataFusion;
pub use crate::rules::number;

/// The rule-language text of `t_f`: the clipped, possibly logged feature.
fn clipped_feature(model: &ClusterModel, feature_idx: usize, clip: Option<f64>) -> String {
    let name = &model.features[feature_idx];
    let transform = &model.transform.features()[feature_idx];
    let filled = format!("COALESCE({name}, {})", number(transform.fill));
    let bounds = clip.map(|c| {
        let low = transform.center - c * transform.scale;
        let high = transform.center + c * transform.scale;
        if transform.log1p {
            (low.exp_m1(), high.exp_m1())
        } else {
            (low, high)
        }
    });
    let clipped = match bounds {
        Some((low, high)) => format!(
            "LEAST(GREATEST({filled}, {}), {})",
            number(low),
            number(high)
        ),
        None => filled,
    };
    if transform.log1p {
        format!("LN(1 + {clipped})")
    } else {
        clipped
    }
}

/// `A_j` and `B_j` of every cluster.
fn scores(model: &ClusterModel) -> Vec<(Vec<f64>, f64)> {
    let features = model.transform.features();
    (0..model.k())
        .map(|cluster| {
            let centroid = model.centroids.row(cluster);
            let coefficients: Vec<f64> = centroid
                .iter()
                .zip(features)
                .map(|(&c, feature)| c * feature.weight / feature.scale)
                .collect();
            let offset = -coefficients
                .iter()
                .zip(features)
                .map(|(a, feature)| a * feature.center)
                .sum::<f64>()
                - centroid.iter().map(|c| c * c).sum::<f64>() / 2.0;
            (coefficients, offset)
        })
        .collect()
}

/// One rule per cluster, in cluster order: the first that holds is the
/// nearest centroid.
pub fn rules(model: &ClusterModel) -> Vec<String> {
    let clip = model.transform.clip();
    let terms: Vec<String> = (0..model.features.len())
        .map(|feature_idx| clipped_feature(model, feature_idx, clip))
        .collect();
    let scores = scores(model);
    let k = model.k();
    // The rule segments come first, as they took their accounts before the fit.
    let rule_segments = model
        .clusters
        .iter()
        .filter_map(|cluster| cluster.rule.clone());
    let nearest = (0..k).map(|cluster| {
        if cluster + 1 == k {
            return "TRUE".to_string();
        }
        let comparisons: Vec<String> = (cluster + 1..k)
            .map(|other| {
                let (own, own_offset) = &scores[cluster];
                let (theirs, their_offset) = &scores[other];
                let mut sum = String::new();
                for (feature_idx, term) in terms.iter().enumerate() {
                    let coefficient = own[feature_idx] - theirs[feature_idx];
                    if coefficient == 0.0 {
                        continue;
                    }
                    let magnitude = number(coefficient.abs());
                    let sign = if coefficient < 0.0 { "-" } else { "+" };
                    if sum.is_empty() {
                        let lead = if coefficient < 0.0 { "-" } else { "" };
                        sum = format!("{lead}{magnitude} * {term}");
                    } else {
                        sum.push_str(&format!(" {sign} {magnitude} * {term}"));
                    }
                }
                if sum.is_empty() {
                    sum = "0".to_string();
                }
                format!("{sum} >= {}", number(their_offset - own_offset))
            })
            .collect();
        if comparisons.len() == 1 {
            comparisons.into_iter().collect()
        } else {
            comparisons
                .iter()
                .map(|comparison| format!("({comparison})"))
                .collect::<Vec<_>>()
                .join(" AND ")
        }
    });
    rule_segments.chain(nearest).collect()
}

/// The folder, inside the project folder, where frozen models are kept.
pub const MODELS_DIR: &str = "models";

fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The `[[segmentation]]` block of a frozen clustering, with a comment
/// saying where it came from.
pub fn project_block(name: &str, model: &ClusterModel, model_path: &str) -> String {
    let rules = rules(model);
    let mut out = String::new();
    out.push_str(&format!(
        "\n# Frozen by `strata discover --freeze {name}` from a {}-cluster fit of\n# {} (as of {}).\n",
        model.k(),
        model.features.join(", "),
        model.as_of
    ));
    out.push_str(
        "# Each rule says \"nearer to this centroid than to every later one\", so the first\n\
         # rule that holds is the nearest centroid: the warehouse can assign new accounts\n\
         # with these rules alone. `strata discover --check` compares them with a fresh fit.\n",
    );
    out.push_str("[[segmentation]]\n");
    out.push_str(&format!("name = {}\n", toml_string(name)));
    out.push_str("kind = \"rules\"\n");
    out.push_str(&format!("model = {}\n", toml_string(model_path)));
    out.push_str("segments = [\n");
    for (cluster, rule) in model.clusters.iter().zip(rules) {
        out.push_str(&format!(
            "  {{ name = {}, description = {}, when = {} }},\n",
            toml_string(&cluster.name),
            toml_string(&cluster.description),
            toml_string(&rule)
        ));
    }
    out.push_str("]\n");
    out
}

/// The frozen rules as one SQL `CASE` expression (PostgreSQL dialect) over
/// columns named like the model's features, e.g. for a warehouse view.
pub fn sql_case(model: &ClusterModel) -> crate::Result<String> {
    use crate::error::Error;
    // The rule segments use numeric features only (checked when the
    // project is), so every column the rules read is a number.
    let mut columns = model.features.clone();
    for cluster in &model.clusters {
        if let Some(rule) = &cluster.rule
            && let Ok(expr) = crate::rules::parse(rule)
        {
            expr.walk(&mut |node| {
                if let crate::rules::ast::ExprKind::Column(name) = &node.kind
                    && !columns.contains(name)
                {
                    columns.push(name.clone());
                }
            });
        }
    }
    let schema = crate::rules::Schema::new(
        columns
            .into_iter()
            .map(|feature| (feature, crate::rules::ValueType::Float)),
    );
    let mut case: Option<datafusion::logical_expr::Expr> = None;
    for (cluster, rule) in model.clusters.iter().zip(rules(model)).rev() {
        let name = datafusion::logical_expr::lit(cluster.name.clone());
        case = Some(match case {
            None => name,
            Some(otherwise) => {
                let checked = crate::rules::check_predicate(&rule, &schema).map_err(|error| {
                    Error::Internal(format!("a frozen rule does not check: {error}"))
                })?;
                datafusion::logical_expr::when(checked.to_datafusion(), name)
                    .otherwise(otherwise)?
            }
        });
    }
    let case = case.ok_or_else(|| Error::Internal("a model without clusters".into()))?;
    crate::sql::expr_sql(&case, crate::sql::Dialect::Postgres)
}

/// Freezes `model` into the project in `project_dir` as segmentation `name`:
/// writes `models/NAME.json` and `models/NAME.sql` (the rules as one SQL
/// `CASE`), then appends the rules to `strata.toml`. The
/// new project text is validated before anything is written, and the project
/// file is replaced atomically, so a failure leaves the project as it was.
pub fn freeze_into_project(
    project_file: &std::path::Path,
    name: &str,
    model: &ClusterModel,
) -> crate::Result<std::path::PathBuf> {
    use crate::error::{Error, Problem};
    let (dir, text) = crate::project::read_for_new_segmentation(project_file, name, "--freeze")?;
    let relative = format!("{MODELS_DIR}/{name}.json");
    let model_path = dir.join(&relative);
    if model_path.exists() {
        return Err(Error::invalid(
            Problem::new(
                model_path.display().to_string(),
                "a model file of that name already exists",
            )
            .with_help("freeze under a new name, or remove the file if nothing uses it"),
        ));
    }
    for rule in rules(model) {
        crate::rules::parse(&rule)
            .map_err(|error| Error::Internal(format!("a frozen rule does not parse: {error}")))?;
    }
    let new_text = crate::project::append_segmentation(
        project_file,
        &dir,
        &text,
        &project_block(name, model, &relative),
    )?;
    let sql_path = dir.join(format!("{MODELS_DIR}/{name}.sql"));
    let sql = format!(
        "-- `{name}`, frozen by `strata discover --freeze {name}`: nearest-centroid\n\
         -- assignment of a {}-cluster fit (as of {}), PostgreSQL. The columns are\n\
         -- strata's features of the same names (`strata features`).\n\
         SELECT account_id,\n  {} AS segment\nFROM features;\n",
        model.k(),
        model.as_of,
        sql_case(model)?
    );
    model.save(&model_path)?;
    if let Err(error) = crate::files::write_file_atomically(&sql_path, sql.as_bytes()) {
        let _ = std::fs::remove_file(&model_path);
        return Err(error);
    }
    if let Err(error) = crate::files::write_file_atomically(project_file, new_text.as_bytes()) {
        let _ = std::fs::remove_file(&model_path);
        let _ = std::fs::remove_file(&sql_path);
        return Err(error);
    }
    Ok(model_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_nine_significant_digits_and_no_exponent() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(-2.0), "-2");
        assert_eq!(number(1.0 / 3.0), "0.333333333");
        assert_eq!(number(123456.7891234), "123456.789");
        assert_eq!(number(0.000012345678912), "0.0000123456789");
        assert_eq!(number(1e12), "1000000000000");
        assert_eq!(number(-1e-40), "0");
    }
}
