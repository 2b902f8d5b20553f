"""The one place that imports private scikit-learn helpers.

scikit-learn keeps parameter validation and the fit context private; pinning
them here means a change upstream is mended in one file.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["Interval", "StrOptions", "_fit_context"]
