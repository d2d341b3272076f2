"""`rnnlab gen-data adding | copy | selective-copy | recall | digits`: the memory
benchmarks' data (docs/memory.md), one folder per length (the digits: per pixel order)
under --out. Every check runs before anything is written. Registered on the gen-data app
in `rnnlab/cli/__init__.py`; the work is in rnnlab/data/memory.py and its task modules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from rnnlab.cli.boundary import user_errors
from rnnlab.errors import RnnlabError

Out = Annotated[Path, typer.Option(help="Folder to write <length>/ into (meta.json, *.npy).")]
Lengths = Annotated[str, typer.Option(help="Lengths T, comma-separated: 10,50,100")]
Seed = Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")]
NTrain = Annotated[int, typer.Option(help="Training examples.")]
NValid = Annotated[int, typer.Option(help="Validation (dev split) examples.")]
NTest = Annotated[int, typer.Option(help="Test examples.")]


def write_lengths(name: str, out: Path, lengths: str, sizes: dict, seed: int, opts: dict) -> None:
    """Check every length, option, size and the bytes to write; then write each folder."""
    import numpy as np

    from rnnlab.data import DATASETS
    from rnnlab.data.memory import MemoryDataset, write_folder
    from rnnlab.data.safe_read import MAX_DATA_BYTES_ENV, max_data_bytes

    cls = DATASETS.get(name)
    assert issubclass(cls, MemoryDataset)  # the commands below name memory datasets only
    parsed = parse_lengths(lengths)
    check_seed_and_sizes(seed, sizes)
    total = 0
    for length in parsed:
        cls.check_options(length, opts)
        x, y = cls.generate(length, 1, np.random.default_rng(0), opts)  # one, for its size
        total += (x.nbytes + y.nbytes) * sum(sizes.values())
    if total > max_data_bytes():  # bounded before the work, like every data file
        raise RnnlabError(
            f"these sizes would write about {total:,} bytes, over the {max_data_bytes():,}-"
            f"byte bound for data ({MAX_DATA_BYTES_ENV})"
        )
    for length in parsed:
        write_or_fail(
            name,
            lambda length=length: write_folder(cls, out / str(length), length, opts, sizes, seed),
            out,
        )
        shown = ", ".join(f"{split} {n}" for split, n in sizes.items())
        typer.echo(f"{out / str(length)}: {shown} examples")


def write_or_fail(name: str, write, out: Path) -> None:
    try:
        write()
    except OSError as err:
        raise RnnlabError(f"cannot write {name} data into {out}: {err.strerror}") from None


def parse_lengths(lengths: str) -> list[int]:
    try:
        return [int(part) for part in lengths.split(",")]
    except ValueError:
        raise RnnlabError(
            f"--lengths must be comma-separated integers, e.g. 10,50,100; got {lengths!r}"
        ) from None


def check_seed_and_sizes(seed: int, sizes: dict) -> None:
    if not 0 <= seed < 2**63:
        raise RnnlabError(f"--seed must be >= 0 (and < 2**63), got {seed}")
    for split, n in zip(("--n-train", "--n-valid", "--n-test"), sizes.values()):
        if n < 1:
            raise RnnlabError(f"{split} must be >= 1, got {n}")


def splits(n_train: int, n_valid: int, n_test: int) -> dict:
    return {"train": n_train, "dev": n_valid, "test": n_test}


@user_errors
def gen_adding(
    lengths: Lengths, out: Out, n_train: NTrain = 10000, n_valid: NValid = 1000,
    n_test: NTest = 1000, seed: Seed = 0,
) -> None:  # fmt: skip
    """The adding problem: T steps of (value, marker); the target, the two marked values' sum."""
    write_lengths("adding", out, lengths, splits(n_train, n_valid, n_test), seed, {})


@user_errors
def gen_copy(
    lengths: Lengths, out: Out, n_train: NTrain = 10000, n_valid: NValid = 1000,
    n_test: NTest = 1000, seed: Seed = 0,
    symbols: Annotated[int, typer.Option(help="Symbols to copy.")] = 10,
    alphabet: Annotated[int, typer.Option(help="Symbols drawn from.")] = 8,
) -> None:  # fmt: skip
    """The copy problem (Arjovsky 2016): symbols, T - 1 blanks, a delimiter; copy them out."""
    opts = {"symbols": symbols, "alphabet": alphabet}
    write_lengths("copy", out, lengths, splits(n_train, n_valid, n_test), seed, opts)


