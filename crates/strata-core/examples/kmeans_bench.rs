//! Benchmark of strata's k-means against scikit-learn (and faiss when it is
//! installed) on the same matrices; run through `bench/kmeans.sh`.
//!
//! For each size it generates make_blobs-like data (5 centres drawn
//! uniformly in [−10, 10]^d, unit-variance Gaussian noise, rows interleaved
//! so clusters are mixed as after a shuffle, then every feature z-scored),
//! writes it once as raw little-endian `f32` under the target directory, and
//! times our k-means with the issue's settings (k = 5, n_init = 1, greedy
//! k-means++, max_iter = 300, tol = 1e-4, 2 threads) in `f32` and `f64`,
//! both with the exact Hamerly path and with the default mini-batch path.
//! Then it runs `bench/kmeans_sklearn.py` on the same file, which times
//! scikit-learn's lloyd and elkan (and faiss), and prints one table.
//!
//! Inertia is recomputed for every implementation in `f64` from its
//! centroids, so the comparison does not depend on how each one sums.
//! Each time is the best of `--repeats` runs (default 3).
//!
//! ```text
//! kmeans_bench [--sizes 100000x12,1000000x16] [--threads 2] [--repeats 3]
//!              [--python PYTHON] [--script bench/kmeans_sklearn.py]
//! ```
use std::error::Error;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use strata_core::ml::kmeans::KMeansParams;
use strata_core::ml::matrix::{Float, MatrixView, squared_distance};

type BoxError = Box<dyn Error + Send + Sync>;

/// The settings shared by every implementation, in one place.
const N_CLUSTERS: usize = 5;
const MAX_ITER: usize = 300;
const TOLERANCE: f64 = 1e-4;
const SEED: u64 = 0;

struct Options {
    sizes: Vec<(usize, usize)>,
    threads: usize,
    repeats: usize,
    python: Option<String>,
    script: String,
}

/// One line of the result table.
struct Measurement {
    implementation: String,
    dtype: String,
    seconds: f64,
    inertia: f64,
    n_iter: Option<usize>,
}

fn main() -> Result<(), BoxError> {
    let options = parse_options()?;
    let target_dir = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/strata-target")
        });
    let data_dir = target_dir.join("bench-data");
    std::fs::create_dir_all(&data_dir)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .build()?;

    let mut table: Vec<(String, Vec<Measurement>)> = Vec::new();
    for &(n_rows, n_features) in &options.sizes {
        eprintln!("generating {n_rows} x {n_features} blobs");
        let data = make_blobs(n_rows, n_features, SEED);
        let path = data_dir.join(format!("kmeans_{n_rows}x{n_features}.f32"));
        let mut bytes = Vec::with_capacity(data.len() * 4);
        for value in &data {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        std::fs::write(&path, bytes)?;
        let data_f64: Vec<f64> = data.iter().map(|&value| f64::from(value)).collect();

        let mut measurements = Vec::new();
        for (mode, threshold) in [
            ("strata exact (hamerly)", None),
            ("strata default (mini-batch)", Some(200_000)),
        ] {
            if threshold.is_some_and(|threshold| n_rows <= threshold) {
                continue;
            }
            let params = KMeansParams::new(N_CLUSTERS)
                .with_n_init(1)
                .with_max_iter(MAX_ITER)
                .with_tolerance(TOLERANCE)
                .with_seed(SEED)
                .with_minibatch_threshold(threshold);
            eprintln!("timing {mode} on {n_rows} x {n_features}");
            measurements.push(pool.install(|| {
                time_ours(&params, &data, n_features, &data_f64, mode, options.repeats)
            })?);
            measurements.push(pool.install(|| {
                time_ours(
                    &params,
                    &data_f64,
                    n_features,
                    &data_f64,
                    mode,
                    options.repeats,
                )
            })?);
        }
        if let Some(python) = &options.python {
            eprintln!("timing scikit-learn on {n_rows} x {n_features}");
            let output = Command::new(python)
                .arg(&options.script)
                .arg(&path)
                .arg(n_rows.to_string())
                .arg(n_features.to_string())
                .arg(options.threads.to_string())
                .arg(options.repeats.to_string())
                .output()?;
            std::io::stderr().write_all(&output.stderr)?;
            if !output.status.success() {
                return Err(format!("{} failed with {}", options.script, output.status).into());
            }
            for line in String::from_utf8(output.stdout)?.lines() {
                let record: serde_json::Value = serde_json::from_str(line)?;
                measurements.push(Measurement {
                    implementation: record["impl"].as_str().unwrap_or("?").to_string(),
                    dtype: record["dtype"].as_str().unwrap_or("?").to_string(),
                    seconds: record["seconds"].as_f64().unwrap_or(f64::NAN),
                    inertia: record["inertia"].as_f64().unwrap_or(f64::NAN),
                    n_iter: record["n_iter"].as_u64().map(|n_iter| n_iter as usize),
                });
            }
        }
        table.push((format!("{n_rows} x {n_features}"), measurements));
    }
    print_table(&table);
    Ok(())
}

fn parse_options() -> Result<Options, BoxError> {
    let mut options = Options {
        sizes: vec![(100_000, 12), (1_000_000, 16)],
        threads: 2,
        repeats: 3,
        python: None,
        script: "bench/kmeans_sklearn.py".to_string(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--sizes" => {
                options.sizes = value
                    .split(',')
                    .map(|size| {
                        let (rows, cols) = size
                            .split_once('x')
                            .ok_or_else(|| format!("size `{size}` is not ROWSxCOLS"))?;
                        Ok((rows.parse()?, cols.parse()?))
                    })
                    .collect::<Result<_, BoxError>>()?;
            }
            "--threads" => options.threads = value.parse()?,
            "--repeats" => options.repeats = value.parse::<usize>()?.max(1),
            "--python" => options.python = Some(value),
            "--script" => options.script = value,
            other => return Err(format!("unknown flag `{other}`").into()),
        }
    }
    Ok(options)
}

