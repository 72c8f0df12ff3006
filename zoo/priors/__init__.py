"""Priors p(z): layers (possibly with learnable weights) whose `distribution()` is a tfd object."""

from zoo.priors.base import PRIORS, Prior, get_prior
from zoo.priors.mixture import MixtureOfGaussians
from zoo.priors.standard_normal import StandardNormal
from zoo.priors.pseudo_inputs import PseudoInputPrior
