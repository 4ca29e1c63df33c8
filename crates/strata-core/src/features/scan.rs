//! The embedded engine's event aggregates: one pass over the events.
//!
//! DataFusion reads and decodes the events (any source format, the UTC day
//! already computed); every partition of its scan streams into a [`Partial`]
//! on its own task, keyed by the account's position, and the partials merge
//! at the end. What a window needs is kept per account in fixed size:
//!
//! - event counts per window, the latest day;
//! - a bitmap of the last [`BITMAP_DAYS`] days (bit `as_of - day`), whose
//!   population counts are the active days of every window;
//! - a bitmap of the adoption window (bit `day - created_day`);
//!
//! and, growing with distinct pairs rather than with events, two maps keyed
//! by integers: (account, event name) -> latest day and 28-day count, and
//! (account, user) -> latest day, over the widest window only (user features
//! are windowed). Strings are turned into ids once per distinct value of a
//! batch ([`Ids`]: a `Utf8View` value is keyed by its 16-byte view), not
//! hashed row by row: in a log in time order, each row is another account.
//!
//! So memory is bounded by accounts x (event names + recent users), never by
//! the number of events, and every event is decoded once (the DataFusion plan
//! of `super::planned` reads the events three times and keys its aggregates by
//! account id text).
//!
//! **Invariant**: it computes exactly the columns `super::planned` computes
//! (that plan runs on a cluster, and is the reference): a test holds the two
//! equal on generated data.
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, Int64Array, LargeStringArray, RecordBatch, StringArray,
    StringViewArray,
};
use datafusion::arrow::compute::{max, min};
use datafusion::arrow::datatypes::{DataType, Field, Int32Type};
use datafusion::prelude::DataFrame;
use futures::StreamExt;
use hashbrown::{Equivalent, HashMap, HashSet};

use super::{TREND_DAYS, UnknownEvents, WINDOWS};

mod carry;
use crate::catalog::{Measure, Period, default_measures};
use crate::error::{Error, Result};
use crate::project::EventWindow;
pub(super) use carry::Carry;

/// Days the activity bitmap covers; the widest window must fit.
const BITMAP_DAYS: i64 = 128;
const _: () = assert!(WINDOWS[WINDOWS.len() - 1] as i64 <= BITMAP_DAYS);
/// How far back user features look: the widest window.
const USER_DAYS: i64 = WINDOWS[WINDOWS.len() - 1] as i64;

/// An event column a custom feature counts distinct values of.
#[derive(Debug, Clone, Copy)]
enum EventColumn {
    User,
    Event,
    Source,
}

/// A custom count or distinct feature; its filter is the boolean column
/// `5 + position` of the scanned batches.
#[derive(Debug, Clone, Copy)]
pub(super) struct Custom {
    window: EventWindow,
    distinct: Option<EventColumn>,
}

impl Custom {
    pub(super) fn new(window: EventWindow, distinct: Option<&str>) -> Result<Custom> {
        let distinct = match distinct {
            None => None,
            Some("user_id") => Some(EventColumn::User),
            Some("event") => Some(EventColumn::Event),
            Some("source") => Some(EventColumn::Source),
            Some(other) => {
                return Err(Error::Internal(format!(
                    "feature scan: distinct over `{other}`"
                )));
            }
        };
        Ok(Custom { window, distinct })
    }

    /// Whether an event `age` days before as_of and `offset` days after
    /// signup is in the window.
    fn covers(&self, age: i64, offset: i64) -> bool {
        match self.window {
            EventWindow::AllHistory => true,
            EventWindow::LastDays(days) => age < i64::from(days),
            EventWindow::DaysAfterSignup(days) => (0..i64::from(days)).contains(&offset),
        }
    }
}

/// What the scan knows about the accounts and the run.
pub(super) struct Known {
    index: Arc<HashMap<Box<str>, u32>>,
    created_day: Vec<i32>,
    as_of_day: i32,
    adoption_days: i64,
    /// The early-adoption window (`0`: none), counted beside adoption.
    early_days: i64,
    /// Words of the per-account bitmap of days after signup, which covers
    /// both windows.
    adoption_words: usize,
    customs: Vec<Custom>,
    /// Account ids (in positions order), kept only by [`Known::keeping`].
    ids: Vec<String>,
    /// Whether the scan keeps what a [`Carry`] needs beyond the features of
    /// its as-of day: per-day counts of the recent days, so that the state
    /// can be advanced to a later day by newer events alone.
    keep: bool,
    /// With `keep`: whether the per-day counts of each (account, event
    /// name) over the last [`TREND_DAYS`] days are kept. A carry advanced
    /// by fewer days needs them; one advanced by [`TREND_DAYS`] days or
    /// more (a chain's dates a month apart) counts none of those days
    /// again, so without them each pair's count over the window is kept as
    /// of the as-of day ([`Carry::of`]), saving a map update per recent row.
    per_event_days: bool,
    /// Events on or before this day are left to another partial
    /// ([`Chain`]); `i32::MIN`: none.
    since: i32,
}

impl Known {
    pub(super) fn new(
        ids: &[String],
        created_day: &[i32],
        as_of_day: i32,
        adoption_days: u32,
        early_days: Option<u32>,
        customs: Vec<Custom>,
    ) -> Result<Known> {
        if ids.len() > u32::MAX as usize {
            return Err(Error::Internal(format!(
                "{} accounts: more than the feature scan can index",
                ids.len()
            )));
        }
        let index = Arc::new(
            ids.iter()
                .enumerate()
                .map(|(idx, id)| (Box::from(id.as_str()), idx as u32))
                .collect(),
        );
        Ok(Known {
            index,
            created_day: created_day.to_vec(),
            as_of_day,
            adoption_days: i64::from(adoption_days),
            early_days: i64::from(early_days.unwrap_or(0)),
            adoption_words: (adoption_days.max(early_days.unwrap_or(0)) as usize).div_ceil(64),
            customs,
            ids: Vec::new(),
            keep: false,
            per_event_days: false,
            since: i32::MIN,
        })
    }

    /// The same, keeping what a [`Carry`] needs; `ids` are the accounts'
    /// ids given to [`Known::new`].
    pub(super) fn keeping(mut self, ids: &[String]) -> Known {
        self.ids = ids.to_vec();
        self.keep = true;
        self.per_event_days = true;
        self
    }

    /// The as-of day.
    pub(super) fn as_of_day(&self) -> i32 {
        self.as_of_day
    }

    /// What the scan's state depends on besides the events and accounts:
    /// the windows after signup and the custom features' windows. A
    /// [`Carry`] made under other settings cannot be advanced.
    pub(super) fn settings(&self) -> String {
        format!(
            "adoption {} early {} customs {:?}",
            self.adoption_days, self.early_days, self.customs
        )
    }
}

/// Per-account counters.
#[derive(Debug, Clone, Copy)]
struct Counts {
    total: i64,
    api: i64,
    windows: [i64; WINDOWS.len()],
    prev_28d: i64,
    api_28d: i64,
    adoption: i64,
    /// Events in the early-adoption window.
    early: i64,
    /// `i32::MIN` without events.
    last_day: i32,
    /// Bit `as_of - day` of every day with an event in the last [`BITMAP_DAYS`].
    days: [u64; 2],
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            total: 0,
            api: 0,
            windows: [0; WINDOWS.len()],
            prev_28d: 0,
            api_28d: 0,
            adoption: 0,
            early: 0,
            last_day: i32::MIN,
            days: [0; 2],
        }
    }
}

impl Counts {
    fn merge(&mut self, other: &Counts) {
        self.total += other.total;
        self.api += other.api;
        for (mine, theirs) in self.windows.iter_mut().zip(other.windows) {
            *mine += theirs;
        }
        self.prev_28d += other.prev_28d;
        self.api_28d += other.api_28d;
        self.adoption += other.adoption;
        self.early += other.early;
        self.last_day = self.last_day.max(other.last_day);
        self.days[0] |= other.days[0];
        self.days[1] |= other.days[1];
    }

    /// Distinct active days among the last `days` days.
    fn active_days(&self, days: i64) -> i64 {
        let mask = |bits: i64| -> u64 {
            match bits {
                ..=0 => 0,
                64.. => u64::MAX,
                n => (1u64 << n) - 1,
            }
        };
        i64::from((self.days[0] & mask(days)).count_ones())
            + i64::from((self.days[1] & mask(days - 64)).count_ones())
    }
}

/// An (account, event name) pair.
#[derive(Debug, Clone, Copy)]
struct EventCell {
    last_day: i32,
    n_28d: i64,
    /// Events of the name in the early-adoption window.
    n_early: i64,
}

/// Ids of a string column's values, looked up once per distinct value of a
/// batch rather than once per row (event logs in time order touch accounts
/// all over the file, so the previous row rarely helps): a `Utf8View` value
/// is keyed by its 16-byte view. A view of at most 12 bytes holds the string
/// itself, so with `keep_inline` those keys hold across batches; a longer
/// string's view points into its batch's buffers, so those keys are
/// forgotten after each batch. Other string arrays are looked up row by row.
#[derive(Debug)]
struct Ids<V> {
    keep_inline: bool,
    inline: HashMap<u128, V>,
    batch: HashMap<u128, V>,
    /// The previous row's view and id: events often come in runs.
    last: Option<(u128, V)>,
}

