"""The examples' pictures: learning curves and weight mosaics (matplotlib).

matplotlib is the 'examples' extra: `pyplot()` returns None without it, and the
callers say so once instead of failing.
"""
import numpy as np


def pyplot():
    """matplotlib.pyplot with a file-only backend outside notebooks, or None."""
    try:
        import matplotlib
        if "ipykernel" not in matplotlib.get_backend().lower() and "inline" not in matplotlib.get_backend():
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def weight_mosaic(weights, image_shape, columns=10, limit=60):
    """The first `limit` units' incoming weights as tiles of one image, each scaled to
    [-1, 1] by its own largest magnitude, with a blank line between tiles."""
    w = np.asarray(weights)[:limit].reshape(-1, *image_shape)
    w = w / np.maximum(np.abs(w).max(axis=(1, 2), keepdims=True), 1e-12)
    rows = -(-len(w) // columns)
    h, v = image_shape
    mosaic = np.zeros((rows * (h + 1), min(columns, len(w)) * (v + 1)))
    for i, tile in enumerate(w):
        r, c = divmod(i, columns)
        mosaic[r * (h + 1):r * (h + 1) + h, c * (v + 1):c * (v + 1) + v] = tile
    return mosaic


def learning_curves(history, path, title="learning curves"):
    """Training loss batch by batch (x in epochs, so a one-epoch run is a curve too) and
    validation loss/accuracy at the end of each epoch. One epoch has a single validation
    point, so its accuracy is written in the title instead of a plot of one dot."""
    plt = pyplot()
    epochs = np.arange(1, len(history["val_loss"]) + 1)
    several = len(epochs) > 1
    fig, axes = plt.subplots(1, 2 if several else 1, figsize=(10 if several else 6, 4), squeeze=False)
    a1 = axes[0, 0]
    batch_loss = np.asarray(history.get("batch_loss", []), dtype=float)
    if len(batch_loss):
        at = np.asarray(history["batch_epoch"], dtype=float)
        window = len(batch_loss) // 30                # smooth only where there are many batches
        a1.plot(at, batch_loss, color="tab:blue", alpha=0.25 if window > 1 else 1.0, lw=0.8,
                label="training (each batch)")
        if window > 1:
            smooth = np.convolve(batch_loss, np.ones(window) / window, mode="valid")
            a1.plot(at[window - 1:], smooth, color="tab:blue", label=f"training (mean of {window} batches)")
    a1.plot(epochs, history["val_loss"], "o-", color="tab:orange", label="validation (end of epoch)")
    acc = 100 * np.asarray(history["val_acc"])
    a1.set(xlabel="epoch", ylabel="loss", xlim=(0, 1.03 * max(1, len(epochs))),
           title=title if several else f"{title}: validation accuracy {acc[-1]:.2f}% after 1 epoch")
    a1.legend()
    if several:
        a2 = axes[0, 1]
        a2.plot(epochs, acc, "o-", color="tab:orange")
        a2.set(xlabel="epoch", ylabel="validation accuracy (%)", xticks=epochs,
               title="validation loss rising while training falls = overtraining")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def weight_picture(weights, image_shape, path, title, columns=10, limit=60):
    """First-layer weights as a mosaic of tiles (red +, blue -)."""
    plt = pyplot()
    mosaic = weight_mosaic(weights, image_shape, columns, limit)
    fig, ax = plt.subplots(figsize=(8, max(2, 8 * mosaic.shape[0] / mosaic.shape[1])))
    ax.imshow(mosaic, cmap="bwr", vmin=-1, vmax=1)
    ax.set_axis_off()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
