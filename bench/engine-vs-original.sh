#!/usr/bin/env bash
# Times mtrack's train stage on the settings of params.yaml (issue 6, "Speed"), outside the repo's
# results/ and runs/, and prints how to time the original PyTorch implementation the same way.
# Only mtrack's side runs here: the original is not part of this repo and this script neither
# fetches nor builds it. Results and how to read them: bench/RESULTS.md, "Morphogenetic engine".
#
# Usage: bench/engine-vs-original.sh [repeats]   (default 3)
set -euo pipefail
repeats="${1:-3}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/mtrack-engine-bench-XXXXXX")"

# The 18 run keys of params.yaml, as flags. Both implementations take the same names.
flags=(--problem_type spirals --n_samples 3000 --input_dim 3 --train_frac 0.8 --batch_size 64
  --device cpu --seed 42 --warm_up_epochs 40 --adaptation_epochs 30 --lr 0.003 --hidden_dim 128
  --num_layers 3 --seeds_per_layer 2 --blend_steps 30 --shadow_lr 0.001 --progress_thresh 0.6
  --drift_warn 0.12 --acc_threshold 0.99)

cd "$repo"
# tsc still emits when other areas have type errors; only the engine's build matters here.
npx tsc -p tsconfig.json >/dev/null || echo "note: tsc reported type errors; using what it emitted"
node dist/src/engine/cli/generate-data.js --problem_type spirals --n_samples 3000 --input_dim 3 \
  --seed 42 --rotations 3 --noise 0.25 --output "$work/spirals.npz" >/dev/null

# GNU time gives wall and CPU; bash's builtin is the fallback where /usr/bin/time is missing.
for i in $(seq 1 "$repeats"); do
  echo "== mtrack run $i/$repeats (load $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo ?))"
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%e s wall %U s user %S s sys' node dist/src/engine/cli/train.js "${flags[@]}" \
      --data "$work/spirals.npz" --results_dir "$work/results" --runs_dir "$work/runs" --no-track \
      2>&1 | grep -E 'Best val|Germinations|Time:|s wall'
  else
    time node dist/src/engine/cli/train.js "${flags[@]}" --data "$work/spirals.npz" \
      --results_dir "$work/results" --runs_dir "$work/runs" --no-track | grep -E 'Best val|Germinations|Time:'
  fi
done
rm -rf "$work"

cat <<EOF

The original (tachyon-beep/kaslite, measured at commit f8eb626) is not run by this script. To time it,
outside this repository: check it out, make a Python venv with torch==2.13.0 (CPU), numpy, scikit-learn,
pyyaml, rich, prometheus_client, tensorboard, mlflow-skinny, optuna and pandas, then from its root run

  MLFLOW_ALLOW_FILE_STORE=true PYTHONPATH=. /usr/bin/time -f '%e s wall %U s user %S s sys' \\
    python scripts/run_morphogenetic_experiment.py ${flags[*]} --noise 0.25 --rotations 3

once as is (PyTorch picks 2 threads here) and once with OMP_NUM_THREADS=1. Its best val accuracy is in
results/metrics_*.json; its germinations are the '"to": "training"' events in results/results_*.log.
EOF
