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

use super::{Counts, EventCell, KEEP_DAYS, Known, Partial, USER_DAYS, pair};
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

/// A text value of an account (a recent user's id, a value a custom
/// distinct feature counts) and the latest day it was seen: the text lives
/// in its [`Texts`]' one string, so that millions of them cost no
/// allocation each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct TextRow {
    account: u32,
    /// The custom feature of a value; `0` for users.
    tag: u32,
    start: u32,
    len: u32,
    day: i32,
}

/// Text values by (account, tag, text), each with its latest day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Texts {
    text: String,
    /// Sorted by (account, tag, text); `text` holds their texts in that
    /// order and nothing else.
    rows: Vec<TextRow>,
}

/// A row's text in `text`.
fn text_of<'t>(text: &'t str, row: &TextRow) -> &'t str {
    let start = row.start as usize;
    text.get(start..start + row.len as usize)
        .unwrap_or_default()
}

/// Why a kept scan's texts cannot grow.
fn too_long() -> Error {
    Error::Internal("a kept scan holds more than 4 GiB of user ids or values".into())
}

impl Texts {
    fn push(&mut self, account: u32, tag: u32, value: &str, day: i32) -> Result<()> {
        let start = u32::try_from(self.text.len()).map_err(|_| too_long())?;
        let len = u32::try_from(value.len()).map_err(|_| too_long())?;
        start.checked_add(len).ok_or_else(too_long)?;
        self.text.push_str(value);
        self.rows.push(TextRow {
            account,
            tag,
            start,
            len,
            day,
        });
        Ok(())
    }

    /// Sorts the rows and rewrites the text in their order, dropping the
    /// texts of rows gone.
    fn canonical(&mut self) {
        let text = &self.text;
        self.rows.sort_unstable_by(|a, b| {
            (a.account, a.tag, text_of(text, a)).cmp(&(b.account, b.tag, text_of(text, b)))
        });
        let live: usize = self.rows.iter().map(|row| row.len as usize).sum();
        // Already compact (a carry advanced, then made canonical): nothing
        // to rewrite.
        let mut next = 0;
        let compact_already = self.rows.iter().all(|row| {
            let here = row.start as usize == next;
            next += row.len as usize;
            here
        });
        if compact_already && live == self.text.len() {
            return;
        }
        let mut compact = String::with_capacity(live);
        for row in &mut self.rows {
            let value = text_of(text, row);
            // Within the old text's length, so within u32.
            row.start = compact.len() as u32;
            compact.push_str(value);
        }
        self.text = compact;
    }

