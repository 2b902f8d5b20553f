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


# SiameseVerifier ---------------------------------------------------------------
#
# A verifier's rows are pairs, arrays of shape (n_pairs, 2, n_features), and
# its tags say so (no 2-D input, 3-D input). parametrize_with_checks
# therefore yields no check for it: almost every check builds 2-D data with
# make_blobs and would only test that 2-D rows are refused. The checks below
# call scikit-learn's checks that need no data of their own, and name every
# other check scikit-learn runs on a classifier with the reason it does not
# apply; where the behaviour it checks matters for pairs, a test on pairs
# follows (or is named).

from functools import partial  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.utils import estimator_checks  # noqa: E402

from sksiamese import SiameseVerifier  # noqa: E402
from sksiamese.datasets import make_pairs  # noqa: E402


def tiny_verifier():
    return SiameseVerifier(
        SiameseEmbedder(loss="contrastive", n_components=4, epochs=2, batch_size=16),
        random_state=0,
    )


VERIFIER_CHECKS = (
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_get_params_invariance",
    "check_set_params",
    "check_mixin_order",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_param_validation",
    "check_estimators_unfitted",
    "check_fit1d",
    "check_supervised_y_no_nan",
)

_ROWS_2D = "builds 2-D rows; a verifier takes pairs, tested on pairs in {}"
NOT_APPLICABLE = {
    **dict.fromkeys(
        [
            "check_all_zero_sample_weights_error",
            "check_classifiers_one_label_sample_weights",
            "check_sample_weight_equivalence_on_dense_data",
            "check_sample_weight_equivalence_on_sparse_data",
            "check_sample_weights_list",
            "check_sample_weights_not_an_array",
            "check_sample_weights_not_overwritten",
            "check_sample_weights_pandas_series",
            "check_sample_weights_shape",
        ],
        "fit takes no sample_weight",
    ),
    **dict.fromkeys(
        ["check_class_weight_balanced_linear_classifier", "check_class_weight_classifiers"],
        "no class_weight parameter",
    ),
    **dict.fromkeys(
        ["check_array_api_input", "check_array_api_mixed_inputs", "check_array_api_same_namespace"],
        "computes with TensorFlow, not the array API",
    ),
    **dict.fromkeys(
        [
            "check_estimator_sparse_array",
            "check_estimator_sparse_matrix",
            "check_estimator_sparse_tag",
        ],
        "sparse arrays are 2-D, pairs 3-D: refused as not pairs",
    ),
    **dict.fromkeys(
        ["check_sparsify_coefficients", "check_non_transformer_estimators_n_iter"],
        "no coef_ and no n_iter_ (the embedder has n_iter_)",
    ),
    "check_estimators_partial_fit_n_features": "no partial_fit",
    "check_classifiers_one_label": _ROWS_2D.format(
        "test_verifier.py::test_bad_pairs_are_rejected_before_training"
    ),
    "check_estimators_nan_inf": _ROWS_2D.format("test_verifier_refuses_non_finite_pairs"),
    "check_estimators_empty_data_messages": _ROWS_2D.format(
        "test_verifier.py::test_bad_pairs_are_rejected_before_training"
    ),
    "check_classifiers_regression_target": _ROWS_2D.format("test_verifier_refuses_other_targets"),
    "check_supervised_y_2d": _ROWS_2D.format("test_verifier_refuses_other_targets"),
    "check_requires_y_none": _ROWS_2D.format("test_verifier_refuses_other_targets"),
    "check_estimators_fit_returns_self": _ROWS_2D.format("test_verifier_fit_keeps_its_parameters"),
    "check_dont_overwrite_parameters": _ROWS_2D.format("test_verifier_fit_keeps_its_parameters"),
    "check_estimators_overwrite_params": _ROWS_2D.format("test_verifier_fit_keeps_its_parameters"),
    "check_dict_unchanged": _ROWS_2D.format("test_verifier_methods_leave_it_unchanged"),
    "check_methods_sample_order_invariance": _ROWS_2D.format("test_verifier_methods_are_row_wise"),
    "check_methods_subset_invariance": _ROWS_2D.format("test_verifier_methods_are_row_wise"),
    "check_decision_proba_consistency": _ROWS_2D.format(
        "test_verifier.py::test_predict_proba_is_calibrated_and_monotone"
    ),
    "check_readonly_memmap_input": _ROWS_2D.format("test_verifier_reads_read_only_memory_maps"),
    "check_fit_idempotent": _ROWS_2D.format(
        "test_verifier.py::test_fit_is_reproducible_with_random_state"
    ),
    "check_estimators_pickle": _ROWS_2D.format("test_verifier.py::test_pickle_round_trip"),
    "check_n_features_in": _ROWS_2D.format("test_verifier_fit_keeps_its_parameters"),
    "check_n_features_in_after_fitting": _ROWS_2D.format("test_verifier_fit_keeps_its_parameters"),
    "check_classifiers_train": _ROWS_2D.format(
        "test_verifier.py::test_pair_model_beats_raw_pixel_distance"
    ),
    "check_classifiers_classes": _ROWS_2D.format("test_verifier.py::test_other_label_conventions"),
    "check_fit_check_is_fitted": _ROWS_2D.format(
        "test_verifier.py::test_unfitted_verifier_raises_not_fitted"
    ),
    **dict.fromkeys(
        [
            "check_classifier_data_not_an_array",
            "check_complex_data",
            "check_dtype_object",
            "check_estimators_dtypes",
            "check_f_contiguous_array_estimator",
            "check_fit2d_1feature",
            "check_fit2d_1sample",
            "check_fit2d_predict1d",
            "check_fit_score_takes_y",
            "check_pipeline_consistency",
            "check_positive_only_tag_during_fit",
        ],
        "builds 2-D rows, which a verifier refuses as not pairs",
    ),
}


