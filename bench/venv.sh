# Sourced by the bench scripts: a Python virtual environment for benchmark
# peers, kept beside the build cache and reused between runs.
# Usage: . bench/venv.sh; bench_venv PACKAGE...   (sets $venv)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
venv="$CARGO_TARGET_DIR/bench-venv"

bench_venv() {
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
}
