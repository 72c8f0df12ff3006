"""Likelihood heads p(x|z) and posterior heads q(z|x)."""

from zoo.distributions.likelihoods import (
    BernoulliHead,
    CategoricalPaletteHead,
    FixedScaleGaussianHead,
    GaussianHead,
    LikelihoodHead,
    default_palette,
    get_likelihood,
    LIKELIHOODS,
)
from zoo.distributions.mixture import DiagonalGaussianMixture
from zoo.distributions.posteriors import (
    DiagonalNormalHead,
    FullCovarianceNormalHead,
    PosteriorHead,
    get_posterior,
    POSTERIORS,
)
