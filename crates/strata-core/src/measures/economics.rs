//! Segment economics: how much revenue each segment holds, keeps and grows,
//! and what its users think of the product.
//!
//! For every account the pipeline supplies two numbers, its MRR in the as-of
//! month ("now") and in the month 12 months before ("12 months ago"), 0 when it
//! had no revenue row. Comparing the two sorts each account into one of four
//! movements, and every revenue measure is a sum over some of them:
//!
//! | 12 months ago | now  | movement                                  |
//! |---------------|------|-------------------------------------------|
//! | > 0           | > 0  | retained: expansion or contraction (or flat) |
//! | > 0           | 0    | churned                                   |
//! | 0             | > 0  | new                                       |
//! | 0             | 0    | not a customer in either month            |
//!
//! - ARR is 12 × the MRR now.
//! - NRR (net revenue retention) is the MRR now of the accounts that paid 12
//!   months ago divided by what they paid then, so expansion pushes it above 1
//!   and contraction and churn pull it below; new accounts are left out.
//! - GRR (gross revenue retention) is NRR with each account's MRR now capped at
//!   its MRR 12 months ago, so only losses count and it never exceeds 1.
//! - Logo churn is the share of the accounts paying 12 months ago that pay
//!   nothing now.
//! - MRR now − MRR 12 months ago = new + expansion − contraction − churned,
//!   which is [`Economics::net_new_mrr`].
//!
//! An account that churned and came back within the year looks retained here,
//! with its current MRR, because only the two months are compared. Every ratio
//! whose denominator is 0 is `None`, so no measure is ever NaN.
use serde::Serialize;

use super::MeasureError;
use super::nps::{NpsAnswer, NpsCounts};

/// Per-account revenue inputs, already resolved by the pipeline.
///
/// MRR is never negative in valid data. A value that is negative, NaN or
/// infinite is treated as 0 (no revenue), so that one bad number cannot turn
/// every total it touches into NaN.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AccountRevenue {
    /// MRR of the as-of month; 0.0 when the account has no row for it.
    pub mrr_now: f64,
    /// MRR of the month 12 months before the as-of month; 0.0 when the account
    /// has no row for it.
    pub mrr_12m_ago: f64,
}

/// Economics of one group of accounts: a segment, the unassigned accounts or
/// the whole base.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Economics {
    /// Accounts in the group.
    pub accounts: usize,
    /// `accounts` as a share of all accounts; 0 when there are no accounts at all.
    pub share_of_accounts: f64,
    /// 12 × `mrr`.
    pub arr: f64,
    /// `arr` as a share of the ARR of all accounts; `None` when that is 0.
    pub share_of_arr: Option<f64>,
    /// Sum of the MRR now.
    pub mrr: f64,
    /// Sum of the MRR 12 months ago.
    pub mrr_12m_ago: f64,
    /// Net revenue retention as a ratio (1.05 means 105%); `None` when no
    /// account paid 12 months ago.
    pub nrr: Option<f64>,
    /// Gross revenue retention as a ratio; `None` when no account paid 12
    /// months ago.
    pub grr: Option<f64>,
    /// Share of the accounts paying 12 months ago that pay nothing now; `None`
    /// when no account paid 12 months ago.
    pub logo_churn: Option<f64>,
    /// Accounts with MRR 12 months ago above 0.
    pub paying_12m_ago: usize,
    /// Accounts paying 12 months ago that pay nothing now.
    pub churned_accounts: usize,
    /// Growth in MRR of accounts that paid 12 months ago and still pay.
    pub expansion_mrr: f64,
    /// Loss in MRR of accounts that paid 12 months ago and still pay.
    pub contraction_mrr: f64,
    /// MRR 12 months ago of the accounts that pay nothing now.
    pub churned_mrr: f64,
    /// MRR now of the accounts that paid nothing 12 months ago.
    pub new_mrr: f64,
    /// Net Promoter Score, −100 to 100; `None` without answers.
    pub nps: Option<f64>,
    /// NPS answers counted.
    pub nps_answers: usize,
    /// Answers of 9 or 10.
    pub promoters: usize,
    /// Answers of 7 or 8.
    pub passives: usize,
    /// Answers of 0 to 6.
    pub detractors: usize,
}

