//! Account planning: who the demo customers are and how each will behave.
//!
//! Every other stage of the generator reads the [`AccountPlan`] made here, so
//! the hidden truth (archetype, dominant need, ideal-customer-profile flag)
//! and the observable data cannot drift apart. In particular the
//! `integration_connected` events that define the planted profile are decided
//! here as explicit days, and `is_icp` is computed from exactly those days
//! that will be visible in `events.parquet`; the revenue stage then gives
//! those accounts their strong expansion.
use rand::rngs::StdRng;

use super::calendar::{Calendar, month_of_day};
use super::catalog::{
    Archetype, CORE_EVENTS, COUNTRIES, CSMS, ENTERPRISE_CSMS, EVENT_API_CALL, EVENT_AUTOMATION_RUN,
    EVENT_WEIGHTS, FEATURE_ADOPTION, ICP_INDUSTRY, INDUSTRIES, N_EVENTS, NAME_ROOTS, NAME_STEMS,
    NAME_SUFFIXES, Need, Plan,
};
use super::sampling::{
    Stage, account_rng, integer_between, lognormal_noise, pick, poisson, standard_normal, uniform,
    uniform_between, weighted_index,
};

/// Share of accounts deliberately drawn inside the ideal customer profile's
/// firmographics with early integrations, so that the segment is large enough
/// (about 5 % of accounts) to be found; natural matches add a little.
const PLANTED_ICP_SHARE: f64 = 0.055;

/// Monthly growth of signups; recent months get more new accounts.
const MONTHLY_SIGNUP_GROWTH: f64 = 0.045;

/// Days after signup within which integrations count for the profile.
pub(crate) const ICP_INTEGRATION_WINDOW_DAYS: i32 = 60;

/// Employee bounds of the planted profile, inclusive.
pub(crate) const ICP_EMPLOYEES: std::ops::RangeInclusive<u32> = 200..=500;

/// How an account's product usage is shaped, before the global scaling that
/// makes the total number of events hit the requested target.
#[derive(Debug, Clone)]
pub(crate) struct Activity {
    /// Probability of any activity on a working day at full engagement.
    pub(crate) p_active_weekday: f64,
    /// Weekend activity relative to working days.
    pub(crate) weekend_ratio: f64,
    /// Multiplier of the number of events on an active day.
    pub(crate) events_rate: f64,
    /// Events on an active day that do not depend on the number of users.
    pub(crate) base_events_per_day: f64,
    /// Cumulative weights over [`super::catalog::EVENT_NAMES`].
    pub(crate) cumulative_event_weights: [f64; N_EVENTS],
    /// Share of human events coming from the mobile app.
    pub(crate) mobile_share: f64,
    /// Share of task-like events created by a connected tool.
    pub(crate) synced_share: f64,
    /// How the account's usage overlaps another archetype and drifts.
    pub(crate) overlap: Overlap,
}

/// What makes an account less than a pure archetype: its activity level
/// wanders from month to month, and a dormant account's events partly follow
/// the mix of the active archetype it worked like (a share that drifts over
/// its life; 0 for the active archetypes).
#[derive(Debug, Clone, Default)]
pub(crate) struct Overlap {
    /// Cumulative weights of the other archetype's mix, as adopted by this
    /// account, over [`super::catalog::EVENT_NAMES`].
    pub(crate) cumulative_event_weights: [f64; N_EVENTS],
    /// Share of events drawn from the other mix at signup.
    pub(crate) share_at_signup: f64,
    /// Share of events drawn from the other mix at the as-of date.
    pub(crate) share_at_as_of: f64,
    /// Natural log of the activity multiplier of each month, from the month
    /// of the account's first event to the as-of month.
    pub(crate) monthly_log_level: Vec<f64>,
    /// Month index of `monthly_log_level[0]`.
    pub(crate) first_month: i32,
}

impl Overlap {
    /// The activity multiplier of a day (1 without drawn levels).
    pub(crate) fn level(&self, day: i32) -> f64 {
        let offset = usize::try_from(month_of_day(day) - self.first_month).unwrap_or(0);
        self.monthly_log_level
            .get(offset.min(self.monthly_log_level.len().saturating_sub(1)))
            .map_or(1.0, |log_level| log_level.exp())
    }

