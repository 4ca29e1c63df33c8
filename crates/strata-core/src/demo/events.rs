//! Product usage events of the demo accounts, written to `events.parquet`.
//!
//! Usage is modelled per account-day: the account is active on a day with a
//! probability that follows its archetype, the weekday, the year-end holidays,
//! its onboarding ramp, its growth or decay, the drift of its activity level
//! and its churn; an active day then carries a number of events that grows
//! with the number of users, each drawn from the account's own mix or (for
//! a dormant account, with the day's overlap share) from the mix of the
//! active archetype it worked like. A
//! first pass adds up the expected events of every account-day so that one
//! global scale makes the total hit the requested target, which keeps the
//! shape of the base independent of its size.
//!
//! The second pass is the hot loop: tens of millions of rows. It walks the
//! calendar day by day and, within a day, every account with its own random
//! stream (so an account's events are the same whatever the other accounts
//! do), collects the day's events of all accounts, sorts them by time and
//! appends them straight into Arrow builders (borrowed `&str` for every
//! string, user ids formatted into one reused buffer), writing ~1M-row
//! batches. Rows come out in time order, as a real event log is written:
//! an account's events are scattered over the whole file.
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, Encoding};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::schema::types::ColumnPath;
use rand::rngs::StdRng;

use super::accounts::{AccountPlan, write_user_id};
use super::calendar::{Calendar, MICROS_PER_DAY, SECONDS_PER_DAY, is_weekend};
use super::catalog::{
    Archetype, EVENT_API_CALL, EVENT_AUTOMATION_RUN, EVENT_INTEGRATION_CONNECTED, EVENT_NAMES,
    N_EVENTS, SOURCE_API, SOURCE_APP, SOURCE_INTEGRATION, SOURCE_MOBILE, SOURCE_NAMES, SOURCE_NULL,
    SYNCABLE_EVENTS,
};
use super::sampling::{Stage, account_rng, poisson, standard_normal, uniform};
use crate::error::{Error, Result};

/// Rows per Parquet row group, and per Arrow batch handed to the writer.
const ROWS_PER_ROW_GROUP: usize = 1 << 20;

/// How many rows pass between two progress reports.
const ROWS_PER_PROGRESS_REPORT: u64 = 1 << 17;

/// Activity drop during the year-end holidays.
const HOLIDAY_FACTOR: f64 = 0.35;

/// Days after signup before an account's activity level starts to drift:
/// onboarding follows its own ramp.
const DRIFT_AFTER_DAYS: f64 = 60.0;

/// Share of events whose source is missing (old SDKs, imports).
const NULL_SOURCE_SHARE: f64 = 0.004;

/// What an account does on one day, before the global scale.
#[derive(Debug, Clone, Copy)]
struct DayActivity {
    /// Probability of at least one event.
    p_active: f64,
    /// Mean number of events when active.
    events_per_active_day: f64,
    /// Number of users who can act that day.
    n_active_users: u32,
    /// Share of the day's events that follow the account's other mix.
    other_mix_share: f64,
}

/// One event of an account-day before its user is drawn: second of the day,
/// event index, source index. Sorting these tuples orders the account's day
/// by time.
type PendingEvent = (u32, u8, u8);

/// One event of a day, any account, ready to be written.
#[derive(Debug, Clone, Copy)]
struct DayRow {
    /// Second of the day.
    second: u32,
    /// Position of the account.
    account: u32,
    /// Event index.
    event: u8,
    /// Source index.
    source: u8,
    /// User index, `None` for events without a user.
    user: Option<u32>,
}

/// Where an account's event stream stands between days.
struct AccountStream {
    /// Its random stream (stage `Events`).
    rng: StdRng,
    /// The next of its planned `integration_connected` days.
    next_integration_idx: usize,
}

/// The Arrow schema of `events.parquet`.
pub(crate) fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("event", DataType::Utf8, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("source", DataType::Utf8, true),
    ]))
}

