//! Monthly recurring revenue of the demo accounts.
//!
//! Each paying account starts at its signup (or conversion) month with a base
//! MRR from its plan and seats, and then walks month by month through
//! expansion, contraction and churn hazards that depend on its archetype and
//! firmographics. Accounts in the planted ideal customer profile expand
//! strongly and almost never churn, which is the pattern a segmentation of the
//! demo data should discover. A churned account has no rows until it comes
//! back, which about one churned account in twenty does.
use super::accounts::{AccountPlan, ChurnPeriod};
use super::calendar::{Calendar, first_day_of_month, month_of_day};
use super::catalog::{Archetype, Plan};
use super::sampling::{Stage, account_rng, integer_between, uniform, uniform_between};

/// Share of churned accounts that come back a few months later.
const COMEBACK_SHARE: f64 = 0.05;

/// One row of `revenue.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RevenueRow {
    /// Month index (`year * 12 + month - 1`).
    pub(crate) month: i32,
    /// MRR in cents, so that the two decimals are exact.
    pub(crate) mrr_cents: i64,
}

/// Monthly probabilities and sizes of revenue changes.
#[derive(Debug, Clone, Copy)]
struct Hazards {
    churn: f64,
    expansion: f64,
    expansion_size: (f64, f64),
    contraction: f64,
    contraction_size: (f64, f64),
}

/// The revenue rows of one account and the periods it paid nothing.
pub(crate) fn simulate_revenue(
    account: &AccountPlan,
    seed: u64,
    calendar: &Calendar,
) -> (Vec<RevenueRow>, Vec<ChurnPeriod>) {
    let mut rows = Vec::new();
    let mut churn_periods: Vec<ChurnPeriod> = Vec::new();
    let Some(start_month) = account.revenue_start_month else {
        return (rows, churn_periods);
    };
    let mut rng = account_rng(seed, Stage::Revenue, account.account_idx);
    let (seat_price, minimum) = account.plan.seat_price_and_minimum();
    let seats = (f64::from(account.n_users) * uniform_between(&mut rng, 0.9, 1.5))
        .round()
        .max(1.0);
    let mut mrr = (seats * seat_price).max(minimum) * uniform_between(&mut rng, 0.85, 1.1);
    let mrr_floor = 0.5 * minimum;
    let decline_month = account
        .dormancy
        .as_ref()
        .map(|dormancy| month_of_day(dormancy.decline_start_day));

    let mut is_churned = false;
    let mut comeback_month: Option<i32> = None;
    for month in start_month..=calendar.as_of_month {
        if is_churned {
            if comeback_month != Some(month) {
                continue;
            }
            is_churned = false;
            mrr = (mrr * uniform_between(&mut rng, 0.6, 1.0)).max(mrr_floor);
            if let Some(period) = churn_periods.last_mut() {
                period.end_day = Some(first_day_of_month(month));
            }
        } else if month > start_month {
            let is_declining = decline_month.is_some_and(|decline_month| month >= decline_month);
            let hazards = hazards_for(account, is_declining);
            if uniform(&mut rng) < hazards.churn {
                is_churned = true;
                comeback_month = (uniform(&mut rng) < COMEBACK_SHARE)
                    .then(|| month + integer_between(&mut rng, 2, 9) as i32);
                churn_periods.push(ChurnPeriod {
                    start_day: first_day_of_month(month),
                    end_day: None,
                });
                continue;
            }
            let change = uniform(&mut rng);
            if change < hazards.expansion {
                let (low, high) = hazards.expansion_size;
                mrr *= 1.0 + uniform_between(&mut rng, low, high);
            } else if change < hazards.expansion + hazards.contraction {
                let (low, high) = hazards.contraction_size;
                mrr = (mrr * (1.0 - uniform_between(&mut rng, low, high))).max(mrr_floor);
            }
        }
        // Billing happens in cents; rounding every month keeps the
        // simulated value equal to what is written.
        let mrr_cents = (mrr * 100.0).round() as i64;
        mrr = mrr_cents as f64 / 100.0;
        rows.push(RevenueRow { month, mrr_cents });
    }
    (rows, churn_periods)
}

