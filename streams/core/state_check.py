"""A user state read back from storage is checked before use: right types in every field.

The changelog is a topic: anyone with write access to it could put a state there whose
`touched` is a string, and the partition would fail on it at every start. `checked`
compares each field of the state (and of its features) with the field's declared type,
one level deep — enough that arithmetic and comparisons on it cannot raise — and names
the first field that is wrong.

>>> from streams.core.state import UserState
>>> checked(UserState.from_dict({"user_id": "u1", "touched": 5})).touched
5
>>> checked(UserState.from_dict({"user_id": "u1", "touched": "soon"}))
Traceback (most recent call last):
...
ValueError: state field 'touched' should be int, not str
"""

from __future__ import annotations

import math
import typing
from dataclasses import fields
from typing import Any

from streams.core.features import UserFeatures
from streams.core.state import UserState

_BASIC: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "tuple": (tuple, list),
}


_EXPECTED: dict[type, dict[str, tuple[type, ...]]] = {}


def _expected(cls: type) -> dict[str, tuple[type, ...]]:
    known = _EXPECTED.get(cls)
    if known is not None:
        return known
    hints = typing.get_type_hints(cls)
    found = {}
    for item in fields(cls):
        hint = hints[item.name]
        origin = typing.get_origin(hint) or hint
        name = getattr(origin, "__name__", "")
        if name in _BASIC:
            found[item.name] = _BASIC[name]
    _EXPECTED[cls] = found
    return found


def _check(obj: Any, where: str) -> None:
    for name, kinds in _expected(type(obj)).items():
        value = getattr(obj, name)
        wrong_bool = isinstance(value, bool) and bool not in kinds
        if wrong_bool or not isinstance(value, kinds):
            wanted = "/".join(kind.__name__ for kind in kinds)
            raise ValueError(
                f"{where} field {name!r} should be {wanted}, not {type(value).__name__}"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{where} field {name!r} is not a finite number")


def checked(state: UserState) -> UserState:
    """`state`, if every field has its declared type; ValueError naming the first that does not."""
    _check(state, "state")
    if not isinstance(state.features, UserFeatures):
        raise ValueError("state field 'features' is not a feature set")
    _check(state.features, "features")
    return state