impl Economics {
    /// The change in MRR over the 12 months: new + expansion − contraction −
    /// churned, which equals `mrr − mrr_12m_ago` up to rounding.
    pub fn net_new_mrr(&self) -> f64 {
        self.new_mrr + self.expansion_mrr - self.contraction_mrr - self.churned_mrr
    }
}

/// Economics of every segment of one segmentation, of the accounts it left
/// unassigned, and of the whole base.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentationEconomics {
    /// One entry per segment, in segment order; a segment without accounts has
    /// zeros and `None`s.
    pub segments: Vec<Economics>,
    /// The accounts no segment claimed.
    pub unassigned: Economics,
    /// All accounts.
    pub overall: Economics,
}

/// Computes the economics of every segment of one segmentation plus the
/// unassigned accounts and the whole base.
///
/// `revenue` and `membership` hold one entry per account, at the account's
/// position; `membership[account_idx]` is the account's segment index, or
/// `None` when no segment claimed it. `nps` holds the answers that count,
/// already windowed and deduplicated by [`super::nps_window`]; answers with a
/// score outside 0 to 10 are ignored. Shares are relative to the whole base.
///
/// # Errors
///
/// Returns a [`MeasureError`] when `revenue` and `membership` differ in length,
/// when an account's segment index is not below `n_segments`, or when an NPS
/// answer's account index is not below the number of accounts. All of these are
/// bugs in the caller; nothing is computed from inconsistent inputs.
pub fn segment_economics(
    revenue: &[AccountRevenue],
    nps: &[NpsAnswer],
    membership: &[Option<usize>],
    n_segments: usize,
) -> Result<SegmentationEconomics, MeasureError> {
    validate_inputs(revenue, nps, membership, n_segments)?;

    // The unassigned accounts are kept as one more group after the segments,
    // so that accounts and answers find their group the same way.
    let unassigned_group_idx = n_segments;
    let group_idx_of_account =
        |account_idx: usize| membership[account_idx].unwrap_or(unassigned_group_idx);
    let mut group_totals = vec![GroupTotals::default(); n_segments + 1];
    for (account_idx, account_revenue) in revenue.iter().enumerate() {
        group_totals[group_idx_of_account(account_idx)].add_account(*account_revenue);
    }
    for answer in nps {
        group_totals[group_idx_of_account(answer.account_idx)]
            .nps_counts
            .add(answer.score);
    }
    let mut overall_totals = GroupTotals::default();
    // The overall group is summed in its own pass, in account order, rather
    // than by merging the groups, so that its totals do not depend on how the
    // accounts happen to be segmented.
    for account_revenue in revenue {
        overall_totals.add_account(*account_revenue);
    }
    for answer in nps {
        overall_totals.nps_counts.add(answer.score);
    }

    let base = Base {
        n_accounts: revenue.len(),
        arr: overall_totals.arr(),
    };
    let mut economics: Vec<Economics> = group_totals
        .iter()
        .map(|totals| totals.to_economics(&base))
        .collect();
    let unassigned = economics
        .pop()
        .unwrap_or_else(|| GroupTotals::default().to_economics(&base));
    Ok(SegmentationEconomics {
        segments: economics,
        unassigned,
        overall: overall_totals.to_economics(&base),
    })
}

