"""Every merge method, imported explicitly so none can go missing."""

from . import knots, linear, sparse  # noqa: F401  (registration)
from .methods import MERGE_METHODS, MergeMethod

# The experiment's names for the two "Uniform" variants users meet (see README).
MERGE_METHODS.register("uniform_delta")(MergeMethod("uniform_delta", linear.linear, "delta", "exact mean of delta W (linear)", True))
MERGE_METHODS.register("uniform_factors")(
    MergeMethod("uniform_factors", linear.factor_linear, "factors", "mean of A and of B separately (factor_linear)", True)
)

__all__ = ["MERGE_METHODS"]
