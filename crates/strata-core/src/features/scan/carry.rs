//! A scan's state that outlives its run: what a [`Partial`] saw, with the
//! per-day counts of the recent days instead of counts relative to its
//! as-of day, so that it can be advanced to a later day by scanning the
//! newer events alone (incremental runs) and then finished exactly as a
//! scan of every event would be.
//!
//! Everything a [`Partial`] counts is a sum, a maximum or a union over
//! events, so a carry of the events through day `C` and a partial of newer
//! events at day `D >= C` add up to the state of all of them at `D`. What a
//! window needs is kept per day over the widest window ([`KEEP_DAYS`] for
//! events and active days, [`TREND_DAYS`] for per-event counts, a custom
//! feature's own window), and dropped as the days move past it.
use serde::{Deserialize, Serialize};

use super::{Counts, DistinctKey, EventCell, KEEP_DAYS, Known, Partial, USER_DAYS, UserKey, pair};
use crate::catalog::TREND_DAYS;
use crate::error::{Error, Result};
use crate::project::EventWindow;

/// An account's event totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Totals {
    total: i64,
    api: i64,
    adoption: i64,
    early: i64,
    /// `i32::MIN` without events.
    last_day: i32,
}

/// The scan state of the events through day `through`, by account id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(in crate::features) struct Carry {
    /// The as-of day the state counts through.
    pub(in crate::features) through: i32,
    /// Events later than `through` the scan left out: a carry that left
    /// some out cannot be advanced (they are in files already read).
    pub(in crate::features) after: u64,
    /// Accounts: ids and signup days, in positions order.
    ids: Vec<String>,
    created: Vec<i32>,
    totals: Vec<Totals>,
    adoption_words: usize,
    adoption: Vec<u64>,
    /// (account, day, events, API events) over the last [`KEEP_DAYS`] days.
    days: Vec<(u32, i32, u32, u32)>,
    names: Vec<String>,
    name_totals: Vec<i64>,
    /// (account, name, latest day, events in the early window).
    cells: Vec<(u32, u32, i32, i64)>,
    /// (account, name, day, events) over the last [`TREND_DAYS`] days.
    cell_days: Vec<(u32, u32, i32, u32)>,
    /// (account, user, latest day) over the last [`USER_DAYS`] days.
    users: Vec<(u32, String, i32)>,
    /// Accounts x customs: counts of the custom count features not over
    /// the last days (those are in `custom_days`).
    custom_counts: Vec<i64>,
    /// (account, custom, day, events) of custom counts over the last days.
    custom_days: Vec<(u32, u32, i32, u32)>,
    /// (account, custom, value, latest day) of custom distinct features.
    custom_values: Vec<(u32, u32, String, i32)>,
    unknown_ids: Vec<String>,
    unknown_events: u64,
}

/// Whether a custom feature counts over the last days (its per-day state
/// is then kept and moved).
fn last_days(known: &Known, custom: u32) -> Option<i64> {
    match known.customs.get(custom as usize)?.window {
        EventWindow::LastDays(days) => Some(i64::from(days)),
        _ => None,
    }
}

impl Carry {
    /// The carry of a kept scan ([`Known::keeping`]).
    pub(in crate::features) fn of(partial: Partial, known: &Known) -> Result<Carry> {
        if !known.keep || known.ids.len() != partial.counts.len() {
            return Err(Error::Internal(
                "a carry needs a scan that kept its per-day counts".into(),
            ));
        }
        let n_customs = known.customs.len();
        let mut custom_counts = partial.custom_counts;
        for (at, value) in custom_counts.iter_mut().enumerate() {
            if last_days(known, (at % n_customs.max(1)) as u32).is_some() {
                *value = 0;
            }
        }
        let mut carry = Carry {
            through: known.as_of_day,
            after: partial.after,
            ids: known.ids.clone(),
            created: known.created_day.clone(),
            totals: partial
                .counts
                .iter()
                .map(|c| Totals {
                    total: c.total,
                    api: c.api,
                    adoption: c.adoption,
                    early: c.early,
                    last_day: c.last_day,
                })
                .collect(),
            adoption_words: known.adoption_words,
            adoption: partial.adoption,
            days: partial
                .day_counts
                .into_iter()
                .map(|(key, [events, api])| {
                    (
                        (key >> 32) as u32,
                        (key & 0xffff_ffff) as u32 as i32,
                        events,
                        api,
                    )
                })
                .collect(),
            names: partial.name_list.iter().map(|n| n.to_string()).collect(),
            name_totals: partial.name_totals,
            cells: partial
                .events
                .into_iter()
                .map(|(key, cell)| {
                    (
                        (key >> 32) as u32,
                        (key & 0xffff_ffff) as u32,
                        cell.last_day,
                        cell.n_early,
                    )
                })
                .collect(),
            cell_days: partial
                .cell_days
                .into_iter()
                .map(|((key, day), n)| ((key >> 32) as u32, (key & 0xffff_ffff) as u32, day, n))
                .collect(),
            users: partial
                .users
                .into_iter()
                .map(|(key, day)| (key.account(), key.user().to_string(), day))
                .collect(),
            custom_counts,
            custom_days: partial
                .custom_days
                .into_iter()
                .map(|((account, custom, day), n)| (account, custom, day, n))
                .collect(),
            custom_values: partial
                .custom_distinct
                .into_iter()
                .map(|(key, day)| (key.account, key.custom, key.value.to_string(), day))
                .collect(),
            unknown_ids: partial
                .unknown_ids
                .iter()
                .map(|id| id.to_string())
                .collect(),
            unknown_events: partial.unknown_events,
        };
        carry.canonical();
        Ok(carry)
    }