impl<V: Copy> Ids<V> {
    fn new(keep_inline: bool) -> Ids<V> {
        Ids {
            keep_inline,
            inline: HashMap::new(),
            batch: HashMap::new(),
            last: None,
        }
    }

    /// The id of row `row`'s value (`None` for a null), from `lookup` the
    /// first time the value is seen.
    #[inline]
    fn get(&mut self, text: &Text<'_>, row: usize, lookup: impl FnOnce(&str) -> V) -> Option<V> {
        let Text::View(array) = text else {
            return text.get(row).map(lookup);
        };
        if array.is_null(row) {
            return None;
        }
        let view = array.views()[row];
        if let Some((last, id)) = self.last
            && last == view
        {
            return Some(id);
        }
        let map = if self.keep_inline && (view as u32) <= 12 {
            &mut self.inline
        } else {
            &mut self.batch
        };
        let id = match map.get(&view) {
            Some(id) => *id,
            None => {
                let id = lookup(array.value(row));
                map.insert(view, id);
                id
            }
        };
        self.last = Some((view, id));
        Some(id)
    }

    /// Forgets the keys that point into the batch just added.
    fn end_batch(&mut self) {
        self.batch.clear();
        self.last = None;
    }
}

/// Bytes of a user id kept in the key itself ([`UserKey::Short`]).
const SHORT_USER: usize = 23;

/// An (account, user) pair. Most user ids are short: those are stored in
/// the key, so that a lookup hashes and compares 28 bytes in place instead
/// of following a pointer to the id (a cache miss per row in a log in time
/// order); longer ids are owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum UserKey {
    Short {
        account: u32,
        len: u8,
        bytes: [u8; SHORT_USER],
    },
    Long {
        account: u32,
        user: Box<str>,
    },
}

impl UserKey {
    /// The key of `user` in account `account`.
    fn new(account: u32, user: &str) -> UserKey {
        if user.len() <= SHORT_USER {
            let mut bytes = [0u8; SHORT_USER];
            bytes[..user.len()].copy_from_slice(user.as_bytes());
            UserKey::Short {
                account,
                len: user.len() as u8,
                bytes,
            }
        } else {
            UserKey::Long {
                account,
                user: Box::from(user),
            }
        }
    }

    /// The user id.
    fn user(&self) -> &str {
        match self {
            UserKey::Short { len, bytes, .. } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            UserKey::Long { user, .. } => user,
        }
    }

    fn account(&self) -> u32 {
        match self {
            UserKey::Short { account, .. } | UserKey::Long { account, .. } => *account,
        }
    }
}

/// A long (account, user) pair borrowed from a batch; hashes as
/// [`UserKey::Long`] (the derived `Hash`: the variant, then the fields).
struct LongRef<'a> {
    account: u32,
    user: &'a str,
}

impl std::hash::Hash for LongRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(&UserKey::Long {
            account: 0,
            user: Box::from(""),
        })
        .hash(state);
        self.account.hash(state);
        self.user.hash(state);
    }
}

impl Equivalent<UserKey> for LongRef<'_> {
    fn equivalent(&self, key: &UserKey) -> bool {
        matches!(key, UserKey::Long { account, user } if *account == self.account && &**user == self.user)
    }
}

/// Bytes of a user id packed with its account into one fixed-size key
/// ([`Users`]).
const PACKED_USER: usize = 20;

/// Accounts at or above this position are not packed ([`Users`]): the
/// key holds the position in 27 bits beside the id's length.
const PACKED_ACCOUNTS: u32 = 1 << 27;

/// An (account, user) pair packed into three words: the account and the
/// id's length in the low 32 bits, the id's bytes (at most
/// [`PACKED_USER`]) above them, zero-padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PackedUser([u64; 3]);

impl std::hash::Hash for PackedUser {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for word in self.0 {
            state.write_u64(word);
        }
    }
}

/// The recent (account, user) pairs of a scan, each with its latest day.
/// A pair whose id has at most [`PACKED_USER`] bytes (most ids) is a
/// [`PackedUser`], hashed and compared as three words, in a smaller entry:
/// this is the scan's largest map, and in a log in time order nearly every
/// row lands somewhere else in it. Other pairs are kept by a [`UserKey`].
#[derive(Debug, Default)]
struct Users {
    packed: HashMap<PackedUser, i32>,
    keyed: HashMap<UserKey, i32>,
}

/// Keeps the latest `day` of `key` in `map`.
#[inline]
fn keep_latest<K: std::hash::Hash + Eq>(map: &mut HashMap<K, i32>, key: K, day: i32) {
    map.entry(key)
        .and_modify(|last| *last = (*last).max(day))
        .or_insert(day);
}

/// The packed key of `user` in account `account`, if it packs.
#[inline]
fn pack_user(account: u32, user: &str) -> Option<PackedUser> {
    if user.len() > PACKED_USER || account >= PACKED_ACCOUNTS {
        return None;
    }
    let mut bytes = [0u8; 24];
    // Within 32 bits: the account is below 2^27 and the length below 32.
    let low = (account << 5) | user.len() as u32;
    bytes[..4].copy_from_slice(&low.to_le_bytes());
    bytes[4..4 + user.len()].copy_from_slice(user.as_bytes());
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(w)
    };
    Some(PackedUser([word(0), word(8), word(16)]))
}

/// The account of a packed key and its id's bytes (from byte 4) and
/// length.
fn unpack_user(key: PackedUser) -> (u32, [u8; 24], usize) {
    let mut bytes = [0u8; 24];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(key.0) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let low = key.0[0] as u32;
    (low >> 5, bytes, (low & 0x1f) as usize)
}

impl Users {
    /// Keeps the latest `day` of `user` in account `account`.
    #[inline]
    fn see(&mut self, account: u32, user: &str, day: i32) {
        if let Some(key) = pack_user(account, user) {
            keep_latest(&mut self.packed, key, day);
            return;
        }
        if user.len() <= SHORT_USER {
            keep_latest(&mut self.keyed, UserKey::new(account, user), day);
            return;
        }
        let key = LongRef { account, user };
        match self.keyed.get_mut(&key) {
            Some(last) => *last = (*last).max(day),
            None => {
                self.keyed.insert(
                    UserKey::Long {
                        account,
                        user: Box::from(user),
                    },
                    day,
                );
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.packed.len() + self.keyed.len()
    }

    /// (account, latest day) of every pair.
    fn days(&self) -> impl Iterator<Item = (u32, i32)> {
        self.packed
            .iter()
            .map(|(key, day)| (unpack_user(*key).0, *day))
            .chain(self.keyed.iter().map(|(key, day)| (key.account(), *day)))
    }

    /// Adds `other`'s pairs: a pair in both keeps its latest day.
    fn merge(&mut self, other: Users) {
        for (key, day) in other.packed {
            keep_latest(&mut self.packed, key, day);
        }
        for (key, day) in other.keyed {
            keep_latest(&mut self.keyed, key, day);
        }
    }

    /// Calls `each` with (account, user, latest day) of every pair.
    fn for_each(&self, mut each: impl FnMut(u32, &str, i32) -> Result<()>) -> Result<()> {
        for (key, day) in &self.packed {
            let (account, bytes, len) = unpack_user(*key);
            let user = std::str::from_utf8(&bytes[4..4 + len])
                .map_err(|_| Error::Internal("a packed user id is not UTF-8".into()))?;
            each(account, user, *day)?;
        }
        for (key, day) in &self.keyed {
            each(key.account(), key.user(), *day)?;
        }
        Ok(())
    }
}

/// The string columns' id caches of a [`Partial`].
#[derive(Debug)]
struct Caches {
    /// Account position, `None` for an id not in the accounts table.
    accounts: Ids<Option<u32>>,
    names: Ids<u32>,
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            accounts: Ids::new(true),
            names: Ids::new(true),
        }
    }
}

/// A value counted by a custom distinct feature of an account, owned.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DistinctKey {
    account: u32,
    custom: u32,
    value: Box<str>,
}

/// [`DistinctKey`] borrowed from a batch.
#[derive(Hash)]
struct DistinctRef<'a> {
    account: u32,
    custom: u32,
    value: &'a str,
}

impl Equivalent<DistinctKey> for DistinctRef<'_> {
    fn equivalent(&self, key: &DistinctKey) -> bool {
        self.account == key.account && self.custom == key.custom && self.value == &*key.value
    }
}

fn pair(account: u32, name: u32) -> u64 {
    (u64::from(account) << 32) | u64::from(name)
}

/// Most bytes a partial spends on per-day counts held densely
/// ([`DayCounts::Dense`]); beyond it they are kept in a map.
const DENSE_DAY_BYTES: usize = 16 << 20;

/// A kept scan's events and API events per (account, day) over its recent
/// days: in an array of every account's days where that is small (each
/// event then adds to its cell without a hash), else in a map of the pairs
/// seen.
#[derive(Debug)]
enum DayCounts {
    /// Per account, `span` days from `first`: the counts of account `a` on
    /// day `d` at `a * span + (d - first)`.
    Dense {
        first: i32,
        span: usize,
        counts: Vec<[u32; 2]>,
    },
    /// (account << 32 | day) -> counts.
    Sparse(HashMap<u64, [u32; 2]>),
}

