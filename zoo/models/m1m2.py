"""M1+M2 (Kingma et al. 2014): the semi-supervised M2 trained on the latent codes of a VAE (M1)."""

import keras

from zoo.capabilities import Capabilities, Option
from zoo.latent import LatentVariableModel
from zoo.models.m2 import M2, SEMI_SUPERVISED_OPTIONS
from zoo.models.registry import MODELS


@MODELS.register("m1m2")
@keras.saving.register_keras_serializable(package="zoo")
class M1M2(LatentVariableModel):
    """A frozen, pretrained VAE (M1) maps x to z1; an M2 with a Gaussian likelihood models z1.

        x --q(z1|x) of M1--> z1 --M2: q(y|z1), q(z2|z1,y), p(z1|y,z2)--> y, z2
        generation: y ~ p(y), z2 ~ N(0, I), z1 = E[z1|y,z2] (M2), x = E[x|z1] (M1)

    M2 is trained on fresh samples z1 ~ q(z1|x) (Kingma et al. trained M2 on samples of M1's
    posterior); classification, encoding and analogies read the posterior mean. The paper's
    M1+M2 reached 3.33% test error with 100 MNIST labels against 11.97% for M2 on pixels.

    The model has no tractable density of x here (M1 and M2 are trained separately and their
    stacked bound is not computed), so `log_prob` is not available; `likelihood(z2)` is M1's
    p(x | z1 = E[z1|z2, y]), a plug-in used for reconstructions.

    Args:
        m1: the M1 model: a preset name or folder (loaded with its weights and frozen), or a
            serialized VAE config (when restored from a saved M1M2, whose weights hold M1's).
        latent_dim: dimension of M2's z2.
        hidden_units, activation: M2's MLPs (encoder, decoder and classifier).
        alpha: weight of M2's classification loss (see `M2`).
        num_classes: number of classes.
        event_shape: shape of x (must match M1's); default M1's.
        seed: seed of M2's random stream.

    Example:
        >>> model = M1M2(m1="vae_mnist", latent_dim=50, hidden_units=(500,))
        >>> model.compile(optimizer="adam")
        >>> model.fit(x_train, y_with_minus_one_for_unlabelled, epochs=100)
        >>> probabilities, labels = model.classify(x_test)
    """

    capabilities = Capabilities(density="none", latent="single", classifier=True,
                                semi_supervised=True, training_targets="labels",
                                objective="semi-supervised elbo + classification on M1 codes")
    options = SEMI_SUPERVISED_OPTIONS + (
        Option("m1", str, "vae_mnist", "the pretrained VAE (preset or folder) whose codes M2 "
               "models"),
        Option("latent_dim", int, 50, "dimension of M2's z2", minimum=1),
        Option("hidden_units", list, [500], "M2's hidden layer sizes", minimum=1),
        Option("activation", str, "softplus", "activation of M2's hidden layers"),
        Option("alpha", float, 10.0, "weight of the classification loss on labelled images",
               minimum=0),
    )
    labelled_endpoints = ("decode", "sample")
    metric_names = M2.metric_names

    def __init__(self, m1="vae_mnist", latent_dim=50, hidden_units=(500,), activation="softplus",
                 alpha=10.0, num_classes=10, event_shape=None, seed=None, **kwargs):
        if isinstance(m1, str):
            from zoo.presets import load

            m1 = load(m1, compile=False)
        elif isinstance(m1, dict):
            m1 = keras.saving.deserialize_keras_object(m1)
        if not (isinstance(m1, LatentVariableModel) and m1.capabilities.latent == "single"):
            raise ValueError(f"m1 must be a VAE (preset name, folder or config), got "
                             f"{type(m1).__name__}.")
        event_shape = tuple(event_shape or m1.event_shape)
        if event_shape != tuple(m1.event_shape):
            raise ValueError(f"event_shape {event_shape} differs from M1's {m1.event_shape}.")
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        self.m1 = m1
        self.m1.trainable = False
        self.m2 = M2(event_shape=(m1.latent_dim,), latent_dim=latent_dim,
                     hidden_units=hidden_units, activation=activation, likelihood="gaussian",
                     alpha=alpha, num_classes=num_classes, seed=seed, name="m2")
        self.latent_dim = self.m2.latent_dim
        self.built = True

    @property
    def num_classes(self):
        return self.m2.num_classes

    def features(self, x, sample=False):
        """M1's code of x: the posterior mean, or a sample of q(z1|x) when `sample`."""
        q_z1 = self.m1.posterior(self.check_input(x))
        if sample:
            return q_z1.sample(seed=self.m1.next_seed())
        return q_z1.mean()

    # --- the API, through M2 on M1's codes -------------------------------------------------------
    def classify(self, x):
        """(probabilities [B, num_classes], most probable label [B]) under M2's q(y|z1)."""
        return self.m2.classify(self.features(x))

    def posterior(self, x, labels=None):
        return self.m2.posterior(self.features(x), labels=labels)

    def prior(self):
        return self.m2.prior()

    def encode(self, x, labels=None):
        return self.m2.encode(self.features(x), labels=labels)

    def decode(self, z, labels=None):
        return self.m1.decode(self.m2.decode(z, labels=labels))

    def decode_outputs(self, z, labels=None):
        return self.m1.decode_outputs(self.m2.decode(z, labels=labels))

    def likelihood(self, z, labels=None):
        return self.m1.likelihood(self.m2.decode(z, labels=labels))

    def reconstruct(self, x, labels=None):
        return self.m1.decode(self.m2.reconstruct(self.features(x), labels=labels))

    def sample(self, num_samples, seed=None, labels=None):
        return self.m1.decode(self.m2.sample(num_samples, seed=seed, labels=labels))

    def analogies(self, x):
        """[B, num_classes, *event]: M2's analogies of each input's code, decoded by M1."""
        return self.m1.decode(self.m2.analogies(self.features(x)))

    def elbo(self, x, seed=None, **condition):
        raise NotImplementedError("M1M2 has no bound on log p(x); use M2 for one.")

    def log_prob(self, x, num_samples=5000, seed=None, chunk_size=500, **condition):
        raise NotImplementedError("M1M2 has no density of x; use M2 for one.")

    def per_example_losses(self, x, y=None, training=False):
        return self.m2.per_example_losses(self.features(x, sample=training), y, training=training)

    # --- serving and checks -------------------------------------------------------------------
    @property
    def observation_dtype(self):
        return self.m1.observation_dtype

    def value_assertions(self, x):
        return self.m1.value_assertions(x)

    def check_values(self, x):
        self.m1.check_values(x)

    analogy_rows = M2.analogy_rows  # the analogies picture

    @property
    def modality(self):
        return self.m1.modality

    def to_images(self, x):
        return self.m1.to_images(x)

    @property
    def likelihood_name(self):
        return self.m1.likelihood_name

    @property
    def encoder_network(self):
        return self.m2.encoder_network

    @property
    def decoder_network(self):
        return self.m2.decoder_network

    def freeze(self, part):
        """Freezes M2's "encoder" or "decoder" (M1 is always frozen)."""
        self.m2.freeze(part)
        return self

    def predict_step(self, data):
        return self.reconstruct(keras.utils.unpack_x_y_sample_weight(data)[0])

    def get_config(self):
        config = super().get_config()
        config.update(m1=keras.saving.serialize_keras_object(self.m1),
                      latent_dim=self.m2.latent_dim, hidden_units=list(self.m2.hidden_units),
                      activation=self.m2.activation, alpha=self.m2.alpha,
                      num_classes=self.num_classes)
        return config