    /// The share of events drawn from the other mix at `progress` (0 at
    /// signup, 1 at the as-of date).
    pub(crate) fn share(&self, progress: f64) -> f64 {
        self.share_at_signup + (self.share_at_as_of - self.share_at_signup) * progress
    }
}

/// The decline of a dormant account.
#[derive(Debug, Clone)]
pub(crate) struct Dormancy {
    /// First day of the decay.
    pub(crate) decline_start_day: i32,
    /// Days for activity to halve once the decline started.
    pub(crate) half_life_days: f64,
    /// Day from which there is no activity at all, if the account stops.
    pub(crate) stop_day: Option<i32>,
}

/// Months without revenue after a churn, in days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChurnPeriod {
    /// First day of the first month without revenue.
    pub(crate) start_day: i32,
    /// First day of the month the account came back, if it did.
    pub(crate) end_day: Option<i32>,
}

/// Everything decided about one account before any rows are written.
#[derive(Debug, Clone)]
pub(crate) struct AccountPlan {
    /// Position of the account, also the key of its random streams.
    pub(crate) account_idx: usize,
    /// `acc_000123`.
    pub(crate) account_id: String,
    /// Company name.
    pub(crate) name: String,
    /// Signup day, in days since 1970-01-01.
    pub(crate) created_day: i32,
    /// Head count.
    pub(crate) employees: u32,
    /// Industry name.
    pub(crate) industry: &'static str,
    /// ISO 3166 alpha-2 country.
    pub(crate) country: &'static str,
    /// Hours to add to UTC to get the account's local time.
    pub(crate) utc_offset_hours: f64,
    /// Current plan.
    pub(crate) plan: Plan,
    /// CSM e-mail.
    pub(crate) owner: &'static str,
    /// Hidden archetype.
    pub(crate) archetype: Archetype,
    /// Hidden dominant need.
    pub(crate) need: Need,
    /// Whether the account matches the planted profile in the visible data.
    pub(crate) is_icp: bool,
    /// Number of users at full adoption.
    pub(crate) n_users: u32,
    /// Month index of the first paid month, for paying accounts.
    pub(crate) revenue_start_month: Option<i32>,
    /// Usage shape.
    pub(crate) activity: Activity,
    /// Days with an `integration_connected` event, sorted, all visible.
    pub(crate) integration_days: Vec<i32>,
    /// Decline of a dormant account.
    pub(crate) dormancy: Option<Dormancy>,
    /// Filled by the revenue stage: the months the account paid nothing.
    pub(crate) churn_periods: Vec<ChurnPeriod>,
}

impl AccountPlan {
    /// The first day with events: signup or the start of the event window.
    pub(crate) fn first_event_day(&self, calendar: &Calendar) -> i32 {
        self.created_day.max(calendar.window_start_day)
    }
}

/// The `user_id` of one of an account's users, shared by events and feedback.
pub(crate) fn user_id(account_idx: usize, user_idx: u32) -> String {
    let mut id = String::new();
    write_user_id(&mut id, account_idx, user_idx);
    id
}

/// [`user_id`] into a reused buffer (the event writer's hot loop).
pub(crate) fn write_user_id(buffer: &mut String, account_idx: usize, user_idx: u32) {
    use std::fmt::Write as _;
    buffer.clear();
    // Writing into a String cannot fail.
    let _ = write!(buffer, "usr_{:06}_{:03}", account_idx + 1, user_idx + 1);
}

/// Plans `n_accounts` accounts.
pub(crate) fn plan_accounts(n_accounts: usize, seed: u64, calendar: &Calendar) -> Vec<AccountPlan> {
    (0..n_accounts)
        .map(|account_idx| plan_account(account_idx, seed, calendar))
        .collect()
}