impl DayCounts {
    /// Counts for the days a scan under `known` keeps: after its `since`,
    /// within [`KEEP_DAYS`] of its day.
    fn new(known: &Known) -> DayCounts {
        let first = i64::from(known.since)
            .saturating_add(1)
            .max(i64::from(known.as_of_day) - KEEP_DAYS + 1);
        let span = (i64::from(known.as_of_day) - first + 1).max(0) as usize;
        let cells = known.created_day.len().saturating_mul(span);
        if !known.keep || cells.saturating_mul(size_of::<[u32; 2]>()) > DENSE_DAY_BYTES {
            return DayCounts::Sparse(HashMap::new());
        }
        DayCounts::Dense {
            first: first as i32,
            span,
            counts: vec![[0; 2]; cells],
        }
    }

    /// Adds `counts` to account `account` on `day`.
    #[inline]
    fn add(&mut self, account: u32, day: i32, counts: [u32; 2]) {
        if let DayCounts::Dense {
            first,
            span,
            counts: cells,
        } = self
        {
            let offset = i64::from(day) - i64::from(*first);
            if (0..*span as i64).contains(&offset)
                && let Some(cell) = cells.get_mut(account as usize * *span + offset as usize)
            {
                cell[0] += counts[0];
                cell[1] += counts[1];
                return;
            }
            self.make_sparse();
        }
        if let DayCounts::Sparse(map) = self {
            let cell = map.entry(pair(account, day as u32)).or_default();
            cell[0] += counts[0];
            cell[1] += counts[1];
        }
    }

    /// Moves dense counts to a map (a day or account outside the array).
    #[cold]
    fn make_sparse(&mut self) {
        let map = self
            .entries()
            .map(|(account, day, counts)| (pair(account, day as u32), counts))
            .collect();
        *self = DayCounts::Sparse(map);
    }

    /// (account, day, counts) of every pair with events.
    fn entries(&self) -> Box<dyn Iterator<Item = (u32, i32, [u32; 2])> + '_> {
        match self {
            DayCounts::Dense {
                first,
                span,
                counts,
            } => Box::new(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, cell)| cell[0] > 0)
                    .map(move |(at, cell)| ((at / span) as u32, first + (at % span) as i32, *cell)),
            ),
            DayCounts::Sparse(map) => {
                Box::new(map.iter().map(|(key, cell)| {
                    ((key >> 32) as u32, (key & 0xffff_ffff) as u32 as i32, *cell)
                }))
            }
        }
    }

    /// Adds `other`'s counts.
    fn merge(&mut self, other: DayCounts) {
        match (&mut *self, &other) {
            (
                DayCounts::Dense {
                    first,
                    span,
                    counts,
                },
                DayCounts::Dense {
                    first: their_first,
                    span: their_span,
                    counts: theirs,
                },
            ) if first == their_first && span == their_span && counts.len() == theirs.len() => {
                for (mine, theirs) in counts.iter_mut().zip(theirs) {
                    mine[0] += theirs[0];
                    mine[1] += theirs[1];
                }
            }
            _ => {
                for (account, day, counts) in other.entries() {
                    self.add(account, day, counts);
                }
            }
        }
    }
}

/// What one partition of the scan saw.
#[derive(Debug)]
pub(super) struct Partial {
    counts: Vec<Counts>,
    /// `adoption_words` words per account.
    adoption: Vec<u64>,
    names: HashMap<Box<str>, u32>,
    name_list: Vec<Box<str>>,
    /// Events per name, unknown accounts included (for the most common names).
    name_totals: Vec<i64>,
    events: HashMap<u64, EventCell>,
    /// (account, user) -> latest day.
    users: Users,
    /// Matching events per account and custom count feature
    /// (`customs` per account).
    custom_counts: Vec<i64>,
    /// Values of custom distinct features -> the latest day seen.
    custom_distinct: HashMap<DistinctKey, i32>,
    unknown_ids: HashSet<Box<str>>,
    unknown_events: u64,
    /// Events later than the as-of day (left out).
    after: u64,
    /// With [`Known::keep`]: (account, day) -> events and API events, for
    /// the last [`KEEP_DAYS`] days.
    day_counts: DayCounts,
    /// With [`Known::keep`]: ((account, event name), day) -> events, for
    /// the last [`TREND_DAYS`] days.
    cell_days: HashMap<(u64, i32), u32>,
    /// With [`Known::keep`]: (account, custom, day) -> matching events of
    /// custom count features over the last days.
    custom_days: HashMap<(u32, u32, i32), u32>,
    /// A partial finished from a [`Carry`] ([`Carry::at`]) holds its pairs
    /// in lists rather than in the maps a scan updates: (account, event
    /// name) cells, ...
    settled_events: Vec<(u64, EventCell)>,
    /// ... (account, latest day) of each recent user, ...
    settled_users: Vec<(u32, i32)>,
    /// ... and (account, custom) of each value a custom distinct feature
    /// counts. Such a partial is read, never scanned into nor merged.
    settled_distinct: Vec<(u32, u32)>,
    caches: Caches,
}

/// Days of per-day counts a kept scan holds: the activity bitmap's.
const KEEP_DAYS: i64 = BITMAP_DAYS;

