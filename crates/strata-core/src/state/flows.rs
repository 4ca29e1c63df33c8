//! What moved between two runs: per segmentation, the accounts (and ARR)
//! flowing from each segment of the previous run to each segment of this
//! one (the bands of a Sankey diagram), and the movers with the most ARR.
//!
//! The flows come from the run's sizes and its stored transitions alone:
//! a segment's stayers are its accounts now less those that came in, and a
//! transition from or to no segment is an account entering or leaving the
//! segmentation (new, left the base, or unassigned).
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use serde::Serialize;

use super::{Cause, Transition};

/// The label of "no segment" on either side of a flow.
pub const OUTSIDE: &str = "(none)";

/// One band: accounts from `from` (previous run) to `to` (this run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flow {
    /// Segment in the previous run, [`OUTSIDE`] for none.
    pub from: String,
    /// Segment in this run, [`OUTSIDE`] for none.
    pub to: String,
    /// Accounts.
    pub accounts: i64,
    /// Their ARR now (ARR when they left, for accounts that left: 0).
    pub arr: f64,
}

/// One segmentation's flows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentationFlows {
    /// Segmentation.
    pub segmentation: String,
    /// Every non-empty band, stayers first (segment order), then movers by
    /// accounts.
    pub flows: Vec<Flow>,
}

/// An account that moved, for the "who moved" list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mover {
    /// Segmentation.
    pub segmentation: String,
    /// Account.
    pub account_id: String,
    /// Segment before.
    pub from: String,
    /// Segment now.
    pub to: String,
    /// ARR now.
    pub arr: f64,
    /// Why, in one line.
    pub reason: String,
}

/// What moved since the previous run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Movement {
    /// The previous run's as-of date.
    #[serde(serialize_with = "super::serialize_date")]
    pub previous_as_of: NaiveDate,
    /// This run's as-of date.
    #[serde(serialize_with = "super::serialize_date")]
    pub as_of: NaiveDate,
    /// Per segmentation (run order).
    pub segmentations: Vec<SegmentationFlows>,
    /// Accounts that moved because their data did (not a redefinition),
    /// most ARR first, at most 10.
    pub movers: Vec<Mover>,
}

/// One segment's size in this run, for [`movement`].
#[derive(Debug, Clone, PartialEq)]
pub struct SizeNow {
    /// Segmentation.
    pub segmentation: String,
    /// Segment (`(unassigned)` is counted as [`OUTSIDE`]).
    pub segment: String,
    /// Accounts.
    pub accounts: i64,
    /// ARR.
    pub arr: f64,
}

/// The flows of this run against the previous one: `sizes` are this
/// run's segments (in segment order), `transitions` its stored
/// transitions, `arr` each account's ARR now.
pub fn movement(
    previous_as_of: NaiveDate,
    as_of: NaiveDate,
    sizes: &[SizeNow],
    transitions: &[Transition],
    arr: &HashMap<String, f64>,
) -> Movement {
    let label = |segment: Option<&str>| segment.unwrap_or(OUTSIDE).to_string();
    let mut order: Vec<String> = Vec::new();
    for size in sizes {
        if !order.contains(&size.segmentation) {
            order.push(size.segmentation.clone());
        }
    }
    for transition in transitions {
        if !order.contains(&transition.segmentation) {
            order.push(transition.segmentation.clone());
        }
    }
    let segmentations = order
        .iter()
        .map(|segmentation| {
            // (from, to) -> (accounts, arr), movers only.
            let mut moved: BTreeMap<(String, String), (i64, f64)> = BTreeMap::new();
            let mut incoming: HashMap<String, (i64, f64)> = HashMap::new();
            for transition in transitions
                .iter()
                .filter(|t| &t.segmentation == segmentation)
            {
                let account_arr = arr.get(&transition.account_id).copied().unwrap_or(0.0);
                let to = label(transition.to.as_deref());
                let entry = moved
                    .entry((label(transition.from.as_deref()), to.clone()))
                    .or_default();
                entry.0 += 1;
                entry.1 += account_arr;
                let into = incoming.entry(to).or_default();
                into.0 += 1;
                into.1 += account_arr;
            }
            let mut flows: Vec<Flow> = sizes
                .iter()
                .filter(|size| &size.segmentation == segmentation)
                .filter_map(|size| {
                    let segment = if size.segment == "(unassigned)" {
                        OUTSIDE.to_string()
                    } else {
                        size.segment.clone()
                    };
                    let (n_in, arr_in) = incoming.get(&segment).copied().unwrap_or_default();
                    let accounts = size.accounts - n_in;
                    (accounts > 0).then(|| Flow {
                        from: segment.clone(),
                        to: segment,
                        accounts,
                        arr: (size.arr - arr_in).max(0.0),
                    })
                })
                .collect();
            let mut movers: Vec<Flow> = moved
                .into_iter()
                .map(|((from, to), (accounts, arr))| Flow {
                    from,
                    to,
                    accounts,
                    arr,
                })
                .collect();
            movers.sort_by(|a, b| b.accounts.cmp(&a.accounts).then(a.from.cmp(&b.from)));
            flows.extend(movers);
            SegmentationFlows {
                segmentation: segmentation.clone(),
                flows,
            }
        })
        .collect();
    let mut movers: Vec<Mover> = transitions
        .iter()
        .filter(|t| t.cause == Cause::Movement)
        .map(|t| Mover {
            segmentation: t.segmentation.clone(),
            account_id: t.account_id.clone(),
            from: label(t.from.as_deref()),
            to: label(t.to.as_deref()),
            arr: arr.get(&t.account_id).copied().unwrap_or(0.0),
            reason: t.reason.clone(),
        })
        .collect();
    movers.sort_by(|a, b| {
        b.arr
            .total_cmp(&a.arr)
            .then(a.account_id.cmp(&b.account_id))
    });
    movers.truncate(10);
    Movement {
        previous_as_of,
        as_of,
        segmentations,
        movers,
    }
}