/// Checks that the inputs of [`segment_economics`] describe the same accounts.
fn validate_inputs(
    revenue: &[AccountRevenue],
    nps: &[NpsAnswer],
    membership: &[Option<usize>],
    n_segments: usize,
) -> Result<(), MeasureError> {
    if revenue.len() != membership.len() {
        return Err(MeasureError::LengthMismatch {
            n_revenue: revenue.len(),
            n_membership: membership.len(),
        });
    }
    let mut bad_memberships = membership
        .iter()
        .enumerate()
        .filter_map(|(account_idx, segment)| {
            segment
                .filter(|&segment_idx| segment_idx >= n_segments)
                .map(|segment_idx| (account_idx, segment_idx))
        });
    if let Some((account_idx, segment_idx)) = bad_memberships.next() {
        return Err(MeasureError::SegmentOutOfRange {
            account_idx,
            segment_idx,
            n_segments,
            n_bad_accounts: 1 + bad_memberships.count(),
        });
    }
    let n_accounts = revenue.len();
    let mut bad_answers = nps
        .iter()
        .enumerate()
        .filter(|(_, answer)| answer.account_idx >= n_accounts);
    if let Some((answer_idx, answer)) = bad_answers.next() {
        return Err(MeasureError::NpsAccountOutOfRange {
            answer_idx,
            account_idx: answer.account_idx,
            n_accounts,
            n_bad_answers: 1 + bad_answers.count(),
        });
    }
    Ok(())
}

/// The whole base, against which shares are taken.
struct Base {
    n_accounts: usize,
    arr: f64,
}

/// Running sums for one group of accounts.
#[derive(Debug, Clone, Default)]
struct GroupTotals {
    n_accounts: usize,
    mrr_now: f64,
    mrr_12m_ago: f64,
    /// MRR now of the accounts paying 12 months ago: the NRR numerator.
    retained_mrr_now: f64,
    /// Like `retained_mrr_now` with each account capped at its MRR 12 months
    /// ago: the GRR numerator.
    capped_retained_mrr_now: f64,
    n_paying_12m_ago: usize,
    n_churned: usize,
    expansion_mrr: f64,
    contraction_mrr: f64,
    churned_mrr: f64,
    new_mrr: f64,
    nps_counts: NpsCounts,
}

impl GroupTotals {
    /// Adds one account's revenue to the group.
    fn add_account(&mut self, account_revenue: AccountRevenue) {
        let mrr_now = usable_mrr(account_revenue.mrr_now);
        let mrr_12m_ago = usable_mrr(account_revenue.mrr_12m_ago);
        self.n_accounts += 1;
        self.mrr_now += mrr_now;
        self.mrr_12m_ago += mrr_12m_ago;

        let was_paying = mrr_12m_ago > 0.0;
        let is_paying = mrr_now > 0.0;
        if was_paying {
            self.n_paying_12m_ago += 1;
            self.retained_mrr_now += mrr_now;
            self.capped_retained_mrr_now += mrr_now.min(mrr_12m_ago);
            if is_paying {
                self.expansion_mrr += (mrr_now - mrr_12m_ago).max(0.0);
                self.contraction_mrr += (mrr_12m_ago - mrr_now).max(0.0);
            } else {
                self.n_churned += 1;
                self.churned_mrr += mrr_12m_ago;
            }
        } else {
            // An account paying nothing now adds 0 here, which keeps the
            // branch free of a special case.
            self.new_mrr += mrr_now;
        }
    }

    fn arr(&self) -> f64 {
        12.0 * self.mrr_now
    }

    fn to_economics(&self, base: &Base) -> Economics {
        let arr = self.arr();
        let share_of_accounts = if base.n_accounts == 0 {
            0.0
        } else {
            self.n_accounts as f64 / base.n_accounts as f64
        };
        let share_of_arr = (base.arr > 0.0).then(|| arr / base.arr);
        // Paying accounts have MRR above 0, so with at least one of them the
        // denominator of NRR and GRR is above 0 as well.
        let has_paying_12m_ago = self.n_paying_12m_ago > 0;
        let nrr = has_paying_12m_ago.then(|| self.retained_mrr_now / self.mrr_12m_ago);
        let grr = has_paying_12m_ago.then(|| self.capped_retained_mrr_now / self.mrr_12m_ago);
        let logo_churn =
            has_paying_12m_ago.then(|| self.n_churned as f64 / self.n_paying_12m_ago as f64);
        Economics {
            accounts: self.n_accounts,
            share_of_accounts,
            arr,
            share_of_arr,
            mrr: self.mrr_now,
            mrr_12m_ago: self.mrr_12m_ago,
            nrr,
            grr,
            logo_churn,
            paying_12m_ago: self.n_paying_12m_ago,
            churned_accounts: self.n_churned,
            expansion_mrr: self.expansion_mrr,
            contraction_mrr: self.contraction_mrr,
            churned_mrr: self.churned_mrr,
            new_mrr: self.new_mrr,
            nps: self.nps_counts.nps(),
            nps_answers: self.nps_counts.respondents(),
            promoters: self.nps_counts.promoters,
            passives: self.nps_counts.passives,
            detractors: self.nps_counts.detractors,
        }
    }
}