/// Plans one account from its own random stream.
fn plan_account(account_idx: usize, seed: u64, calendar: &Calendar) -> AccountPlan {
    let mut rng = account_rng(seed, Stage::Accounts, account_idx);
    let is_planted = uniform(&mut rng) < PLANTED_ICP_SHARE;
    let created_day = draw_signup_day(&mut rng, calendar);
    let employees = if is_planted {
        // Log-uniform over the profile's head-count band.
        (f64::from(*ICP_EMPLOYEES.start()) * 2.5_f64.powf(uniform(&mut rng))).round() as u32
    } else {
        draw_employees(&mut rng)
    };
    let industry_idx = if is_planted {
        industry_index(ICP_INDUSTRY)
    } else {
        weighted_index(&mut rng, &INDUSTRIES.map(|(_, weight)| weight))
    };
    let (industry, _) = INDUSTRIES[industry_idx];
    let country_idx = weighted_index(&mut rng, &COUNTRIES.map(|(_, weight, _)| weight));
    let (country, _, utc_offset_hours) = COUNTRIES[country_idx];
    let name = company_name(&mut rng, industry_idx);

    let mut plan = draw_plan(&mut rng, employees);
    if is_planted && plan == Plan::Free {
        plan = Plan::Pro;
    }
    let archetype = draw_archetype(&mut rng, plan, is_planted);

    let created_month = month_of_day(created_day);
    let mut revenue_start_month = plan.is_paid().then_some(created_month);
    // A few free accounts convert to a paid plan after some months; their
    // current plan is the paid one and revenue starts at the conversion.
    if plan == Plan::Free && uniform(&mut rng) < 0.06 {
        let conversion_month = created_month + integer_between(&mut rng, 1, 12) as i32;
        if conversion_month <= calendar.as_of_month {
            plan = if uniform(&mut rng) < 0.7 {
                Plan::Starter
            } else {
                Plan::Pro
            };
            revenue_start_month = Some(conversion_month);
        }
    }

    let dormancy =
        (archetype == Archetype::Dormant).then(|| draw_dormancy(&mut rng, created_day, calendar));
    let integration_days = draw_integration_days(
        &mut rng,
        archetype,
        is_planted,
        created_day,
        calendar,
        dormancy.as_ref(),
    );
    let early_integrations = integration_days
        .iter()
        .filter(|day| **day - created_day < ICP_INTEGRATION_WINDOW_DAYS)
        .count();
    let is_icp =
        industry == ICP_INDUSTRY && ICP_EMPLOYEES.contains(&employees) && early_integrations >= 2;
    // The profile is about paying customers that expand; a natural match on a
    // free plan is treated as having bought at signup.
    if is_icp && !plan.is_paid() {
        plan = Plan::Pro;
        revenue_start_month = Some(created_month);
    }

    let owner_pool: &[&'static str] = if plan == Plan::Enterprise {
        &ENTERPRISE_CSMS
    } else {
        &CSMS
    };
    let owner = pick(&mut rng, owner_pool).copied().unwrap_or(CSMS[0]);
    let n_users = draw_n_users(&mut rng, employees, plan, archetype);
    let mut activity = draw_activity(&mut rng, archetype);
    let need = draw_need(&mut rng, archetype, plan);
    // Drawn last so that every draw above is as it was before overlap existed.
    activity.overlap = draw_overlap(&mut rng, archetype, created_day, calendar);

    AccountPlan {
        account_idx,
        account_id: format!("acc_{:06}", account_idx + 1),
        name,
        created_day,
        employees,
        industry,
        country,
        utc_offset_hours,
        plan,
        owner,
        archetype,
        need,
        is_icp,
        n_users,
        revenue_start_month,
        activity,
        integration_days,
        dormancy,
        churn_periods: Vec::new(),
    }
}

/// Position of an industry in [`INDUSTRIES`].
fn industry_index(industry: &str) -> usize {
    INDUSTRIES
        .iter()
        .position(|(name, _)| *name == industry)
        .unwrap_or(0)
}

/// Signup day between the history start and the as-of date, with signups
/// growing exponentially towards the present (a truncated exponential over
/// "days ago", inverted in closed form).
fn draw_signup_day(rng: &mut StdRng, calendar: &Calendar) -> i32 {
    let span_days = f64::from((calendar.as_of_day - calendar.history_start_day).max(0));
    let growth_per_day = (1.0 + MONTHLY_SIGNUP_GROWTH).ln() / 30.44;
    let tail = 1.0 - (-growth_per_day * span_days).exp();
    let days_ago = -(1.0 - uniform(rng) * tail).ln() / growth_per_day;
    calendar.as_of_day - (days_ago.floor() as i32).clamp(0, span_days as i32)
}

