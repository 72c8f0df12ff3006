"""DRAW's selective attention (Gregor et al. 2015, section 3.2): an N x N grid of Gaussian filters.

Five numbers from a linear layer of the decoder state place the grid on a B x A image (B rows,
A columns; coordinates a = 1..A, b = 1..B, so the image centre is ((A+1)/2, (B+1)/2)):

    (g~X, g~Y, log sigma^2, log delta~, log gamma) = W h + b
    g_X = (A + 1) / 2 (g~X + 1),   g_Y = (B + 1) / 2 (g~Y + 1)      grid centre
    delta = (max(A, B) - 1) / (N - 1) delta~                          stride between filters
    mu_X^i = g_X + (i - N/2 - 0.5) delta,   mu_Y^j = g_Y + (j - N/2 - 0.5) delta,   i, j = 1..N
    F_X[i, a] = exp(-(a - mu_X^i)^2 / (2 sigma^2)) / Z_X,   F_Y[j, b] likewise,

with Z_X = sum_a exp(...) + epsilon (each filter sums to 1; the epsilon keeps a filter that lies
far outside the image at zero instead of 0/0). The filterbanks are separable, so

    read(x)  = gamma   F_Y x F_X^T        (B x A image -> N x N glimpse)
    write(w) = 1/gamma F_Y^T w F_X        (N x N patch -> B x A image)

(`write` maps the patch back through the same filters, transposed).
Colour images use the same filters for every channel, as in the paper. Everything here is
deterministic maths on tensors: the layers that produce the five numbers live in the model.
"""

import tensorflow as tf

EPSILON = 1e-8
NUM_PARAMETERS = 5  # g~X, g~Y, log sigma^2, log delta~, log gamma


def attention_parameters(raw, height, width, size):
    """(g_X, g_Y, sigma^2, delta, gamma), each [batch], from the linear layer's output raw
    [batch, 5] for an image of `height` B x `width` A and an N x N grid (N = `size`)."""
    raw = tf.cast(raw, tf.float32)
    g_x, g_y, log_sigma2, log_delta, log_gamma = tf.unstack(raw, NUM_PARAMETERS, axis=-1)
    centre_x = (width + 1) / 2.0 * (g_x + 1.0)
    centre_y = (height + 1) / 2.0 * (g_y + 1.0)
    # With N = 1 the stride multiplies (i - N/2 - 0.5) = 0: any finite factor will do.
    stride = (max(height, width) - 1) / max(size - 1, 1) * tf.exp(log_delta)
    return centre_x, centre_y, tf.exp(log_sigma2), stride, tf.exp(log_gamma)


def filterbank(centre_x, centre_y, sigma2, stride, size, height, width, epsilon=EPSILON):
    """The filterbanks F_X [batch, N, A] and F_Y [batch, N, B] of section 3.2 (see the module
    docstring) for grid centres, variances sigma^2 and strides delta, each [batch]."""
    offsets = tf.range(1, size + 1, dtype=tf.float32) - size / 2.0 - 0.5  # i - N/2 - 0.5

    def bank(centre, length):
        mu = centre[:, None] + offsets[None, :] * stride[:, None]  # [batch, N]
        coordinates = tf.range(1, length + 1, dtype=tf.float32)  # a = 1..A
        filters = tf.exp(-tf.square(coordinates[None, None, :] - mu[:, :, None])
                         / (2.0 * sigma2[:, None, None]))
        return filters / (tf.reduce_sum(filters, axis=-1, keepdims=True) + epsilon)

    return bank(centre_x, width), bank(centre_y, height)


def filterbanks(raw, height, width, size):
    """(F_X, F_Y, gamma) for the linear layer's output raw [batch, 5]."""
    centre_x, centre_y, sigma2, stride, gamma = attention_parameters(raw, height, width, size)
    f_x, f_y = filterbank(centre_x, centre_y, sigma2, stride, size, height, width)
    return f_x, f_y, gamma


def glimpse(images, f_x, f_y, gamma):
    """gamma F_Y x F_X^T for images [batch, B, A, C] -> [batch, N, N, C] (per channel)."""
    channels_first = tf.transpose(tf.cast(images, tf.float32), [0, 3, 1, 2])  # [b, C, B, A]
    patch = tf.matmul(tf.matmul(f_y[:, None], channels_first), f_x[:, None], transpose_b=True)
    return gamma[:, None, None, None] * tf.transpose(patch, [0, 2, 3, 1])


def paste(patch, f_x, f_y, gamma):
    """1/gamma F_Y^T w F_X for patches w [batch, N, N, C] -> images [batch, B, A, C]."""
    channels_first = tf.transpose(tf.cast(patch, tf.float32), [0, 3, 1, 2])  # [b, C, N, N]
    image = tf.matmul(tf.matmul(f_y[:, None], channels_first, transpose_a=True), f_x[:, None])
    return tf.transpose(image, [0, 2, 3, 1]) / gamma[:, None, None, None]


def read(images, raw, size):
    """DRAW's read with attention for one or more images of the same batch, e.g. (x, x_hat):
    each [batch, B, A, C] seen through the N x N grid that raw [batch, 5] places; returns the
    glimpses concatenated and flattened, [batch, len(images) * N * N * C]."""
    height, width = int(images[0].shape[1]), int(images[0].shape[2])
    f_x, f_y, gamma = filterbanks(raw, height, width, size)
    batch = tf.shape(raw)[0]
    return tf.concat([tf.reshape(glimpse(image, f_x, f_y, gamma), [batch, -1])
                      for image in images], axis=-1)


def write(patch, raw, height, width):
    """DRAW's write with attention: the patch [batch, N, N, C] pasted onto a B x A canvas
    through the grid that raw [batch, 5] places; returns [batch, B, A, C]."""
    f_x, f_y, gamma = filterbanks(raw, height, width, int(patch.shape[1]))
    return paste(patch, f_x, f_y, gamma)


def glimpse_flops(size, height, width, channels=1):
    """Multiply-add FLOPs (2 per product) of one glimpse F_Y x F_X^T of a B x A image with C
    channels through an N x N grid: (N x B)(B x A), then (N x A)(A x N)."""
    return 2 * channels * size * (height * width + size * width)


def paste_flops(size, height, width, channels=1):
    """Multiply-add FLOPs of one paste F_Y^T w F_X: (B x N)(N x N), then (B x N)(N x A)."""
    return 2 * channels * size * (height * size + height * width)
