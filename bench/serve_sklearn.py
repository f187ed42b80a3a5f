"""Trains and saves the MLflow side of bench/serve.ts: an sklearn MLPClassifier with the layer sizes of
mtrack's served model, saved with mlflow.sklearn.save_model (with an inferred signature, as a logged
model usually has one), so `mlflow models serve -m <out> --env-manager local` can serve it.

Usage: python bench/serve_sklearn.py --out DIR [--input-dim 3] [--hidden 128] [--layers 4] [--seed 0]
"""

import argparse
import shutil
import warnings

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--input-dim", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4, help="hidden layers (mtrack: 1 + num_layers)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(a.seed)
    X = rng.normal(size=(2000, a.input_dim)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    clf = MLPClassifier(hidden_layer_sizes=(a.hidden,) * a.layers, max_iter=20, random_state=a.seed)
    with warnings.catch_warnings():
        # Speed does not depend on how well it learnt; a few epochs are enough.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    shutil.rmtree(a.out, ignore_errors=True)
    mlflow.sklearn.save_model(
        clf,
        a.out,
        signature=infer_signature(X, clf.predict(X)),
        # The default (safe) skops format asks to trust the fitted optimizer's class by name.
        skops_trusted_types=["sklearn.neural_network._stochastic_optimizers.AdamOptimizer"],
    )
    print(f"saved MLPClassifier{(a.hidden,) * a.layers} to {a.out} (train acc {clf.score(X, y):.3f})")


if __name__ == "__main__":
    main()
