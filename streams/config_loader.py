"""Read a Pulse config file (YAML) into a validated :class:`PulseConfig`.

YAML is parsed to a node tree first so every key keeps its line number; the core's
validation then reports problems as ``file:line: problem (fix: ...)``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from streams.core.config import PulseConfig, build_config
from streams.core.errors import ConfigError

DEFAULT_CONFIG_NAME = "pulse.yaml"


def default_config_path() -> Path:
    """The sample config shipped with the package (the default of every command)."""
    return Path(str(resources.files("streams") / "defaults" / DEFAULT_CONFIG_NAME))


def load_config(path: str | Path | None = None) -> PulseConfig:
    """Load and validate a config file; raises ConfigError naming the file and line."""
    file = Path(path) if path is not None else default_config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            str(file),
            None,
            f"cannot read the config file: {exc.strerror}",
            "check the path given to --config",
        ) from None
    data, lines = parse_yaml_with_lines(text, str(file))
    return build_config(data, str(file), lines)


def parse_yaml_with_lines(text: str, file: str) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    """Parse YAML to plain data plus {path: 1-based line} for every mapping key and item."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(
            file,
            line,
            f"not valid YAML: {problem}",
            "check indentation and quoting (rules with ':' need quotes)",
        ) from None
    lines: dict[tuple[str | int, ...], int] = {}
    if root is None:
        return {}, lines
    return _plain(root, (), lines, file), lines


def _plain(
    node: yaml.Node, path: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int], file: str
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            if not isinstance(key, str):
                raise ConfigError(
                    file,
                    key_node.start_mark.line + 1,
                    f"key {key!r} is not a name",
                    "use a plain word as key",
                )
            if key in out:
                raise ConfigError(
                    file,
                    key_node.start_mark.line + 1,
                    f"key {key!r} appears twice",
                    "remove one of them",
                )
            out[key] = _plain(value_node, (*path, key), lines, file)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, index), lines, file) for index, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))
