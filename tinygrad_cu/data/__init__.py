"""Data sets and batching: IDX/MNIST loading with verified downloads and an offline
fallback, PyTorch-style Dataset/DataLoader, and preprocessing helpers. See docs/data.md."""
from .idx import read_idx, parse_idx, read_idx_bytes
from .download import download_file, DownloadError, ChecksumError
from .digits import load_digits_arrays, load_digits_split
from .mnist import (load_mnist, load_fashion_mnist, load_idx_dataset, LoadedData, IdxFile,
                    IdxDatasetSpec, DataUnavailableError, MNIST, FASHION_MNIST)
from .loader import Dataset, TensorDataset, Subset, DataLoader, random_split
from .preprocess import normalize_images, flatten_images, to_nchw, MNIST_MEAN, MNIST_STD