/// A string column of the typed events.
enum Text<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl<'a> Text<'a> {
    fn of(array: &'a ArrayRef) -> Result<Text<'a>> {
        Ok(match array.data_type() {
            DataType::Utf8 => Text::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => Text::Large(array.as_string::<i64>()),
            DataType::Utf8View => Text::View(array.as_string_view()),
            other => {
                return Err(Error::Internal(format!(
                    "feature scan: event column of type {other}"
                )));
            }
        })
    }

    #[inline]
    fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            Text::Utf8(a) => a.is_valid(row).then(|| a.value(row)),
            Text::Large(a) => a.is_valid(row).then(|| a.value(row)),
            Text::View(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

impl Partial {
    /// The state of no events.
    pub(super) fn empty(known: &Known) -> Partial {
        Partial::new(known)
    }

    /// Events the scan read: of known accounts, of unknown ones, and later
    /// than the as-of day.
    pub(super) fn events_read(&self) -> u64 {
        let known: i64 = self.counts.iter().map(|c| c.total).sum();
        known as u64 + self.unknown_events + self.after
    }

    fn new(known: &Known) -> Partial {
        let accounts = known.created_day.len();
        Partial {
            counts: vec![Counts::default(); accounts],
            adoption: vec![0; accounts * known.adoption_words],
            names: HashMap::new(),
            name_list: Vec::new(),
            name_totals: Vec::new(),
            events: HashMap::new(),
            users: Users::default(),
            custom_counts: vec![0; accounts * known.customs.len()],
            custom_distinct: HashMap::new(),
            unknown_ids: HashSet::new(),
            unknown_events: 0,
            after: 0,
            day_counts: DayCounts::new(known),
            cell_days: HashMap::new(),
            custom_days: HashMap::new(),
            settled_events: Vec::new(),
            settled_users: Vec::new(),
            settled_distinct: Vec::new(),
            caches: Caches::default(),
        }
    }

    /// Every (account, event name) cell.
    fn cells(&self) -> impl Iterator<Item = (u64, &EventCell)> {
        self.events
            .iter()
            .map(|(key, cell)| (*key, cell))
            .chain(self.settled_events.iter().map(|(key, cell)| (*key, cell)))
    }

    /// (account, latest day) of every recent user.
    fn user_days(&self) -> impl Iterator<Item = (u32, i32)> {
        self.users.days().chain(self.settled_users.iter().copied())
    }

    /// (account, custom) of every value the custom distinct features count.
    fn distinct_keys(&self) -> impl Iterator<Item = (u32, u32)> {
        self.custom_distinct
            .keys()
            .map(|key| (key.account, key.custom))
            .chain(self.settled_distinct.iter().copied())
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.names.get(name) {
            return *id;
        }
        let id = self.name_list.len() as u32;
        self.names.insert(Box::from(name), id);
        self.name_list.push(Box::from(name));
        self.name_totals.push(0);
        id
    }

    /// Adds a batch of typed events: account_id, user_id, event, day, source.
    fn add(&mut self, known: &Known, batch: &RecordBatch) -> Result<()> {
        let account = Text::of(batch.column(0))?;
        let user = Text::of(batch.column(1))?;
        let event = Text::of(batch.column(2))?;
        let day = batch
            .column(3)
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| Error::Internal("feature scan: day is not Int32".into()))?;
        let source = Text::of(batch.column(4))?;
        let mut filters = Vec::with_capacity(known.customs.len());
        for position in 0..known.customs.len() {
            filters.push(
                batch
                    .column(5 + position)
                    .as_boolean_opt()
                    .ok_or_else(|| Error::Internal("feature scan: filter is not boolean".into()))?,
            );
        }
        // A batch wholly before or after this partial's days (a chain's
        // other dates, in a log in time order) is counted, not read row by
        // row.
        let (Some(first), Some(last)) = (min(day), max(day)) else {
            return Ok(());
        };
        if last <= known.since {
            return Ok(());
        }
        if first > known.as_of_day {
            self.after += (day.len() - day.null_count()) as u64;
            return Ok(());
        }
        let mut caches = std::mem::take(&mut self.caches);
        for row in 0..batch.num_rows() {
            if day.is_null(row) || day.value(row) <= known.since {
                continue;
            }
            if day.value(row) > known.as_of_day {
                self.after += 1;
                continue;
            }
            let day = day.value(row);
            // Sources reject events without a name; skip rather than count one.
            let Some(name) = caches.names.get(&event, row, |text| self.intern(text)) else {
                continue;
            };
            self.name_totals[name as usize] += 1;
            let idx = caches.accounts.get(&account, row, |id| {
                let idx = known.index.get(id).copied();
                if idx.is_none() && !self.unknown_ids.contains(id) {
                    self.unknown_ids.insert(Box::from(id));
                }
                idx
            });
            let Some(idx) = idx.flatten() else {
                self.unknown_events += 1;
                continue;
            };
            let source_text = source.get(row);
            let is_api = matches!(source_text, Some("api" | "integration"));
            self.record(known, idx, day, name, is_api);
            let age = i64::from(known.as_of_day) - i64::from(day);
            if age < USER_DAYS
                && let Some(user) = user.get(row)
            {
                self.users.see(idx, user, day);
            }
            for (position, filter) in filters.iter().enumerate() {
                if filter.is_valid(row) && filter.value(row) {
                    let values = [user.get(row), event.get(row), source_text];
                    self.record_custom(known, idx, day, position, values);
                }
            }
        }
        caches.accounts.end_batch();
        caches.names.end_batch();
        self.caches = caches;
        Ok(())
    }

    /// An event of account `idx` on `day` matched custom feature `position`'s
    /// filter; `values` are its user, event name and source.
    fn record_custom(
        &mut self,
        known: &Known,
        idx: u32,
        day: i32,
        position: usize,
        values: [Option<&str>; 3],
    ) {
        let at = idx as usize;
        let custom = known.customs[position];
        let age = i64::from(known.as_of_day) - i64::from(day);
        let offset = i64::from(day) - i64::from(known.created_day[at]);
        if !custom.covers(age, offset) {
            return;
        }
        let column = match custom.distinct {
            None => {
                self.custom_counts[at * known.customs.len() + position] += 1;
                if known.keep && matches!(custom.window, EventWindow::LastDays(_)) {
                    *self
                        .custom_days
                        .entry((idx, position as u32, day))
                        .or_insert(0) += 1;
                }
                return;
            }
            Some(EventColumn::User) => 0,
            Some(EventColumn::Event) => 1,
            Some(EventColumn::Source) => 2,
        };
        let Some(value) = values[column] else {
            return;
        };
        let key = DistinctRef {
            account: idx,
            custom: position as u32,
            value,
        };
        match self.custom_distinct.get_mut(&key) {
            Some(last) => *last = (*last).max(day),
            None => {
                self.custom_distinct.insert(
                    DistinctKey {
                        account: idx,
                        custom: position as u32,
                        value: Box::from(value),
                    },
                    day,
                );
            }
        }
    }

    #[inline]
    fn record(&mut self, known: &Known, idx: u32, day: i32, name: u32, is_api: bool) {
        let at = idx as usize;
        let age = i64::from(known.as_of_day) - i64::from(day);
        let api = i64::from(is_api);
        let counts = &mut self.counts[at];
        counts.total += 1;
        counts.api += api;
        counts.last_day = counts.last_day.max(day);
        for (count, days) in counts.windows.iter_mut().zip(WINDOWS) {
            *count += i64::from(age < i64::from(days));
        }
        let trend = i64::from(TREND_DAYS);
        if age < trend {
            counts.api_28d += api;
        } else if age < 2 * trend {
            counts.prev_28d += 1;
        }
        if age < BITMAP_DAYS {
            counts.days[(age / 64) as usize] |= 1u64 << (age % 64);
        }
        let offset = i64::from(day) - i64::from(known.created_day[at]);
        let adoption = (0..known.adoption_days).contains(&offset);
        let early = (0..known.early_days).contains(&offset);
        counts.adoption += i64::from(adoption);
        counts.early += i64::from(early);
        if adoption || early {
            let offset = offset as usize;
            self.adoption[at * known.adoption_words + offset / 64] |= 1u64 << (offset % 64);
        }
        let cell = self.events.entry(pair(idx, name)).or_insert(EventCell {
            last_day: day,
            n_28d: 0,
            n_early: 0,
        });
        cell.last_day = cell.last_day.max(day);
        cell.n_28d += i64::from(age < trend);
        cell.n_early += i64::from(early);
        if known.keep {
            if age < KEEP_DAYS {
                self.day_counts.add(idx, day, [1, u32::from(is_api)]);
            }
            if age < trend && known.per_event_days {
                *self.cell_days.entry((pair(idx, name), day)).or_insert(0) += 1;
            }
        }
    }

    fn merge(mut self, other: Partial) -> Partial {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            mine.merge(theirs);
        }
        for (mine, theirs) in self.adoption.iter_mut().zip(&other.adoption) {
            *mine |= theirs;
        }
        let renamed: Vec<u32> = other
            .name_list
            .iter()
            .map(|name| self.intern(name))
            .collect();
        for (name, total) in other.name_totals.iter().enumerate() {
            self.name_totals[renamed[name] as usize] += total;
        }
        for (key, cell) in other.events {
            let key = pair((key >> 32) as u32, renamed[(key & 0xffff_ffff) as usize]);
            self.events
                .entry(key)
                .and_modify(|mine| {
                    mine.last_day = mine.last_day.max(cell.last_day);
                    mine.n_28d += cell.n_28d;
                    mine.n_early += cell.n_early;
                })
                .or_insert(cell);
        }
        self.users.merge(other.users);
        for (mine, theirs) in self.custom_counts.iter_mut().zip(&other.custom_counts) {
            *mine += theirs;
        }
        for (key, day) in other.custom_distinct {
            keep_latest(&mut self.custom_distinct, key, day);
        }
        self.unknown_ids.extend(other.unknown_ids);
        self.unknown_events += other.unknown_events;
        self.after += other.after;
        self.day_counts.merge(other.day_counts);
        for ((key, day), n) in other.cell_days {
            let key = pair((key >> 32) as u32, renamed[(key & 0xffff_ffff) as usize]);
            *self.cell_days.entry((key, day)).or_insert(0) += n;
        }
        for (key, n) in other.custom_days {
            *self.custom_days.entry(key).or_insert(0) += n;
        }
        // Finished partials are not merged; their lists are disjoint if so.
        self.settled_events.extend(other.settled_events);
        self.settled_users.extend(other.settled_users);
        self.settled_distinct.extend(other.settled_distinct);
        self
    }

    /// The `limit` most common event names, most common first (ties by name).
    pub(super) fn most_common_events(&self, limit: usize) -> Vec<String> {
        let mut names: Vec<(i64, &str)> = self
            .name_totals
            .iter()
            .zip(&self.name_list)
            .map(|(total, name)| (*total, &**name))
            .collect();
        names.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        names
            .into_iter()
            .take(limit)
            .map(|(_, name)| name.to_string())
            .collect()
    }

    /// Per account, its distinct active days among the first `days` days
    /// after signup (`days` at most the bitmap's width).
    fn days_after_signup(&self, known: &Known, days: i64) -> Vec<i64> {
        let words = known.adoption_words;
        (0..known.created_day.len())
            .map(|at| {
                self.adoption[at * words..(at + 1) * words]
                    .iter()
                    .enumerate()
                    .map(|(word_idx, word)| {
                        let bits = days - 64 * word_idx as i64;
                        let mask = match bits {
                            ..=0 => 0,
                            64.. => u64::MAX,
                            n => (1u64 << n) - 1,
                        };
                        i64::from((word & mask).count_ones())
                    })
                    .sum()
            })
            .collect()
    }

    /// The early-adoption columns of [`Known`]'s early window (in accounts
    /// order): distinct active days and events within it, then, per event
    /// of `events`, its events within it, named by `names`.
    pub(super) fn early_columns(
        &self,
        known: &Known,
        events: &[String],
        names: &[String],
    ) -> Vec<(Field, ArrayRef)> {
        let accounts = self.counts.len();
        let days = known.early_days;
        let mut out: Vec<(Field, ArrayRef)> = Vec::new();
        let mut push = |name: String, values: Vec<i64>| {
            out.push((
                Field::new(name, DataType::Int64, false),
                Arc::new(Int64Array::from(values)) as ArrayRef,
            ));
        };
        let window = i32::try_from(days).unwrap_or(i32::MAX);
        push(
            Measure::AdoptionActiveDays(window).name(),
            self.days_after_signup(known, days),
        );
        push(
            Measure::AdoptionEvents(window).name(),
            self.counts.iter().map(|c| c.early).collect(),
        );
        let mut slots: Vec<Option<usize>> = vec![None; self.name_list.len()];
        for (slot, event) in events.iter().enumerate() {
            if let Some(name) = self.names.get(event.as_str()) {
                slots[*name as usize] = Some(slot);
            }
        }
        let mut counts = vec![vec![0i64; accounts]; events.len()];
        for (key, cell) in self.cells() {
            if let Some(slot) = slots[(key & 0xffff_ffff) as usize] {
                counts[slot][(key >> 32) as usize] += cell.n_early;
            }
        }
        for (name, values) in names.iter().zip(counts) {
            push(name.clone(), values);
        }
        out
    }

    /// Events of account ids not in the accounts table.
    pub(super) fn unknown(&self) -> UnknownEvents {
        UnknownEvents {
            events: self.unknown_events,
            accounts: self.unknown_ids.len() as u64,
            example: self.unknown_ids.iter().min().map(|id| id.to_string()),
        }
    }

    /// The per-account columns, in accounts order, named as the plan names
    /// them: the default features the catalog lists that the scan counts
    /// directly, the intermediates the others are finished from
    /// (`events_prev_28d`, `api_total`, `api_28d`, `last_day`), the
    /// per-event counts (`per_event` pairs an event name with its feature's
    /// name) and the custom features (`customs`, in [`Known`]'s order).
    pub(super) fn columns(
        &self,
        known: &Known,
        adoption_days: u32,
        per_event: &[(String, String)],
        customs: &[String],
    ) -> Result<Vec<(Field, ArrayRef)>> {
        let accounts = self.counts.len();
        let mut out: Vec<(Field, ArrayRef)> = Vec::new();
        let mut push = |name: String, values: Vec<i64>| {
            out.push((
                Field::new(name, DataType::Int64, false),
                Arc::new(Int64Array::from(values)) as ArrayRef,
            ));
        };
        let column = |value: &dyn Fn(&Counts) -> i64| -> Vec<i64> {
            self.counts.iter().map(value).collect()
        };
        let window = |days: i32| {
            WINDOWS.iter().position(|&w| w == days).ok_or_else(|| {
                Error::Internal(format!(
                    "the scan keeps no {days}-day window; add it to catalog::WINDOWS"
                ))
            })
        };

        let age = |day: i32| i64::from(known.as_of_day) - i64::from(day);
        let mut users = vec![vec![0i64; accounts]; WINDOWS.len()];
        for (account, last_day) in self.user_days() {
            for (k, days) in WINDOWS.iter().enumerate() {
                users[k][account as usize] += i64::from(age(last_day) < i64::from(*days));
            }
        }
        let mut distinct = vec![0i64; accounts];
        let mut distinct_windows = vec![vec![0i64; accounts]; WINDOWS.len()];
        let mut slots: Vec<Option<usize>> = vec![None; self.name_list.len()];
        for (slot, (event, _)) in per_event.iter().enumerate() {
            if let Some(name) = self.names.get(event.as_str()) {
                slots[*name as usize] = Some(slot);
            }
        }
        let mut per_event_counts = vec![vec![0i64; accounts]; per_event.len()];
        for (key, cell) in self.cells() {
            let account = (key >> 32) as usize;
            distinct[account] += 1;
            for (k, days) in WINDOWS.iter().enumerate() {
                distinct_windows[k][account] += i64::from(age(cell.last_day) < i64::from(*days));
            }
            if let Some(slot) = slots[(key & 0xffff_ffff) as usize] {
                per_event_counts[slot][account] += cell.n_28d;
            }
        }
        let adoption = i64::from(adoption_days);
        for measure in default_measures(adoption_days) {
            let values = match measure {
                Measure::Events(Period::Last(days)) => {
                    let k = window(days)?;
                    column(&|c| c.windows[k])
                }
                Measure::Events(Period::All) => column(&|c| c.total),
                Measure::ActiveDays(days) => column(&|c| c.active_days(i64::from(days))),
                Measure::Users(days) => users[window(days)?].clone(),
                Measure::DistinctEvents(Period::All) => distinct.clone(),
                Measure::DistinctEvents(Period::Last(days)) => {
                    distinct_windows[window(days)?].clone()
                }
                Measure::AdoptionActiveDays(days) if i64::from(days) == adoption => {
                    self.days_after_signup(known, adoption)
                }
                Measure::AdoptionEvents(days) if i64::from(days) == adoption => {
                    column(&|c| c.adoption)
                }
                Measure::AdoptionActiveDays(days) | Measure::AdoptionEvents(days) => {
                    return Err(Error::Internal(format!(
                        "the scan counts adoption over {adoption_days} days, not {days}"
                    )));
                }
                // Finished from the intermediates below.
                Measure::ApiShare(_) | Measure::Trend(_) | Measure::DaysSinceLastEvent => continue,
            };
            push(measure.name(), values);
        }
        push(
            format!("events_prev_{TREND_DAYS}d"),
            column(&|c| c.prev_28d),
        );
        push("api_total".into(), column(&|c| c.api));
        push(format!("api_{TREND_DAYS}d"), column(&|c| c.api_28d));
        for ((_, feature), values) in per_event.iter().zip(per_event_counts) {
            push(feature.clone(), values);
        }
        let n_customs = known.customs.len();
        let mut distinct_counts = vec![vec![0i64; accounts]; n_customs];
        for (account, custom) in self.distinct_keys() {
            distinct_counts[custom as usize][account as usize] += 1;
        }
        for (position, (custom, name)) in known.customs.iter().zip(customs).enumerate() {
            let values = match custom.distinct {
                Some(_) => std::mem::take(&mut distinct_counts[position]),
                None => (0..accounts)
                    .map(|at| self.custom_counts[at * n_customs + position])
                    .collect(),
            };
            push(name.clone(), values);
        }
        let last_day: Int32Array = self
            .counts
            .iter()
            .map(|c| (c.last_day != i32::MIN).then_some(c.last_day))
            .collect();
        out.push((
            Field::new("last_day", DataType::Int32, true),
            Arc::new(last_day),
        ));
        Ok(out)
    }
}

/// The states at several as-of days from one pass in which each event is
/// added once: to the partial of the first of the days on or after its own
/// (the knowns kept, [`Known::keeping`], over the same accounts and
/// settings, in any order), each partial then a [`Carry`] advanced from the
/// previous day's. So dates a month apart cost about one date's work, not
/// one per date (the backtest's six, the risk snapshots), where
/// [`scan_many`] adds every event to every date's partial. The dates'
/// carries are made one at a time ([`Chain::next`]), each the next one's
/// start: one carry is held at once, beside the dates' partials.
pub(super) struct Chain {
    /// The dates' partials not reached yet, in day order, with what the
    /// scan knew and their positions among the knowns given.
    parts: std::collections::VecDeque<(Partial, Arc<Known>, usize)>,
    /// Per date in day order, the events later than it: those of the later
    /// dates' partials.
    later: Vec<u64>,
    /// The last date reached's state.
    carry: Option<Carry>,
    /// What [`Chain::next`] added to `carry.after` (its later events), taken
    /// off again before it moves on.
    lent: u64,
    /// Dates reached.
    reached: usize,
}

impl Chain {
    /// Scans `events` (account_id, user_id, event, day, source) once for
    /// the days of `knowns`; `start`: a carry of the same events through a
    /// day before all of them, which the first date is advanced from;
    /// `then`: the earliest day the last date's carry is advanced to
    /// afterwards (`None`: any day, as a carry kept for later runs is).
    pub(super) async fn scan(
        events: DataFrame,
        knowns: &[Arc<Known>],
        start: Option<Carry>,
        then: Option<i32>,
    ) -> Result<Chain> {
        let mut order: Vec<usize> = (0..knowns.len()).collect();
        order.sort_by_key(|&i| knowns[i].as_of_day);
        let mut bounded = Vec::with_capacity(order.len());
        let mut previous = start.as_ref().map_or(i32::MIN, |carry| carry.through);
        for (rank, &i) in order.iter().enumerate() {
            let known = &knowns[i];
            if !known.keep {
                return Err(Error::Internal("a chained scan needs kept dates".into()));
            }
            // The day this date's carry is advanced to next, if known.
            let next = match order.get(rank + 1) {
                Some(&later) => Some(knowns[later].as_of_day),
                None => then,
            };
            let per_event_days = next.is_none_or(|next| {
                i64::from(next) - i64::from(known.as_of_day) < i64::from(TREND_DAYS)
            });
            bounded.push(Arc::new(Known {
                index: known.index.clone(),
                created_day: known.created_day.clone(),
                ids: known.ids.clone(),
                customs: known.customs.clone(),
                since: previous,
                per_event_days: known.per_event_days && per_event_days,
                ..**known
            }));
            previous = known.as_of_day;
        }
        let partials = scan_many(events, bounded.clone()).await?;
        let mut later = vec![0u64; partials.len()];
        for position in (0..partials.len().saturating_sub(1)).rev() {
            later[position] = later[position + 1] + partials[position + 1].events_read();
        }
        // The start's later events are among `events`: the dates after it read them.
        let carry = start.map(|mut start| {
            start.after = 0;
            start
        });
        Ok(Chain {
            parts: partials
                .into_iter()
                .zip(bounded)
                .zip(order)
                .map(|((partial, known), position)| (partial, known, position))
                .collect(),
            later,
            carry,
            lent: 0,
            reached: 0,
        })
    }

