"""LeNet-5 (LeCun et al., 1998) for MNIST: convolutions with shared weights.

    python examples/lenet5.py --data-dir ../shared/data/mnist             # 10 epochs
    python examples/lenet5.py --activation relu --pool max --schedule cosine  # the modern variant
    python examples/lenet5.py --device emu --train-limit 512 --epochs 1   # the CUDA kernels on the CPU

conv 1->6 5x5 (padding 2) - tanh - avg pool 2 - conv 6->16 5x5 - tanh - avg pool 2
- 120 - tanh - 84 - tanh - 10, 61,706 parameters.
"""
import tinygrad_cu as tg
from tinygrad_cu import nn

from tinygrad_cu.utils import training


def lenet5(activation=nn.Tanh, pool=nn.AvgPool2d):
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), activation(), pool(2),             # 6 x 14 x 14
        nn.Conv2d(6, 16, kernel_size=5), activation(), pool(2),                       # 16 x 5 x 5
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), activation(),
        nn.Linear(120, 84), activation(),
        nn.Linear(84, 10))


def main():
    args = training.parse_args(__doc__.splitlines()[0], epochs=10, lr=0.05, batch_size=64,
                               optimizer="momentum", extra={
                                   "activation": (str, "tanh", "tanh (LeCun 1998) or relu"),
                                   "pool": (str, "avg", "avg (LeCun's subsampling) or max")})
    tg.manual_seed(args.seed)
    train_set, val_set, test_set, source = training.load_splits(args, layout="nchw")
    model = lenet5(activation={"tanh": nn.Tanh, "relu": nn.ReLU}[args.activation],
                   pool={"avg": nn.AvgPool2d, "max": nn.MaxPool2d}[args.pool]).to(args.device)
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = training.make_optimizer(args, model.parameters())
    history = training.train(model, loss_fn, optimizer, train_set, val_set, args)
    training.report_and_save(args, "lenet5", model, loss_fn, test_set, source, history,
                             first_layer_weights=model[0].weight.numpy()[:, 0], image_shape=(5, 5))

if __name__ == "__main__":
    main()