@user_errors
def gen_selective_copy(
    lengths: Lengths, out: Out, n_train: NTrain = 10000, n_valid: NValid = 1000,
    n_test: NTest = 1000, seed: Seed = 0,
    tokens: Annotated[int, typer.Option(help="Data tokens to copy.")] = 16,
    alphabet: Annotated[int, typer.Option(help="Symbols drawn from.")] = 16,
) -> None:  # fmt: skip
    """Selective copying (Mamba): data tokens at random places among noise; output them."""
    opts = {"tokens": tokens, "alphabet": alphabet}
    write_lengths("selective_copy", out, lengths, splits(n_train, n_valid, n_test), seed, opts)


@user_errors
def gen_recall(
    lengths: Lengths, out: Out, n_train: NTrain = 10000, n_valid: NValid = 1000,
    n_test: NTest = 1000, seed: Seed = 0,
    pairs: Annotated[int, typer.Option(help="Key-value pairs per sequence.")] = 8,
    queries: Annotated[int, typer.Option(help="Queries per sequence (<= pairs).")] = 8,
    keys: Annotated[int, typer.Option(help="Key vocabulary.")] = 64,
    values: Annotated[int, typer.Option(help="Value vocabulary.")] = 64,
) -> None:  # fmt: skip
    """Multi-query associative recall (Zoology's MQAR): pairs, then queries of their keys."""
    opts = {"pairs": pairs, "queries": queries, "keys": keys, "values": values}
    write_lengths("recall", out, lengths, splits(n_train, n_valid, n_test), seed, opts)


@user_errors
def gen_digits(
    out: Annotated[Path, typer.Option(help="Folder to write pixels/ (or permuted<SEED>/) into.")],
    n_train: NTrain = 1257, n_valid: NValid = 270, n_test: NTest = 270, seed: Seed = 0,
    permute: Annotated[
        Optional[str], typer.Option(help="Read the pixels in the fixed order this seed draws.")
    ] = None,
) -> None:  # fmt: skip
    """scikit-learn's 8x8 digits, one pixel a step (64 steps), optionally permuted."""
    from rnnlab.data.digits import PIXELS, Digits, check_sizes
    from rnnlab.data.memory import write_folder

    order = parse_permute(permute)
    sizes = splits(n_train, n_valid, n_test)
    check_seed_and_sizes(seed, sizes)
    check_sizes(sizes)
    folder = out / ("pixels" if order is None else f"permuted{order}")
    write_or_fail(
        "digits", lambda: write_folder(Digits, folder, PIXELS, {"permute": order}, sizes, seed), out
    )
    typer.echo(f"{folder}: train {n_train}, dev {n_valid}, test {n_test} examples")


def parse_permute(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**63:
        raise RnnlabError(f"--permute takes a seed, an integer >= 0; got {text!r}")
    return value


@user_errors
def gen_mnist1d(
    out: Annotated[Path, typer.Option(help="Folder to write 40/ into (meta.json, *.npy).")],
    n_train: NTrain = 3500, n_valid: NValid = 500, n_test: NTest = 1000,
    seed: Annotated[int, typer.Option(help="The package's seed (42: the published data).")] = 42,
) -> None:  # fmt: skip
    """MNIST-1D (Greydanus 2020), built by the mnist1d package (no download): 40 steps."""
    from rnnlab.data.memory import write_folder
    from rnnlab.data.mnist1d import STEPS, Mnist1d, check_sizes

    sizes = splits(n_train, n_valid, n_test)
    check_seed_and_sizes(seed, sizes)
    if seed >= 2**32:  # the package seeds NumPy's global generator
        raise RnnlabError(f"--seed must be < 2**32 for mnist1d, got {seed}")
    check_sizes(sizes)
    folder = out / str(STEPS)
    write_or_fail("mnist1d", lambda: write_folder(Mnist1d, folder, STEPS, {}, sizes, seed), out)
    typer.echo(f"{folder}: train {n_train}, dev {n_valid}, test {n_test} examples")