/// One account of a band between two runs, for the list a click opens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandAccount {
    /// Account.
    pub account_id: String,
    /// ARR now.
    pub arr: f64,
    /// Why it moved: its latest transition in the segmentation between the
    /// two runs (empty for an account that stayed).
    pub reason: String,
}

/// One segmentation's flows between two recorded runs, with each band's
/// accounts (most ARR first).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowsBetween {
    /// The bands, as [`Movement`]'s.
    pub flows: SegmentationFlows,
    /// Per band (same order as `flows.flows`): its accounts.
    pub accounts: Vec<Vec<BandAccount>>,
}

/// The flows of `segmentation` from one run's memberships (`before`:
/// account -> segment, `None` unassigned) to another's (`after`), an account
/// missing on a side being [`OUTSIDE`] there; `arr` is each account's ARR
/// now and `reasons` each account's latest transition reason between them.
pub fn between(
    segmentation: &str,
    before: &HashMap<String, Option<String>>,
    after: &HashMap<String, Option<String>>,
    arr: &HashMap<String, f64>,
    reasons: &HashMap<String, String>,
) -> FlowsBetween {
    let label = |side: &HashMap<String, Option<String>>, account: &str| {
        side.get(account)
            .cloned()
            .flatten()
            .unwrap_or_else(|| OUTSIDE.to_string())
    };
    let mut accounts: Vec<&String> = before.keys().chain(after.keys()).collect();
    accounts.sort();
    accounts.dedup();
    let mut bands: BTreeMap<(String, String), Vec<BandAccount>> = BTreeMap::new();
    for account in accounts {
        let (from, to) = (label(before, account), label(after, account));
        if from == OUTSIDE && to == OUTSIDE {
            continue;
        }
        let reason = if from == to {
            String::new()
        } else {
            reasons.get(account.as_str()).cloned().unwrap_or_default()
        };
        bands.entry((from, to)).or_default().push(BandAccount {
            account_id: account.clone(),
            arr: arr.get(account.as_str()).copied().unwrap_or(0.0),
            reason,
        });
    }
    // Stayers first, then movers by accounts (as `movement`).
    let mut ordered: Vec<((String, String), Vec<BandAccount>)> = bands.into_iter().collect();
    ordered.sort_by(|a, b| {
        let stays = |band: &(String, String)| band.0 == band.1;
        stays(&b.0)
            .cmp(&stays(&a.0))
            .then(b.1.len().cmp(&a.1.len()))
            .then(a.0.cmp(&b.0))
    });
    let mut flows = Vec::new();
    let mut lists = Vec::new();
    for ((from, to), mut members) in ordered {
        members.sort_by(|a, b| {
            b.arr
                .total_cmp(&a.arr)
                .then(a.account_id.cmp(&b.account_id))
        });
        flows.push(Flow {
            from,
            to,
            accounts: members.len() as i64,
            arr: members.iter().map(|m| m.arr).sum(),
        });
        lists.push(members);
    }
    FlowsBetween {
        flows: SegmentationFlows {
            segmentation: segmentation.to_string(),
            flows,
        },
        accounts: lists,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transition(account: &str, from: Option<&str>, to: Option<&str>, cause: Cause) -> Transition {
        Transition {
            run_id: 2,
            seq: 0,
            as_of: NaiveDate::default(),
            segmentation: "health".into(),
            account_id: account.into(),
            from: from.map(Into::into),
            to: to.map(Into::into),
            from_version: Some(1),
            to_version: 1,
            cause,
            from_rule: None,
            to_rule: None,
            reason: format!("{account} moved"),
            explanation: serde_json::Value::Null,
        }
    }

    /// Before: healthy 10, at-risk 3. Now: a1 and a2 went healthy ->
    /// at-risk, a3 at-risk -> healthy, n1 is new in healthy: healthy
    /// 10 - 2 + 1 + 1 = 10, at-risk 3 + 2 - 1 = 4. Stayers: healthy 10 - 2
    /// incoming = 8, at-risk 4 - 2 = 2.
    #[test]
    fn flows_by_hand() {
        let sizes = [
            SizeNow {
                segmentation: "health".into(),
                segment: "healthy".into(),
                accounts: 10,
                arr: 1000.0,
            },
            SizeNow {
                segmentation: "health".into(),
                segment: "at-risk".into(),
                accounts: 4,
                arr: 400.0,
            },
        ];
        let transitions = [
            transition("a1", Some("healthy"), Some("at-risk"), Cause::Movement),
            transition("a2", Some("healthy"), Some("at-risk"), Cause::Movement),
            transition("a3", Some("at-risk"), Some("healthy"), Cause::Movement),
            transition("n1", None, Some("healthy"), Cause::Entered),
        ];
        let arr: HashMap<String, f64> = [("a1", 120.0), ("a2", 30.0), ("a3", 50.0), ("n1", 10.0)]
            .into_iter()
            .map(|(a, v)| (a.to_string(), v))
            .collect();
        let day = NaiveDate::default();
        let movement = movement(day, day, &sizes, &transitions, &arr);
        let flows: Vec<(&str, &str, i64, f64)> = movement.segmentations[0]
            .flows
            .iter()
            .map(|f| (f.from.as_str(), f.to.as_str(), f.accounts, f.arr))
            .collect();
        assert_eq!(
            flows,
            [
                ("healthy", "healthy", 8, 940.0),
                ("at-risk", "at-risk", 2, 250.0),
                ("healthy", "at-risk", 2, 150.0),
                ("(none)", "healthy", 1, 10.0),
                ("at-risk", "healthy", 1, 50.0),
            ]
        );
        // Movers by ARR; the new account is an entry, not a move.
        let movers: Vec<&str> = movement
            .movers
            .iter()
            .map(|m| m.account_id.as_str())
            .collect();
        assert_eq!(movers, ["a1", "a3", "a2"]);
    }

    /// Two runs' memberships by hand: a stays healthy, b goes healthy ->
    /// at-risk, c stays at-risk, d leaves (missing after), e is new and
    /// unassigned: outside on both sides, in no band.
    #[test]
    fn flows_between_two_runs() {
        let side = |pairs: &[(&str, Option<&str>)]| -> HashMap<String, Option<String>> {
            pairs
                .iter()
                .map(|(a, s)| (a.to_string(), s.map(str::to_string)))
                .collect()
        };
        let before = side(&[
            ("a", Some("healthy")),
            ("b", Some("healthy")),
            ("c", Some("at-risk")),
            ("d", Some("at-risk")),
        ]);
        let after = side(&[
            ("a", Some("healthy")),
            ("b", Some("at-risk")),
            ("c", Some("at-risk")),
            ("e", None),
        ]);
        let arr: HashMap<String, f64> = [("a", 100.0), ("b", 40.0), ("c", 10.0)]
            .into_iter()
            .map(|(a, v)| (a.to_string(), v))
            .collect();
        let reasons: HashMap<String, String> = [("b", "usage fell"), ("d", "left")]
            .into_iter()
            .map(|(a, r)| (a.to_string(), r.to_string()))
            .collect();
        let found = between("health", &before, &after, &arr, &reasons);
        let flows: Vec<(&str, &str, i64, f64)> = found
            .flows
            .flows
            .iter()
            .map(|f| (f.from.as_str(), f.to.as_str(), f.accounts, f.arr))
            .collect();
        assert_eq!(
            flows,
            [
                ("at-risk", "at-risk", 1, 10.0),
                ("healthy", "healthy", 1, 100.0),
                ("at-risk", "(none)", 1, 0.0),
                ("healthy", "at-risk", 1, 40.0),
            ]
        );
        assert_eq!(found.accounts[3][0].account_id, "b");
        assert_eq!(found.accounts[3][0].reason, "usage fell");
        assert_eq!(found.accounts[2][0].reason, "left");
        assert_eq!(found.accounts[1][0].reason, "", "stayers need no reason");
    }
}