    /// Adds `theirs`: a text in both keeps its latest day; rows `keep`
    /// refuses are dropped.
    fn advance(&mut self, theirs: Texts, keep: impl Fn(&TextRow) -> bool) -> Result<()> {
        let offset = u32::try_from(self.text.len()).map_err(|_| too_long())?;
        u32::try_from(self.text.len() + theirs.text.len()).map_err(|_| too_long())?;
        self.text.push_str(&theirs.text);
        let rows: Vec<TextRow> = theirs
            .rows
            .into_iter()
            .map(|row| TextRow {
                start: row.start + offset,
                ..row
            })
            .collect();
        let text = &self.text;
        merge_sorted(
            &mut self.rows,
            rows,
            |row| (row.account, row.tag, text_of(text, row)),
            |mine, theirs| mine.day = mine.day.max(theirs.day),
            keep,
        );
        self.canonical();
        Ok(())
    }
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
    /// Event names, sorted.
    names: Vec<String>,
    name_totals: Vec<i64>,
    /// (account, name, latest day, events in the early window).
    cells: Vec<(u32, u32, i32, i64)>,
    /// (account, name, day, events) over the last [`TREND_DAYS`] days.
    cell_days: Vec<(u32, u32, i32, u32)>,
    /// Recent users (tag `0`) over the last [`USER_DAYS`] days.
    users: Texts,
    /// Accounts x customs: counts of the custom count features not over
    /// the last days (those are in `custom_days`).
    custom_counts: Vec<i64>,
    /// (account, custom, day, events) of custom counts over the last days.
    custom_days: Vec<(u32, u32, i32, u32)>,
    /// Values of custom distinct features, tagged by the custom feature.
    custom_values: Texts,
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
        let mut users = Texts::default();
        partial
            .users
            .for_each(|account, user, day| users.push(account, 0, user, day))?;
        // Without per-day counts of the pairs, each pair's count over the
        // window is kept on the as-of day itself: the same count there, and
        // out of the window of any day it is advanced to (by
        // [`TREND_DAYS`] days or more; see [`Known::per_event_days`]).
        let mut cell_days = Vec::new();
        if known.per_event_days {
            cell_days.extend(
                partial.cell_days.into_iter().map(|((key, day), n)| {
                    ((key >> 32) as u32, (key & 0xffff_ffff) as u32, day, n)
                }),
            );
        } else {
            for (key, cell) in &partial.events {
                if cell.n_28d > 0 {
                    let n = u32::try_from(cell.n_28d).map_err(|_| {
                        Error::Internal("more than 2^32 events of one name in a window".into())
                    })?;
                    cell_days.push((
                        (key >> 32) as u32,
                        (key & 0xffff_ffff) as u32,
                        known.as_of_day,
                        n,
                    ));
                }
            }
        }
        let mut custom_values = Texts::default();
        for (key, day) in partial.custom_distinct {
            custom_values.push(key.account, key.custom, &key.value, day)?;
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
                .entries()
                .map(|(account, day, [events, api])| (account, day, events, api))
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
            cell_days,
            users,
            custom_counts,
            custom_days: partial
                .custom_days
                .into_iter()
                .map(|((account, custom, day), n)| (account, custom, day, n))
                .collect(),
            custom_values,
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

    /// Sorts the names and every list, so that equal states are equal
    /// carries (already sorted lists cost a pass).
    fn canonical(&mut self) {
        if !self.names.is_sorted() {
            let mut order: Vec<usize> = (0..self.names.len()).collect();
            order.sort_by(|&a, &b| self.names[a].cmp(&self.names[b]));
            let mut renamed = vec![0u32; order.len()];
            for (new, &old) in order.iter().enumerate() {
                renamed[old] = new as u32;
            }
            self.names = order.iter().map(|&old| self.names[old].clone()).collect();
            self.name_totals = order.iter().map(|&old| self.name_totals[old]).collect();
            let name = |id: &mut u32| *id = renamed[*id as usize];
            self.cells.iter_mut().for_each(|row| name(&mut row.1));
            self.cell_days.iter_mut().for_each(|row| name(&mut row.1));
        }
        self.days.sort_unstable();
        self.cells.sort_unstable();
        self.cell_days.sort_unstable();
        self.users.canonical();
        self.custom_days.sort_unstable();
        self.custom_values.canonical();
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
        self.users
            .rows
            .iter_mut()
            .for_each(|row| to(&mut row.account));
        self.custom_days.iter_mut().for_each(|row| to(&mut row.0));
        self.custom_values
            .rows
            .iter_mut()
            .for_each(|row| to(&mut row.account));
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
    /// that left later events out moves to no other day. Each list is
    /// merged in place (both are sorted): memory grows by what `newer`
    /// adds, not by a copy of the state.
    pub(in crate::features) fn advance(mut self, newer: Carry, known: &Known) -> Result<Carry> {
        let same_day = newer.through == self.through;
        if (self.after > 0 && !same_day) || newer.through < self.through || self.ids != newer.ids {
            return Err(Error::Internal(format!(
                "cannot advance a scan through day {} ({} later events left out) to day {}",
                self.through, self.after, newer.through
            )));
        }
        let through = newer.through;
        let age = |day: i32| i64::from(through) - i64::from(day);
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
        merge_sorted(
            &mut self.cells,
            newer
                .cells
                .into_iter()
                .map(|(a, n, last, early)| (a, name(n), last, early))
                .collect(),
            |row| (row.0, row.1),
            |mine, theirs| {
                mine.2 = mine.2.max(theirs.2);
                mine.3 += theirs.3;
            },
            |_| true,
        );
        merge_sorted(
            &mut self.days,
            newer.days,
            |row| (row.0, row.1),
            |mine, theirs| {
                mine.2 += theirs.2;
                mine.3 += theirs.3;
            },
            |row| age(row.1) < KEEP_DAYS,
        );
        merge_sorted(
            &mut self.cell_days,
            newer
                .cell_days
                .into_iter()
                .map(|(a, n, d, c)| (a, name(n), d, c))
                .collect(),
            |row| (row.0, row.1, row.2),
            |mine, theirs| mine.3 += theirs.3,
            |row| age(row.2) < i64::from(TREND_DAYS),
        );
        self.users
            .advance(newer.users, |row| age(row.day) < USER_DAYS)?;
        let recent =
            |custom: u32, day: i32| last_days(known, custom).is_none_or(|window| age(day) < window);
        merge_sorted(
            &mut self.custom_days,
            newer.custom_days,
            |row| (row.0, row.1, row.2),
            |mine, theirs| mine.3 += theirs.3,
            |row| recent(row.1, row.2),
        );
        self.custom_values
            .advance(newer.custom_values, |row| recent(row.tag, row.day))?;
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
        self.canonical();
        Ok(self)
    }

    /// The partial a scan of the same events at `known`'s as-of day (this
    /// carry's day, over the same accounts) would have given, finished: its
    /// pairs in lists ([`Partial::cells`]), not in maps.
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
        // Both lists are sorted by (account, name): one walk.
        let mut recent = self.cell_days.iter().peekable();
        partial.settled_events = self
            .cells
            .iter()
            .map(|&(account, name, last_day, n_early)| {
                let mut n_28d = 0;
                while let Some(&&(a, n, day, count)) = recent.peek() {
                    if (a, n) > (account, name) {
                        break;
                    }
                    if (a, n) == (account, name) && as_of - i64::from(day) < trend {
                        n_28d += i64::from(count);
                    }
                    recent.next();
                }
                (
                    pair(account, name),
                    EventCell {
                        last_day,
                        n_28d,
                        n_early,
                    },
                )
            })
            .collect();
        partial.settled_users = self
            .users
            .rows
            .iter()
            .filter(|row| as_of - i64::from(row.day) < USER_DAYS)
            .map(|row| (row.account, row.day))
            .collect();
        partial.custom_counts.clone_from(&self.custom_counts);
        let n_customs = known.customs.len();
        for &(account, custom, day, n) in &self.custom_days {
            if last_days(known, custom).is_some_and(|window| as_of - i64::from(day) < window) {
                partial.custom_counts[account as usize * n_customs + custom as usize] +=
                    i64::from(n);
            }
        }
        partial.settled_distinct = self
            .custom_values
            .rows
            .iter()
            .filter(|row| {
                last_days(known, row.tag).is_none_or(|window| as_of - i64::from(row.day) < window)
            })
            .map(|row| (row.account, row.tag))
            .collect();
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

/// Merges `theirs` into `mine`, in place, both sorted by `key` (`theirs`
/// is sorted here): a key in both is `combine`d into `mine`'s row, the
/// others are inserted in order, and rows `keep` refuses are dropped (a
/// row's keeping may depend only on what its key and a combination keep).
/// `mine` grows by the rows inserted, and is walked once, by galloping.
fn merge_sorted<T: Copy, K: Ord>(
    mine: &mut Vec<T>,
    mut theirs: Vec<T>,
    key: impl Fn(&T) -> K,
    combine: impl Fn(&mut T, &T),
    keep: impl Fn(&T) -> bool,
) {
    mine.retain(|row| keep(row));
    theirs.retain(|row| keep(row));
    theirs.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
    let mut inserts: Vec<T> = Vec::new();
    let mut at = 0;
    for row in theirs {
        let wanted = key(&row);
        // The first of mine[at..] not below `wanted`: doubling steps, then a
        // binary search within the last step.
        let rest = &mine[at..];
        let mut step = 1;
        while step < rest.len() && key(&rest[step - 1]) < wanted {
            step *= 2;
        }
        let low = step / 2;
        let high = step.min(rest.len());
        at += low + rest[low..high].partition_point(|row| key(row) < wanted);
        match mine.get_mut(at) {
            Some(found) if key(found) == wanted => combine(found, &row),
            _ => inserts.push(row),
        }
    }
    if inserts.is_empty() {
        return;
    }
    // From the back: each row of mine moves once, to its final place.
    let (mut i, mut j) = (mine.len(), inserts.len());
    mine.reserve_exact(j);
    mine.extend_from_slice(&inserts);
    let mut write = mine.len();
    while j > 0 {
        write -= 1;
        if i > 0 && key(&mine[i - 1]) > key(&inserts[j - 1]) {
            mine[write] = mine[i - 1];
            i -= 1;
        } else {
            mine[write] = inserts[j - 1];
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows in both are combined, new ones land in order, refused ones
    /// (of either side) are dropped; `theirs` need not come sorted.
    #[test]
    fn merge_sorted_combines_inserts_and_drops() {
        let mut mine: Vec<(u32, i64)> = vec![(1, 10), (3, 30), (5, 50), (7, 70), (9, 90)];
        let theirs = vec![(8, 8), (3, 3), (0, 1), (5, 5), (12, 12), (4, 4)];
        merge_sorted(
            &mut mine,
            theirs,
            |row| row.0,
            |mine, theirs| mine.1 += theirs.1,
            |row| row.0 != 7 && row.0 != 12,
        );
        assert_eq!(
            mine,
            vec![(0, 1), (1, 10), (3, 33), (4, 4), (5, 55), (8, 8), (9, 90)]
        );
        let mut empty: Vec<(u32, i64)> = Vec::new();
        merge_sorted(
            &mut empty,
            vec![(2, 2), (1, 1)],
            |r| r.0,
            |_, _| {},
            |_| true,
        );
        assert_eq!(empty, vec![(1, 1), (2, 2)]);
    }

    /// Texts keep the latest day of a value seen on both sides, drop what
    /// `keep` refuses, and hold in their text only the live values, in
    /// order: the same values give the same texts however they came.
    #[test]
    fn texts_advance_to_the_canonical_state() {
        let mut mine = Texts::default();
        for (account, value, day) in [(2, "zed", 5), (1, "bob", 3), (1, "al", 9), (2, "old", 1)] {
            mine.push(account, 0, value, day).unwrap();
        }
        mine.canonical();
        let mut theirs = Texts::default();
        for (account, value, day) in [(1, "bob", 7), (3, "cy", 8), (1, "al", 2)] {
            theirs.push(account, 0, value, day).unwrap();
        }
        theirs.canonical();
        mine.advance(theirs, |row| row.day > 1).unwrap();
        let mut expected = Texts::default();
        for (account, value, day) in [(3, "cy", 8), (1, "al", 9), (1, "bob", 7), (2, "zed", 5)] {
            expected.push(account, 0, value, day).unwrap();
        }
        expected.canonical();
        assert_eq!(mine, expected);
        assert_eq!(mine.text, "albobzedcy");
    }
}
