//! Evaluating checked rules over a batch of accounts in the batch's own row
//! order: the one place memberships are computed from rules, for every
//! segmentation kind and for the rule segments of a clustering.
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, lit};
use datafusion::prelude::SessionContext;

use crate::error::{Error, Result};
use crate::rules::{CheckedRule, ToDataFusion};

/// `CASE WHEN r0 THEN 0 WHEN r1 THEN 1 ... END` over `rules`; a NULL
/// literal for none.
pub fn first_match_of<'a>(rules: impl IntoIterator<Item = &'a CheckedRule>) -> Result<Expr> {
    let mut rules = rules.into_iter().enumerate();
    let Some((_, first)) = rules.next() else {
        return Ok(lit(datafusion::common::ScalarValue::Int64(None)));
    };
    let mut case = datafusion::logical_expr::when(first.to_datafusion(), lit(0i64));
    for (idx, rule) in rules {
        case = case.when(rule.to_datafusion(), lit(idx as i64));
    }
    Ok(case.end()?)
}

/// Per row of `batch`, the index of the first of `rules` that is true.
pub fn first_matches(
    ctx: &SessionContext,
    batch: &RecordBatch,
    rules: &[CheckedRule],
) -> Result<Vec<Option<usize>>> {
    let column = evaluate(ctx, batch, &[first_match_of(rules)?])?;
    Ok(segment_indices(&column[0]))
}

/// The segment indices of a `CASE` column: its values, NULL as `None`.
pub fn segment_indices(column: &ArrayRef) -> Vec<Option<usize>> {
    let column = column.as_primitive::<Int64Type>();
    (0..column.len())
        .map(|row| column.is_valid(row).then(|| column.value(row) as usize))
        .collect()
}

/// Arrow compares floats by their total order, where `-0.0` is less than
/// `0.0`; SQL (and every warehouse the rules also run on) says they are
/// equal. Each float operand of a comparison, `IN`, `BETWEEN` or the
/// division guard `NULLIF(x, 0)` gets `+ 0.0`,
/// which turns `-0.0` into `0.0` and leaves every other value as it is.
fn signed_zeros_equal(
    expr: Expr,
    schema: &DFSchema,
) -> std::result::Result<Expr, datafusion::error::DataFusionError> {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::common::tree_node::{Transformed, TreeNode};
    use datafusion::logical_expr::expr::{Between, InList};
    use datafusion::logical_expr::{BinaryExpr, ExprSchemable, Operator};
    let positive =
        |operand: Box<Expr>| -> std::result::Result<Box<Expr>, datafusion::error::DataFusionError> {
            Ok(match operand.get_type(schema)? {
                DataType::Float64 | DataType::Float32 => Box::new(*operand + lit(0.0)),
                _ => operand,
            })
        };
    let rewritten = expr.transform_up(|node| {
        Ok(match node {
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(
                    op,
                    Operator::Eq
                        | Operator::NotEq
                        | Operator::Lt
                        | Operator::LtEq
                        | Operator::Gt
                        | Operator::GtEq
                ) =>
            {
                Transformed::yes(Expr::BinaryExpr(BinaryExpr {
                    left: positive(left)?,
                    op,
                    right: positive(right)?,
                }))
            }
            Expr::InList(InList {
                expr,
                list,
                negated,
            }) => Transformed::yes(Expr::InList(InList {
                expr: positive(expr)?,
                list: list
                    .into_iter()
                    .map(|item| positive(Box::new(item)).map(|item| *item))
                    .collect::<std::result::Result<_, _>>()?,
                negated,
            })),
            Expr::Between(Between {
                expr,
                negated,
                low,
                high,
            }) => Transformed::yes(Expr::Between(Between {
                expr: positive(expr)?,
                negated,
                low: positive(low)?,
                high: positive(high)?,
            })),
            // The guard of a division by zero (`NULLIF(x, 0)`) compares too.
            Expr::ScalarFunction(mut call) if call.name() == "nullif" => {
                if let Some(first) = call.args.first_mut() {
                    *first = *positive(Box::new(first.clone()))?;
                }
                Transformed::yes(Expr::ScalarFunction(call))
            }
            other => Transformed::no(other),
        })
    })?;
    Ok(rewritten.data)
}

/// Rows per slice of [`evaluate`]: large enough that the per-slice overhead
/// vanishes, small enough that a slice's columns stay in cache.
const EVALUATE_SLICE_ROWS: usize = 65_536;

/// Evaluates `exprs` over every row of `batch`; each result array has one
/// value per row of `batch`, in the batch's row order.
///
/// The expressions are compiled to physical expressions and applied to
/// slices of the batch directly, with no query plan. A plan over an
/// in-memory table may repartition its rows round-robin across threads and
/// merge the partitions back in whatever order they finish, so the rows of a
/// collected result are *not* the rows of the input once there is more than
/// one batch (8,192 rows): matching results to accounts by position through a
/// plan scrambles memberships. Slices here are evaluated in parallel but
/// reassembled by slice index, so the order is the batch's by construction.
pub fn evaluate(
    ctx: &SessionContext,
    batch: &RecordBatch,
    exprs: &[Expr],
) -> Result<Vec<ArrayRef>> {
    use datafusion::logical_expr::simplify::SimplifyContext;
    use datafusion::optimizer::simplify_expressions::ExprSimplifier;
    use rayon::prelude::*;
    let schema = std::sync::Arc::new(DFSchema::try_from(batch.schema().as_ref().clone())?);
    // A plan's optimizer would simplify the expressions (some functions,
    // such as COALESCE, have no physical form before they are rewritten).
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(std::sync::Arc::clone(&schema))
            .build(),
    );
    let physical = exprs
        .iter()
        .map(|expr| {
            let expr = simplifier.simplify(simplifier.coerce(expr.clone(), &schema)?)?;
            ctx.create_physical_expr(signed_zeros_equal(expr, &schema)?, &schema)
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let n_rows = batch.num_rows();
    let n_slices = n_rows.div_ceil(EVALUATE_SLICE_ROWS).max(1);
    let slices: Vec<Vec<ArrayRef>> = (0..n_slices)
        .into_par_iter()
        .map(|slice_idx| {
            let offset = slice_idx * EVALUATE_SLICE_ROWS;
            let length = EVALUATE_SLICE_ROWS.min(n_rows - offset);
            let slice = batch.slice(offset, length);
            physical
                .iter()
                .map(|expr| Ok(expr.evaluate(&slice)?.into_array(length)?))
                .collect::<Result<Vec<ArrayRef>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    let mut columns = Vec::with_capacity(exprs.len());
    for expr_idx in 0..exprs.len() {
        let parts: Vec<&dyn Array> = slices
            .iter()
            .map(|slice| slice[expr_idx].as_ref())
            .collect();
        let column = datafusion::arrow::compute::concat(&parts)?;
        if column.len() != n_rows {
            return Err(Error::Internal(format!(
                "evaluating a rule gave {} values for {n_rows} rows",
                column.len()
            )));
        }
        columns.push(column);
    }
    Ok(columns)
}
