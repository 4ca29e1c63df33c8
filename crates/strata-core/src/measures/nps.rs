//! Net Promoter Score: which answers count, and how they add up.
//!
//! NPS asks "how likely are you to recommend us, from 0 to 10?". Answers of 9
//! or 10 come from promoters, 7 or 8 from passives and 0 to 6 from detractors;
//! the score is `100 × (promoters − detractors) / respondents`, so it runs from
//! −100 (everyone a detractor) to +100 (everyone a promoter).
//!
//! Which answers count is part of the data contract: those with a timestamp in
//! the trailing 12 months `[t_end − 12 months, t_end)`, where `t_end` is the UTC
//! midnight after the as-of date, and of those only the latest answer of each
//! user, so that a user who answered every quarter has one voice, like a user
//! who answered once. An answer without a user id cannot be matched to others
//! and counts on its own. [`nps_window`] applies these rules and [`NpsCounts`]
//! does the counting.
use std::collections::HashMap;

use chrono::{Months, NaiveDate, NaiveTime};

/// One NPS answer.
///
/// The pipeline has already kept only feedback rows with channel `nps` and a
/// score, and resolved the account id to its position, but has not yet
/// windowed or deduplicated them; [`nps_window`] does that.
#[derive(Debug, Clone, PartialEq)]
pub struct NpsAnswer {
    /// Position of the answering account in the account list.
    pub account_idx: usize,
    /// The answering user, when known.
    pub user_id: Option<String>,
    /// When the answer was given, in microseconds since the Unix epoch (UTC).
    pub ts_micros: i64,
    /// The answer, 0 to 10.
    pub score: i64,
}

/// Keeps the NPS answers that count as of `as_of`, in input order.
///
/// An answer counts when its timestamp lies in `[t_end − 12 months, t_end)`,
/// where `t_end` is `as_of + 1 day` at UTC midnight; so an answer given exactly
/// at the start of the window is kept and one given exactly at `t_end` is not.
/// The 12 months are calendar months subtracted from `t_end`'s date: as-of
/// 2026-10-31 gives `t_end` 2026-11-01 and a window starting 2025-11-01, and
/// as-of 2024-02-29 gives `t_end` 2024-03-01 and a start of 2023-03-01. When
/// that day does not exist 12 months earlier (a `t_end` of 2024-02-29), the
/// start is the last day of that month (2023-02-28).
///
/// Of the answers in the window, each user keeps only the latest; when a user
/// has two answers with the same timestamp, the later one in input order wins.
/// An answer without a user id always counts on its own.
///
/// Answers whose score lies outside 0 to 10 are dropped before deduplication,
/// so that an invalid answer never hides a user's valid one. The loader rejects
/// such scores anyway. An `as_of` so close to the end of chrono's calendar that
/// the window cannot be represented gives no answers.
pub fn nps_window(answers: &[NpsAnswer], as_of: NaiveDate) -> Vec<NpsAnswer> {
    let Some((window_start_micros, window_end_micros)) = window_bounds_micros(as_of) else {
        return Vec::new();
    };
    let is_counted = |answer: &NpsAnswer| {
        is_valid_score(answer.score)
            && answer.ts_micros >= window_start_micros
            && answer.ts_micros < window_end_micros
    };

    // For each user, remember the position of the answer that wins so far.
    // Comparing with `>=` while walking in input order makes the later of two
    // answers with the same timestamp win.
    let mut latest_answer_idx_by_user: HashMap<&str, usize> = HashMap::new();
    for (answer_idx, answer) in answers.iter().enumerate() {
        let Some(user_id) = answer.user_id.as_deref() else {
            continue;
        };
        if !is_counted(answer) {
            continue;
        }
        let is_latest_so_far = match latest_answer_idx_by_user.get(user_id) {
            Some(&kept_idx) => answer.ts_micros >= answers[kept_idx].ts_micros,
            None => true,
        };
        if is_latest_so_far {
            latest_answer_idx_by_user.insert(user_id, answer_idx);
        }
    }

    answers
        .iter()
        .enumerate()
        .filter(|(answer_idx, answer)| match answer.user_id.as_deref() {
            Some(user_id) => latest_answer_idx_by_user.get(user_id) == Some(answer_idx),
            None => is_counted(answer),
        })
        .map(|(_, answer)| answer.clone())
        .collect()
}

