"""How far can any method recover the devset's planted behavior types?

The devset's `behavior` target (ARI against `archetype` over accounts with
`engaged_last_90d`) mixes two questions: which active type an account is
(power, casual, integration-dependent), and whether its activity is fading
(`dormant_at_risk`, an account that behaved like another type and declines
over the last 90 days). This script measures, on one base, what the inputs
allow, so that a number for strata can be read against a ceiling rather
than against 1.0:

1. supervised ceilings, cross-validated (5 folds) with the truth labels as
   training data, which no segmentation tool has: gradient-boosted trees on
   26 weekly event counts (each relative to the account's own level 13-26
   weeks ago), account age and the 90-day event mix; for the four types at
   once, for fading vs not, and for the three active types;
2. unsupervised references: k-means (k = 3) on the 90-day mix of accounts a
   perfect fading rule leaves, scored against the type they behaved like;
3. with `--memberships out/memberships.csv` (of a `strata run`), strata's
   `behavior` segmentation, scored the same way.

Usage: bench/behavior_ceiling.sh [DEVSET_DIR] [MEMBERSHIPS_CSV]
"""
import argparse
import sys

import duckdb
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import adjusted_rand_score, f1_score
from sklearn.model_selection import cross_val_predict
from sklearn.preprocessing import StandardScaler


def account_table(devset: str) -> pd.DataFrame:
    """Per account: 26 weekly counts, the 90-day share of each event, the
    90-day volume features and the age at as-of (from the data only)."""
    con = duckdb.connect()
    events = f"'{devset}/events.parquet'"
    as_of = con.execute(f"SELECT max(CAST(ts AS DATE)) FROM {events}").fetchone()[0]
    as_of_sql = f"DATE '{as_of}'"
    base = f"""SELECT account_id, event, user_id,
                      date_diff('day', CAST(ts AS DATE), {as_of_sql}) AS age
               FROM {events}"""
    weekly = con.execute(
        f"""SELECT account_id, CAST(floor(age / 7) AS INT) AS week, count(*) AS n
            FROM ({base}) WHERE age < 182 GROUP BY 1, 2"""
    ).df().pivot_table(index="account_id", columns="week", values="n", fill_value=0)
    weekly.columns = [f"w{c}" for c in weekly.columns]
    mix = con.execute(
        f"""SELECT account_id, event, count(*) AS n FROM ({base})
            WHERE age < 90 GROUP BY 1, 2"""
    ).df().pivot_table(index="account_id", columns="event", values="n", fill_value=0)
    shares = mix.div(mix.sum(axis=1), axis=0).add_prefix("share_")
    volume = con.execute(
        f"""SELECT account_id,
                   count(*) FILTER (WHERE age < 90) AS events_90d,
                   count(DISTINCT age) FILTER (WHERE age < 90) AS active_days_90d,
                   count(DISTINCT event) FILTER (WHERE age < 90) AS distinct_events_90d,
                   count(DISTINCT user_id) FILTER (WHERE age < 90) AS users_90d
            FROM ({base}) GROUP BY 1"""
    ).df().set_index("account_id")
    accounts = pd.read_csv(f"{devset}/accounts.csv", parse_dates=["created_at"])
    accounts = accounts.set_index("account_id")
    table = volume.join(weekly).join(shares)
    table["signup_age"] = (pd.Timestamp(as_of) - accounts["created_at"]).dt.days
    return table.fillna(0)


def trajectory(table: pd.DataFrame) -> np.ndarray:
    weeks = table[[f"w{i}" for i in range(26)]].to_numpy(float)
    level = weeks[:, 13:26].mean(axis=1, keepdims=True) + 0.5
    return np.hstack([np.log((weeks + 0.5) / level), np.log(level)])


def supervised(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    model = HistGradientBoostingClassifier(max_iter=300, random_state=0)
    return cross_val_predict(model, x, y, cv=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("devset")
    parser.add_argument("--memberships")
    args = parser.parse_args()
    truth = pd.read_csv(f"{args.devset}/truth_accounts.csv").set_index("account_id")
    truth = truth[truth["engaged_last_90d"].astype(bool)]
    table = account_table(args.devset).reindex(truth.index).fillna(0)
    mix_columns = [c for c in table.columns if c.startswith("share_")]
    volume = ["events_90d", "active_days_90d", "distinct_events_90d", "users_90d"]
    x_all = np.hstack(
        [trajectory(table), table[mix_columns + volume + ["signup_age"]].to_numpy(float)]
    )
    archetype = truth["archetype"].to_numpy(str)
    before = truth["behavior_before_decline"].to_numpy(str)
    fading = archetype == "dormant_at_risk"
    rows = []

    predicted = supervised(x_all, archetype)
    rows.append(("supervised, 4 types (trees, 5-fold)", "ARI",
                 adjusted_rand_score(archetype, predicted)))
    predicted_fading = supervised(x_all, fading)
    rows.append(("supervised, fading vs not", "F1", f1_score(fading, predicted_fading)))
    active = ~fading
    predicted_type = supervised(x_all[active], before[active])
    rows.append(("supervised, 3 active types", "ARI",
                 adjusted_rand_score(before[active], predicted_type)))

    mix = table.loc[active, mix_columns].to_numpy(float)
    logged = np.log1p(table.loc[active, volume].to_numpy(float))
    scaled = StandardScaler().fit_transform(np.hstack([mix, logged]))
    clusters = KMeans(3, n_init=10, random_state=0).fit_predict(scaled)
    rows.append(("k-means k=3 on the 90-day mix, perfect fading rule (active types)", "ARI",
                 adjusted_rand_score(before[active], clusters)))
    combined = np.where(active, "x", "fading").astype(object)
    combined[active] = clusters.astype(str)
    rows.append(("  the same with the perfect fading rule, 4 types", "ARI",
                 adjusted_rand_score(archetype, combined)))

    if args.memberships:
        # memberships.csv: one row per account and segmentation.
        memberships = pd.read_csv(args.memberships, dtype=str, keep_default_na=False)
        behavior = memberships[memberships["segmentation"] == "behavior"]
        if behavior.empty:
            sys.exit(f"{args.memberships}: no `behavior` segmentation")
        found = behavior.set_index("account_id")["segment"].reindex(truth.index)
        found = found.replace("", "(unassigned)").fillna("(unassigned)")
        rows.append(("strata `behavior` segmentation", "ARI",
                     adjusted_rand_score(archetype, found.to_numpy(str))))
        is_fading = found.str.startswith("Dormant").to_numpy()
        rows.append(("  its fading rule segment vs dormant_at_risk", "F1",
                     f1_score(fading, is_fading)))

    print(f"{len(truth)} engaged accounts of {args.devset}")
    print(f"{'method':72s} {'metric':6s} value")
    for name, metric, value in rows:
        print(f"{name:72s} {metric:6s} {value:.3f}")


if __name__ == "__main__":
    main()
