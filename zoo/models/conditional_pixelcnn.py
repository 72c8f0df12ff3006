"""The class-conditional gated PixelCNN (van den Oord et al. 2016, section 2.3): p(x | y), each
gated layer adding a learned per-class bias to both stacks."""

import keras

from zoo.capabilities import Option, merge_options
from zoo.models.pixelcnn import PixelCNN
from zoo.models.registry import MODELS


@MODELS.register("conditional_pixelcnn")
@keras.saving.register_keras_serializable(package="zoo")
class ConditionalPixelCNN(PixelCNN):
    """Gated PixelCNN conditioned on a class label: log_prob(x, labels), sample(n, labels=...),
    complete(x, k, labels=...). Training data are (x, labels) pairs.

    Args:
        num_classes: number of classes (labels are 0 .. num_classes - 1).
        **kwargs: those of `PixelCNN`.
    """

    capabilities = PixelCNN.capabilities.replace(conditional=True, training_targets="labels",
                                                 objective="conditional exact nll")
    options = merge_options(PixelCNN.options, (
        Option("num_classes", int, 10, "number of classes", minimum=2),))
    labelled_endpoints = ("sample", "log_prob", "complete", "score")

    def __init__(self, num_classes=10, **kwargs):
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        self._num_classes = int(num_classes)  # read by PixelCNN.__init__ to build the layers
        super().__init__(**kwargs)

    @property
    def num_classes(self):
        return self._num_classes

    def params(self, x, training=False, labels=None):
        if labels is None:
            raise ValueError("ConditionalPixelCNN models x given its class: pass labels=[...].")
        return super().params(x, training=training, labels=self.check_labels(labels))

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes)
        return config