/// Head count: a log-normal body (median about 40) with a Pareto tail of
/// large companies, the usual shape of a self-serve B2B base.
fn draw_employees(rng: &mut StdRng) -> u32 {
    if uniform(rng) < 0.035 {
        let pareto = 500.0 * (1.0 - uniform(rng)).powf(-1.0 / 0.9);
        return pareto.min(150_000.0).round() as u32;
    }
    (40.0 * lognormal_noise(rng, 1.45))
        .round()
        .clamp(1.0, 150_000.0) as u32
}

/// Plan, more expensive with size.
fn draw_plan(rng: &mut StdRng, employees: u32) -> Plan {
    let weights: [f64; 4] = match employees {
        0..10 => [55.0, 35.0, 9.0, 1.0],
        10..50 => [35.0, 40.0, 22.0, 3.0],
        50..200 => [20.0, 30.0, 40.0, 10.0],
        200..1000 => [10.0, 15.0, 45.0, 30.0],
        _ => [5.0, 5.0, 30.0, 60.0],
    };
    [Plan::Free, Plan::Starter, Plan::Pro, Plan::Enterprise][weighted_index(rng, &weights)]
}

/// Archetype, with a mix of roughly 20/40/15/25 % that tilts towards power
/// and integration users on bigger plans.
fn draw_archetype(rng: &mut StdRng, plan: Plan, is_planted: bool) -> Archetype {
    let weights: [f64; 4] = if is_planted {
        [35.0, 25.0, 35.0, 5.0]
    } else {
        let plan_factors: [f64; 4] = match plan {
            Plan::Free => [0.5, 1.2, 0.5, 1.4],
            Plan::Starter => [0.9, 1.1, 0.8, 1.1],
            Plan::Pro => [1.2, 0.9, 1.2, 0.9],
            Plan::Enterprise => [1.6, 0.6, 1.8, 0.6],
        };
        let base: [f64; 4] = [20.0, 40.0, 15.0, 25.0];
        [0, 1, 2, 3].map(|idx| base[idx] * plan_factors[idx])
    };
    Archetype::ALL[weighted_index(rng, &weights)]
}

/// When a dormant account starts to fade and whether it stops altogether,
/// usually more than three weeks before the as-of date.
fn draw_dormancy(rng: &mut StdRng, created_day: i32, calendar: &Calendar) -> Dormancy {
    let decline_start_day =
        (created_day + 21).max(calendar.as_of_day - integer_between(rng, 75, 240) as i32);
    let half_life_days = uniform_between(rng, 5.0, 20.0);
    let stop_day = (uniform(rng) < 0.9).then(|| {
        (decline_start_day + 5).max(calendar.as_of_day - integer_between(rng, 30, 160) as i32)
    });
    Dormancy {
        decline_start_day,
        half_life_days,
        stop_day,
    }
}

/// Days of `integration_connected` events that fall inside the visible event
/// window: a burst in the first weeks after signup, then occasional ones.
fn draw_integration_days(
    rng: &mut StdRng,
    archetype: Archetype,
    is_planted: bool,
    created_day: i32,
    calendar: &Calendar,
    dormancy: Option<&Dormancy>,
) -> Vec<i32> {
    let (early_mean, late_per_year) = match archetype {
        Archetype::Power => (0.8, 1.0),
        Archetype::Casual => (0.12, 0.1),
        Archetype::Integration => (1.6, 1.5),
        Archetype::Dormant => (0.3, 0.3),
    };
    let (n_early, last_early_offset) = if is_planted {
        (2 + poisson(rng, 0.7), 30)
    } else {
        (poisson(rng, early_mean), 50)
    };
    let mut days: Vec<i32> = (0..n_early)
        .map(|_| created_day + integer_between(rng, 0, last_early_offset) as i32)
        .collect();
    let lifetime_days = calendar.as_of_day - created_day;
    if lifetime_days > ICP_INTEGRATION_WINDOW_DAYS {
        let years_after_window = f64::from(lifetime_days - ICP_INTEGRATION_WINDOW_DAYS) / 365.0;
        let n_late = poisson(rng, late_per_year * years_after_window);
        days.extend((0..n_late).map(|_| {
            created_day
                + integer_between(
                    rng,
                    i64::from(ICP_INTEGRATION_WINDOW_DAYS),
                    i64::from(lifetime_days),
                ) as i32
        }));
    }
    let first_visible_day = created_day.max(calendar.window_start_day);
    let stop_day = dormancy.and_then(|dormancy| dormancy.stop_day);
    days.retain(|day| {
        *day >= first_visible_day
            && *day <= calendar.as_of_day
            && stop_day.is_none_or(|stop_day| *day < stop_day)
    });
    days.sort_unstable();
    days
}

