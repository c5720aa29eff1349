"""PyTorch's function spellings of the reductions group and sorting: `tg.sort(x, dim)` is
`x.sort(dim)`, `tg.max(x, 1)` is `x.max(1)`, and so on (tinygrad_cu/tensor_reductions.py
has the methods). Exported by tinygrad_cu/__init__.py."""

NAMES = ("max", "min", "amax", "amin", "prod", "var", "std", "var_mean", "std_mean", "any", "all",
         "logsumexp", "cumsum", "cumprod", "cummax", "cummin", "sort", "argsort", "topk", "logcumsumexp")


def _function(name):
    def function(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"tg.{name}(input, ...) is input.{name}(...)"
    return function


FUNCTIONS = {name: _function(name) for name in NAMES}
