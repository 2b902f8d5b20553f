"""Class labels: of one kind, strings or numbers, as scikit-learn requires."""

import numpy as np


def check_label_types(y, estimator, name="y"):
    """Refuse labels that mix strings with numbers, naming ``estimator``.

    NumPy would turn ``["a", 1]`` into the strings ``["a", "1"]``, silently
    making the label 1 and the label "1" one class; scikit-learn's
    ``type_of_target`` refuses such a mix, and so does this check, on ``y``
    as given (only arrays of Python objects and sequences can mix).
    """
    if getattr(getattr(y, "dtype", None), "kind", "O") != "O":
        return
    values = np.asarray(y, dtype=object).ravel()
    is_text = np.array([isinstance(value, str) for value in values], dtype=bool)
    if is_text.any() and not is_text.all():
        text, number = values[is_text][0], values[~is_text][0]
        raise ValueError(
            f"Mix of label input types (string and number): {type(estimator).__name__} got "
            f"{name} holding both, e.g. {text!r} and {number!r}. Use labels of one type."
        )
