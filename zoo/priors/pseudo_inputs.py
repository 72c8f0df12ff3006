"""The VampPrior: a mixture of the model's own posteriors of K learned pseudo-inputs."""

import keras
import tensorflow as tf

from zoo.distributions import DiagonalGaussianMixture
from zoo.priors.base import Prior


class PseudoInputPrior(Prior):
    """p(z) = (1/K) sum_k q(z | u_k), u_k = clip(w_k, 0, 1): the "variational mixture of
    posteriors" prior of Tomczak & Welling (2018).

    The layer owns the K pseudo-inputs w_k (shaped like an encoder-side observation); the
    mixture needs the model's encoder, which it is handed: `distribution(posterior_of)` with
    `posterior_of(u)` -> q(z|u), a diagonal Normal with batch shape [K]. The mixture is a
    `DiagonalGaussianMixture` (exact, scored with matrix products).

    Args:
        latent_dim: dimension of z.
        num_pseudo_inputs: K.
        feature_shape: shape of one pseudo-input (the encoder's input, e.g. (28, 28, 1)).
        mean, stddev: the Normal initialisation of the weights w_k.
        seed: seed of that initialisation.
    """

    def __init__(self, latent_dim, num_pseudo_inputs, feature_shape, mean=0.5, stddev=0.01,
                 seed=None, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.num_pseudo_inputs = int(num_pseudo_inputs)
        self.feature_shape = tuple(int(d) for d in feature_shape)
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed
        self.pseudo_input_weights = self.add_weight(
            shape=(self.num_pseudo_inputs, *self.feature_shape),
            initializer=keras.initializers.RandomNormal(self.mean, self.stddev, seed=seed),
            dtype="float32", name="pseudo_inputs")
        self.built = True

    def pseudo_inputs(self):
        """The K pseudo-inputs u_k in [0, 1] (the paper's hard-tanh), [K, *feature_shape]."""
        return tf.clip_by_value(tf.convert_to_tensor(self.pseudo_input_weights), 0.0, 1.0)

    def distribution(self, posterior_of=None):
        if posterior_of is None:
            raise ValueError("The VampPrior is a mixture of the model's posteriors: ask the "
                             "model for it (model.prior()).")
        q_u = posterior_of(self.pseudo_inputs())
        return DiagonalGaussianMixture(q_u.mean(), q_u.stddev())

    def get_config(self):
        config = super().get_config()
        config.update(num_pseudo_inputs=self.num_pseudo_inputs,
                      feature_shape=list(self.feature_shape), mean=self.mean,
                      stddev=self.stddev, seed=self.seed)
        return config
