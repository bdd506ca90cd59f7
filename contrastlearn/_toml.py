"""Reading and writing the TOML of :mod:`contrastlearn.cli` configs.

:mod:`tomllib` reads (``tomli`` on Python 3.10); it cannot write, so
:func:`dump_toml` writes the tables a resolved config holds: a ``[table]``
per top-level key, nested tables inline, values of the types TOML has
(no None).
"""

import json
import math
import re


class ConfigError(ValueError):
    """A config file, override or command-line argument that cannot be used; names the key."""


def toml_module():
    """:mod:`tomllib` (Python 3.11+), or the ``tomli`` package it came from."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError(
                "reading TOML needs Python 3.11+ or the tomli package: pip install tomli"
            ) from None
    return tomllib


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) to a TOML config")


def _toml_key(key):
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def dump_toml(config):
    """TOML text of a config: a ``[table]`` per top-level table, nested tables inline."""
    lines = []
    for table, values in config.items():
        if table == "format":
            continue
        lines.append(f"[{_toml_key(table)}]")
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in values.items()]
        lines.append("")
    return "\n".join(lines)
