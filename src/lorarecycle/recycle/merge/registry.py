"""Every merge method, imported explicitly so none can go missing."""

from . import knots, linear, sparse  # noqa: F401  (registration)
from .methods import MERGE_METHODS, MergeMethod, register_merge

# The experiment's names for the two "Uniform" variants users meet (see README): the
# position paper's parameter averaging, in delta-W space and in factor space.
register_merge(MergeMethod("uniform_delta", linear.linear, "delta", "exact mean of delta W (linear)", averages=True),
               reference_url="https://arxiv.org/abs/2506.13479")
register_merge(MergeMethod("uniform_factors", linear.factor_linear, "factors",
                           "mean of A and of B separately (factor_linear)", averages=True),
               reference_url="https://arxiv.org/abs/2506.13479")

__all__ = ["MERGE_METHODS"]