/// Writes `events.parquet` at `path` and returns the number of rows.
///
/// `target_events` is the expected total; `progress` receives the rows
/// written so far and the expected total.
pub(crate) fn write_events(
    path: &Path,
    accounts: &[AccountPlan],
    seed: u64,
    calendar: &Calendar,
    target_events: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    let scale = activity_scale(accounts, calendar, target_events);
    let file = File::create(path).map_err(|source| Error::io(path, source))?;
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROWS_PER_ROW_GROUP))
        .set_compression(Compression::SNAPPY)
        // Timestamps are in time order, so delta encoding stores
        // them in a byte or two instead of eight.
        .set_column_dictionary_enabled(ColumnPath::from("ts"), false)
        .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED)
        .build();
    let schema = events_schema();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(properties))?;
    let mut columns = EventColumns::new();
    let mut account_day: Vec<PendingEvent> = Vec::new();
    let mut day_rows: Vec<DayRow> = Vec::new();
    let mut user = String::new();
    let mut streams: Vec<AccountStream> = accounts
        .iter()
        .map(|account| AccountStream {
            rng: account_rng(seed, Stage::Events, account.account_idx),
            next_integration_idx: 0,
        })
        .collect();
    let mut n_written: u64 = 0;
    let mut n_reported: u64 = 0;
    progress(0, target_events);
    let first_day = accounts
        .iter()
        .map(|account| account.first_event_day(calendar))
        .min()
        .unwrap_or(calendar.as_of_day + 1);
    for day in first_day..=calendar.as_of_day {
        day_rows.clear();
        for (position, (account, stream)) in accounts.iter().zip(&mut streams).enumerate() {
            if day >= account.first_event_day(calendar) {
                draw_account_day(
                    account,
                    position as u32,
                    stream,
                    calendar,
                    scale,
                    day,
                    &mut account_day,
                    &mut day_rows,
                );
            }
        }
        // Stable: an account's events of one second keep their drawn order.
        day_rows.sort_by_key(|row| (row.second, row.account));
        let day_start_micros = i64::from(day) * MICROS_PER_DAY;
        for row in &day_rows {
            let account = &accounts[row.account as usize];
            columns.account_id.append_value(&account.account_id);
            match row.user {
                Some(user_idx) => {
                    write_user_id(&mut user, account.account_idx, user_idx);
                    columns.user_id.append_value(&user);
                }
                None => columns.user_id.append_null(),
            }
            columns
                .event
                .append_value(EVENT_NAMES[usize::from(row.event) % N_EVENTS]);
            columns
                .ts
                .append_value(day_start_micros + i64::from(row.second) * 1_000_000);
            match SOURCE_NAMES.get(usize::from(row.source)) {
                Some(source) => columns.source.append_value(source),
                None => columns.source.append_null(),
            }
            if columns.len() >= ROWS_PER_ROW_GROUP {
                writer.write(&columns.finish_batch(&schema)?)?;
            }
        }
        n_written += day_rows.len() as u64;
        if n_written - n_reported >= ROWS_PER_PROGRESS_REPORT {
            n_reported = n_written;
            progress(n_written, target_events.max(n_written));
        }
    }
    if columns.len() > 0 {
        writer.write(&columns.finish_batch(&schema)?)?;
    }
    writer.close()?;
    progress(n_written, n_written);
    Ok(n_written)
}

/// The factor that turns the accounts' unscaled activity into the target
/// number of events, after the planned `integration_connected` events.
fn activity_scale(accounts: &[AccountPlan], calendar: &Calendar, target_events: u64) -> f64 {
    let n_planned: usize = accounts
        .iter()
        .map(|account| account.integration_days.len())
        .sum();
    let mut unscaled_total = 0.0;
    for account in accounts {
        for day in account.first_event_day(calendar)..=calendar.as_of_day {
            let activity = day_activity(account, calendar, day);
            unscaled_total += activity.p_active * activity.events_per_active_day;
        }
    }
    let drawn_target = (target_events as f64 - n_planned as f64).max(0.0);
    if unscaled_total > 0.0 {
        drawn_target / unscaled_total
    } else {
        0.0
    }
}