/// Users at full adoption: a share of employees that depends on how the
/// account uses the product, capped by what the plan allows.
fn draw_n_users(rng: &mut StdRng, employees: u32, plan: Plan, archetype: Archetype) -> u32 {
    let (adoption, archetype_cap) = match archetype {
        Archetype::Power => (0.35, f64::INFINITY),
        Archetype::Casual => (0.06, 10.0),
        Archetype::Integration => (0.06, 30.0),
        Archetype::Dormant => (0.12, f64::INFINITY),
    };
    let plan_cap: f64 = match plan {
        Plan::Free => 5.0,
        Plan::Starter => 20.0,
        Plan::Pro => 120.0,
        Plan::Enterprise => 400.0,
    };
    let wanted = f64::from(employees) * adoption * lognormal_noise(rng, 0.4);
    wanted.round().clamp(1.0, plan_cap.min(archetype_cap)) as u32
}

/// Usage shape, with per-account noise so that archetypes overlap.
fn draw_activity(rng: &mut StdRng, archetype: Archetype) -> Activity {
    let archetype_idx = archetype as usize;
    let p_active_weekday =
        ([0.88, 0.3, 0.93, 0.55][archetype_idx] * lognormal_noise(rng, 0.25)).clamp(0.02, 0.97);
    let weekend_ratio = [0.25, 0.2, 0.85, 0.25][archetype_idx];
    let events_rate = [3.0, 1.2, 1.8, 1.6][archetype_idx] * lognormal_noise(rng, 0.35);
    let base_events_per_day = [1.0, 1.0, 3.0, 1.0][archetype_idx];
    let cumulative_event_weights = draw_event_mix(rng, archetype);
    let mobile_share = if archetype == Archetype::Casual {
        uniform_between(rng, 0.0, 0.08)
    } else {
        uniform_between(rng, 0.05, 0.35)
    };
    let synced_share = [0.08, 0.01, 0.35, 0.04][archetype_idx];
    Activity {
        p_active_weekday,
        weekend_ratio,
        events_rate,
        base_events_per_day,
        cumulative_event_weights,
        mobile_share,
        synced_share,
        // Drawn last by `plan_account` (see `draw_overlap`).
        overlap: Overlap::default(),
    }
}

/// The features an account of `archetype` adopted and how much it uses
/// each, as cumulative weights over the event names.
fn draw_event_mix(rng: &mut StdRng, archetype: Archetype) -> [f64; N_EVENTS] {
    let archetype_idx = archetype as usize;
    let mut cumulative_event_weights = [0.0; N_EVENTS];
    let mut running_total = 0.0;
    for (event_idx, base_weight) in EVENT_WEIGHTS[archetype_idx].iter().enumerate() {
        let always_adopted = CORE_EVENTS.contains(&event_idx)
            || (archetype == Archetype::Integration
                && (event_idx == EVENT_API_CALL || event_idx == EVENT_AUTOMATION_RUN));
        let is_adopted = always_adopted || uniform(rng) < FEATURE_ADOPTION[archetype_idx];
        if is_adopted {
            running_total += base_weight * lognormal_noise(rng, 0.3);
        }
        cumulative_event_weights[event_idx] = running_total;
    }
    cumulative_event_weights
}

/// Month-to-month persistence of an account's activity level (AR(1)).
const LEVEL_PERSISTENCE: f64 = 0.85;

/// Standard deviation of a month's change in log activity level; with
/// [`LEVEL_PERSISTENCE`] the level wanders about ±20 % around its mean.
const LEVEL_STEP_SIGMA: f64 = 0.1;

/// Most of a dormant account's events that follow the mix of the active
/// archetype it worked like before it faded.
const MAX_OTHER_MIX_SHARE: f64 = 0.3;

