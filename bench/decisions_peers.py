"""Peers for `strata bench-decisions`: pysubgroup's beam search on the ICP
table and scikit-learn's TF-IDF + KMeans on the verbatims, on the files strata
wrote. Prints {"pysubgroup_seconds", "sklearn_seconds", "sklearn_ari"}.

Usage: decisions_peers.py ICP.csv VERBATIMS.csv
"""
import json
import sys
import time

import pandas as pd
import pysubgroup as ps
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score

icp_csv, verbatims_csv = sys.argv[1], sys.argv[2]

accounts = pd.read_csv(icp_csv)
accounts = accounts[accounts.mrr_12m_ago > 0].copy()
# pysubgroup needs a per-row target: each account's own retention ratio.
accounts["nrr"] = accounts.mrr_now / accounts.mrr_12m_ago
data = accounts.drop(columns=["mrr_now", "mrr_12m_ago"])
started = time.perf_counter()
target = ps.NumericTarget("nrr")
# Deciles for numbers, every value for categories, as strata does.
search_space = ps.create_selectors(data, nbins=10, ignore=["nrr"])
task = ps.SubgroupDiscoveryTask(
    data, target, search_space, result_set_size=5, depth=3, qf=ps.StandardQFNumeric(0.5)
)
ps.BeamSearch(beam_width=20).execute(task)
pysubgroup_seconds = time.perf_counter() - started

verbatims = pd.read_csv(verbatims_csv)
started = time.perf_counter()
matrix = TfidfVectorizer(stop_words="english", min_df=3, max_df=0.5, sublinear_tf=True).fit_transform(
    verbatims.text
)
labels = KMeans(n_clusters=6, n_init=1, random_state=0).fit_predict(matrix)
sklearn_seconds = time.perf_counter() - started

print(
    json.dumps(
        {
            "pysubgroup_seconds": pysubgroup_seconds,
            "sklearn_seconds": sklearn_seconds,
            "sklearn_ari": adjusted_rand_score(verbatims.topic, labels),
        }
    )
)