/// The trailing 12-month window `[t_end - 12 months, t_end)` of `as_of`
/// (`t_end` = as_of + 1 day), in UTC microseconds: NPS answers and tickets.
pub fn window_bounds_micros(as_of: NaiveDate) -> Option<(i64, i64)> {
    let window_end_date = as_of.succ_opt()?;
    let window_start_date = window_end_date.checked_sub_months(Months::new(12))?;
    let to_micros = |date: NaiveDate| date.and_time(NaiveTime::MIN).and_utc().timestamp_micros();
    Some((to_micros(window_start_date), to_micros(window_end_date)))
}

/// Whether `score` is a possible answer to the NPS question.
fn is_valid_score(score: i64) -> bool {
    (0..=10).contains(&score)
}

/// Promoters, passives and detractors among a group's NPS answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NpsCounts {
    /// Answers of 9 or 10.
    pub promoters: usize,
    /// Answers of 7 or 8.
    pub passives: usize,
    /// Answers of 0 to 6.
    pub detractors: usize,
}

impl NpsCounts {
    /// Counts one answer; returns false, counting nothing, when `score` lies
    /// outside 0 to 10.
    pub fn add(&mut self, score: i64) -> bool {
        match score {
            9..=10 => self.promoters += 1,
            7..=8 => self.passives += 1,
            0..=6 => self.detractors += 1,
            _ => return false,
        }
        true
    }

    /// How many answers were counted.
    pub fn respondents(&self) -> usize {
        self.promoters + self.passives + self.detractors
    }