/// How the account overlaps another archetype and drifts. A dormant account
/// worked partly like one of the three active archetypes: up to 30 % of its
/// events (a share that moves by about 5 points over its life) follow that
/// archetype's mix. After onboarding, every account's activity level follows
/// a mean-reverting monthly walk.
fn draw_overlap(
    rng: &mut StdRng,
    archetype: Archetype,
    created_day: i32,
    calendar: &Calendar,
) -> Overlap {
    let (cumulative_event_weights, share_at_signup, share_at_as_of) = if archetype
        == Archetype::Dormant
    {
        let active = [Archetype::Power, Archetype::Casual, Archetype::Integration];
        let other = pick(rng, &active).copied().unwrap_or(Archetype::Casual);
        let weights = draw_event_mix(rng, other);
        let at_signup = uniform_between(rng, 0.0, MAX_OTHER_MIX_SHARE);
        let at_as_of = (at_signup + 0.05 * standard_normal(rng)).clamp(0.0, MAX_OTHER_MIX_SHARE);
        (weights, at_signup, at_as_of)
    } else {
        ([0.0; N_EVENTS], 0.0, 0.0)
    };
    let first_month = month_of_day(created_day.max(calendar.window_start_day));
    let n_months = usize::try_from(calendar.as_of_month - first_month + 1).unwrap_or(1);
    let mut log_level = 0.0;
    let monthly_log_level = (0..n_months)
        .map(|_| {
            log_level = LEVEL_PERSISTENCE * log_level + LEVEL_STEP_SIGMA * standard_normal(rng);
            log_level
        })
        .collect();
    Overlap {
        cumulative_event_weights,
        share_at_signup,
        share_at_as_of,
        monthly_log_level,
        first_month,
    }
}

/// Dominant need, which follows how the account uses and pays for the product.
fn draw_need(rng: &mut StdRng, archetype: Archetype, plan: Plan) -> Need {
    // In the order of `Need::ALL`: reporting, integrations, pricing,
    // performance, onboarding, security.
    let mut weights: [f64; 6] = [1.0, 1.0, 1.0, 1.0, 1.0, 0.6];
    let archetype_factors: [f64; 6] = match archetype {
        Archetype::Power => [2.2, 1.0, 0.8, 1.8, 0.6, 1.0],
        Archetype::Casual => [0.7, 0.5, 1.5, 0.8, 2.5, 0.6],
        Archetype::Integration => [0.8, 3.5, 0.8, 1.3, 0.4, 1.0],
        Archetype::Dormant => [0.7, 0.6, 2.0, 1.3, 1.8, 0.6],
    };
    let plan_factors: [f64; 6] = match plan {
        Plan::Free | Plan::Starter => [1.0, 1.0, 1.6, 1.0, 1.0, 0.5],
        Plan::Pro => [1.0; 6],
        Plan::Enterprise => [1.0, 1.0, 0.7, 1.0, 0.8, 4.0],
    };
    for (need_idx, weight) in weights.iter_mut().enumerate() {
        *weight *= archetype_factors[need_idx] * plan_factors[need_idx];
    }
    Need::ALL[weighted_index(rng, &weights)]
}

