"""scikit-learn's own estimator checks on every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

import contrastlearn as cl

# Small, fast settings: the checks fit dozens of times on tiny 2-D data. CPLR is not here:
# its polar branch needs images, and these checks feed flat vectors of a few features;
# tests/test_cplr.py runs the data-free checks and the contract on images.
ESTIMATORS = [
    cl.CLR(max_epochs=2, batch_size=16, projection_dims=(8,), random_state=0),
    cl.SimSiam(max_epochs=2, batch_size=16, projection_dims=(8,), predictor_hidden=4,
               random_state=0),
    cl.DINO(max_epochs=2, batch_size=16, projection_dims=(8,), n_prototypes=16, n_local_crops=0,
            random_state=0),
    cl.LinearProbe(),
]

BATCH_ROUNDING = {
    "check_methods_sample_order_invariance": (
        "float32 convolutions and matmuls round differently (~1e-7) with a sample's "
        "position in the batch; the check demands atol=1e-9"
    ),
    "check_methods_subset_invariance": (
        "float32 matmuls round differently (~1e-7) with the batch size; the check demands "
        "atol=1e-7 + rtol=1e-4, which embeddings near 0 miss by that rounding"
    ),
}
EXPECTED_FAILED_CHECKS = {"CLR": BATCH_ROUNDING, "SimSiam": BATCH_ROUNDING, "DINO": BATCH_ROUNDING}


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
