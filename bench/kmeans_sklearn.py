"""Times scikit-learn's KMeans (lloyd and elkan) and faiss on a raw f32 matrix.

Usage: python bench/kmeans_sklearn.py FILE ROWS COLS [THREADS [REPEATS]]

FILE holds ROWS x COLS little-endian float32 values, row after row, as
written by the `kmeans_bench` example. Settings match strata's side of the
benchmark: k = 5, n_init = 1, init = 'k-means++', max_iter = 300, tol = 1e-4,
THREADS threads (default 2) through threadpoolctl. Each time is the best of
REPEATS runs (default 3). Inertia is recomputed in float64 from each model's
centroids so that all implementations are compared the same way.

Prints one JSON object per line: impl, dtype, seconds, inertia, n_iter.
"""
import json
import sys
import time

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

N_CLUSTERS = 5
MAX_ITER = 300
TOLERANCE = 1e-4
SEED = 0


def inertia_f64(data64, centroids):
    """Sum over rows of the squared distance to the nearest centroid, in float64."""
    centroids = np.asarray(centroids, dtype=np.float64)
    best = np.full(data64.shape[0], np.inf)
    for centroid in centroids:
        distance = ((data64 - centroid) ** 2).sum(axis=1)
        np.minimum(best, distance, out=best)
    return float(best.sum())


def best_of(repeats, run):
    best_seconds, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        best_seconds = min(best_seconds, time.perf_counter() - started)
    return best_seconds, result


def main():
    path, n_rows, n_cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    data32 = np.fromfile(path, dtype="<f4").reshape(n_rows, n_cols)
    data64 = data32.astype(np.float64)
    records = []
    with threadpool_limits(limits=threads):
        for dtype, data in (("f32", data32), ("f64", data64)):
            for algorithm in ("lloyd", "elkan"):
                def run():
                    return KMeans(
                        n_clusters=N_CLUSTERS, init="k-means++", n_init=1, max_iter=MAX_ITER,
                        tol=TOLERANCE, algorithm=algorithm, random_state=SEED,
                    ).fit(data)
                seconds, model = best_of(repeats, run)
                records.append({
                    "impl": f"sklearn {algorithm}", "dtype": dtype, "seconds": seconds,
                    "inertia": inertia_f64(data64, model.cluster_centers_), "n_iter": int(model.n_iter_),
                })
    try:
        import faiss
    except ImportError:
        print("faiss is not importable; skipping it", file=sys.stderr)
    else:
        faiss.omp_set_num_threads(threads)

        def run_faiss():
            # faiss trains on at most 256 points per centroid unless told
            # otherwise; use all rows, like the others.
            kmeans = faiss.Kmeans(n_cols, N_CLUSTERS, niter=MAX_ITER, seed=SEED, verbose=False,
                                  max_points_per_centroid=n_rows)
            kmeans.train(np.ascontiguousarray(data32))
            return kmeans

        seconds, kmeans = best_of(repeats, run_faiss)
        records.append({
            "impl": "faiss (random init)", "dtype": "f32", "seconds": seconds,
            "inertia": inertia_f64(data64, kmeans.centroids), "n_iter": MAX_ITER,
        })
    for record in records:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