/// A plausible company name such as "Harborview Consulting".
fn company_name(rng: &mut StdRng, industry_idx: usize) -> String {
    let root = pick(rng, &NAME_ROOTS).copied().unwrap_or("North");
    let suffixes = NAME_SUFFIXES
        .get(industry_idx)
        .copied()
        .unwrap_or(&["Group"]);
    let suffix = pick(rng, suffixes).copied().unwrap_or("Group");
    if uniform(rng) < 0.7 {
        let stem = pick(rng, &NAME_STEMS).copied().unwrap_or("field");
        format!("{root}{stem} {suffix}")
    } else {
        format!("{root} {suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// Plans `n_accounts` with the default time frame.
    fn check(n_accounts: usize) -> Vec<AccountPlan> {
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let calendar = Calendar::new(as_of, 24).unwrap();
        plan_accounts(n_accounts, 42, &calendar)
    }

    #[test]
    fn employees_are_heavy_tailed() {
        let accounts = check(3000);
        let mut employees: Vec<u32> = accounts.iter().map(|account| account.employees).collect();
        employees.sort_unstable();
        let median = employees[employees.len() / 2];
        let max = employees[employees.len() - 1];
        assert!(median < 200, "median {median}");
        assert!(max > 5000, "max {max}");
        assert!(employees[0] >= 1);
    }

    #[test]
    fn icp_share_is_a_few_percent() {
        let accounts = check(3000);
        let n_icp = accounts.iter().filter(|account| account.is_icp).count();
        let share = n_icp as f64 / accounts.len() as f64;
        assert!((0.035..=0.075).contains(&share), "icp share {share}");
        for account in accounts.iter().filter(|account| account.is_icp) {
            assert_eq!(account.industry, ICP_INDUSTRY);
            assert!(ICP_EMPLOYEES.contains(&account.employees));
            assert!(account.plan.is_paid());
        }
    }

    #[test]
    fn archetype_mix_is_close_to_the_design() {
        let accounts = check(3000);
        for (archetype, expected_share) in Archetype::ALL.iter().zip([0.2, 0.4, 0.15, 0.25]) {
            let share = accounts
                .iter()
                .filter(|account| account.archetype == *archetype)
                .count() as f64
                / accounts.len() as f64;
            assert!(
                (share - expected_share).abs() < 0.07,
                "{archetype:?}: {share}"
            );
        }
    }

    #[test]
    fn signups_grow_towards_the_present() {
        let accounts = check(3000);
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let calendar = Calendar::new(as_of, 24).unwrap();
        let midpoint = (calendar.history_start_day + calendar.as_of_day) / 2;
        let n_recent = accounts
            .iter()
            .filter(|account| account.created_day > midpoint)
            .count();
        assert!(n_recent > accounts.len() / 2, "{n_recent}");
        assert!(
            accounts
                .iter()
                .all(|account| account.created_day >= calendar.history_start_day
                    && account.created_day <= calendar.as_of_day)
        );
    }

    #[test]
    fn accounts_overlap_another_archetype_and_drift() {
        let accounts = check(3000);
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let calendar = Calendar::new(as_of, 24).unwrap();
        let mut level_changes: Vec<f64> = Vec::new();
        for account in &accounts {
            let overlap = &account.activity.overlap;
            let max_share = if account.archetype == Archetype::Dormant {
                MAX_OTHER_MIX_SHARE
            } else {
                0.0
            };
            for share in [overlap.share_at_signup, overlap.share_at_as_of] {
                assert!((0.0..=max_share).contains(&share), "{overlap:?}");
            }
            let first_day = account.created_day.max(calendar.window_start_day);
            assert_eq!(
                overlap.monthly_log_level.len() as i32,
                calendar.as_of_month - month_of_day(first_day) + 1
            );
            // The multiplier is defined on every day of the account's window.
            assert!(overlap.level(first_day) > 0.0 && overlap.level(calendar.as_of_day) > 0.0);
            level_changes.extend(
                overlap
                    .monthly_log_level
                    .windows(2)
                    .map(|pair| pair[1] - pair[0]),
            );
        }
        // Levels move from month to month (a walk, not a constant), by about
        // a tenth in log terms, and mean-revert rather than explode.
        let n = level_changes.len() as f64;
        let rms = (level_changes.iter().map(|c| c * c).sum::<f64>() / n).sqrt();
        assert!((0.08..0.14).contains(&rms), "rms monthly change {rms}");
        let widest = accounts
            .iter()
            .flat_map(|account| account.activity.overlap.monthly_log_level.iter())
            .fold(0.0_f64, |widest, level| widest.max(level.abs()));
        assert!(widest < 1.5, "{widest}");
        // A dormant account's other mix is an active archetype's: some
        // worked like integration-dependent accounts (API-heavy mix).
        let api_share = |cumulative: &[f64; N_EVENTS]| {
            let weight =
                |idx: usize| cumulative[idx] - if idx == 0 { 0.0 } else { cumulative[idx - 1] };
            (weight(EVENT_API_CALL) + weight(EVENT_AUTOMATION_RUN)) / cumulative[N_EVENTS - 1]
        };
        let dormant_like_integration = accounts
            .iter()
            .filter(|account| account.archetype == Archetype::Dormant)
            .filter(|account| api_share(&account.activity.overlap.cumulative_event_weights) > 0.5)
            .count();
        assert!(dormant_like_integration > 50, "{dormant_like_integration}");
    }
}
