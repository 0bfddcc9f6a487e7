"""Boolean rules over user features, written in CEL and checked before the stream starts.

CEL (Common Expression Language) is a small, side-effect-free language: a rule can read
the variables in :mod:`streams.core.feature_view` and nothing else, so configuration is
never executed as Python. Each rule is compiled once and evaluated with only the variables
it mentions (a wide context costs ~30x more per call).

>>> rule = compile_rule("orders_90d >= 3 && monetary_90d > 500")
>>> sorted(rule.variables)
['monetary_90d', 'orders_90d']
>>> compile_rule("ordrs > 2")
Traceback (most recent call last):
...
streams.core.rules.RuleError: unknown variable 'ordrs' (did you mean 'orders'?)
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Final

import cel

from streams.core.errors import PulseError
from streams.core.feature_view import VARIABLES, Value
from streams.core.state import UserState

# Functions a rule may call: CEL's operators and a few pure built-ins.
_ALLOWED_FUNCTIONS: Final = frozenset(
    {
        "_&&_",
        "_||_",
        "!_",
        "-_",
        "_==_",
        "_!=_",
        "_<_",
        "_<=_",
        "_>_",
        "_>=_",
        "_+_",
        "_-_",
        "_*_",
        "_/_",
        "_%_",
        "@in",
        "_?_:_",
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "int",
        "double",
        "string",
        "min",
        "max",
        "exists",
        "all",
        "exists_one",
        "filter",
        "map",
    }
)

_SAMPLE_VALUES: Final[dict[type, list[Value]]] = {
    int: [0, 3],
    float: [0.0, 2.5],
    str: ["", "active"],
    bool: [False, True],
    list: [[], ["shoes", "bags"]],
}


MEMO_SIZE: Final = 4096  # remembered results per rule


class RuleError(PulseError):
    """A rule that does not compile or does not evaluate to true/false."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule and the variables it reads."""

    source: str
    program: Any
    variables: tuple[str, ...]
    # Event kinds (and TIME) that can change the rule's outcome; see feature_view.
    triggers: frozenset[str] = frozenset()
    # Results by input values: CEL is pure, and many users share values (counts, zeros),
    # so a lookup often replaces an evaluation. Bounded: cleared when full.
    memo: dict[tuple[Any, ...], bool] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )
    # The variables' compute functions, in `variables` order (looked up once).
    computes: tuple[Any, ...] = field(init=False, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        computes = tuple(VARIABLES[name].compute for name in self.variables)
        object.__setattr__(self, "computes", computes)

    def evaluate(self, state: UserState, now: int) -> bool:
        """True when the rule holds; raises RuleError if it fails at run time."""
        values = tuple([compute(state, now) for compute in self.computes])
        try:
            key: tuple[Any, ...] | None = values
            cached = self.memo.get(values)
        except TypeError:  # a list value: not hashable, evaluate every time
            key, cached = None, None
        if cached is not None:
            return cached
        context = dict(zip(self.variables, values, strict=True))  # only for an evaluation
        try:
            result = self.program.execute(context)
        except Exception as exc:  # noqa: BLE001 - whatever the evaluator raises is this rule's error
            raise RuleError(f"rule {self.source!r} failed: {_first_line(exc)}") from None
        if not isinstance(result, bool):
            raise RuleError(f"rule {self.source!r} gave {result!r}, not true/false")
        if key is not None:
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            self.memo[key] = result
        return result


MAX_RULE_LENGTH: Final = 1000  # characters
_MACROS: Final = re.compile(r"\.\s*(all|exists_one|exists|map|filter)\s*\(")
_STRINGS: Final = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")


def macro_depth(source: str) -> int:
    """How deeply comprehensions (all, exists, exists_one, map, filter) nest in a rule.

    One level costs at most the length of the list it walks (lists in state are capped, and
    a literal list is bounded by the rule's length); each nested level multiplies that, so
    rules may not nest them.

    >>> macro_depth("recent_categories.exists(c, c == 'shoes')")
    1
    >>> macro_depth("[1, 2].all(a, [3, 4].exists(b, a < b))")
    2
    >>> macro_depth("'x.all(' == top_category")
    0
    """
    text = _STRINGS.sub('""', source)
    depth = deepest = 0
    open_macros: list[int] = []  # parenthesis levels at which a macro call opened
    level = 0
    index = 0
    while index < len(text):
        match = _MACROS.match(text, index)
        if match:
            level += 1
            open_macros.append(level)
            depth = len(open_macros)
            deepest = max(deepest, depth)
            index = match.end()
            continue
        char = text[index]
        if char == "(":
            level += 1
        elif char == ")":
            if open_macros and open_macros[-1] == level:
                open_macros.pop()
            level -= 1
        index += 1
    return deepest


def compile_rule(source: str) -> Rule:
    """Compile and check a rule: syntax, known variables, allowed functions, boolean result,
    and a bounded cost (length, no nested comprehensions)."""
    if not isinstance(source, str) or not source.strip():
        raise RuleError("a rule must be a non-empty string")
    if len(source) > MAX_RULE_LENGTH:
        raise RuleError(f"a rule may be at most {MAX_RULE_LENGTH} characters (got {len(source)})")
    if macro_depth(source) > 1:
        raise RuleError(
            "comprehensions (all, exists, exists_one, map, filter) may not be nested: "
            "each level multiplies the work per event"
        )
    try:
        program = cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        raise RuleError(f"syntax error: {_first_line(exc)}") from None
    variables = tuple(sorted(program.variables()))
    for name in variables:
        if name not in VARIABLES:
            close = difflib.get_close_matches(name, list(VARIABLES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RuleError(f"unknown variable {name!r}{hint}")
    for function in program.functions():
        if function not in _ALLOWED_FUNCTIONS:
            raise RuleError(f"function {function!r} is not available in rules")
    triggers = frozenset().union(*(VARIABLES[name].changes_on for name in variables))
    rule = Rule(source, program, variables, triggers)
    _check_on_samples(rule)
    return rule


def _check_on_samples(rule: Rule) -> None:
    """Evaluate on typed sample values, so type errors surface at start-up, not mid-stream."""
    for index in range(2):
        context = {name: _SAMPLE_VALUES[VARIABLES[name].kind][index] for name in rule.variables}
        try:
            result = rule.program.execute(context)
        except ArithmeticError as exc:
            raise RuleError(
                f"fails with {context}: {_first_line(exc)} "
                "(guard divisions, e.g. 'orders > 0 && monetary / double(orders) > 50.0')"
            ) from None
        except Exception as exc:  # noqa: BLE001 - report any evaluator failure at start-up
            raise RuleError(
                f"cannot evaluate with {context}: {_first_line(exc)} "
                "(CEL does not mix int and double in arithmetic: write 2.0, or double(x))"
            ) from None
        if not isinstance(result, bool):
            raise RuleError(f"gives {type(result).__name__} {result!r}, not true/false")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0]
