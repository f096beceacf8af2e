"""Hyperparameter objects (cells, learners, optimizers) that scikit-learn can clone."""

from __future__ import annotations

from inspect import signature


class HyperParameters:
    """``get_params``/``set_params``, ``repr`` and equality from the constructor's signature.

    Like scikit-learn's estimators, the constructor stores each argument under its own name,
    so ``clone`` and ``GridSearchCV`` (``cell__leak``, ``learner__block_width``) work on
    these objects.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        # the constructor's signature, read once per class (get_params runs every call)
        names = cls.__dict__.get("_param_names_cache")
        if names is None:
            names = (
                []
                if cls.__init__ is object.__init__
                else [
                    p.name
                    for p in signature(cls.__init__).parameters.values()
                    if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                ]
            )
            cls._param_names_cache = names
        return list(names)

    def get_params(self, deep: bool = True) -> dict:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        unknown = sorted(set(params) - set(self._param_names()))
        if unknown:
            raise ValueError(f"invalid parameters {unknown} for {type(self).__name__}")
        self.__init__(**{**self.get_params(), **params})  # the constructor validates
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_params() == other.get_params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_params().items()))))
