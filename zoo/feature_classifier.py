"""The small MNIST classifier whose features define the zoo's Frechet distance (FD)."""

import keras

from zoo.networks.stack import LayerStack


@keras.saving.register_keras_serializable(package="zoo")
class FeatureClassifier(keras.Model):
    """A small CNN for 28x28x1 images; `features(x)` is its penultimate layer (the FD space).

    Two 3x3 convolutions (32, 64 channels) each followed by 2x2 max pooling, a Dense layer of
    `feature_dim` ReLU units (the features), and a 10-way softmax output. Trained once on MNIST
    grey levels and shipped as the `mnist_classifier` preset, so every FD in the zoo is measured
    in the same feature space without downloads.

    Args:
        event_shape: image shape.
        feature_dim: size of the feature layer.
        num_classes: number of classes.
    """

    def __init__(self, event_shape=(28, 28, 1), feature_dim=128, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.feature_dim = int(feature_dim)
        self.num_classes = int(num_classes)
        self.body = LayerStack(name="body")
        self.body.stack = [
            keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(self.feature_dim, activation="relu", name="features"),
        ]
        self.head = keras.layers.Dense(self.num_classes, name="logits")
        self.build((None, *self.event_shape))

    def build(self, input_shape):
        self.body.build(input_shape)
        self.head.build((None, self.feature_dim))
        self.built = True

    def features(self, x):
        """Penultimate-layer activations [B, feature_dim]."""
        return self.body(x)

    def call(self, x, training=False):
        return self.head(self.body(x))

    def get_config(self):
        return {"name": self.name, "event_shape": list(self.event_shape),
                "feature_dim": self.feature_dim, "num_classes": self.num_classes}