/// The unscaled activity of an account on a day inside its event window.
fn day_activity(account: &AccountPlan, calendar: &Calendar, day: i32) -> DayActivity {
    let activity = &account.activity;
    let age_days = f64::from(day - account.created_day);
    let lifetime_days = f64::from((calendar.as_of_day - account.created_day).max(1));
    let progress = (age_days / lifetime_days).clamp(0.0, 1.0);
    let trend = match account.archetype {
        Archetype::Power => 0.55 + 0.9 * progress,
        Archetype::Casual => 1.0 - 0.15 * progress,
        Archetype::Integration => 1.0,
        Archetype::Dormant => dormant_trend(account, day),
    };
    let n_users = f64::from(account.n_users);
    let n_active_users = match account.archetype {
        Archetype::Power => (n_users * (0.3 + 0.7 * progress)).ceil(),
        Archetype::Dormant => (n_users * trend.clamp(0.2, 1.0)).ceil(),
        Archetype::Casual | Archetype::Integration => n_users,
    }
    .max(1.0);
    let mut calendar_factor = if is_weekend(day) {
        activity.weekend_ratio
    } else {
        1.0
    };
    if calendar.is_holiday(day) {
        calendar_factor *= HOLIDAY_FACTOR;
    }
    let onboarding_ramp = (0.35 + 0.65 * age_days / 21.0).min(1.0);
    // After onboarding, the month's drift in activity level moves both how
    // often and how much the account works.
    let level = if age_days < DRIFT_AFTER_DAYS {
        1.0
    } else {
        activity.overlap.level(day).sqrt()
    };
    let p_active = (activity.p_active_weekday
        * calendar_factor
        * onboarding_ramp
        * trend.min(1.0)
        * level
        * churn_factor(account, day))
    .clamp(0.0, 0.97);
    // Growth shows as more events per active day once the account is active
    // every day; decay shows mostly as fewer active days.
    let intensity = if trend > 1.0 { trend } else { trend.sqrt() };
    let events_per_active_day = activity.events_rate
        * (activity.base_events_per_day + n_active_users.sqrt())
        * intensity
        * level;
    DayActivity {
        p_active,
        events_per_active_day,
        n_active_users: n_active_users as u32,
        other_mix_share: activity.overlap.share(progress),
    }
}

/// Engagement of a dormant account: full until its decline, then halving
/// every half-life, and nothing after it stops.
fn dormant_trend(account: &AccountPlan, day: i32) -> f64 {
    let Some(dormancy) = &account.dormancy else {
        return 1.0;
    };
    if dormancy.stop_day.is_some_and(|stop_day| day >= stop_day) {
        return 0.0;
    }
    if day < dormancy.decline_start_day {
        return 1.0;
    }
    0.5_f64.powf(f64::from(day - dormancy.decline_start_day) / dormancy.half_life_days)
}

/// Usage after a churn fades within a few weeks and is gone after 40 days.
fn churn_factor(account: &AccountPlan, day: i32) -> f64 {
    for period in &account.churn_periods {
        let is_inside =
            day >= period.start_day && period.end_day.is_none_or(|end_day| day < end_day);
        if is_inside {
            let days_since_churn = day - period.start_day;
            return if days_since_churn < 40 {
                (-f64::from(days_since_churn) / 7.0).exp()
            } else {
                0.0
            };
        }
    }
    1.0
}

