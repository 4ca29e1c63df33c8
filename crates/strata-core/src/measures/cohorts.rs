//! Cohort retention: signup-month cohorts × months since signup.
//!
//! A cohort is the accounts that signed up in one calendar month (UTC). Its
//! retention base is the cohort's accounts paying in their signup month.
//! For month `m` after signup (0 up to the as-of month):
//!
//! - **logo retention** = share of the base paying (MRR > 0) in month `m`;
//! - **revenue retention** = the base's MRR in month `m` / its MRR in month 0
//!   (expansion included, so it can exceed 100%, like NRR).
//!
//! Accounts that start paying later, or never, count in the cohort's size but
//! not in its base: retention measures whom you had, not whom you converted.
use std::collections::HashMap;

use serde::Serialize;

/// Revenue rows as the sources hold them: account position, month (`year * 12
/// + month0`) and MRR, one entry per row.
#[derive(Debug, Clone, Copy)]
pub struct RevenueRows<'a> {
    /// Account position per row.
    pub account_idx: &'a [usize],
    /// Month per row.
    pub month: &'a [i32],
    /// MRR per row.
    pub mrr: &'a [f64],
}

/// One signup-month cohort.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortRow {
    /// `YYYY-MM`.
    pub cohort: String,
    /// Accounts that signed up that month.
    pub accounts: usize,
    /// Those paying in their signup month: the retention base.
    pub paying: usize,
    /// The base's MRR in the signup month.
    pub base_mrr: f64,
    /// Per month since signup (index 0 = the signup month): share of the base paying.
    pub logo_retention: Vec<Option<f64>>,
    /// Per month since signup: the base's MRR / its MRR at signup.
    pub revenue_retention: Vec<Option<f64>>,
}

/// `YYYY-MM` of a month number.
pub fn month_label(month: i32) -> String {
    format!(
        "{:04}-{:02}",
        month.div_euclid(12),
        month.rem_euclid(12) + 1
    )
}

/// The cohorts of the accounts for which `member(account)` holds, oldest
/// first; months after `as_of_month` are not observed and are left out.
pub fn cohort_retention(
    created_month: &[i32],
    revenue: RevenueRows<'_>,
    as_of_month: i32,
    member: impl Fn(usize) -> bool,
) -> Vec<CohortRow> {
    let mut mrr_at: HashMap<(usize, i32), f64> = HashMap::new();
    for row in 0..revenue.account_idx.len() {
        *mrr_at
            .entry((revenue.account_idx[row], revenue.month[row]))
            .or_default() += revenue.mrr[row];
    }
    let mrr = |account: usize, month: i32| mrr_at.get(&(account, month)).copied().unwrap_or(0.0);
    let mut by_cohort: std::collections::BTreeMap<i32, Vec<usize>> = Default::default();
    for (account, &month) in created_month.iter().enumerate() {
        if month <= as_of_month && member(account) {
            by_cohort.entry(month).or_default().push(account);
        }
    }
    by_cohort
        .into_iter()
        .map(|(cohort, accounts)| {
            let base: Vec<usize> = accounts
                .iter()
                .copied()
                .filter(|&account| mrr(account, cohort) > 0.0)
                .collect();
            let base_mrr: f64 = base.iter().map(|&account| mrr(account, cohort)).sum();
            let months = (as_of_month - cohort) as usize + 1;
            let mut logo_retention = Vec::with_capacity(months);
            let mut revenue_retention = Vec::with_capacity(months);
            for offset in 0..months as i32 {
                let month = cohort + offset;
                let paying = base.iter().filter(|&&a| mrr(a, month) > 0.0).count();
                let total: f64 = base.iter().map(|&a| mrr(a, month)).sum();
                logo_retention.push((!base.is_empty()).then(|| paying as f64 / base.len() as f64));
                revenue_retention.push((base_mrr > 0.0).then(|| total / base_mrr));
            }
            CohortRow {
                cohort: month_label(cohort),
                accounts: accounts.len(),
                paying: base.len(),
                base_mrr,
                logo_retention,
                revenue_retention,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_by_hand() {
        // Month 100 = some January. Accounts 0, 1, 2 sign up in month 100,
        // account 3 in month 101. Account 2 never pays at signup.
        let created = [100, 100, 100, 101];
        let account_idx = [0, 0, 0, 1, 1, 2, 3, 3];
        let month = [100, 101, 102, 100, 101, 101, 101, 102];
        let mrr = [100.0, 150.0, 150.0, 100.0, 0.0, 80.0, 40.0, 40.0];
        let rows = cohort_retention(
            &created,
            RevenueRows {
                account_idx: &account_idx,
                month: &month,
                mrr: &mrr,
            },
            102,
            |_| true,
        );
        assert_eq!(rows.len(), 2);
        let first = &rows[0];
        assert_eq!(first.cohort, month_label(100));
        assert_eq!(
            (first.accounts, first.paying, first.base_mrr),
            (3, 2, 200.0)
        );
        // Month 1: account 0 pays 150, account 1 pays 0 (a row of 0 is churn).
        assert_eq!(first.logo_retention, vec![Some(1.0), Some(0.5), Some(0.5)]);
        assert_eq!(
            first.revenue_retention,
            vec![Some(1.0), Some(0.75), Some(0.75)]
        );
        let second = &rows[1];
        assert_eq!((second.accounts, second.paying), (1, 1));
        assert_eq!(second.logo_retention, vec![Some(1.0), Some(1.0)]);
        // A segment filter keeps only its accounts.
        let only_second = cohort_retention(
            &created,
            RevenueRows {
                account_idx: &account_idx,
                month: &month,
                mrr: &mrr,
            },
            102,
            |account| account == 2,
        );
        assert_eq!(only_second[0].paying, 0);
        assert_eq!(only_second[0].logo_retention, vec![None, None, None]);
        assert_eq!(month_label(2026 * 12 + 9), "2026-10");
    }
}
