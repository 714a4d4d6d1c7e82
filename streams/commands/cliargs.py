"""Command-line flags generated from settings classes: every field is a flag and an env var.

A flag is its env var without `LINEPULSE_` (`--oee-window-s` is LINEPULSE_OEE_WINDOW_S); the
connectors' own settings drop their prefix too (`--spool-dir`, `--host`, `--plant`). Settings
nested in another (the worker's `oee`, `anomaly`, ...) get their own group of flags.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)

PREFIX = "LINEPULSE_"
SHORT_FLAGS = frozenset({"MesSettings", "PublisherSettings", "SimulatorSettings"})


def env_name(cls: type[BaseSettings], field: str) -> str:
    """The env var of a settings field (its alias, where it has one)."""
    alias = cls.model_fields[field].validation_alias
    if isinstance(alias, str):
        return alias
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _flag(cls: type[BaseSettings], field: str) -> str:
    env = env_name(cls, field)
    strip = str(cls.model_config.get("env_prefix", PREFIX)).upper()
    if cls.__name__ not in SHORT_FLAGS or not env.startswith(strip):
        strip = PREFIX
    return "--" + env.removeprefix(strip).lower().replace("_", "-")


def nested_settings(cls: type[BaseSettings]) -> dict[str, type[BaseSettings]]:
    """The fields of `cls` that are settings classes of their own."""
    found = {}
    for name, info in cls.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseSettings):
            found[name] = kind
    return found


def add_settings_flags(
    parser: argparse.ArgumentParser,
    cls: type[BaseSettings],
    skip: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
    shown: dict[str, str] | None = None,
) -> None:
    """A flag for every field of `cls` (and of the settings nested in it); `shown` replaces the
    default the help prints where a command uses another one."""
    group = parser.add_argument_group(cls.__name__.removesuffix("Settings").lower() + " settings")
    nested = nested_settings(cls)
    for name, info in cls.model_fields.items():
        if name in skip or (only is not None and name not in only):
            continue
        if name in nested:
            add_settings_flags(parser, nested[name])
            continue
        default = (shown or {}).get(name, "unset" if info.default is None else info.default)
        help_text = f"{info.description or name} (default: {default}) [env: {env_name(cls, name)}]"
        group.add_argument(
            _flag(cls, name),
            dest=f"{cls.__name__}.{name}",
            default=None,
            metavar=name.upper(),
            help=help_text.replace("%", "%%"),
        )


def settings_from_args(cls: type[S], args: argparse.Namespace, **overrides: Any) -> S:
    """Flags given on the command line win over env vars, which win over defaults."""
    values: dict[str, Any] = {
        key.split(".", 1)[1]: value
        for key, value in vars(args).items()
        if key.startswith(f"{cls.__name__}.") and value is not None
    }
    for name, nested in nested_settings(cls).items():
        values[name] = settings_from_args(nested, args)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return cls(**values)


def add_env_flag(
    parser: argparse.ArgumentParser,
    flag: str,
    env: str,
    kind: type,
    default: Any,
    help_text: str,
    choices: tuple[str, ...] | None = None,
) -> None:
    """A command's own option, with an env var as its default."""
    raw = os.environ.get(env)
    value = kind(raw) if raw not in (None, "") else default
    shown = (
        "" if "default:" in help_text else f" (default: {'unset' if default is None else default})"
    )
    parser.add_argument(
        flag,
        type=kind,
        default=value,
        choices=choices,
        help=f"{help_text}{shown} [env: {env}]".replace("%", "%%"),
    )
