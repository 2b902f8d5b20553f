"""The built-in encoder networks.

A network builder is any callable ``network(input_shape, n_components) ->
keras.Model`` that maps rows of shape ``input_shape`` to raw embeddings. The
two built-in ones are :func:`build_mlp` for tabular rows and :func:`build_cnn`
for images. Define custom builders at module level so that estimators using
them can be pickled and saved. An estimator's ``network`` may also be a
``keras.Model`` itself, such as a pretrained backbone.
"""

from ._tensorflow import keras

__all__ = ["build_mlp", "build_cnn"]


def build_mlp(input_shape, n_components, *, hidden_units=(256, 128), dropout=0.0):
    """Multi-layer perceptron for tabular rows.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one row; images are flattened.
    n_components : int
        Size of the embedding.
    hidden_units : tuple of int, default=(256, 128)
        Width of each hidden ReLU layer.
    dropout : float, default=0.0
        Dropout rate before each dense layer, in training only.

    Returns
    -------
    model : keras.Model
        Maps ``(batch, *input_shape)`` to ``(batch, n_components)``.
    """
    inputs = keras.Input(shape=tuple(input_shape))
    hidden = keras.layers.Flatten()(inputs) if len(input_shape) > 1 else inputs
    for units in hidden_units:
        hidden = keras.layers.Dropout(dropout)(hidden)
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    outputs = keras.layers.Dense(n_components)(keras.layers.Dropout(dropout)(hidden))
    return keras.Model(inputs, outputs, name="mlp")


def build_cnn(input_shape, n_components, *, filters=(32, 64, 128), convs_per_block=1):
    """Convolutional network for small images.

    Each block is ``convs_per_block`` 3x3 convolutions with batch
    normalisation and ReLU, followed by 2x2 max pooling while the feature map
    is at least 2 pixels wide. The last feature map is flattened, keeping
    where strokes lie, and a dense layer gives the embedding.

    Parameters
    ----------
    input_shape : tuple of int
        ``(height, width, channels)``.
    n_components : int
        Size of the embedding.
    filters : tuple of int, default=(32, 64, 128)
        Number of filters of each block.
    convs_per_block : int, default=1
        Convolutions per block.

    Returns
    -------
    model : keras.Model
        Maps ``(batch, height, width, channels)`` to ``(batch, n_components)``.
    """
    if len(input_shape) != 3:
        raise ValueError(
            f"network='cnn' needs input_shape=(height, width, channels), got {tuple(input_shape)}."
        )
    inputs = keras.Input(shape=tuple(input_shape))
    hidden = inputs
    size = min(input_shape[0], input_shape[1])
    for n_filters in filters:
        for _ in range(convs_per_block):
            hidden = keras.layers.Conv2D(n_filters, 3, padding="same", use_bias=False)(hidden)
            hidden = keras.layers.BatchNormalization()(hidden)
            hidden = keras.layers.ReLU()(hidden)
        if size >= 2:
            hidden = keras.layers.MaxPooling2D(2)(hidden)
            size //= 2
    hidden = keras.layers.Flatten()(hidden)
    outputs = keras.layers.Dense(n_components)(hidden)
    return keras.Model(inputs, outputs, name="cnn")


BUILT_IN = {"mlp": build_mlp, "cnn": build_cnn}