@pytest.mark.parametrize("check", VERIFIER_CHECKS)
def test_verifier_passes_the_checks_that_need_no_data(check):
    getattr(estimator_checks, check)("SiameseVerifier", tiny_verifier())


def test_every_classifier_check_is_applied_or_explained():
    # The checks scikit-learn runs on a classifier; a new one fails here
    # until it is applied above or its reason is given.
    checks = {
        (check.func if isinstance(check, partial) else check).__name__
        for check in estimator_checks._yield_all_checks(LogisticRegression(), legacy=True)
    }
    assert checks - set(VERIFIER_CHECKS) - set(NOT_APPLICABLE) == set()
    assert set(VERIFIER_CHECKS) & set(NOT_APPLICABLE) == set()


@pytest.fixture(scope="module")
def tiny_pairs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)) + np.repeat(np.eye(6) * 3, 20, axis=0)
    return make_pairs(X, np.repeat(np.arange(6), 20), 200, random_state=0)


@pytest.fixture(scope="module")
def tiny_fitted(tiny_pairs):
    return tiny_verifier().fit(*tiny_pairs)


def test_verifier_fit_keeps_its_parameters(tiny_pairs):
    verifier = tiny_verifier()
    params = clone(verifier).get_params(deep=False)
    assert verifier.fit(*tiny_pairs) is verifier
    assert verifier.n_features_in_ == 6
    # Parameters are left as given: the embedder is cloned, not fitted in place.
    assert not hasattr(verifier.embedder, "encoder_")
    for name, value in clone(verifier).get_params(deep=False).items():
        assert repr(value) == repr(params[name]), name


def test_verifier_methods_leave_it_unchanged(tiny_fitted, tiny_pairs):
    pairs, _ = tiny_pairs
    before = {key: repr(value) for key, value in vars(tiny_fitted).items()}
    for method in ("predict", "predict_proba", "decision_function"):
        getattr(tiny_fitted, method)(pairs)
    assert {key: repr(value) for key, value in vars(tiny_fitted).items()} == before


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function"])
def test_verifier_methods_are_row_wise(tiny_fitted, tiny_pairs, method):
    pairs, _ = tiny_pairs
    function = getattr(tiny_fitted, method)
    whole = function(pairs)
    order = np.random.default_rng(0).permutation(len(pairs))
    np.testing.assert_allclose(function(pairs[order]), whole[order], rtol=1e-6, atol=1e-7)
    halves = np.concatenate([function(pairs[:75]), function(pairs[75:])])
    np.testing.assert_allclose(halves, whole, rtol=1e-6, atol=1e-7)


def test_verifier_reads_read_only_memory_maps(tiny_fitted, tiny_pairs, tmp_path):
    pairs, same = tiny_pairs
    np.save(tmp_path / "pairs.npy", pairs)
    mapped = np.load(tmp_path / "pairs.npy", mmap_mode="r")
    np.testing.assert_allclose(
        tiny_fitted.decision_function(mapped), tiny_fitted.decision_function(pairs), rtol=1e-6
    )
    refit = tiny_verifier().fit(mapped, same)
    np.testing.assert_allclose(
        refit.decision_function(pairs), tiny_fitted.decision_function(pairs), rtol=1e-5
    )


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_verifier_refuses_non_finite_pairs(tiny_fitted, tiny_pairs, bad):
    pairs, same = tiny_pairs
    broken = pairs.copy()
    broken[3, 1, 2] = bad
    with pytest.raises(ValueError, match="infinity|NaN"):
        tiny_verifier().fit(broken, same)
    with pytest.raises(ValueError, match="infinity|NaN"):
        tiny_fitted.predict(broken)


@pytest.mark.parametrize(
    "target, match",
    [
        (lambda same: same + 0.5, "must be 1 .same. and 0 or -1"),
        (lambda same: np.column_stack([same, same]), "1-D|1d|column"),
        (lambda same: None, "Pair labels are required"),
    ],
    ids=["continuous", "2-D", "none"],
)
def test_verifier_refuses_other_targets(tiny_pairs, target, match):
    pairs, same = tiny_pairs
    with pytest.raises(ValueError, match=match):
        tiny_verifier().fit(pairs, target(same))