    /// The next date's state (in day order), what the scan knew of it and
    /// its position among the knowns given; `None` after the last. A
    /// date's carry counts the events after its day as left out (`after`):
    /// kept, it is never advanced past them.
    pub(super) fn next(&mut self) -> Result<Option<(usize, &Carry, Arc<Known>)>> {
        let Some((mut partial, known, position)) = self.parts.pop_front() else {
            return Ok(None);
        };
        // Events after this day went to later dates' partials: the chain
        // moves on without them.
        if !self.parts.is_empty() {
            partial.after = 0;
        }
        let newer = Carry::of(partial, &known)?;
        let mut next = match self.carry.take() {
            None => newer,
            Some(mut earlier) => {
                earlier.after -= self.lent;
                earlier.advance(newer, &known)?
            }
        };
        self.lent = self.later[self.reached];
        next.after += self.lent;
        self.reached += 1;
        let carry = self.carry.insert(next);
        Ok(Some((position, &*carry, known)))
    }

    /// The last date's state, which a chain over later dates can start
    /// from; `None` before the first date is reached.
    pub(super) fn into_last(mut self) -> Option<Carry> {
        if let Some(carry) = &mut self.carry {
            carry.after -= self.lent;
        }
        self.carry
    }
}

/// Streams every partition of `events` (account_id, user_id, event, day,
/// source) into its own [`Partial`], each on a task, and merges them.
pub(super) async fn scan(events: DataFrame, known: Arc<Known>) -> Result<Partial> {
    let mut partials = scan_many(events, vec![known]).await?;
    partials
        .pop()
        .ok_or_else(|| Error::Internal("feature scan: no partial".into()))
}

/// [`scan`] for several as-of dates at once: each batch is decoded once and
/// added to one [`Partial`] per date (`knowns` differ by their as-of day);
/// the partials come back in `knowns`' order.
pub(super) async fn scan_many(events: DataFrame, knowns: Vec<Arc<Known>>) -> Result<Vec<Partial>> {
    let streams = events.execute_stream_partitioned().await?;
    let mut tasks = Vec::new();
    for mut stream in streams {
        let knowns = knowns.clone();
        tasks.push(tokio::spawn(async move {
            let mut partials: Vec<Partial> = knowns.iter().map(|k| Partial::new(k)).collect();
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                for (partial, known) in partials.iter_mut().zip(&knowns) {
                    partial.add(known, &batch)?;
                }
            }
            Ok::<Vec<Partial>, Error>(partials)
        }));
    }
    let mut merged: Option<Vec<Partial>> = None;
    for task in tasks {
        let partials = task
            .await
            .map_err(|error| Error::Internal(format!("feature scan task failed: {error}")))??;
        merged = Some(match merged {
            None => partials,
            Some(merged) => merged
                .into_iter()
                .zip(partials)
                .map(|(mine, theirs)| mine.merge(theirs))
                .collect(),
        });
    }
    Ok(merged.unwrap_or_else(|| knowns.iter().map(|k| Partial::new(k)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::BooleanArray;
    use datafusion::arrow::datatypes::Schema;
    use proptest::prelude::*;

    const AS_OF: i32 = 20_000;

    /// One generated event: account (5 = unknown), user, event, age in
    /// days (negative: after as_of), source, and the two custom filters.
    type Row = (usize, Option<u8>, u8, i32, Option<u8>, Option<bool>, bool);

    fn known() -> Known {
        known_with("")
    }

    /// [`known`] with every account id prefixed.
    fn known_with(prefix: &str) -> Known {
        let ids: Vec<String> = (0..5).map(|k| format!("{prefix}a{k}")).collect();
        let created: Vec<i32> = (0..5).map(|k| AS_OF - 40 * k).collect();
        let customs = vec![
            Custom::new(EventWindow::LastDays(10), None).unwrap(),
            Custom::new(EventWindow::DaysAfterSignup(30), Some("user_id")).unwrap(),
        ];
        Known::new(&ids, &created, AS_OF, 45, None, customs).unwrap()
    }

    fn batch(rows: &[Row]) -> RecordBatch {
        batch_with(rows, "", false)
    }

    /// The rows as one batch, account ids, users and event names prefixed
    /// with `prefix`; with `views`, the strings are Utf8View whose repeated
    /// values share one view, as Parquet's dictionary pages give them.
    fn batch_with(rows: &[Row], prefix: &str, views: bool) -> RecordBatch {
        let text = |values: Vec<Option<String>>| -> ArrayRef {
            if views {
                let mut builder =
                    datafusion::arrow::array::StringViewBuilder::new().with_deduplicate_strings();
                for value in values {
                    builder.append_option(value);
                }
                Arc::new(builder.finish())
            } else {
                Arc::new(StringArray::from(values))
            }
        };
        let sources = ["app", "api", "integration"];
        let columns: Vec<ArrayRef> = vec![
            text(
                rows.iter()
                    .map(|r| Some(format!("{prefix}a{}", r.0)))
                    .collect(),
            ),
            text(
                rows.iter()
                    .map(|r| r.1.map(|u| format!("{prefix}u{u}")))
                    .collect(),
            ),
            text(
                rows.iter()
                    .map(|r| Some(format!("{prefix}e{}", r.2)))
                    .collect(),
            ),
            Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|r| AS_OF - r.3),
            )),
            text(
                rows.iter()
                    .map(|r| r.4.map(|s| sources[s as usize % 3].to_string()))
                    .collect(),
            ),
            Arc::new(rows.iter().map(|r| r.5).collect::<BooleanArray>()),
            Arc::new(rows.iter().map(|r| Some(r.6)).collect::<BooleanArray>()),
        ];
        let fields: Vec<Field> = [
            "account_id",
            "user_id",
            "event",
            "day",
            "source",
            "c0",
            "c1",
        ]
        .iter()
        .zip(&columns)
        .map(|(name, column)| Field::new(*name, column.data_type().clone(), true))
        .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    fn partial(known: &Known, rows: &[Row]) -> Partial {
        let mut partial = Partial::new(known);
        partial.add(known, &batch(rows)).unwrap();
        partial
    }

    fn outputs(
        known: &Known,
        partial: &Partial,
    ) -> (Vec<(Field, ArrayRef)>, UnknownEvents, Vec<String>) {
        outputs_with(known, partial, "")
    }

    fn outputs_with(
        known: &Known,
        partial: &Partial,
        prefix: &str,
    ) -> (Vec<(Field, ArrayRef)>, UnknownEvents, Vec<String>) {
        let per_event: Vec<(String, String)> = (0..4)
            .map(|e| (format!("{prefix}e{e}"), format!("event_e{e}_28d")))
            .collect();
        let customs = ["recent".to_string(), "early_users".to_string()];
        (
            partial
                .columns(known, 45, &per_event, &customs)
                .expect("every catalog window is scanned"),
            partial.unknown(),
            partial.most_common_events(3),
        )
    }

    fn column<'a>(columns: &'a [(Field, ArrayRef)], name: &str) -> &'a ArrayRef {
        &columns.iter().find(|(f, _)| f.name() == name).unwrap().1
    }

    /// Users of any length count once per account and window, across
    /// batches and partitions: ids of at most 23 bytes are kept in the key,
    /// longer ones owned.
    #[test]
    fn short_and_long_user_ids_count_once() {
        // Packed (at most 20 bytes), kept in a short key (21 to 23) and
        // owned (longer).
        for prefix in [
            "",
            "a-prefix-of-twenty-",
            "an-identifier-longer-than-23-bytes-",
        ] {
            let known = known_with(prefix);
            // a1: u1 three times (today, then 40 and 10 days ago: its latest
            // day must stay today), u2 once; a2: u1 once (another
            // account's user of the same id).
            let rows: Vec<Row> = vec![
                (1, Some(1), 0, 0, Some(0), None, false),
                (1, Some(1), 2, 40, Some(0), None, false),
                (1, Some(2), 0, 6, Some(0), None, false),
                (2, Some(1), 0, 1, Some(0), None, false),
                (1, Some(1), 1, 10, Some(0), None, false),
            ];
            let mut partial = Partial::new(&known);
            partial
                .add(&known, &batch_with(&rows[..2], prefix, true))
                .unwrap();
            let mut other = Partial::new(&known);
            other
                .add(&known, &batch_with(&rows[2..], prefix, false))
                .unwrap();
            let merged = partial.merge(other);
            let (columns, _, _) = outputs_with(&known, &merged, prefix);
            let users = |name: &str, account: usize| {
                column(&columns, name)
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .value(account)
            };
            assert_eq!(users("users_7d", 1), 2, "{prefix}");
            assert_eq!(users("users_90d", 1), 2, "{prefix}");
            assert_eq!(users("users_7d", 2), 1, "{prefix}");
            assert_eq!(merged.users.len(), 3, "{prefix}: one entry per pair");
        }
    }

    #[test]
    fn packed_user_keys_keep_accounts_and_ids_apart() {
        let ids = [
            "",
            "a",
            "a\0",
            "b",
            "usr_000001_001",
            "twenty-bytes-exactly",
            "\u{e9}t\u{e9}",
        ];
        let mut keys = HashSet::new();
        for account in [0, 1, 7, PACKED_ACCOUNTS - 1] {
            for id in ids {
                let key = pack_user(account, id).expect("packs");
                let (back, bytes, len) = unpack_user(key);
                assert_eq!(back, account, "{id:?}");
                assert_eq!(&bytes[4..4 + len], id.as_bytes());
                keys.insert(key);
            }
        }
        assert_eq!(keys.len(), 4 * ids.len(), "one key per pair");
        assert_eq!(pack_user(PACKED_ACCOUNTS, "a"), None);
        assert_eq!(pack_user(0, "twenty-one-bytes-long"), None);
        // Every kind of key comes back with its account, id and day.
        let mut users = Users::default();
        users.see(3, "u1", 10);
        users.see(3, "u1", 4);
        users.see(3, "twenty-one-bytes-long", 5);
        users.see(PACKED_ACCOUNTS, "u1", 6);
        users.see(4, "an-identifier-longer-than-23-bytes", 7);
        let mut seen = Vec::new();
        users
            .for_each(|account, user, day| {
                seen.push((account, user.to_string(), day));
                Ok(())
            })
            .unwrap();
        seen.sort();
        let expected = [
            (3, "twenty-one-bytes-long", 5),
            (3, "u1", 10),
            (4, "an-identifier-longer-than-23-bytes", 7),
            (PACKED_ACCOUNTS, "u1", 6),
        ]
        .map(|(account, user, day)| (account, user.to_string(), day));
        assert_eq!(seen, expected);
    }

    #[test]
    fn one_account_by_hand() {
        let known = known();
        // a1 signed up 40 days before as_of, so its 45 adoption days are
        // ages 40 down to -4: events at ages 0, 5 and 40 fall in them.
        let rows: Vec<Row> = vec![
            (1, Some(1), 0, 0, Some(1), Some(true), true), // today, api, u1
            (1, Some(2), 0, 5, Some(0), Some(false), true), // 5 days ago, app, u2
            (1, Some(1), 1, 40, Some(2), None, true),      // signup day, integration
            (1, None, 2, 100, None, Some(true), true),     // before signup, 100 days ago
            (1, Some(3), 3, -1, Some(1), Some(true), true), // after as_of: ignored
            (5, Some(1), 0, 0, Some(1), Some(true), true), // unknown account
            (5, Some(1), 0, 3, Some(1), Some(true), true), // unknown account
        ];
        let (columns, unknown, top) = outputs(&known, &partial(&known, &rows));
        let at = |name: &str| {
            column(&columns, name)
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                .value(1)
        };
        assert_eq!(
            (at("events_7d"), at("events_28d"), at("events_90d")),
            (2, 2, 3)
        );
        assert_eq!(
            (
                at("active_days_7d"),
                at("active_days_28d"),
                at("active_days_90d")
            ),
            (2, 2, 3)
        );
        assert_eq!(
            (at("users_7d"), at("users_28d"), at("users_90d")),
            (2, 2, 2)
        );
        assert_eq!(at("distinct_events"), 3);
        assert_eq!(
            (at("distinct_events_7d"), at("distinct_events_90d")),
            (1, 2)
        );
        assert_eq!(
            (at("events_total"), at("api_total"), at("api_28d")),
            (4, 2, 1)
        );
        assert_eq!(at("events_prev_28d"), 1);
        assert_eq!(
            (at("active_days_first_45d"), at("events_first_45d")),
            (3, 3)
        );
        assert_eq!(
            (at("event_e0_28d"), at("event_e1_28d"), at("event_e2_28d")),
            (2, 0, 0)
        );
        // recent: filter true in the last 10 days -> only today's event.
        assert_eq!(at("recent"), 1);
        // early_users: distinct users of c1 events in the first 30 days after
        // signup (ages 40 down to 11): u1 on the signup day.
        assert_eq!(at("early_users"), 1);
        let last_day = column(&columns, "last_day").as_primitive::<Int32Type>();
        assert_eq!(last_day.value(1), AS_OF);
        assert!(last_day.is_null(0));
        assert_eq!(
            unknown,
            UnknownEvents {
                events: 2,
                accounts: 1,
                example: Some("a5".into())
            }
        );
        // Unknown accounts' events count toward the most common names.
        assert_eq!(top, vec!["e0", "e1", "e2"]);
    }

    #[test]
    fn early_window_beside_adoption_by_hand() {
        // Adoption over 45 days and an early window of 10 and of 70 days
        // (wider than the adoption bitmap was): a1 signed up 40 days ago.
        let rows: Vec<Row> = vec![
            (1, Some(1), 1, 40, Some(1), None, false), // signup day, e1
            (1, Some(1), 1, 40, Some(1), None, false), // signup day, e1 again
            (1, Some(2), 0, 35, Some(0), None, false), // day 5, e0
            (1, Some(2), 0, 20, Some(0), None, false), // day 20, e0
            (1, Some(2), 2, 0, Some(0), None, false),  // day 40 (today), e2
            (2, Some(1), 1, 80, Some(1), None, false), // a2's signup day, e1
        ];
        let ids: Vec<String> = (0..5).map(|k| format!("a{k}")).collect();
        let created: Vec<i32> = (0..5).map(|k| AS_OF - 40 * k).collect();
        for (early, active, events, e0, e1) in [(10, 2, 3, 1, 2), (70, 4, 5, 2, 2)] {
            let known = Known::new(&ids, &created, AS_OF, 45, Some(early), Vec::new()).unwrap();
            let partial = partial_plain(&known, &rows);
            let columns = partial.early_columns(
                &known,
                &["e0".to_string(), "e1".to_string()],
                &["e0_first".to_string(), "e1_first".to_string()],
            );
            let at = |name: &str, account: usize| {
                column(&columns, name)
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .value(account)
            };
            let days = format!("{early}d");
            assert_eq!(
                at(&format!("active_days_first_{days}"), 1),
                active,
                "{days}"
            );
            assert_eq!(at(&format!("events_first_{days}"), 1), events, "{days}");
            assert_eq!((at("e0_first", 1), at("e1_first", 1)), (e0, e1), "{days}");
            assert_eq!(at("e1_first", 2), 1, "{days}");
            // The project's adoption is unchanged by the early window.
            let adoption = partial
                .columns(&known, 45, &[], &[])
                .expect("every catalog window is scanned");
            let first = column(&adoption, "active_days_first_45d")
                .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            assert_eq!(first.value(1), 4, "{days}");
        }
    }

    /// [`partial`] for a [`Known`] without custom features (the filter
    /// columns of the rows are dropped).
    fn partial_plain(known: &Known, rows: &[Row]) -> Partial {
        let full = batch(rows);
        let batch = full.project(&[0, 1, 2, 3, 4]).unwrap();
        let mut partial = Partial::new(known);
        partial.add(known, &batch).unwrap();
        partial
    }

    fn row() -> impl Strategy<Value = Row> {
        (
            0usize..6,
            proptest::option::of(0u8..6),
            0u8..5,
            -3i32..200,
            proptest::option::of(0u8..3),
            proptest::option::of(any::<bool>()),
            any::<bool>(),
        )
    }

    /// Accounts a0..a4 signed up 40 days apart, the custom features over
    /// the last days ([`known_with`]'s are over the last 10 days and the
    /// first 30 after signup), at `as_of`, keeping or not.
    fn known_at(as_of: i32, keep: bool, windows: bool) -> Known {
        let ids: Vec<String> = (0..5).map(|k| format!("a{k}")).collect();
        let created: Vec<i32> = (0..5).map(|k| AS_OF - 40 * k).collect();
        let customs = if windows {
            vec![
                Custom::new(EventWindow::LastDays(10), Some("user_id")).unwrap(),
                Custom::new(EventWindow::LastDays(5), None).unwrap(),
            ]
        } else {
            vec![
                Custom::new(EventWindow::LastDays(10), None).unwrap(),
                Custom::new(EventWindow::DaysAfterSignup(30), Some("user_id")).unwrap(),
            ]
        };
        let known = Known::new(&ids, &created, as_of, 45, Some(20), customs).unwrap();
        if keep { known.keeping(&ids) } else { known }
    }

    /// Asserts two partials give the same columns, unknowns, most common
    /// events and early adoption.
    fn assert_same(known: &Known, a: &Partial, b: &Partial) {
        let (a_columns, a_unknown, a_top) = outputs(known, a);
        let (b_columns, b_unknown, b_top) = outputs(known, b);
        assert_eq!(a_columns.len(), b_columns.len());
        for ((field, x), (_, y)) in a_columns.iter().zip(&b_columns) {
            assert_eq!(x.as_ref(), y.as_ref(), "{}", field.name());
        }
        assert_eq!(a_unknown, b_unknown);
        assert_eq!(a_top, b_top);
        let events = ["e0".to_string(), "e1".to_string()];
        let names = ["f0".to_string(), "f1".to_string()];
        let a_early = a.early_columns(known, &events, &names);
        let b_early = b.early_columns(known, &events, &names);
        for ((field, x), (_, y)) in a_early.iter().zip(&b_early) {
            assert_eq!(x.as_ref(), y.as_ref(), "{}", field.name());
        }
    }

    /// Accounts reordered, one added: the carry follows each account by id;
    /// an account gone, one whose signup moved, or a new one that had
    /// events counted as unknown cannot be followed.
    #[test]
    fn carry_follows_accounts_by_id() {
        let rows: Vec<Row> = vec![
            (1, Some(1), 0, 0, Some(1), Some(true), true),
            (3, Some(2), 1, 12, Some(0), Some(true), false),
            (5, Some(1), 2, 3, None, None, true), // unknown a5
        ];
        let known = known_at(AS_OF, true, true);
        let carry = Carry::of(partial(&known, &rows), &known).unwrap();
        let ids: Vec<String> = ["a4", "a3", "a2", "a1", "a0", "b7"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let created: Vec<i32> = vec![
            AS_OF - 160,
            AS_OF - 120,
            AS_OF - 80,
            AS_OF - 40,
            AS_OF,
            AS_OF,
        ];
        let customs = known.customs.clone();
        let moved_known = Known::new(&ids, &created, AS_OF, 45, Some(20), customs.clone())
            .unwrap()
            .keeping(&ids);
        let moved = carry.clone().remap(&ids, &created).unwrap();
        let plain = Known::new(&ids, &created, AS_OF, 45, Some(20), customs).unwrap();
        assert_same(
            &plain,
            &partial(&plain, &rows),
            &moved.at(&moved_known).unwrap(),
        );

        let gone = &ids[1..];
        let error = carry.clone().remap(gone, &created[1..]).unwrap_err();
        assert!(error.contains("`a4` left the accounts table"), "{error}");
        let mut shifted = created.clone();
        shifted[3] += 1;
        let error = carry.clone().remap(&ids, &shifted).unwrap_err();
        assert!(error.contains("`a1` changed its signup date"), "{error}");
        let mut with_unknown = ids.clone();
        with_unknown[5] = "a5".into();
        let error = carry.remap(&with_unknown, &created).unwrap_err();
        assert!(error.contains("`a5` is new"), "{error}");
    }

    /// A batch wholly on or before a chained date's `since` adds nothing
    /// to its partial, one wholly after its day counts as left out, and
    /// one across them adds what falls in its days: what the rows added
    /// one by one give.
    #[test]
    fn batches_outside_a_dates_days_are_counted_not_read() {
        let before: Vec<Row> = vec![
            (1, Some(1), 0, 12, Some(1), None, true),
            (2, Some(2), 1, 10, None, Some(true), false),
        ];
        let within: Vec<Row> = vec![(1, Some(1), 0, 3, Some(1), Some(true), true)];
        let after: Vec<Row> = vec![
            (1, Some(1), 0, -2, Some(1), None, true),
            (5, None, 2, -1, None, None, false),
        ];
        let known = Known {
            since: AS_OF - 10,
            ..known_at(AS_OF, true, false)
        };
        let mut apart = Partial::new(&known);
        apart.add(&known, &batch(&before)).unwrap();
        assert_eq!(apart.events_read(), 0);
        apart.add(&known, &batch(&after)).unwrap();
        assert_eq!((apart.events_read(), apart.after), (2, 2));
        assert!(apart.unknown_ids.is_empty(), "later rows are not read");
        apart.add(&known, &batch(&within)).unwrap();
        let rows: Vec<Row> = before
            .iter()
            .chain(&within)
            .chain(&after)
            .copied()
            .collect();
        let whole = partial(&known, &rows);
        assert_eq!((whole.events_read(), whole.after), (3, 2));
        assert_same(&known, &apart, &whole);
    }

    /// Per-day counts held densely and in a map hold the same counts,
    /// merged in any mix; a day outside the array moves them to a map.
    #[test]
    fn day_counts_dense_or_sparse_agree() {
        let known = Known {
            since: AS_OF - 10,
            ..known_at(AS_OF, true, false)
        };
        let dense = || DayCounts::new(&known);
        let sparse = || DayCounts::Sparse(HashMap::new());
        assert!(matches!(dense(), DayCounts::Dense { span: 10, .. }));
        let adds = [
            (0, AS_OF, [1, 0]),
            (4, AS_OF - 9, [2, 1]),
            (0, AS_OF, [3, 3]),
        ];
        let more = [(1, AS_OF - 3, [1, 1]), (4, AS_OF - 9, [1, 0])];
        let sorted = |counts: &DayCounts| {
            let mut entries: Vec<_> = counts.entries().collect();
            entries.sort_unstable();
            entries
        };
        let expected = vec![
            (0, AS_OF, [4, 3]),
            (1, AS_OF - 3, [1, 1]),
            (4, AS_OF - 9, [3, 1]),
        ];
        for (mine, theirs) in [(dense(), dense()), (dense(), sparse()), (sparse(), dense())] {
            let (mut mine, mut theirs) = (mine, theirs);
            for (account, day, counts) in adds {
                mine.add(account, day, counts);
            }
            for (account, day, counts) in more {
                theirs.add(account, day, counts);
            }
            mine.merge(theirs);
            assert_eq!(sorted(&mine), expected);
        }
        let mut moved = dense();
        moved.add(2, AS_OF - 1, [1, 0]);
        moved.add(2, AS_OF - 10, [1, 1]);
        moved.add(9, AS_OF, [2, 0]);
        assert!(matches!(moved, DayCounts::Sparse(_)));
        assert_eq!(
            sorted(&moved),
            vec![
                (2, AS_OF - 10, [1, 1]),
                (2, AS_OF - 1, [1, 0]),
                (9, AS_OF, [2, 0])
            ]
        );
    }

    /// A carry that left later events out moves to no later day.
    #[test]
    fn a_carry_with_later_events_left_out_stays_on_its_day() {
        let rows: Vec<Row> = vec![(1, Some(1), 0, -2, Some(1), None, true)];
        let known = known_at(AS_OF, true, false);
        let carry = Carry::of(partial(&known, &rows), &known).unwrap();
        assert_eq!(carry.after, 1);
        let later = known_at(AS_OF + 5, true, false);
        let newer = Carry::of(Partial::empty(&later), &later).unwrap();
        assert!(carry.clone().advance(newer, &later).is_err());
        let same = Carry::of(partial(&known, &rows), &known).unwrap();
        assert_eq!(carry.advance(same, &known).unwrap().after, 2);
    }

    proptest! {
        /// Scanning in partitions and merging gives what one partition gives,
        /// whatever order the partitions meet event names in.
        #[test]
        fn partitions_merge_to_the_whole(rows in proptest::collection::vec(row(), 0..200), split in 0usize..200) {
            let known = known();
            let split = split.min(rows.len());
            let whole = partial(&known, &rows);
            let merged = partial(&known, &rows[split..]).merge(partial(&known, &rows[..split]));
            let (whole_columns, whole_unknown, whole_top) = outputs(&known, &whole);
            let (merged_columns, merged_unknown, merged_top) = outputs(&known, &merged);
            prop_assert_eq!(whole_columns.len(), merged_columns.len());
            for ((field, a), (_, b)) in whole_columns.iter().zip(&merged_columns) {
                prop_assert_eq!(a.as_ref(), b.as_ref(), "{}", field.name());
            }
            prop_assert_eq!(whole_unknown, merged_unknown);
            prop_assert_eq!(whole_top, merged_top);
        }

        /// Utf8View batches, short (inline) or long strings, in batches of
        /// any size, give what one Utf8 batch gives: ids looked up by view
        /// are the ids looked up by text.
        #[test]
        fn views_give_what_text_gives(rows in proptest::collection::vec(row(), 0..200), size in 1usize..64, long in any::<bool>()) {
            let prefix = if long { "an-identifier-longer-than-23-bytes-" } else { "" };
            let known = known_with(prefix);
            let mut text = Partial::new(&known);
            text.add(&known, &batch_with(&rows, prefix, false)).unwrap();
            let mut views = Partial::new(&known);
            for chunk in rows.chunks(size) {
                views.add(&known, &batch_with(chunk, prefix, true)).unwrap();
            }
            let (text_columns, text_unknown, text_top) = outputs_with(&known, &text, prefix);
            let (view_columns, view_unknown, view_top) = outputs_with(&known, &views, prefix);
            prop_assert_eq!(text_columns.len(), view_columns.len());
            for ((field, a), (_, b)) in text_columns.iter().zip(&view_columns) {
                prop_assert_eq!(a.as_ref(), b.as_ref(), "{}", field.name());
            }
            prop_assert_eq!(text_unknown, view_unknown);
            prop_assert_eq!(text_top, view_top);
        }

        /// The events through day C kept as a carry, advanced to day D by a
        /// scan of other events (any days, later than D too), give exactly
        /// what one scan of all the events at D gives; a carry survives
        /// being written and read back.
        #[test]
        fn carry_advanced_equals_a_whole_scan(
            rows in proptest::collection::vec((row(), any::<bool>()), 0..200),
            gap in 0i32..40,
            windows in any::<bool>(),
        ) {
            let old: Vec<Row> = rows.iter().filter(|(r, old)| *old && r.3 >= gap).map(|(r, _)| *r).collect();
            let new: Vec<Row> = rows.iter().filter(|(r, old)| !(*old && r.3 >= gap)).map(|(r, _)| *r).collect();
            let all: Vec<Row> = rows.iter().map(|(r, _)| *r).collect();
            let at_c = known_at(AS_OF - gap, true, windows);
            let at_d = known_at(AS_OF, true, windows);
            let plain = known_at(AS_OF, false, windows);
            let kept = Carry::of(partial(&at_c, &old), &at_c).unwrap();
            prop_assert_eq!(kept.after, 0);
            let bytes = postcard::to_stdvec(&kept).unwrap();
            let kept: Carry = postcard::from_bytes(&bytes).unwrap();
            // The newer events in two partitions, merged.
            let half = new.len() / 2;
            let merged = partial(&at_d, &new[..half]).merge(partial(&at_d, &new[half..]));
            let newer = Carry::of(merged, &at_d).unwrap();
            let advanced = kept.advance(newer, &at_d).unwrap();
            assert_same(&plain, &partial(&plain, &all), &advanced.at(&at_d).unwrap());
            // A full scan kept and finished gives the same too, and the
            // advanced state is that scan's state exactly.
            let whole = Carry::of(partial(&at_d, &all), &at_d).unwrap();
            assert_same(&plain, &partial(&plain, &all), &whole.at(&at_d).unwrap());
            prop_assert_eq!(advanced, whole);
        }
    }
}