/// An MRR value as used in the sums: negative, NaN and infinite values count
/// as 0, which valid data never contains.
fn usable_mrr(value: f64) -> f64 {
    if value.is_finite() && value > 0.0 {
        value
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny base: per account `(mrr_now, mrr_12m_ago, segment)`, the NPS
    /// answers as `(account_idx, score)`, and the number of segments.
    /// `extra_memberships` are appended to the membership vector without a
    /// revenue entry, to test inputs of different lengths.
    struct Fixture {
        accounts: Vec<(f64, f64, Option<usize>)>,
        answers: Vec<(usize, i64)>,
        n_segments: usize,
        extra_memberships: Vec<Option<usize>>,
    }

    impl Fixture {
        fn new(
            accounts: Vec<(f64, f64, Option<usize>)>,
            answers: Vec<(usize, i64)>,
            n_segments: usize,
        ) -> Fixture {
            Fixture {
                accounts,
                answers,
                n_segments,
                extra_memberships: vec![],
            }
        }
    }

    /// Three segments (the third empty) and two unassigned accounts:
    ///
    /// | account | now | 12m ago | segment | movement                           |
    /// |---------|-----|---------|---------|------------------------------------|
    /// | 0       | 150 | 100     | 0       | expansion +50                      |
    /// | 1       | 60  | 80      | 0       | contraction −20                    |
    /// | 2       | 0   | 50      | 1       | churned 50                         |
    /// | 3       | 40  | 0       | 1       | new 40                             |
    /// | 4       | 200 | 200     | 0       | flat                               |
    /// | 5       | 0   | 0       | 1       | never paid                         |
    /// | 6       | 70  | 90      | none    | churned then returned: contraction −20 |
    /// | 7       | 25  | 0       | none    | new 25                             |
    ///
    /// NPS answers: account 0 gives 10 and 9, account 1 gives 7, account 4
    /// gives 3, account 2 gives 0, account 6 gives 8, and account 7 gives an
    /// invalid 12, which is ignored.
    ///
    /// Totals: MRR now 545 (ARR 6540), MRR 12 months ago 520.
    fn mixed_base() -> Fixture {
        Fixture::new(
            vec![
                (150.0, 100.0, Some(0)),
                (60.0, 80.0, Some(0)),
                (0.0, 50.0, Some(1)),
                (40.0, 0.0, Some(1)),
                (200.0, 200.0, Some(0)),
                (0.0, 0.0, Some(1)),
                (70.0, 90.0, None),
                (25.0, 0.0, None),
            ],
            vec![(0, 10), (0, 9), (1, 7), (4, 3), (2, 0), (6, 8), (7, 12)],
            3,
        )
    }

    /// Two accounts in one segment, neither of which has ever paid.
    fn no_revenue() -> Fixture {
        Fixture::new(vec![(0.0, 0.0, Some(0)), (0.0, 0.0, Some(0))], vec![], 1)
    }

    /// No accounts at all, two segments.
    fn empty_base() -> Fixture {
        Fixture::new(vec![], vec![], 2)
    }

    /// Bad MRR values (NaN, negative, infinite) count as 0, next to one
    /// account paying 10 now and 20 twelve months ago.
    fn bad_mrr() -> Fixture {
        Fixture::new(
            vec![
                (f64::NAN, -5.0, Some(0)),
                (f64::INFINITY, f64::NAN, Some(0)),
                (10.0, 20.0, Some(0)),
            ],
            vec![],
            1,
        )
    }

    /// The only place the API under test is called.
    fn compute(fixture: &Fixture) -> Result<SegmentationEconomics, MeasureError> {
        let revenue: Vec<AccountRevenue> = fixture
            .accounts
            .iter()
            .map(|&(mrr_now, mrr_12m_ago, _)| AccountRevenue {
                mrr_now,
                mrr_12m_ago,
            })
            .collect();
        let membership: Vec<Option<usize>> = fixture
            .accounts
            .iter()
            .map(|&(_, _, segment)| segment)
            .chain(fixture.extra_memberships.iter().copied())
            .collect();
        let answers: Vec<NpsAnswer> = fixture
            .answers
            .iter()
            .map(|&(account_idx, score)| NpsAnswer {
                account_idx,
                user_id: None,
                ts_micros: 0,
                score,
            })
            .collect();
        segment_economics(&revenue, &answers, &membership, fixture.n_segments)
    }

    /// The fixture called `name`.
    fn fixture(name: &str) -> Fixture {
        match name {
            "mixed_base" => mixed_base(),
            "no_revenue" => no_revenue(),
            "empty_base" => empty_base(),
            "bad_mrr" => bad_mrr(),
            _ => panic!("unknown fixture `{name}`"),
        }
    }

    /// Looks up `field` of `group` ("segment N", "unassigned" or "overall") in
    /// the economics of `fixture` and compares it with `expected` (`None` for
    /// null), floats to within 1e-12.
    fn check(fixture_name: &str, group: &str, field: &str, expected: Option<f64>) {
        let result = compute(&fixture(fixture_name)).expect("fixture inputs are consistent");
        let economics = match group {
            "unassigned" => &result.unassigned,
            "overall" => &result.overall,
            _ => {
                let segment_idx: usize = group
                    .strip_prefix("segment ")
                    .and_then(|idx| idx.parse().ok())
                    .expect("known group name");
                &result.segments[segment_idx]
            }
        };
        let actual = if field == "net_new_mrr" {
            Some(economics.net_new_mrr())
        } else {
            let json = serde_json::to_value(economics).expect("economics serialize");
            let value = json
                .get(field)
                .unwrap_or_else(|| panic!("no field `{field}`"));
            value.as_f64().or_else(|| {
                if value.is_null() {
                    None
                } else {
                    panic!("`{field}` is {value}")
                }
            })
        };
        match (actual, expected) {
            (Some(actual), Some(expected)) => assert!(
                (actual - expected).abs() < 1e-12,
                "{group} {field}: got {actual}, expected {expected}"
            ),
            _ => assert_eq!(actual, expected, "{group} {field}"),
        }
    }

    #[rustfmt::skip]
    const CASES: &[(&str, &str, &str, Option<f64>)] = &[
        // Segment 0 = accounts 0, 1, 4: expansion, contraction and flat.
        ("mixed_base", "segment 0", "accounts", Some(3.0)),
        ("mixed_base", "segment 0", "share_of_accounts", Some(3.0 / 8.0)),
        ("mixed_base", "segment 0", "mrr", Some(410.0)),                  // 150 + 60 + 200
        ("mixed_base", "segment 0", "arr", Some(4920.0)),                 // 12 × 410
        ("mixed_base", "segment 0", "share_of_arr", Some(410.0 / 545.0)),
        ("mixed_base", "segment 0", "mrr_12m_ago", Some(380.0)),          // 100 + 80 + 200
        ("mixed_base", "segment 0", "nrr", Some(410.0 / 380.0)),
        ("mixed_base", "segment 0", "grr", Some(360.0 / 380.0)),          // 100 + 60 + 200
        ("mixed_base", "segment 0", "logo_churn", Some(0.0)),
        ("mixed_base", "segment 0", "paying_12m_ago", Some(3.0)),
        ("mixed_base", "segment 0", "churned_accounts", Some(0.0)),
        ("mixed_base", "segment 0", "expansion_mrr", Some(50.0)),
        ("mixed_base", "segment 0", "contraction_mrr", Some(20.0)),
        ("mixed_base", "segment 0", "churned_mrr", Some(0.0)),
        ("mixed_base", "segment 0", "new_mrr", Some(0.0)),
        ("mixed_base", "segment 0", "net_new_mrr", Some(30.0)),           // 410 − 380
        ("mixed_base", "segment 0", "nps", Some(25.0)),                   // 100 × (2 − 1) / 4
        ("mixed_base", "segment 0", "nps_answers", Some(4.0)),
        ("mixed_base", "segment 0", "promoters", Some(2.0)),
        ("mixed_base", "segment 0", "passives", Some(1.0)),
        ("mixed_base", "segment 0", "detractors", Some(1.0)),
        // Segment 1 = accounts 2, 3, 5: churned, new and never paid.
        ("mixed_base", "segment 1", "accounts", Some(3.0)),
        ("mixed_base", "segment 1", "share_of_accounts", Some(3.0 / 8.0)),
        ("mixed_base", "segment 1", "mrr", Some(40.0)),
        ("mixed_base", "segment 1", "arr", Some(480.0)),
        ("mixed_base", "segment 1", "share_of_arr", Some(40.0 / 545.0)),
        ("mixed_base", "segment 1", "mrr_12m_ago", Some(50.0)),
        ("mixed_base", "segment 1", "nrr", Some(0.0)),                    // the new account's 40 is excluded
        ("mixed_base", "segment 1", "grr", Some(0.0)),
        ("mixed_base", "segment 1", "logo_churn", Some(1.0)),             // 1 of 1
        ("mixed_base", "segment 1", "paying_12m_ago", Some(1.0)),
        ("mixed_base", "segment 1", "churned_accounts", Some(1.0)),
        ("mixed_base", "segment 1", "expansion_mrr", Some(0.0)),
        ("mixed_base", "segment 1", "contraction_mrr", Some(0.0)),
        ("mixed_base", "segment 1", "churned_mrr", Some(50.0)),
        ("mixed_base", "segment 1", "new_mrr", Some(40.0)),
        ("mixed_base", "segment 1", "net_new_mrr", Some(-10.0)),          // 40 − 50
        ("mixed_base", "segment 1", "nps", Some(-100.0)),                 // one detractor
        ("mixed_base", "segment 1", "nps_answers", Some(1.0)),
        // Segment 2 has no accounts: zeros, and None for every ratio but the
        // ARR share, whose denominator is the whole base.
        ("mixed_base", "segment 2", "accounts", Some(0.0)),
        ("mixed_base", "segment 2", "share_of_accounts", Some(0.0)),
        ("mixed_base", "segment 2", "arr", Some(0.0)),
        ("mixed_base", "segment 2", "share_of_arr", Some(0.0)),
        ("mixed_base", "segment 2", "mrr_12m_ago", Some(0.0)),
        ("mixed_base", "segment 2", "nrr", None),
        ("mixed_base", "segment 2", "grr", None),
        ("mixed_base", "segment 2", "logo_churn", None),
        ("mixed_base", "segment 2", "net_new_mrr", Some(0.0)),
        ("mixed_base", "segment 2", "nps", None),
        ("mixed_base", "segment 2", "nps_answers", Some(0.0)),
        // Unassigned = accounts 6 (churned then returned, so retained at 70)
        // and 7 (new); account 7's only answer is invalid.
        ("mixed_base", "unassigned", "accounts", Some(2.0)),
        ("mixed_base", "unassigned", "share_of_accounts", Some(0.25)),
        ("mixed_base", "unassigned", "mrr", Some(95.0)),
        ("mixed_base", "unassigned", "arr", Some(1140.0)),
        ("mixed_base", "unassigned", "share_of_arr", Some(95.0 / 545.0)),
        ("mixed_base", "unassigned", "mrr_12m_ago", Some(90.0)),
        ("mixed_base", "unassigned", "nrr", Some(70.0 / 90.0)),
        ("mixed_base", "unassigned", "grr", Some(70.0 / 90.0)),
        ("mixed_base", "unassigned", "logo_churn", Some(0.0)),
        ("mixed_base", "unassigned", "paying_12m_ago", Some(1.0)),
        ("mixed_base", "unassigned", "churned_accounts", Some(0.0)),
        ("mixed_base", "unassigned", "contraction_mrr", Some(20.0)),
        ("mixed_base", "unassigned", "churned_mrr", Some(0.0)),
        ("mixed_base", "unassigned", "new_mrr", Some(25.0)),
        ("mixed_base", "unassigned", "net_new_mrr", Some(5.0)),           // 95 − 90
        ("mixed_base", "unassigned", "nps", Some(0.0)),                   // one passive
        ("mixed_base", "unassigned", "nps_answers", Some(1.0)),
        ("mixed_base", "unassigned", "passives", Some(1.0)),
        // Overall = all 8 accounts.
        ("mixed_base", "overall", "accounts", Some(8.0)),
        ("mixed_base", "overall", "share_of_accounts", Some(1.0)),
        ("mixed_base", "overall", "arr", Some(6540.0)),                   // 12 × 545
        ("mixed_base", "overall", "share_of_arr", Some(1.0)),
        ("mixed_base", "overall", "mrr", Some(545.0)),
        ("mixed_base", "overall", "mrr_12m_ago", Some(520.0)),
        ("mixed_base", "overall", "nrr", Some(480.0 / 520.0)),            // 150 + 60 + 0 + 200 + 70
        ("mixed_base", "overall", "grr", Some(430.0 / 520.0)),            // 100 + 60 + 0 + 200 + 70
        ("mixed_base", "overall", "logo_churn", Some(0.2)),               // 1 of 5
        ("mixed_base", "overall", "paying_12m_ago", Some(5.0)),
        ("mixed_base", "overall", "churned_accounts", Some(1.0)),
        ("mixed_base", "overall", "expansion_mrr", Some(50.0)),
        ("mixed_base", "overall", "contraction_mrr", Some(40.0)),         // 20 + 20
        ("mixed_base", "overall", "churned_mrr", Some(50.0)),
        ("mixed_base", "overall", "new_mrr", Some(65.0)),                 // 40 + 25
        ("mixed_base", "overall", "net_new_mrr", Some(25.0)),             // 65 + 50 − 40 − 50 = 545 − 520
        ("mixed_base", "overall", "nps", Some(0.0)),                      // 100 × (2 − 2) / 6
        ("mixed_base", "overall", "nps_answers", Some(6.0)),
        ("mixed_base", "overall", "promoters", Some(2.0)),
        ("mixed_base", "overall", "passives", Some(2.0)),
        ("mixed_base", "overall", "detractors", Some(2.0)),
        // Accounts that never paid: no ARR to share, nothing to retain, no NPS.
        ("no_revenue", "segment 0", "accounts", Some(2.0)),
        ("no_revenue", "segment 0", "share_of_accounts", Some(1.0)),
        ("no_revenue", "segment 0", "arr", Some(0.0)),
        ("no_revenue", "segment 0", "share_of_arr", None),
        ("no_revenue", "segment 0", "nrr", None),
        ("no_revenue", "segment 0", "grr", None),
        ("no_revenue", "segment 0", "logo_churn", None),
        ("no_revenue", "segment 0", "new_mrr", Some(0.0)),
        ("no_revenue", "segment 0", "nps", None),
        ("no_revenue", "overall", "share_of_arr", None),
        ("no_revenue", "unassigned", "accounts", Some(0.0)),
        ("no_revenue", "unassigned", "share_of_accounts", Some(0.0)),
        // No accounts at all: shares are 0 or None, never NaN.
        ("empty_base", "segment 1", "share_of_accounts", Some(0.0)),
        ("empty_base", "overall", "accounts", Some(0.0)),
        ("empty_base", "overall", "share_of_accounts", Some(0.0)),
        ("empty_base", "overall", "share_of_arr", None),
        ("empty_base", "overall", "nrr", None),
        ("empty_base", "overall", "nps", None),
        // NaN, negative and infinite MRR count as 0: only account 2 pays.
        ("bad_mrr", "segment 0", "mrr", Some(10.0)),
        ("bad_mrr", "segment 0", "mrr_12m_ago", Some(20.0)),
        ("bad_mrr", "segment 0", "nrr", Some(0.5)),
        ("bad_mrr", "segment 0", "paying_12m_ago", Some(1.0)),
        ("bad_mrr", "segment 0", "contraction_mrr", Some(10.0)),
        ("bad_mrr", "segment 0", "new_mrr", Some(0.0)),
    ];

    #[test]
    fn measures() {
        for &(fixture_name, group, field, expected) in CASES {
            check(fixture_name, group, field, expected);
        }
    }

    #[test]
    fn every_field_is_checked_for_segment_0_and_overall() {
        let economics = compute(&mixed_base()).expect("fixture inputs are consistent");
        let json = serde_json::to_value(&economics.overall).expect("economics serialize");
        let fields = json.as_object().expect("economics serialize to an object");
        for group in ["segment 0", "overall"] {
            for field in fields.keys() {
                let is_checked = CASES
                    .iter()
                    .any(|&(fixture_name, case_group, case_field, _)| {
                        fixture_name == "mixed_base" && case_group == group && case_field == field
                    });
                assert!(is_checked, "{group} {field} has no case");
            }
        }
    }

    #[test]
    fn inconsistent_inputs() {
        let cases: Vec<(Fixture, MeasureError)> = vec![
            (
                Fixture::new(
                    vec![
                        (1.0, 1.0, Some(2)),
                        (1.0, 1.0, Some(0)),
                        (1.0, 1.0, Some(5)),
                    ],
                    vec![],
                    2,
                ),
                MeasureError::SegmentOutOfRange {
                    account_idx: 0,
                    segment_idx: 2,
                    n_segments: 2,
                    n_bad_accounts: 2,
                },
            ),
            (
                Fixture::new(vec![(1.0, 1.0, None)], vec![(0, 9), (1, 9), (7, 0)], 0),
                MeasureError::NpsAccountOutOfRange {
                    answer_idx: 1,
                    account_idx: 1,
                    n_accounts: 1,
                    n_bad_answers: 2,
                },
            ),
            (
                Fixture {
                    extra_memberships: vec![None],
                    ..Fixture::new(vec![(1.0, 1.0, None), (1.0, 1.0, None)], vec![], 1)
                },
                MeasureError::LengthMismatch {
                    n_revenue: 2,
                    n_membership: 3,
                },
            ),
        ];
        for (fixture, expected) in &cases {
            assert_eq!(compute(fixture).as_ref().err(), Some(expected));
        }
    }

    proptest::proptest! {
        /// Whatever the base, the movements add up to the change in MRR, GRR
        /// never exceeds NRR or 1, and the groups partition the accounts.
        #[test]
        fn movements_add_up(
            accounts in proptest::collection::vec(
                (0u32..1000, 0u32..1000, proptest::option::of(0usize..3)),
                0..40,
            ),
        ) {
            let fixture = Fixture::new(
                accounts.iter().map(|&(now, ago, segment)| (f64::from(now), f64::from(ago), segment)).collect(),
                vec![],
                3,
            );
            let result = compute(&fixture).expect("generated inputs are consistent");
            let mut n_grouped = result.unassigned.accounts;
            for economics in result.segments.iter().chain([&result.unassigned, &result.overall]) {
                proptest::prop_assert!((economics.net_new_mrr() - (economics.mrr - economics.mrr_12m_ago)).abs() < 1e-9);
                if let (Some(nrr), Some(grr)) = (economics.nrr, economics.grr) {
                    proptest::prop_assert!(grr <= nrr + 1e-12 && grr <= 1.0 + 1e-12);
                }
            }
            n_grouped += result.segments.iter().map(|economics| economics.accounts).sum::<usize>();
            proptest::prop_assert_eq!(n_grouped, result.overall.accounts);
        }
    }
}
