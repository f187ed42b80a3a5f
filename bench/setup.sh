#!/usr/bin/env bash
# Installs the tools the benchmark compares mtrack against. Idempotent: rerunning it does
# nothing that is already done. A tool that cannot be installed is reported, not fatal —
# the bench then prints "not installed" for it.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"

sudo_if_needed() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi
}

apt_install() {
  # Try without `apt-get update` first: it is slow and usually unnecessary.
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1 && return 0
  sudo_if_needed apt-get update >/dev/null 2>&1
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1
}

# DVC, in a venv private to the bench.
if [ -x "$venv/bin/dvc" ] && "$venv/bin/dvc" --version >/dev/null 2>&1; then
  echo "dvc: already installed ($("$venv/bin/dvc" --version))"
else
  if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv" || echo "dvc: could not create venv $venv"; fi
  if [ -x "$venv/bin/pip" ] && "$venv/bin/pip" install --quiet --disable-pip-version-check dvc 2>&1 |
    grep -v "^WARNING: Location" >&2; [ "${PIPESTATUS[0]}" = 0 ]; then
    echo "dvc: installed ($("$venv/bin/dvc" --version))"
  else
    echo "dvc: NOT installed (pip install failed); the bench will say 'not installed'"
  fi
fi

# dvc-s3: DVC's S3 remote, for the remote transfer comparison against the same SeaweedFS (bench/remotes.ts).
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import dvc_s3" >/dev/null 2>&1; then
  echo "dvc-s3: already installed"
elif [ -x "$venv/bin/pip" ] && "$venv/bin/pip" install --quiet --disable-pip-version-check dvc-s3 2>&1 |
  grep -v "^WARNING: Location" >&2; [ "${PIPESTATUS[0]}" = 0 ]; then
  echo "dvc-s3: installed"
else
  echo "dvc-s3: NOT installed (pip install failed); the bench will say 'not installed' for dvc-s3"
fi

# MLflow, full (not skinny): the tracking comparison (bench/tracking-compare.ts) uses its SQLite store, the
# MLflow-API bench (bench/mlflow-api.ts) runs `mlflow server`, and the UI bench (bench/ui.ts) `mlflow ui`.
if [ -x "$venv/bin/mlflow" ] && "$venv/bin/python" -c "import mlflow, sqlalchemy, alembic, flask" >/dev/null 2>&1; then
  echo "mlflow: already installed"
elif [ -x "$venv/bin/pip" ] && "$venv/bin/pip" install --quiet --disable-pip-version-check mlflow; then
  echo "mlflow: installed"
else
  echo "mlflow: NOT installed (pip install failed); the MLflow comparisons will skip it"
fi

# git-lfs, from Debian.
if git lfs version >/dev/null 2>&1; then
  echo "git-lfs: already installed ($(git lfs version))"
elif apt_install git-lfs; then
  echo "git-lfs: installed ($(git lfs version))"
else
  echo "git-lfs: NOT installed (apt-get failed); the bench will say 'not installed'"
fi

# GNU time, for peak RSS of each command.
if [ -x /usr/bin/time ]; then
  echo "time: already installed"
elif apt_install time; then
  echo "time: installed"
else
  echo "time: NOT installed; the bench falls back to polling /proc for peak RSS"
fi
