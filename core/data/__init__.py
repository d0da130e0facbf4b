"""Stage 1, data: MNIST from IDX files, OpenML or the offline sample; preprocessing
(deskewing, augmentation); drawn and uploaded digits made MNIST-like."""

from core.data.sources import SOURCES, DataSourceError, MnistData, fingerprint_arrays, load_mnist, load_sample, parse_source

__all__ = ["SOURCES", "DataSourceError", "MnistData", "fingerprint_arrays", "load_mnist", "load_sample", "parse_source"]