/// Draws one account's events of one day into `day_rows`, in time order,
/// from the account's own stream: the same draws, in the same order, as if
/// the account's days were generated alone.
#[allow(clippy::too_many_arguments)] // reason: the hot loop's state, passed rather than boxed
fn draw_account_day(
    account: &AccountPlan,
    position: u32,
    stream: &mut AccountStream,
    calendar: &Calendar,
    scale: f64,
    day: i32,
    account_day: &mut Vec<PendingEvent>,
    day_rows: &mut Vec<DayRow>,
) {
    let rng = &mut stream.rng;
    account_day.clear();
    let activity = day_activity(account, calendar, day);
    let scaled_events = activity.events_per_active_day * scale;
    // Scaling keeps at least one event per active day: below one event,
    // the scale thins the active days instead.
    let (p_active, extra_events_mean) = if scaled_events >= 1.0 {
        (activity.p_active, scaled_events - 1.0)
    } else {
        (activity.p_active * scaled_events, 0.0)
    };
    if p_active > 0.0 && uniform(rng) < p_active {
        let n_events = 1 + poisson(rng, extra_events_mean);
        for _ in 0..n_events {
            let event_idx = draw_event(rng, account, activity.other_mix_share);
            let source_idx = draw_source(rng, account, event_idx);
            let second = draw_second_of_day(rng, account, source_idx);
            account_day.push((second, event_idx as u8, source_idx));
        }
    }
    while account
        .integration_days
        .get(stream.next_integration_idx)
        .is_some_and(|integration_day| *integration_day == day)
    {
        let second = draw_second_of_day(rng, account, SOURCE_APP);
        account_day.push((second, EVENT_INTEGRATION_CONNECTED as u8, SOURCE_APP));
        stream.next_integration_idx += 1;
    }
    if account_day.is_empty() {
        return;
    }
    account_day.sort_unstable();
    let n_users = account.n_users.max(1);
    for &(second, event, source) in account_day.iter() {
        let user = draw_user(rng, activity.n_active_users, event, source)
            .filter(|&user_idx| user_idx < n_users);
        day_rows.push(DayRow {
            second,
            account: position,
            event,
            source,
            user,
        });
    }
}

/// Draws an event from the account's adopted features: from its other
/// archetype's mix with probability `other_mix_share`, else from its own.
fn draw_event(rng: &mut StdRng, account: &AccountPlan, other_mix_share: f64) -> usize {
    let cumulative = if other_mix_share > 0.0 && uniform(rng) < other_mix_share {
        &account.activity.overlap.cumulative_event_weights
    } else {
        &account.activity.cumulative_event_weights
    };
    let total = cumulative[N_EVENTS - 1];
    let threshold = uniform(rng) * total;
    cumulative
        .iter()
        .position(|running_total| *running_total > threshold)
        .unwrap_or(0)
}

/// Draws where an event came from: API events from the API or a connected
/// tool, task-like events sometimes synced by a tool, the rest from the web
/// or mobile app.
fn draw_source(rng: &mut StdRng, account: &AccountPlan, event_idx: usize) -> u8 {
    if uniform(rng) < NULL_SOURCE_SHARE {
        return SOURCE_NULL;
    }
    let draw = uniform(rng);
    if event_idx == EVENT_API_CALL {
        return if draw < 0.8 {
            SOURCE_API
        } else {
            SOURCE_INTEGRATION
        };
    }
    if event_idx == EVENT_AUTOMATION_RUN {
        return if draw < 0.65 {
            SOURCE_INTEGRATION
        } else {
            SOURCE_API
        };
    }
    if SYNCABLE_EVENTS.contains(&event_idx) && draw < account.activity.synced_share {
        return SOURCE_INTEGRATION;
    }
    if uniform(rng) < account.activity.mobile_share {
        SOURCE_MOBILE
    } else {
        SOURCE_APP
    }
}

