"""The lecture's multi-layer perceptron for MNIST, and a larger one.

    python examples/mlp.py                          # 784-10-10 sigmoid MLP, 7,960 parameters
    python examples/mlp.py --arch large --epochs 10 # 784-256-128-10 ReLU MLP
    python examples/mlp.py --arch wide --lr 0.1 --optimizer momentum  # the lecture's [1024 x 784] first layer
    python examples/mlp.py --loss quadratic         # the lecture's error functions
    python examples/mlp.py --batch-size 1           # stochastic gradient descent

Writes learning curves, the first layer's weights as 28x28 pictures, the computation
graph and a checkpoint into --out.
"""
import tinygrad_cu as tg
from tinygrad_cu import nn

from tinygrad_cu.utils import training

LOSSES = {
    "cross-entropy": nn.CrossEntropyLoss(),
    "one-minus-target": nn.OneMinusTargetProbLoss(),         # E = 1 - k[T]
    "quadratic": nn.QuadraticClassDistanceLoss(),            # E = sum_j k[j] (j - T)^2
}


ARCHS = ("lecture", "large", "wide")


def build(arch):
    if arch == "lecture":     # 784 inputs -> 10 sigmoid units -> 10 outputs (softmax in the loss)
        return nn.Sequential(nn.Linear(784, 10), nn.Sigmoid(), nn.Linear(10, 10))
    if arch == "wide":        # the lecture's first layer: 784 inputs -> 1024 units, W is [1024 x 784]
        return nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 10))
    if arch != "large":
        raise SystemExit(f"--arch {arch!r}: choose one of {', '.join(ARCHS)}")
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    args = training.parse_args(__doc__.splitlines()[0], epochs=10, lr=0.5, extra={
        "arch": (str, "lecture", "lecture (784-10-10), large (784-256-128-10) or wide (784-1024-10)"),
        "loss": (str, "cross-entropy", "cross-entropy | one-minus-target | quadratic")})
    tg.manual_seed(args.seed)
    train_set, val_set, test_set, source = training.load_splits(args, layout="flat")
    model = build(args.arch).to(args.device)
    print(model)
    loss_fn = LOSSES[args.loss]
    optimizer = training.make_optimizer(args, model.parameters())
    history = training.train(model, loss_fn, optimizer, train_set, val_set, args)
    training.report_and_save(args, f"mlp_{args.arch}", model, loss_fn, test_set, source, history,
                             first_layer_weights=model[0].weight.numpy())

if __name__ == "__main__":
    main()