/// Monthly hazards of an account; `is_declining` marks a dormant account's
/// months after its usage started to fade.
fn hazards_for(account: &AccountPlan, is_declining: bool) -> Hazards {
    if account.is_icp {
        return Hazards {
            churn: 0.001,
            expansion: 0.17,
            expansion_size: (0.10, 0.25),
            contraction: 0.01,
            contraction_size: (0.03, 0.08),
        };
    }
    let mut hazards = match account.archetype {
        Archetype::Power => Hazards {
            churn: 0.004,
            expansion: 0.09,
            expansion_size: (0.06, 0.20),
            contraction: 0.02,
            contraction_size: (0.05, 0.15),
        },
        Archetype::Integration => Hazards {
            churn: 0.005,
            expansion: 0.06,
            expansion_size: (0.05, 0.15),
            contraction: 0.02,
            contraction_size: (0.05, 0.15),
        },
        Archetype::Casual => Hazards {
            churn: 0.018,
            expansion: 0.025,
            expansion_size: (0.05, 0.15),
            contraction: 0.035,
            contraction_size: (0.05, 0.25),
        },
        Archetype::Dormant if is_declining => Hazards {
            churn: 0.12,
            expansion: 0.0,
            expansion_size: (0.0, 0.0),
            contraction: 0.15,
            contraction_size: (0.10, 0.35),
        },
        Archetype::Dormant => Hazards {
            churn: 0.012,
            expansion: 0.02,
            expansion_size: (0.05, 0.10),
            contraction: 0.05,
            contraction_size: (0.05, 0.25),
        },
    };
    hazards.churn *= match account.plan {
        Plan::Enterprise => 0.5,
        Plan::Pro => 0.8,
        Plan::Starter | Plan::Free => 1.2,
    };
    if account.employees < 10 {
        hazards.churn *= 1.4;
    }
    hazards
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::accounts::plan_accounts;
    use chrono::NaiveDate;

    /// Net revenue retention over the last 12 months of the accounts that
    /// `select` keeps, as defined in DATA.md.
    fn check(select: fn(&AccountPlan) -> bool) -> f64 {
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let calendar = Calendar::new(as_of, 24).unwrap();
        let accounts = plan_accounts(6000, 42, &calendar);
        let (mut mrr_then, mut mrr_now) = (0_i64, 0_i64);
        for account in accounts.iter().filter(|account| select(account)) {
            let (rows, _) = simulate_revenue(account, 42, &calendar);
            let at = |month: i32| {
                rows.iter()
                    .find(|row| row.month == month)
                    .map_or(0, |row| row.mrr_cents)
            };
            let then = at(calendar.as_of_month - 12);
            if then > 0 {
                mrr_then += then;
                mrr_now += at(calendar.as_of_month);
            }
        }
        mrr_now as f64 / mrr_then as f64
    }

    #[test]
    fn planted_profile_expands_and_others_do_not() {
        let icp_nrr = check(|account| account.is_icp);
        let lookalike_nrr = check(|account| {
            !account.is_icp
                && account.industry == crate::demo::catalog::ICP_INDUSTRY
                && crate::demo::accounts::ICP_EMPLOYEES.contains(&account.employees)
        });
        let dormant_nrr = check(|account| account.archetype == Archetype::Dormant);
        let overall_nrr = check(|_| true);
        assert!(icp_nrr > 1.25, "icp nrr {icp_nrr}");
        assert!(lookalike_nrr < 1.15, "lookalike nrr {lookalike_nrr}");
        assert!(dormant_nrr < 0.8, "dormant nrr {dormant_nrr}");
        assert!(
            (0.85..1.15).contains(&overall_nrr),
            "overall nrr {overall_nrr}"
        );
    }

    #[test]
    fn rows_stop_at_churn_and_resume_on_comeback() {
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let calendar = Calendar::new(as_of, 24).unwrap();
        let accounts = plan_accounts(3000, 7, &calendar);
        let mut n_comebacks = 0;
        for account in &accounts {
            let (rows, churn_periods) = simulate_revenue(account, 7, &calendar);
            assert!(
                rows.iter()
                    .all(|row| row.month <= calendar.as_of_month && row.mrr_cents > 0)
            );
            let n_gaps = rows
                .windows(2)
                .filter(|pair| pair[1].month != pair[0].month + 1)
                .count();
            let n_closed = churn_periods
                .iter()
                .filter(|period| period.end_day.is_some())
                .count();
            assert_eq!(n_gaps, n_closed, "{}", account.account_id);
            n_comebacks += n_closed;
        }
        assert!(n_comebacks > 0);
    }
}
