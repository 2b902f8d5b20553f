"""The one place that imports private scikit-learn helpers.

scikit-learn keeps parameter validation, the fit context and Platt's sigmoid
calibration private; pinning them here means a change upstream is mended in
one file.
"""

from sklearn.base import _fit_context
from sklearn.calibration import _SigmoidCalibration
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "_SigmoidCalibration",
    "_fit_context",
    "validate_params",
]
