"""Datasets: a registry of them (`DATASETS`), rnnlab's data directory, vocabularies.

Importing this package registers every dataset and needs NumPy only, not torch.
"""

from . import corpora, csvdata, digitsum, imdb, text  # noqa: F401  (register every dataset)

# isort: split
from . import adding, copytask, digits, mnist1d, recall, selective_copy  # noqa: F401  (memory tasks)
from .base import DATASETS, Corpus, Dataset, TextCorpus
from .checks import check_config
from .store import Resource, data_dir, fetch
from .vocab import Vocab

__all__ = [
    "DATASETS",
    "Corpus",
    "Dataset",
    "Resource",
    "TextCorpus",
    "Vocab",
    "check_config",
    "data_dir",
    "fetch",
]
