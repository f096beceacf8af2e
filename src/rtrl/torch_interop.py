"""PyTorch interoperability: :func:`from_torch` and ``RTRLRegressor.to_torch()``.

rtrl's cells follow PyTorch's equations, parameter names and gate orders (``torch.nn.RNN``
with tanh or relu, ``torch.nn.GRU``, ``torch.nn.LSTM``), so weights move both ways unchanged:
a network pre-trained offline with BPTT in PyTorch keeps learning online here, and an
estimator trained here goes back to PyTorch. The readout is a ``torch.nn.Linear`` on the
hidden state (for a classifier, its outputs are the class logits).

Requires the optional dependency torch (``pip install "rtrl[torch]"``).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from .cells import GRU, LSTM, Elman

__all__ = ["from_torch", "to_torch"]


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised where torch is missing
        raise ImportError('PyTorch interop needs torch: pip install "rtrl[torch]"') from exc
    return torch


def _cell_of(module):
    nn = _torch().nn
    if isinstance(module, nn.LSTM):
        if module.proj_size:
            raise ValueError("LSTM with proj_size > 0 has no rtrl cell")
        cell = LSTM()
    elif isinstance(module, nn.GRU):
        cell = GRU()
    elif isinstance(module, nn.RNN):
        cell = Elman(nonlinearity=module.nonlinearity)
    else:
        raise TypeError(
            f"from_torch takes a torch.nn.RNN, GRU or LSTM, got {type(module).__name__}"
        )
    if module.num_layers != 1:
        raise ValueError(f"rtrl's cells have one layer; the module has {module.num_layers}")
    if module.bidirectional:
        raise ValueError("a bidirectional network cannot run online")
    return cell


def from_torch(module, readout=None, *, classes=None, n_outputs: int = 1, **params):
    """An rtrl estimator holding the weights of a PyTorch recurrent module.

    Parameters
    ----------
    module : torch.nn.RNN, torch.nn.GRU or torch.nn.LSTM
        One layer, unidirectional (``batch_first`` does not matter); without biases
        (``bias=False``) the estimator's biases start at zero (they are trained).
    readout : torch.nn.Linear, optional
        ``hidden_size -> n_outputs`` (regression) or ``-> len(classes)`` (class logits).
        Without it the readout is drawn as ``fit`` draws it, from ``random_state``.
    classes : array-like, optional
        Make an :class:`~rtrl.RTRLClassifier` with these classes.
    n_outputs : int, default=1
        Outputs of a regressor without ``readout``.
    **params
        Further estimator parameters (``learner``, ``learning_rate``, ``update_every``,
        ...). ``hidden_size``, ``cell`` and ``dtype`` come from the module.

    Returns
    -------
    RTRLRegressor or RTRLClassifier
        Fitted (``predict`` and ``partial_fit`` work at once), its stream at the zero state.
    """
    from .estimators import RTRLClassifier, RTRLRegressor

    torch = _torch()
    cell = _cell_of(module)
    for name in ("hidden_size", "cell", "dtype", "nonlinearity"):
        if name in params:
            raise ValueError(f"{name} comes from the module; do not pass it")
    if params.get("density", 1.0) < 1.0:
        raise ValueError("density < 1 would mask the module's weights; use density=1")
    weights = {k.removesuffix("_l0"): v for k, v in module.state_dict().items()}
    dtype = next(iter(weights.values())).dtype
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"the module's weights are {dtype}; rtrl runs float32 or float64")
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    n, m = module.hidden_size, module.input_size
    if classes is not None:
        classes = np.unique(np.asarray(classes))
        if len(classes) < 2:
            raise ValueError("a classifier needs at least 2 classes")
        n_out = len(classes)
        est = RTRLClassifier(hidden_size=n, cell=cell, dtype=np_dtype.__name__, **params)
    else:
        n_out = n_outputs
        est = RTRLRegressor(hidden_size=n, cell=cell, dtype=np_dtype.__name__, **params)
    if readout is not None:
        if not isinstance(readout, torch.nn.Linear):
            raise TypeError(f"readout must be a torch.nn.Linear, got {type(readout).__name__}")
        if readout.in_features != n:
            raise ValueError(f"the readout takes {readout.in_features} inputs, not {n}")
        if classes is None:
            n_out = readout.out_features
        elif readout.out_features != n_out:
            raise ValueError(f"the readout has {readout.out_features} outputs for {n_out} classes")
    est._validate_params()
    est.n_features_in_ = m
    est.n_outputs_ = n_out
    if classes is not None:
        est.classes_ = classes
    else:
        est._y_ndim = 1 if n_out == 1 else 2
    layout = cell.layout(n, m, n_out)
    est._init_network(layout, check_random_state(est.random_state))
    values = layout.unpack(est._w)  # the readout (if not given) as fit draws it
    for name, shape in layout.shapes().items():
        if name.startswith("readout"):
            continue
        values[name] = _array(weights.get(name), shape, np_dtype)
    if readout is not None:
        values["readout_weight"] = _array(readout.weight, (n_out, n), np_dtype)
        if readout.bias is not None:
            values["readout_bias"] = _array(readout.bias, (n_out,), np_dtype)
        else:
            values["readout_bias"] = np.zeros(n_out, dtype=np_dtype)
    est._w = layout.pack(values, np_dtype)
    return est


def _array(tensor, shape, dtype) -> np.ndarray:
    if tensor is None:  # a module without biases
        return np.zeros(shape, dtype=dtype)
    value = tensor.detach().cpu().numpy().astype(dtype)
    if value.shape != tuple(shape):
        raise ValueError(f"a parameter has shape {value.shape}, expected {tuple(shape)}")
    if not np.all(np.isfinite(value)):
        raise ValueError("the module's weights contain NaN or infinity")
    return value


def to_torch(est):
    """``(module, readout)``: the estimator's network as a ``torch.nn.RNN``/``GRU``/``LSTM``
    (one layer, ``batch_first=False``) and a ``torch.nn.Linear``, with its current weights."""
    torch = _torch()
    cell = est._cell()
    params = est.params_
    if isinstance(cell, Elman):
        if cell.leak != 1.0:
            raise ValueError("torch.nn.RNN has no leak; only leak=1 converts")
        kind = lambda **kw: torch.nn.RNN(nonlinearity=cell.nonlinearity, **kw)  # noqa: E731
    elif isinstance(cell, GRU):
        kind = torch.nn.GRU
    elif isinstance(cell, LSTM):
        kind = torch.nn.LSTM
    else:
        raise ValueError(f"the {cell.name} cell has no PyTorch module")
    dtype = torch.float64 if est._dt() == np.float64 else torch.float32
    n, m = est.hidden_size, est.n_features_in_
    module = kind(input_size=m, hidden_size=n, num_layers=1, bias=True, dtype=dtype)
    readout = torch.nn.Linear(n, est.n_outputs_, dtype=dtype)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(params[name.removesuffix("_l0")])))
        readout.weight.copy_(torch.from_numpy(np.ascontiguousarray(params["readout_weight"])))
        readout.bias.copy_(torch.from_numpy(np.ascontiguousarray(params["readout_bias"])))
    return module, readout
