"""Fitting a `musicllm.analysis.small_classifier.SmallClassifier` with scikit-learn."""

from __future__ import annotations

import numpy as np


def fit(x: np.ndarray, y: np.ndarray, hidden: int, alpha: float, cls, seed: int = 0):
    """A ``cls`` (a `SmallClassifier` subclass) fitted on features ``x`` (NaN allowed: the mean) and
    labels ``y``: a multinomial logistic regression (``hidden`` 0, L2 ``alpha``) or an MLP with one
    hidden ReLU layer of ``hidden`` units (L2 ``alpha``)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    mean = np.nanmean(x, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    scale = np.nanstd(x, axis=0)
    scale = np.where(np.isfinite(scale), scale, 0.0) + 1e-6
    z = np.nan_to_num((x - mean) / scale, nan=0.0, posinf=0.0, neginf=0.0)
    classes = sorted(set(y.tolist()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if hidden == 0:
            from sklearn.linear_model import LogisticRegression

            clf = LogisticRegression(C=1.0 / max(alpha, 1e-9), max_iter=3000).fit(z, y)
            if len(classes) == 2:  # sklearn keeps one column for two classes: expand to a softmax pair
                layers = [(np.hstack([np.zeros_like(clf.coef_.T), clf.coef_.T]),
                           np.r_[0.0, clf.intercept_])]
            else:
                layers = [(clf.coef_.T.copy(), clf.intercept_.copy())]
        else:
            from sklearn.neural_network import MLPClassifier

            clf = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=alpha, max_iter=1500, random_state=seed).fit(z, y)
            layers = [(w.copy(), b.copy()) for w, b in zip(clf.coefs_, clf.intercepts_, strict=True)]
            if len(classes) == 2:  # one logistic output unit: expand to a softmax pair
                w, b = layers[-1]
                layers[-1] = (np.hstack([np.zeros_like(w), w]), np.r_[0.0, b])
    assert [c.item() if hasattr(c, "item") else c for c in clf.classes_] == classes
    return cls(classes, mean, scale, layers, {})