    /// Sorts every list, so that equal states are equal carries.
    fn canonical(&mut self) {
        self.days.sort_unstable();
        self.cells.sort_unstable();
        self.cell_days.sort_unstable();
        self.users.sort_unstable();
        self.custom_days.sort_unstable();
        self.custom_values.sort_unstable();
        self.unknown_ids.sort_unstable();
    }

    /// The carry over the accounts `ids` (signed up on `created`), in their
    /// order: accounts new to the table start without events.
    ///
    /// # Errors
    ///
    /// Why the carry cannot be used (a full scan is then needed): an
    /// account it counted is gone or signed up on another day, or a new
    /// account had events the carry counted as of an unknown account.
    pub(in crate::features) fn remap(
        mut self,
        ids: &[String],
        created: &[i32],
    ) -> std::result::Result<Carry, String> {
        if self.ids == ids && self.created == created {
            return Ok(self);
        }
        let position: std::collections::HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(at, id)| (id.as_str(), at))
            .collect();
        let mut moved = Vec::with_capacity(self.ids.len());
        for (old, id) in self.ids.iter().enumerate() {
            let Some(&new) = position.get(id.as_str()) else {
                return Err(format!(
                    "account `{id}` left the accounts table since the cached scan"
                ));
            };
            if created[new] != self.created[old] {
                return Err(format!(
                    "account `{id}` changed its signup date since the cached scan"
                ));
            }
            moved.push(new as u32);
        }
        let unknown: std::collections::HashSet<&str> =
            self.unknown_ids.iter().map(String::as_str).collect();
        if let Some(id) = ids.iter().find(|id| unknown.contains(id.as_str())) {
            return Err(format!(
                "account `{id}` is new to the accounts table and had events before"
            ));
        }
        let accounts = ids.len();
        let n_customs = if self.ids.is_empty() {
            0
        } else {
            self.custom_counts.len() / self.ids.len()
        };
        let words = self.adoption_words;
        let mut totals = vec![
            Totals {
                total: 0,
                api: 0,
                adoption: 0,
                early: 0,
                last_day: i32::MIN,
            };
            accounts
        ];
        let mut adoption = vec![0u64; accounts * words];
        let mut custom_counts = vec![0i64; accounts * n_customs];
        for (old, &new) in moved.iter().enumerate() {
            let new = new as usize;
            totals[new] = self.totals[old];
            adoption[new * words..(new + 1) * words]
                .copy_from_slice(&self.adoption[old * words..(old + 1) * words]);
            custom_counts[new * n_customs..(new + 1) * n_customs]
                .copy_from_slice(&self.custom_counts[old * n_customs..(old + 1) * n_customs]);
        }
        let to = |account: &mut u32| *account = moved[*account as usize];
        self.days.iter_mut().for_each(|row| to(&mut row.0));
        self.cells.iter_mut().for_each(|row| to(&mut row.0));
        self.cell_days.iter_mut().for_each(|row| to(&mut row.0));
        self.users.iter_mut().for_each(|row| to(&mut row.0));
        self.custom_days.iter_mut().for_each(|row| to(&mut row.0));
        self.custom_values.iter_mut().for_each(|row| to(&mut row.0));
        self.ids = ids.to_vec();
        self.created = created.to_vec();
        self.totals = totals;
        self.adoption = adoption;
        self.custom_counts = custom_counts;
        self.canonical();
        Ok(self)
    }

    /// This carry's events and `newer`'s (a carry of other events, over the
    /// same accounts, through a day no earlier), as of `newer`'s day; the
    /// per-day state that day's windows no longer reach is dropped. A carry
    /// that left later events out moves to no other day.
    pub(in crate::features) fn advance(mut self, newer: Carry, known: &Known) -> Result<Carry> {
        let same_day = newer.through == self.through;
        if (self.after > 0 && !same_day) || newer.through < self.through || self.ids != newer.ids {
            return Err(Error::Internal(format!(
                "cannot advance a scan through day {} ({} later events left out) to day {}",
                self.through, self.after, newer.through
            )));
        }
        let through = newer.through;
        for (mine, theirs) in self.totals.iter_mut().zip(&newer.totals) {
            mine.total += theirs.total;
            mine.api += theirs.api;
            mine.adoption += theirs.adoption;
            mine.early += theirs.early;
            mine.last_day = mine.last_day.max(theirs.last_day);
        }
        for (mine, theirs) in self.adoption.iter_mut().zip(&newer.adoption) {
            *mine |= theirs;
        }
        for (mine, theirs) in self.custom_counts.iter_mut().zip(&newer.custom_counts) {
            *mine += theirs;
        }
        let mut index: std::collections::HashMap<String, u32> = self
            .names
            .iter()
            .enumerate()
            .map(|(at, name)| (name.clone(), at as u32))
            .collect();
        let mut renamed = Vec::with_capacity(newer.names.len());
        for (name, total) in newer.names.iter().zip(&newer.name_totals) {
            let id = *index.entry(name.clone()).or_insert_with(|| {
                self.names.push(name.clone());
                self.name_totals.push(0);
                (self.names.len() - 1) as u32
            });
            self.name_totals[id as usize] += total;
            renamed.push(id);
        }
        let name = |id: u32| renamed[id as usize];
        let cells = merge_by(
            self.cells
                .drain(..)
                .map(|(a, n, last, early)| ((a, n), (last, early))),
            newer
                .cells
                .into_iter()
                .map(|(a, n, last, early)| ((a, name(n)), (last, early))),
            |mine, theirs| (mine.0.max(theirs.0), mine.1 + theirs.1),
        );
        self.cells = cells
            .into_iter()
            .map(|((a, n), (last, early))| (a, n, last, early))
            .collect();
        let days = merge_by(
            self.days.drain(..).map(|(a, d, n, api)| ((a, d), (n, api))),
            newer
                .days
                .into_iter()
                .map(|(a, d, n, api)| ((a, d), (n, api))),
            |mine, theirs| (mine.0 + theirs.0, mine.1 + theirs.1),
        );
        self.days = days
            .into_iter()
            .filter(|((_, day), _)| i64::from(through) - i64::from(*day) < KEEP_DAYS)
            .map(|((a, d), (n, api))| (a, d, n, api))
            .collect();
        let cell_days = merge_by(
            self.cell_days.drain(..).map(|(a, n, d, c)| ((a, n, d), c)),
            newer
                .cell_days
                .into_iter()
                .map(|(a, n, d, c)| ((a, name(n), d), c)),
            |mine, theirs| mine + theirs,
        );
        self.cell_days = cell_days
            .into_iter()
            .filter(|((_, _, day), _)| i64::from(through) - i64::from(*day) < i64::from(TREND_DAYS))
            .map(|((a, n, d), c)| (a, n, d, c))
            .collect();
        let users = merge_by(
            self.users.drain(..).map(|(a, u, d)| ((a, u), d)),
            newer.users.into_iter().map(|(a, u, d)| ((a, u), d)),
            |mine, theirs| mine.max(theirs),
        );
        self.users = users
            .into_iter()
            .filter(|(_, day)| i64::from(through) - i64::from(*day) < USER_DAYS)
            .map(|((a, u), d)| (a, u, d))
            .collect();
        let recent = |custom: u32, day: i32| {
            last_days(known, custom)
                .is_none_or(|window| i64::from(through) - i64::from(day) < window)
        };
        let custom_days = merge_by(
            self.custom_days
                .drain(..)
                .map(|(a, c, d, n)| ((a, c, d), n)),
            newer
                .custom_days
                .into_iter()
                .map(|(a, c, d, n)| ((a, c, d), n)),
            |mine, theirs| mine + theirs,
        );
        self.custom_days = custom_days
            .into_iter()
            .filter(|((_, custom, day), _)| recent(*custom, *day))
            .map(|((a, c, d), n)| (a, c, d, n))
            .collect();
        let custom_values = merge_by(
            self.custom_values
                .drain(..)
                .map(|(a, c, v, d)| ((a, c, v), d)),
            newer
                .custom_values
                .into_iter()
                .map(|(a, c, v, d)| ((a, c, v), d)),
            |mine, theirs| mine.max(theirs),
        );
        self.custom_values = custom_values
            .into_iter()
            .filter(|((_, custom, _), day)| recent(*custom, *day))
            .map(|((a, c, v), d)| (a, c, v, d))
            .collect();
        self.unknown_ids.extend(newer.unknown_ids);
        self.unknown_ids.sort_unstable();
        self.unknown_ids.dedup();
        self.unknown_events += newer.unknown_events;
        self.through = through;
        // Events after the day stay left out on the same day; a later day
        // is reached only from a carry that left none out.
        self.after = if same_day {
            self.after + newer.after
        } else {
            newer.after
        };
        Ok(self)
    }

    /// The partial a scan of the same events at `known`'s as-of day (this
    /// carry's day, over the same accounts) would have given.
    pub(in crate::features) fn at(&self, known: &Known) -> Result<Partial> {
        if known.as_of_day != self.through || known.created_day != self.created {
            return Err(Error::Internal(format!(
                "a carry through day {} finished at day {}",
                self.through, known.as_of_day
            )));
        }
        let mut partial = Partial::new(known);
        let as_of = i64::from(known.as_of_day);
        let trend = i64::from(TREND_DAYS);
        for (counts, totals) in partial.counts.iter_mut().zip(&self.totals) {
            *counts = Counts {
                total: totals.total,
                api: totals.api,
                adoption: totals.adoption,
                early: totals.early,
                last_day: totals.last_day,
                ..Counts::default()
            };
        }
        for &(account, day, events, api) in &self.days {
            let counts = &mut partial.counts[account as usize];
            let age = as_of - i64::from(day);
            let (events, api) = (i64::from(events), i64::from(api));
            for (count, days) in counts.windows.iter_mut().zip(super::WINDOWS) {
                *count += events * i64::from(age < i64::from(days));
            }
            if age < trend {
                counts.api_28d += api;
            } else if age < 2 * trend {
                counts.prev_28d += events;
            }
            if age < super::BITMAP_DAYS && events > 0 {
                counts.days[(age / 64) as usize] |= 1u64 << (age % 64);
            }
        }
        partial.adoption.clone_from(&self.adoption);
        for name in &self.names {
            partial.intern(name);
        }
        partial.name_totals.clone_from(&self.name_totals);
        for &(account, name, last_day, n_early) in &self.cells {
            partial.events.insert(
                pair(account, name),
                EventCell {
                    last_day,
                    n_28d: 0,
                    n_early,
                },
            );
        }
        for &(account, name, day, n) in &self.cell_days {
            if as_of - i64::from(day) < trend
                && let Some(cell) = partial.events.get_mut(&pair(account, name))
            {
                cell.n_28d += i64::from(n);
            }
        }
        for (account, user, day) in &self.users {
            if as_of - i64::from(*day) < USER_DAYS {
                partial.users.insert(UserKey::new(*account, user), *day);
            }
        }
        partial.custom_counts.clone_from(&self.custom_counts);
        let n_customs = known.customs.len();
        for &(account, custom, day, n) in &self.custom_days {
            if last_days(known, custom).is_some_and(|window| as_of - i64::from(day) < window) {
                partial.custom_counts[account as usize * n_customs + custom as usize] +=
                    i64::from(n);
            }
        }
        for (account, custom, value, day) in &self.custom_values {
            if last_days(known, *custom).is_none_or(|window| as_of - i64::from(*day) < window) {
                partial.custom_distinct.insert(
                    DistinctKey {
                        account: *account,
                        custom: *custom,
                        value: Box::from(value.as_str()),
                    },
                    *day,
                );
            }
        }
        partial.unknown_ids = self
            .unknown_ids
            .iter()
            .map(|id| Box::from(id.as_str()))
            .collect();
        partial.unknown_events = self.unknown_events;
        partial.after = self.after;
        Ok(partial)
    }
}

/// The union of two lists of keyed values, sorted by key, values of a key
/// in both combined by `combine`.
fn merge_by<K: Ord, V>(
    mine: impl Iterator<Item = (K, V)>,
    theirs: impl Iterator<Item = (K, V)>,
    combine: impl Fn(V, V) -> V,
) -> Vec<(K, V)> {
    let mut all: Vec<(K, V)> = mine.chain(theirs).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(K, V)> = Vec::with_capacity(all.len());
    for (key, value) in all {
        match out.pop() {
            Some((last, mine)) if last == key => out.push((last, combine(mine, value))),
            Some(previous) => {
                out.push(previous);
                out.push((key, value));
            }
            None => out.push((key, value)),
        }
    }
    out
}
