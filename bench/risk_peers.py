"""scikit-learn on strata's point-in-time examples (`strata risk --export`).

Reads the examples Parquet file, learns each label (`churned`, `expanded`)
on the rows whose split is `early` and scores the `held_out` rows, the
same time split strata judges its own model on. Prints one JSON object:
{label: {peer: held-out AUC}}. Peers:

- logistic_regression: median imputation with missing flags, standardized,
  text one-hot, LogisticRegression (L2, C chosen from 5 values on a time
  split inside the early rows);
- logistic_regression_log1p: the same, with log1p of non-negative columns
  first (the transform strata applies);
- hist_gradient_boosting: HistGradientBoostingClassifier with its native
  NULL handling and categorical text columns, default settings.
"""
import json
import sys
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

LABELS = ["churned", "expanded"]
META = ["as_of", "account_id", "churned", "expanded", "split"]


def logistic(numeric, texts, log1p_columns):
    def log1p(frame):
        frame = frame.copy()
        for column in log1p_columns:
            frame[column] = np.log1p(frame[column])
        return frame

    numbers = make_pipeline(
        FunctionTransformer(log1p, feature_names_out="one-to-one"),
        SimpleImputer(strategy="median", add_indicator=True),
        StandardScaler(),
    )
    parts = [("numbers", numbers, numeric)]
    if texts:
        parts.append(("texts", OneHotEncoder(handle_unknown="ignore", min_frequency=20), texts))
    return ColumnTransformer(parts)


def choose_c(x, y, dates, make):
    """C from 5 values, judged on the last quarter of the early dates."""
    order = sorted(set(dates))
    cut = order[len(order) - max(1, len(order) // 4)]
    inner, outer = dates < cut, dates >= cut
    best = (None, -1.0)
    for c in [0.01, 0.1, 1.0, 10.0, 100.0]:
        if y[inner].nunique() < 2 or y[outer].nunique() < 2:
            return 1.0
        model = make(c).fit(x[inner], y[inner])
        auc = roc_auc_score(y[outer], model.predict_proba(x[outer])[:, 1])
        if auc > best[1]:
            best = (c, auc)
    return best[0]


def main(path):
    # Early dates may have a column without values (no revenue 12 months before).
    warnings.filterwarnings("ignore", category=UserWarning)
    frame = pd.read_parquet(path)
    features = [c for c in frame.columns if c not in META]
    texts = [c for c in features if frame[c].dtype == object]
    numeric = [c for c in features if c not in texts]
    early = frame[frame["split"] == "early"]
    held = frame[frame["split"] == "held_out"]
    # A column without a value on the early dates teaches nothing (and
    # HistGradientBoosting cannot bin it): left out for every peer.
    features = [c for c in features if early[c].notna().any()]
    texts = [c for c in texts if c in features]
    numeric = [c for c in numeric if c in features]
    nonnegative = [c for c in numeric if early[c].min(skipna=True) >= 0]
    result = {}
    for label in LABELS:
        y, y_held = early[label], held[label]
        if y.nunique() < 2 or y_held.nunique() < 2:
            result[label] = {}
            continue
        scores = {}
        for name, logged in [("logistic_regression", []), ("logistic_regression_log1p", nonnegative)]:
            def make(c, logged=logged):
                return make_pipeline(
                    logistic(numeric, texts, logged), LogisticRegression(C=c, max_iter=5000)
                )

            c = choose_c(early[features], y, early["as_of"].to_numpy(), make)
            model = make(c).fit(early[features], y)
            scores[name] = roc_auc_score(y_held, model.predict_proba(held[features])[:, 1])
        hgb_frame = early[features].copy()
        held_frame = held[features].copy()
        for column in texts:
            categories = pd.CategoricalDtype(sorted(early[column].dropna().unique()))
            hgb_frame[column] = hgb_frame[column].astype(categories)
            held_frame[column] = held_frame[column].astype(categories)
        hgb = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
        hgb.fit(hgb_frame, y)
        scores["hist_gradient_boosting"] = roc_auc_score(y_held, hgb.predict_proba(held_frame)[:, 1])
        result[label] = scores
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
