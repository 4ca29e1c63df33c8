//! The segment matrix: two or three segmentations crossed, every non-empty
//! cell measured like a segment, plus its support load.
//!
//! A cell is one combination of segments (an account unassigned in a
//! segmentation is in its `(unassigned)` value). Each cell gets the economics
//! of [`super::economics`] and its support load: tickets (feedback rows with
//! channel `ticket` in the 12 months before `t_end`, the NPS window), tickets
//! per account and the cell's share of all tickets, so that a team sees a
//! cell holding 70% of revenue and 70% of tickets.
use serde::Serialize;

use super::economics::{AccountRevenue, Economics, segment_economics};
use super::{MeasureError, NpsAnswer};

/// The value of an unassigned account in a matrix dimension.
pub const UNASSIGNED: &str = "(unassigned)";

/// One segmentation to cross: its name, its segment names, and every
/// account's segment.
#[derive(Debug, Clone, Copy)]
pub struct Dimension<'a> {
    /// Segmentation name.
    pub name: &'a str,
    /// Segment names, in order.
    pub segments: &'a [String],
    /// Per account: the segment index, or `None`.
    pub membership: &'a [Option<usize>],
}

/// One non-empty cell of the matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixCell {
    /// The segment of each dimension, in dimension order.
    pub segments: Vec<String>,
    /// Accounts, ARR, NRR, logo churn, NPS, expansion, ...
    #[serde(flatten)]
    pub economics: Economics,
    /// Tickets of the cell's accounts in the window.
    pub tickets: usize,
    /// `tickets / accounts`.
    pub tickets_per_account: f64,
    /// The cell's share of all tickets; `None` when there are none.
    pub share_of_tickets: Option<f64>,
}

/// The crossed segmentations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentMatrix {
    /// Segmentation names, in dimension order.
    pub segmentations: Vec<String>,
    /// Non-empty cells, in segment order (first dimension slowest).
    pub cells: Vec<MatrixCell>,
    /// Tickets of all accounts.
    pub tickets: usize,
}

/// Crosses `dimensions`; `tickets` holds each account's ticket count.
pub fn segment_matrix(
    dimensions: &[Dimension<'_>],
    revenue: &[AccountRevenue],
    nps: &[NpsAnswer],
    tickets: &[usize],
) -> Result<SegmentMatrix, MeasureError> {
    let n_accounts = revenue.len();
    for dimension in dimensions {
        if dimension.membership.len() != n_accounts {
            return Err(MeasureError::LengthMismatch {
                n_revenue: n_accounts,
                n_membership: dimension.membership.len(),
            });
        }
    }
    if tickets.len() != n_accounts {
        return Err(MeasureError::LengthMismatch {
            n_revenue: n_accounts,
            n_membership: tickets.len(),
        });
    }
    // Mixed radix: each dimension has its segments plus "unassigned" last.
    let radices: Vec<usize> = dimensions.iter().map(|d| d.segments.len() + 1).collect();
    let n_cells: usize = radices.iter().product();
    let cell_of = |account: usize| {
        dimensions
            .iter()
            .zip(&radices)
            .fold(0, |cell, (dimension, &radix)| {
                let value = dimension.membership[account]
                    .filter(|&segment| segment < dimension.segments.len())
                    .unwrap_or(radix - 1);
                cell * radix + value
            })
    };
    let membership: Vec<Option<usize>> = (0..n_accounts).map(|a| Some(cell_of(a))).collect();
    let economics = segment_economics(revenue, nps, &membership, n_cells)?;
    let mut cell_tickets = vec![0usize; n_cells];
    for (account, &count) in tickets.iter().enumerate() {
        cell_tickets[cell_of(account)] += count;
    }
    let total_tickets: usize = tickets.iter().sum();
    let cells = economics
        .segments
        .into_iter()
        .enumerate()
        .filter(|(_, economics)| economics.accounts > 0)
        .map(|(cell, economics)| {
            let mut rest = cell;
            let mut segments = vec![String::new(); dimensions.len()];
            for (idx, (dimension, &radix)) in dimensions.iter().zip(&radices).enumerate().rev() {
                let value = rest % radix;
                rest /= radix;
                segments[idx] = dimension
                    .segments
                    .get(value)
                    .cloned()
                    .unwrap_or_else(|| UNASSIGNED.to_string());
            }
            MatrixCell {
                segments,
                tickets: cell_tickets[cell],
                tickets_per_account: cell_tickets[cell] as f64 / economics.accounts as f64,
                share_of_tickets: (total_tickets > 0)
                    .then(|| cell_tickets[cell] as f64 / total_tickets as f64),
                economics,
            }
        })
        .collect();
    Ok(SegmentMatrix {
        segmentations: dimensions.iter().map(|d| d.name.to_string()).collect(),
        cells,
        tickets: total_tickets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cross_segments_with_revenue_and_tickets() {
        // Four accounts: size (SMB, Ent) x health (ok, risk); account 3 has no health.
        let size = vec!["SMB".to_string(), "Ent".to_string()];
        let health = vec!["ok".to_string(), "risk".to_string()];
        let revenue = [
            AccountRevenue {
                mrr_now: 100.0,
                mrr_12m_ago: 100.0,
            },
            AccountRevenue {
                mrr_now: 50.0,
                mrr_12m_ago: 100.0,
            },
            AccountRevenue {
                mrr_now: 700.0,
                mrr_12m_ago: 500.0,
            },
            AccountRevenue {
                mrr_now: 150.0,
                mrr_12m_ago: 0.0,
            },
        ];
        let size_of = [Some(0), Some(0), Some(1), Some(1)];
        let health_of = [Some(0), Some(1), Some(1), None];
        let tickets = [1, 5, 4, 0];
        let matrix = segment_matrix(
            &[
                Dimension {
                    name: "size",
                    segments: &size,
                    membership: &size_of,
                },
                Dimension {
                    name: "health",
                    segments: &health,
                    membership: &health_of,
                },
            ],
            &revenue,
            &[],
            &tickets,
        )
        .unwrap();
        let summary: Vec<(Vec<String>, usize, f64, Option<f64>, usize, Option<f64>)> = matrix
            .cells
            .iter()
            .map(|c| {
                (
                    c.segments.clone(),
                    c.economics.accounts,
                    c.economics.arr,
                    c.economics.nrr,
                    c.tickets,
                    c.share_of_tickets,
                )
            })
            .collect();
        let cell = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        assert_eq!(
            summary,
            vec![
                (cell("SMB", "ok"), 1, 1200.0, Some(1.0), 1, Some(0.1)),
                (cell("SMB", "risk"), 1, 600.0, Some(0.5), 5, Some(0.5)),
                (cell("Ent", "risk"), 1, 8400.0, Some(1.4), 4, Some(0.4)),
                (cell("Ent", UNASSIGNED), 1, 1800.0, None, 0, Some(0.0)),
            ]
        );
        assert_eq!(matrix.tickets, 10);
        assert_eq!(matrix.cells[1].tickets_per_account, 5.0);
    }
}
