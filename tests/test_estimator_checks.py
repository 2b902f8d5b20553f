"""scikit-learn's estimator checks, plus the ones check_estimator leaves out."""

from sklearn.utils.estimator_checks import (
    check_estimators_partial_fit_n_features,
    check_get_feature_names_out_error,
    check_param_validation,
    check_set_output_transform,
    parametrize_with_checks,
)

from sksiamese import SiameseEmbedder


def tiny_embedder():
    # Small and short: the checks fit dozens of times.
    return SiameseEmbedder(n_components=4, epochs=2, batch_size=16, random_state=0)


@parametrize_with_checks([tiny_embedder()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_param_validation():
    check_param_validation("SiameseEmbedder", tiny_embedder())


def test_set_output_transform():
    check_set_output_transform("SiameseEmbedder", tiny_embedder())


def test_get_feature_names_out_error():
    check_get_feature_names_out_error("SiameseEmbedder", tiny_embedder())


def test_partial_fit_n_features():
    # check_estimator runs this check for classifiers, regressors and
    # clusterers only; it applies to any estimator with partial_fit.
    check_estimators_partial_fit_n_features("SiameseEmbedder", tiny_embedder())
