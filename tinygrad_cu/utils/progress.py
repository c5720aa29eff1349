"""An epoch's progress that a reader sees wherever the output goes.

On a terminal, a tqdm bar (it redraws one line in place). In a log file, a CI job or a
notebook a redrawn bar shows only its first state (`0/21` for the whole epoch), so
there a plain line is printed every `every` batches instead:

    epoch 1/5  batch 200/844  loss 0.4127  3,512 img/s
"""
import sys
import time

try:
    from tqdm import tqdm
except ImportError:          # tqdm is the 'examples' extra: without it, plain lines
    tqdm = None


def default_every(total, lines=10):
    """A line every `total / lines` batches (at least every batch)."""
    return max(1, -(-total // lines))


class EpochProgress:
    """Progress through `total` steps (batches; examples for the perceptron).
    update(n_images, value) after each step; close() at the end. `metric` names the value
    shown. interactive=None: a tqdm bar if stderr is a terminal."""

    def __init__(self, total, desc, every=None, interactive=None, stream=None, step="batch", metric="loss"):
        self.total, self.desc, self.step, self.metric = total, desc, step, metric
        self.every = every or default_every(total)
        self.stream = stream or sys.stdout
        if interactive is None:
            interactive = tqdm is not None and sys.stderr.isatty()
        self.bar = tqdm(total=total, desc=desc, leave=False) if interactive and tqdm else None
        self.batches, self.images, self.start = 0, 0, time.perf_counter()

    def update(self, n_images, loss):
        self.batches += 1
        self.images += n_images
        if self.bar is not None:
            self.bar.update(1)
            if self.batches % 20 == 1:
                self.bar.set_postfix({self.metric: f"{loss:.3f}"})
        elif self.batches % self.every == 0 and self.batches < self.total:
            speed = self.images / max(time.perf_counter() - self.start, 1e-9)
            shown = f"{loss:.4f}" if isinstance(loss, float) else f"{loss}"     # a count stays a count
            print(f"{self.desc}  {self.step} {self.batches}/{self.total}  {self.metric} {shown}  {speed:,.0f} img/s",
                  file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
