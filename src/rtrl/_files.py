"""``rtrl fit`` and ``rtrl predict``: models trained on, and applied to, CSV files.

A CSV file is read in chunks of rows (constant memory, whatever its length): ``fit`` streams
them through ``partial_fit`` -- the rows are one stream in time order, or sequences marked
by ``--sequence-id`` -- and saves the model with :func:`rtrl.save` (skops, written then
renamed: an interrupted run leaves the last complete model file intact). ``predict`` carries
the hidden state from chunk to chunk, so its output equals ``predict`` on the whole file.

A model file written by ``rtrl fit`` holds ``{"model": estimator, "features": [...],
"target": [...], "sequence_id": name or None}``, so ``predict`` knows the columns;
``rtrl.load`` reads it like any model file.
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ._threads import effective_n_threads
from .gradient import check_state_memory
from .persistence import atomic_path


class FileError(Exception):
    """Bad input file, column or model: the CLI prints the message and exits with code 2."""


def _open(path: str):
    try:
        return open(path, newline="", encoding="utf-8")
    except FileNotFoundError:
        raise FileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileError(f"{path}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise FileError(f"{path}: cannot be read ({exc.strerror})") from None


def read_header(path: str) -> list[str]:
    with _open(path) as f:
        try:
            header = next(csv.reader(f))
        except StopIteration:
            raise FileError(f"{path}: empty file (a header row is needed)") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FileError(f"{path}: not a readable CSV file ({exc})") from None
    return [name.strip() for name in header]


def column_indices(path: str, header: list[str], names: list[str]) -> list[int]:
    missing = [name for name in names if name not in header]
    if missing:
        raise FileError(
            f"{path}: unknown column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))}; the columns are {', '.join(map(repr, header))}"
        )
    repeated = sorted({name for name in names if header.count(name) > 1})
    if repeated:
        raise FileError(
            f"{path}: the header names {', '.join(map(repr, repeated))} more than once; "
            "columns are chosen by name, so the ones used must be unique"
        )
    return [header.index(name) for name in names]


def iter_chunks(
    path: str, header: list[str], numeric: list[int], text: list[int], chunk_size: int
) -> Iterator[tuple[int, np.ndarray, list[list[str]], float]]:
    """Yield ``(first data line, floats of the numeric columns, raw text of the text columns,
    fraction of the file read)`` for chunks of ``chunk_size`` rows."""
    size = max(os.path.getsize(path), 1)
    read = [0]

    def counted(f):  # characters read so far, for the progress fraction
        for line in f:
            read[0] += len(line)
            yield line

    with _open(path) as f:
        reader = csv.reader(counted(f))
        try:
            next(reader)  # the header
            rows, texts, first = [], [], 2
            for row in reader:
                line = reader.line_num
                if not row:  # a blank line
                    continue
                if len(row) != len(header):
                    raise FileError(
                        f"{path}:{line}: {len(row)} fields where the header has {len(header)}"
                    )
                values = []
                for j in numeric:
                    cell = row[j].strip()
                    try:
                        value = float(cell)
                    except ValueError:
                        raise FileError(
                            f"{path}:{line}: column {header[j]!r}: {cell!r} is not a number"
                        ) from None
                    if not math.isfinite(value):
                        raise FileError(
                            f"{path}:{line}: column {header[j]!r}: {cell!r} is not a finite number"
                        )
                    values.append(value)
                rows.append(values)
                texts.append([row[j] for j in text])
                if len(rows) == chunk_size:
                    yield first, np.array(rows), texts, min(1.0, read[0] / size)
                    rows, texts, first = [], [], line + 1
            if rows:
                yield first, np.array(rows), texts, 1.0
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FileError(f"{path}:{reader.line_num}: not a readable CSV row ({exc})") from None


class Progress:
    """A one-line progress bar on stderr: fraction of the file, rows, rows/s, running loss."""

    def __init__(self, enabled: bool, width: int = 30):
        self.enabled, self.width, self.t0 = enabled, width, time.perf_counter()

    def update(self, fraction: float, rows: int, loss: float | None):
        if not self.enabled:
            return
        done = int(self.width * fraction)
        rate = rows / max(time.perf_counter() - self.t0, 1e-9)
        text = f"\r[{'#' * done}{'.' * (self.width - done)}] {100 * fraction:5.1f}% "
        text += f"{rows} rows {rate:.0f} rows/s"
        if loss is not None:
            text += f" prequential loss {loss:.5g}"
        sys.stderr.write(text)
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _class_labels(path, header, target_index, chunk_size) -> np.ndarray:
    """The distinct target values (a first pass over one column, constant memory)."""
    seen = set()
    for _, _, texts, _ in iter_chunks(path, header, [], [target_index], chunk_size):
        seen.update(t[0].strip() for t in texts)
    labels = sorted(seen)
    for kind in (int, float):  # numeric labels keep their numeric order and type, unless
        try:  # two spellings would become one class ("1" and "01", "1" and "1.0")
            values = [kind(v) for v in labels]
        except ValueError:
            continue
        if len(set(values)) == len(values):
            return np.array(sorted(values))
    return np.array(labels, dtype=object)


def _labels(texts, classes) -> np.ndarray:
    values = [t[0].strip() for t in texts]
    if classes.dtype == object:
        return np.array(values, dtype=object)
    kind = int if classes.dtype.kind in "iu" else float
    return np.array([kind(v) for v in values])


def fit(args) -> int:
    from . import persistence
    from .estimators import RTRLClassifier, RTRLRegressor

    header = read_header(args.data)
    targets = args.target
    target_idx = column_indices(args.data, header, targets)
    seq_idx = column_indices(args.data, header, [args.sequence_id]) if args.sequence_id else []
    used = set(targets) | ({args.sequence_id} if args.sequence_id else set())
    features = args.features or [name for name in header if name not in used]
    if not features:
        raise FileError(f"{args.data}: no feature columns left besides the target")
    feature_idx = column_indices(args.data, header, features)
    if args.classify and len(targets) != 1:
        raise FileError("--classify takes exactly one --target column")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise FileError(f"{out.parent}: no such directory for --out")
    if out.is_dir():
        raise FileError(f"{out}: is a directory; --out names the model file to write")

    common = dict(
        hidden_size=args.hidden,
        cell=args.cell,
        learner=args.learner,
        learning_rate=args.learning_rate,
        update_every=args.update_every,
        clip_norm=args.clip_norm,
        n_jobs=args.n_jobs,
        random_state=args.seed,
    )
    classes = None
    model = (RTRLClassifier if args.classify else RTRLRegressor)(**common)
    try:  # bad options are named before the file is read
        model._validate_params()
        effective_n_threads(args.n_jobs)
        check_state_memory(  # the network's part; BPTT's, which grows with the rows read,
            model._learner(),  # is checked on each chunk
            model._cell().layout(args.hidden, len(features), 1 if args.classify else len(targets)),
            np.dtype(model.dtype).itemsize,
            1,
        )
    except (ValueError, MemoryError) as exc:
        raise FileError(str(exc)) from None
    if args.classify:
        classes = _class_labels(args.data, header, target_idx[0], args.chunk_size)
        if len(classes) < 2:
            raise FileError(
                f"{args.data}: --classify needs at least 2 classes in column "
                f"{targets[0]!r}; it holds {len(classes)}"
            )
        numeric = feature_idx
        text = target_idx + seq_idx
    else:
        numeric = feature_idx + target_idx
        text = seq_idx
    bundle = {
        "model": model,
        "features": features,
        "target": targets,
        "sequence_id": args.sequence_id,
    }
    progress = Progress(not args.quiet)
    rows = chunks = 0
    loss_sum = 0.0
    try:
        for _, values, texts, fraction in iter_chunks(
            args.data, header, numeric, text, args.chunk_size
        ):
            X = values[:, : len(feature_idx)]
            seq = np.array([t[-1] for t in texts], dtype=object) if seq_idx else None
            try:
                if args.classify:
                    y = _labels(texts, classes)
                    model.partial_fit(X, y, sequence_id=seq, classes=classes)
                else:
                    y = values[:, len(feature_idx) :]
                    model.partial_fit(X, y[:, 0] if y.shape[1] == 1 else y, sequence_id=seq)
            except (ValueError, MemoryError) as exc:  # refused data: the model is unchanged
                raise FileError(f"{args.data}: {exc}") from None
            rows += len(X)
            chunks += 1
            loss_sum += model.loss_curve_[-1] * len(X)
            progress.update(fraction, rows, loss_sum / rows)
            if args.save_every and chunks % args.save_every == 0:
                persistence.save(bundle, out)
    except KeyboardInterrupt:
        progress.close()
        state = "holds the last checkpoint" if out.exists() else "was not written"
        print(f"rtrl fit: interrupted after {rows} rows; {out} {state}", file=sys.stderr)
        return 130
    progress.close()
    if rows == 0:
        raise FileError(f"{args.data}: no data rows")
    persistence.save(bundle, out)
    print(
        f"rtrl fit: {rows} rows of {args.data} in {chunks} chunk(s); prequential loss "
        f"{loss_sum / rows:.6g}; model written to {out}"
    )
    return 0


def load_model(path: str):
    """The estimator and the column names of a model file (written by ``rtrl fit`` or
    ``rtrl.save``)."""
    from . import persistence

    if not os.path.exists(path):
        raise FileError(f"{path}: no such model file")
    try:
        loaded = persistence.load(path)
    except persistence.UntrustedTypesError as exc:
        raise FileError(str(exc)) from None
    except ImportError as exc:
        raise FileError(str(exc)) from None
    except Exception as exc:  # a corrupt or foreign file: skops/zipfile/json errors
        raise FileError(f"{path}: not a valid model file ({type(exc).__name__})") from None
    if isinstance(loaded, dict) and "model" in loaded:
        return (
            loaded["model"],
            loaded.get("features"),
            loaded.get("target"),
            loaded.get("sequence_id"),
        )
    if not hasattr(loaded, "predict"):
        raise FileError(f"{path}: holds no model")
    if not hasattr(loaded, "_predict_chunk"):
        raise FileError(
            f"{path}: holds a {type(loaded).__name__}, which rtrl predict cannot stream "
            "through a file; call its predict from Python"
        )
    return loaded, None, None, None


def predict(args) -> int:
    from sklearn.exceptions import NotFittedError

    model, features, target, seq_name = load_model(args.model)
    header = read_header(args.data)
    features = args.features or features
    if features is None:
        n = getattr(model, "n_features_in_", None)
        features = header if n is None else header[:n]
    feature_idx = column_indices(args.data, header, features)
    if args.sequence_id is not None:
        seq_name = args.sequence_id
    elif seq_name is not None and seq_name not in header:
        raise FileError(
            f"{args.data}: the model was trained with sequences marked by column {seq_name!r}, "
            "which this file does not have (name another with --sequence-id)"
        )
    seq_idx = column_indices(args.data, header, [seq_name]) if seq_name is not None else []
    names = target or ["prediction"]
    out_path = Path(args.out) if args.out else None
    if out_path is not None and not out_path.parent.is_dir():
        raise FileError(f"{out_path.parent}: no such directory for --out")
    with contextlib.ExitStack() as stack:
        if out_path is None:
            sink = sys.stdout
        else:  # written beside the destination, renamed over it when complete
            tmp = stack.enter_context(atomic_path(out_path))
            sink = stack.enter_context(open(tmp, "w", newline="", encoding="utf-8"))
        writer = csv.writer(sink)
        writer.writerow(names)
        carry = last = None
        for _, X, texts, _ in iter_chunks(
            args.data, header, feature_idx, seq_idx, args.chunk_size
        ):
            seq = [t[0] for t in texts] if seq_idx else None
            try:
                Y, carry, last = model._predict_chunk(X, seq, carry, last)
            except NotFittedError:
                raise FileError(f"{args.model}: the model is not fitted") from None
            except ValueError as exc:
                raise FileError(f"{args.data}: {exc}") from None
            Y = np.asarray(Y)
            writer.writerows(Y.reshape(len(Y), -1).tolist())
    return 0