    /// `100 × (promoters − detractors) / respondents`, or `None` without answers.
    pub fn nps(&self) -> Option<f64> {
        let n_respondents = self.respondents();
        if n_respondents == 0 {
            return None;
        }
        let promoter_lead = self.promoters as f64 - self.detractors as f64;
        Some(100.0 * promoter_lead / n_respondents as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    /// Microseconds since the epoch of a UTC time written `YYYY-MM-DD HH:MM:SS`.
    fn ts(text: &str) -> i64 {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .expect("test timestamps are well formed")
            .and_utc()
            .timestamp_micros()
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test dates are well formed")
    }

    /// An answer of account 0 by `user` (empty for none) at `time` with `score`.
    fn answer(user: &str, time: &str, score: i64) -> NpsAnswer {
        NpsAnswer {
            account_idx: 0,
            user_id: (!user.is_empty()).then(|| user.to_string()),
            ts_micros: ts(time),
            score,
        }
    }

    /// Windows `answers` as of `as_of`, then checks which answers were kept (by
    /// position in `answers`) and the NPS of the kept ones; `name` labels the
    /// case in failure messages.
    fn check(
        name: &str,
        answers: &[NpsAnswer],
        as_of: &str,
        kept_positions: &[usize],
        expected_nps: Option<f64>,
    ) {
        let kept = nps_window(answers, date(as_of));
        let expected: Vec<NpsAnswer> = kept_positions
            .iter()
            .map(|&idx| answers[idx].clone())
            .collect();
        assert_eq!(kept, expected, "{name}: kept answers");
        let mut counts = NpsCounts::default();
        for answer in &kept {
            counts.add(answer.score);
        }
        match (counts.nps(), expected_nps) {
            (Some(actual), Some(wanted)) => {
                assert!(
                    (actual - wanted).abs() < 1e-12,
                    "{name}: nps {actual} != {wanted}"
                )
            }
            (actual, wanted) => assert_eq!(actual, wanted, "{name}: nps"),
        }
    }

    /// A case name, the answers, the as-of date, the positions of the answers
    /// kept and the NPS of those.
    type Case = (
        &'static str,
        Vec<NpsAnswer>,
        &'static str,
        Vec<usize>,
        Option<f64>,
    );

    #[test]
    fn window_and_dedup() {
        let cases: &[Case] = &[
            // No answers at all: no NPS.
            ("empty", vec![], "2026-10-31", vec![], None),
            // t_end = 2026-11-01, start = 2025-11-01: the answer at the start is
            // kept, the one at t_end and the one a second before the start are
            // dropped. One promoter out of one: +100.
            (
                "window edges",
                vec![
                    answer("a", "2025-11-01 00:00:00", 10),
                    answer("b", "2026-11-01 00:00:00", 0),
                    answer("c", "2025-10-31 23:59:59", 0),
                ],
                "2026-10-31",
                vec![0],
                Some(100.0),
            ),
            // The last microsecond before t_end still counts: one detractor, −100.
            (
                "last instant",
                vec![NpsAnswer {
                    account_idx: 0,
                    user_id: None,
                    ts_micros: ts("2026-11-01 00:00:00") - 1,
                    score: 3,
                }],
                "2026-10-31",
                vec![0],
                Some(-100.0),
            ),
            // Leap day: t_end = 2024-03-01, start = 2023-03-01.
            (
                "leap day as of",
                vec![
                    answer("a", "2023-02-28 23:59:59", 10),
                    answer("b", "2023-03-01 00:00:00", 8),
                    answer("c", "2024-02-29 12:00:00", 9),
                    answer("d", "2024-03-01 00:00:00", 0),
                ],
                "2024-02-29",
                vec![1, 2],
                // One passive, one promoter: 100 × (1 − 0) / 2 = 50.
                Some(50.0),
            ),
            // t_end = 2024-02-29 has no twin in 2023, so the start clamps to
            // 2023-02-28 and an answer on that day counts.
            (
                "leap day t_end",
                vec![
                    answer("a", "2023-02-27 23:59:59", 10),
                    answer("b", "2023-02-28 00:00:00", 6),
                ],
                "2024-02-28",
                vec![1],
                Some(-100.0),
            ),
            // The same user answered three times: only the latest (a 10) counts,
            // wherever it sits in the input, and the result keeps input order.
            (
                "dedup latest wins",
                vec![
                    answer("u1", "2026-03-01 00:00:00", 2),
                    answer("u1", "2026-09-01 00:00:00", 10),
                    answer("u2", "2026-01-01 00:00:00", 7),
                    answer("u1", "2026-05-01 00:00:00", 0),
                ],
                "2026-10-31",
                vec![1, 2],
                // One promoter, one passive: 100 × 1 / 2 = 50.
                Some(50.0),
            ),
            // Two answers of the same user at the same instant: the later in
            // input order wins.
            (
                "dedup tie",
                vec![
                    answer("u1", "2026-06-01 00:00:00", 10),
                    answer("u1", "2026-06-01 00:00:00", 1),
                ],
                "2026-10-31",
                vec![1],
                Some(-100.0),
            ),
            // A user's later answer outside the window does not hide the earlier
            // one inside it.
            (
                "dedup only inside window",
                vec![
                    answer("u1", "2026-06-01 00:00:00", 9),
                    answer("u1", "2026-11-02 00:00:00", 0),
                ],
                "2026-10-31",
                vec![0],
                Some(100.0),
            ),
            // Answers without a user id never merge: three anonymous answers
            // (10, 4, 5) and one user's latest (8) give 1 promoter, 1 passive,
            // 2 detractors: 100 × (1 − 2) / 4 = −25.
            (
                "anonymous answers count alone",
                vec![
                    answer("", "2026-02-01 00:00:00", 10),
                    answer("", "2026-02-01 00:00:00", 4),
                    answer("u1", "2026-03-01 00:00:00", 0),
                    answer("", "2026-04-01 00:00:00", 5),
                    answer("u1", "2026-04-01 00:00:00", 8),
                ],
                "2026-10-31",
                vec![0, 1, 3, 4],
                Some(-25.0),
            ),
            // A score outside 0..=10 is dropped and does not hide the user's
            // valid earlier answer.
            (
                "invalid score ignored",
                vec![
                    answer("u1", "2026-01-01 00:00:00", 7),
                    answer("u1", "2026-02-01 00:00:00", 11),
                    answer("", "2026-02-01 00:00:00", -1),
                ],
                "2026-10-31",
                vec![0],
                Some(0.0),
            ),
        ];
        for (name, answers, as_of, kept_positions, expected_nps) in cases {
            check(name, answers, as_of, kept_positions, *expected_nps);
        }
    }

    #[test]
    fn as_of_at_end_of_calendar_gives_nothing() {
        let answers = [NpsAnswer {
            account_idx: 0,
            user_id: None,
            ts_micros: i64::MAX,
            score: 9,
        }];
        assert_eq!(nps_window(&answers, NaiveDate::MAX), Vec::new());
    }
}
