"""Writes cdnow_lifetimes.csv: the reference recency and age of every CDNOW
customer at 1998-06-30, computed by PyPI `lifetimes` (0.11.3) from its own
copy of CDNOW_master.txt, for the test that checks strata's
days_since_last_event (= T - recency) and days_since_signup (= T).

    python3 -m venv /tmp/lt && /tmp/lt/bin/pip install lifetimes pandas
    /tmp/lt/bin/python make_cdnow_lifetimes.py ../../../../../shared/realdata/cdnow/accounts.csv
"""
import os
import sys

import lifetimes
import pandas as pd
from lifetimes.utils import summary_data_from_transaction_data

master = os.path.join(os.path.dirname(lifetimes.__file__), "datasets", "CDNOW_master.txt")
transactions = pd.read_csv(master, sep=r"\s+", dtype={"customer_id": str, "date": str})
transactions["date"] = pd.to_datetime(transactions.date, format="%Y%m%d")
summary = summary_data_from_transaction_data(
    transactions, "customer_id", "date", observation_period_end="1998-06-30", freq="D"
)
accounts = pd.read_csv(sys.argv[1], dtype=str)
out = accounts[["account_id"]].join(summary[["T", "recency"]], on="account_id")
out.astype({"T": int, "recency": int}).to_csv(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "cdnow_lifetimes.csv"), index=False
)
