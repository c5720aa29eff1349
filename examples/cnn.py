"""A modern small CNN for MNIST (or Fashion-MNIST): what changed since LeNet-5.

    python examples/cnn.py --data-dir ../shared/data/mnist                   # 5 epochs
    python examples/cnn.py --dataset fashion --data-dir ../shared/data/fashion-mnist
    python examples/cnn.py --device emu --train-limit 256 --epochs 1         # the CUDA kernels on the CPU

[3x3 conv - BatchNorm - ReLU] - max pool 2 - [3x3 conv - BatchNorm - ReLU] x 2 - max pool 2,
then dropout - 128 - BatchNorm - ReLU - dropout - 10. Against LeNet-5 (examples/lenet5.py):
  - stacked 3x3 convolutions instead of 5x5 (two 3x3 see 5x5 with fewer weights and one more
    non-linearity; Simonyan & Zisserman 2014), padding that keeps the size, more channels;
  - BatchNorm after every conv and the hidden layer (Ioffe & Szegedy 2015): each channel
    normalised over the batch, so much larger learning rates train stably; in eval mode it
    uses the running statistics (model.eval() in training.evaluate);
  - ReLU instead of tanh, max pooling instead of average subsampling;
  - dropout before the classifier layers (Srivastava et al. 2014);
  - AdamW (decoupled weight decay, Loshchilov & Hutter 2019) with the OneCycle schedule
    (Smith & Topin 2017): the rate warms up to max_lr and anneals to almost 0 in one cycle,
    stepped every batch;
  - small random shifts of the training images (data augmentation), +-2 pixels.
Measured (README): 99.47% test accuracy on MNIST after 5 epochs on cpu (LeNet-5: 98.91% after 10).
"""
import numpy as np

import tinygrad_cu as tg
from tinygrad_cu import data, nn

from tinygrad_cu.utils import training


def conv_bn_relu(c_in, c_out):
    # no bias: the BatchNorm right after has its own shift
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def small_cnn(width=16, dropout=0.25):
    """(1, 28, 28) -> width x 14 x 14 -> 2 width x 7 x 7 -> 128 -> 10. The first block has one
    conv (on one grey channel a second buys little), the second two."""
    return nn.Sequential(
        *conv_bn_relu(1, width), nn.MaxPool2d(2),
        *conv_bn_relu(width, 2 * width), *conv_bn_relu(2 * width, 2 * width), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(dropout),
        nn.Linear(2 * width * 7 * 7, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(128, 10))


class RandomShift:
    """A dataset view whose images are moved by up to `pixels` in each direction (zeros
    shifted in), a new shift per image and epoch; the labels unchanged."""
    def __init__(self, dataset, pixels=2, seed=0):
        self.dataset, self.pixels, self.rng = dataset, pixels, np.random.default_rng(seed)

    def __len__(self):
        return len(self.dataset)

    def __getitems__(self, indices):
        x, y = self.dataset.__getitems__(indices)
        p = self.pixels
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        dy, dx = self.rng.integers(0, 2 * p + 1, size=(2, len(x)))
        h, w = x.shape[2:]
        out = np.empty_like(x)
        for i in range(len(x)):
            out[i] = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        return out, y


def load(args):
    if args.dataset == "mnist":
        return training.load_splits(args, layout="nchw")
    fashion = data.load_fashion_mnist(data_dir=args.data_dir)
    print(f"data: {fashion.source} ({len(fashion.x_train)} train / {len(fashion.x_test)} test images)")
    prepare = lambda images: data.to_nchw(data.normalize_images(images))
    x_train, y_train = fashion.x_train, fashion.y_train
    if args.train_limit:
        x_train, y_train = x_train[:args.train_limit], y_train[:args.train_limit]
    full = data.TensorDataset(prepare(x_train), y_train.astype(np.int64))
    n_val = int(len(full) * args.val_fraction)
    train, val = data.random_split(full, [len(full) - n_val, n_val], seed=args.seed)
    return train, val, data.TensorDataset(prepare(fashion.x_test), fashion.y_test.astype(np.int64)), fashion.source


def main():
    args = training.parse_args(__doc__.splitlines()[0], epochs=5, lr=0.01, batch_size=128, optimizer="adam",
                               extra={"dataset": (str, "mnist", "mnist or fashion"),
                                      "width": (int, 16, "channels of the first block (the second has twice)"),
                                      "weight-decay": (float, 1e-4, "AdamW's decoupled weight decay"),
                                      "shift": (int, 2, "random shift of training images, pixels (0: none)")})
    tg.manual_seed(args.seed)
    train_set, val_set, test_set, source = load(args)
    if args.shift:
        train_set = RandomShift(train_set, args.shift, seed=args.seed)
    model = small_cnn(args.width).to(args.device)
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = tg.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps = -(-len(train_set) // args.batch_size) * args.epochs
    schedule = tg.optim.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps)   # --lr is the peak rate
    history = training.train(model, loss_fn, optimizer, train_set, val_set, args, batch_scheduler=schedule)
    training.report_and_save(args, f"cnn_{args.dataset}", model, loss_fn, test_set, source, history,
                             first_layer_weights=model[0].weight.numpy()[:, 0], image_shape=(3, 3))


if __name__ == "__main__":
    main()
