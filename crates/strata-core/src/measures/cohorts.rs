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

/// Each account's MRR by month, read once for every group of cohorts: per
/// account, its months in increasing order, the MRR of a month's rows added
/// in row order.
#[derive(Debug, Clone)]
pub struct MonthlyMrr {
    /// Account `a`'s months are `months[start[a]..start[a + 1]]`.
    start: Vec<usize>,
    months: Vec<i32>,
    mrr: Vec<f64>,
}

impl MonthlyMrr {
    /// The MRR of `revenue`'s rows for `n_accounts` accounts (rows of other
    /// positions are left out).
    pub fn new(revenue: RevenueRows<'_>, n_accounts: usize) -> MonthlyMrr {
        let mut order: Vec<usize> = (0..revenue.account_idx.len())
            .filter(|&row| revenue.account_idx[row] < n_accounts)
            .collect();
        // Stable: a month's rows keep their order, so they add up as before.
        order.sort_by_key(|&row| (revenue.account_idx[row], revenue.month[row]));
        let mut start = vec![0usize; n_accounts + 1];
        let mut months = Vec::with_capacity(order.len());
        let mut mrr: Vec<f64> = Vec::with_capacity(order.len());
        let mut last: Option<(usize, i32)> = None;
        for row in order {
            let key = (revenue.account_idx[row], revenue.month[row]);
            if last != Some(key) {
                start[key.0 + 1] += 1;
                months.push(key.1);
                mrr.push(0.0);
                last = Some(key);
            }
            if let Some(total) = mrr.last_mut() {
                *total += revenue.mrr[row];
            }
        }
        for account in 0..n_accounts {
            start[account + 1] += start[account];
        }
        MonthlyMrr { start, months, mrr }
    }

    /// Account `account`'s (month, MRR), by increasing month.
    fn of(&self, account: usize) -> impl Iterator<Item = (i32, f64)> + '_ {
        let range = self.start[account]..self.start[account + 1];
        self.months[range.clone()]
            .iter()
            .copied()
            .zip(self.mrr[range].iter().copied())
    }

    /// Account `account`'s MRR in `month` (0 without a row).
    pub(crate) fn at(&self, account: usize, month: i32) -> f64 {
        let range = self.start[account]..self.start[account + 1];
        match self.months[range.clone()].binary_search(&month) {
            Ok(found) => self.mrr[range.start + found],
            Err(_) => 0.0,
        }
    }
}

/// The cohorts of the accounts for which `member(account)` holds, oldest
/// first; months after `as_of_month` are not observed and are left out.
pub fn cohort_retention(
    created_month: &[i32],
    mrr: &MonthlyMrr,
    as_of_month: i32,
    member: impl Fn(usize) -> bool,
) -> Vec<CohortRow> {
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
                .filter(|&account| mrr.at(account, cohort) > 0.0)
                .collect();
            let base_mrr: f64 = base.iter().map(|&account| mrr.at(account, cohort)).sum();
            let months = (as_of_month - cohort) as usize + 1;
            // Each month's MRR added over the base in account order, as a
            // sum over every base account with 0 for a month without a row.
            let mut paying = vec![0usize; months];
            let mut totals = vec![0.0f64; months];
            for &account in &base {
                for (month, value) in mrr.of(account) {
                    if (cohort..=as_of_month).contains(&month) {
                        let offset = (month - cohort) as usize;
                        paying[offset] += usize::from(value > 0.0);
                        totals[offset] += value;
                    }
                }
            }
            let logo_retention = paying
                .iter()
                .map(|&paying| (!base.is_empty()).then(|| paying as f64 / base.len() as f64))
                .collect();
            let revenue_retention = totals
                .iter()
                .map(|&total| (base_mrr > 0.0).then(|| total / base_mrr))
                .collect();
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
        let monthly = MonthlyMrr::new(
            RevenueRows {
                account_idx: &account_idx,
                month: &month,
                mrr: &mrr,
            },
            created.len(),
        );
        let rows = cohort_retention(&created, &monthly, 102, |_| true);
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
        let only_second = cohort_retention(&created, &monthly, 102, |account| account == 2);
        assert_eq!(only_second[0].paying, 0);
        assert_eq!(only_second[0].logo_retention, vec![None, None, None]);
        assert_eq!(month_label(2026 * 12 + 9), "2026-10");
    }

    #[test]
    fn rows_in_any_order_and_of_one_month_add_up() {
        // Account 0 has two rows for month 100 (60 + 40) and its rows come
        // out of order; account 1 only pays from month 101.
        let created = [100, 100];
        let account_idx = [0, 1, 0, 0];
        let month = [101, 101, 100, 100];
        let mrr = [50.0, 30.0, 60.0, 40.0];
        let monthly = MonthlyMrr::new(
            RevenueRows {
                account_idx: &account_idx,
                month: &month,
                mrr: &mrr,
            },
            created.len(),
        );
        assert_eq!(
            monthly.of(0).collect::<Vec<_>>(),
            vec![(100, 100.0), (101, 50.0)]
        );
        assert_eq!(monthly.at(1, 100), 0.0);
        let rows = cohort_retention(&created, &monthly, 101, |_| true);
        assert_eq!(
            (rows[0].accounts, rows[0].paying, rows[0].base_mrr),
            (2, 1, 100.0)
        );
        assert_eq!(rows[0].revenue_retention, vec![Some(1.0), Some(0.5)]);
        assert_eq!(rows[0].logo_retention, vec![Some(1.0), Some(1.0)]);
    }
}