/// make_blobs: `N_CLUSTERS` centres uniform in [−10, 10]^d, unit noise, row
/// `i` from centre `i mod N_CLUSTERS`; then each feature z-scored.
fn make_blobs(n_rows: usize, n_features: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<f64> = (0..N_CLUSTERS * n_features)
        .map(|_| rng.random_range(-10.0..10.0))
        .collect();
    let mut values = Vec::with_capacity(n_rows * n_features);
    for row_idx in 0..n_rows {
        let centre = &centres[(row_idx % N_CLUSTERS) * n_features..][..n_features];
        for &coordinate in centre {
            let noise: f64 = StandardNormal.sample(&mut rng);
            values.push(coordinate + noise);
        }
    }
    for feature_idx in 0..n_features {
        let column = values.iter().skip(feature_idx).step_by(n_features);
        let mean = column.clone().sum::<f64>() / n_rows as f64;
        let variance = column
            .map(|value| (value - mean) * (value - mean))
            .sum::<f64>()
            / n_rows as f64;
        let deviation = variance.sqrt().max(f64::MIN_POSITIVE);
        for value in values.iter_mut().skip(feature_idx).step_by(n_features) {
            *value = (*value - mean) / deviation;
        }
    }
    values.into_iter().map(|value| value as f32).collect()
}

fn time_ours<T: Float>(
    params: &KMeansParams,
    data: &[T],
    n_features: usize,
    data_f64: &[f64],
    mode: &str,
    repeats: usize,
) -> Result<Measurement, BoxError> {
    let valid = params.clone().check()?;
    let view = MatrixView::new(data, n_features)?;
    let mut best_seconds = f64::INFINITY;
    let mut model = None;
    for _ in 0..repeats {
        let started = Instant::now();
        let fitted = valid.fit(view)?;
        best_seconds = best_seconds.min(started.elapsed().as_secs_f64());
        model = Some(fitted);
    }
    let model = model.ok_or("no run")?;
    let centroids: Vec<f64> = model
        .centroids()
        .as_slice()
        .iter()
        .map(|value| value.to_f64())
        .collect();
    Ok(Measurement {
        implementation: mode.to_string(),
        dtype: T::NAME.to_string(),
        seconds: best_seconds,
        inertia: inertia_f64(data_f64, n_features, &centroids),
        n_iter: Some(model.n_iter()),
    })
}

/// Inertia of `centroids` on the data, in `f64`.
fn inertia_f64(data: &[f64], n_features: usize, centroids: &[f64]) -> f64 {
    data.chunks_exact(n_features)
        .map(|row| {
            centroids
                .chunks_exact(n_features)
                .map(|centroid| squared_distance(row, centroid))
                .fold(f64::INFINITY, f64::min)
        })
        .sum()
}

fn print_table(table: &[(String, Vec<Measurement>)]) {
    println!(
        "| {:<12} | {:<27} | {:<5} | {:>8} | {:>5} | {:>14} | {:>20} | {:>16} |",
        "rows x cols",
        "implementation",
        "dtype",
        "seconds",
        "iters",
        "inertia",
        "sklearn lloyd / this",
        "inertia vs lloyd"
    );
    println!(
        "|{:-<14}|{:-<29}|{:-<7}|{:->10}|{:->7}|{:->16}|{:->22}|{:->18}|",
        "", "", "", "", "", "", "", ""
    );
    let mut summaries = Vec::new();
    for (size, measurements) in table {
        for dtype in ["f32", "f64"] {
            let fastest_sklearn = measurements
                .iter()
                .filter(|other| other.implementation.starts_with("sklearn") && other.dtype == dtype)
                .map(|other| other.seconds)
                .fold(f64::INFINITY, f64::min);
            for ours in measurements
                .iter()
                .filter(|ours| ours.implementation.starts_with("strata") && ours.dtype == dtype)
            {
                if fastest_sklearn.is_finite() {
                    summaries.push(format!(
                        "{size} {dtype}: fastest scikit-learn / {} = {:.2}x",
                        ours.implementation,
                        fastest_sklearn / ours.seconds
                    ));
                }
            }
        }
        for measurement in measurements {
            let reference = measurements.iter().find(|other| {
                other.implementation == "sklearn lloyd" && other.dtype == measurement.dtype
            });
            let (ratio, difference) = match reference {
                Some(reference) => (
                    format!("{:.2}x", reference.seconds / measurement.seconds),
                    format!(
                        "{:+.4}%",
                        100.0 * (measurement.inertia - reference.inertia) / reference.inertia
                    ),
                ),
                None => ("-".to_string(), "-".to_string()),
            };
            println!(
                "| {:<12} | {:<27} | {:<5} | {:>8.3} | {:>5} | {:>14.1} | {:>20} | {:>16} |",
                size,
                measurement.implementation,
                measurement.dtype,
                measurement.seconds,
                measurement
                    .n_iter
                    .map_or("-".to_string(), |n_iter| n_iter.to_string()),
                measurement.inertia,
                ratio,
                difference
            );
        }
    }
    println!();
    for summary in summaries {
        println!("{summary}");
    }
}