/// Draws the UTC second of an event: machines act around the clock, people
/// mostly during their local working hours.
fn draw_second_of_day(rng: &mut StdRng, account: &AccountPlan, source_idx: u8) -> u32 {
    let is_machine = source_idx == SOURCE_API || source_idx == SOURCE_INTEGRATION;
    let uniform_second = (uniform(rng) * f64::from(SECONDS_PER_DAY)) as u32;
    if is_machine || uniform(rng) < 0.12 {
        return uniform_second.min(SECONDS_PER_DAY - 1);
    }
    let local_hour = (13.2 + 2.6 * standard_normal(rng)).clamp(6.0, 23.5);
    let utc_second = ((local_hour - account.utc_offset_hours) * 3600.0).floor() as i64;
    utc_second.rem_euclid(i64::from(SECONDS_PER_DAY)) as u32
}

/// Draws who acted: a few users do most of the work; machine events often
/// have no user at all.
fn draw_user(rng: &mut StdRng, n_active_users: u32, event_idx: u8, source_idx: u8) -> Option<u32> {
    if usize::from(event_idx) == EVENT_INTEGRATION_CONNECTED {
        // The workspace admin connects integrations.
        return Some(0);
    }
    let p_no_user = match source_idx {
        SOURCE_INTEGRATION => 0.15,
        SOURCE_API => 0.03,
        SOURCE_NULL => 0.5,
        _ => 0.0,
    };
    if p_no_user > 0.0 && uniform(rng) < p_no_user {
        return None;
    }
    let draw = uniform(rng);
    Some(((draw * draw * f64::from(n_active_users)) as u32).min(n_active_users.saturating_sub(1)))
}

/// The Arrow builders of one batch.
struct EventColumns {
    account_id: StringBuilder,
    user_id: StringBuilder,
    event: StringBuilder,
    ts: TimestampMicrosecondBuilder,
    source: StringBuilder,
}

impl EventColumns {
    fn new() -> EventColumns {
        let capacity = ROWS_PER_ROW_GROUP + (ROWS_PER_ROW_GROUP >> 3);
        EventColumns {
            account_id: StringBuilder::with_capacity(capacity, capacity * 10),
            user_id: StringBuilder::with_capacity(capacity, capacity * 14),
            event: StringBuilder::with_capacity(capacity, capacity * 14),
            ts: TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            source: StringBuilder::with_capacity(capacity, capacity * 4),
        }
    }

    fn len(&self) -> usize {
        self.account_id.len()
    }

    /// Turns the builders' rows into a batch and leaves them empty.
    fn finish_batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.account_id.finish()),
            Arc::new(self.user_id.finish()),
            Arc::new(self.event.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.source.finish()),
        ];
        Ok(RecordBatch::try_new(schema.clone(), arrays)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::accounts::plan_accounts;
    use chrono::NaiveDate;

    /// Sums the expected events of each archetype over the accounts' windows.
    fn check(archetype: Archetype) -> (f64, f64) {
        let as_of = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
        let calendar = Calendar::new(as_of, 24).unwrap();
        let accounts = plan_accounts(600, 42, &calendar);
        let (mut last_28_days, mut previous_28_days) = (0.0, 0.0);
        for account in accounts.iter().filter(|account| {
            account.archetype == archetype && account.created_day < calendar.as_of_day - 120
        }) {
            for offset in 0..56 {
                let activity = day_activity(account, &calendar, calendar.as_of_day - offset);
                let expected = activity.p_active * activity.events_per_active_day;
                if offset < 28 {
                    last_28_days += expected;
                } else {
                    previous_28_days += expected;
                }
            }
        }
        (last_28_days, previous_28_days)
    }

    #[test]
    fn trends_follow_the_archetype() {
        let (power_now, power_before) = check(Archetype::Power);
        let (dormant_now, dormant_before) = check(Archetype::Dormant);
        let (casual_now, casual_before) = check(Archetype::Casual);
        assert!(power_now > power_before, "{power_now} {power_before}");
        assert!(
            dormant_now < 0.8 * dormant_before,
            "{dormant_now} {dormant_before}"
        );
        assert!((casual_now / casual_before - 1.0).abs() < 0.1);
    }
}
