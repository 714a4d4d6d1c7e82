"""Command-line flags generated from settings classes: every field is a flag and an env var."""

from __future__ import annotations

import argparse
import os
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)

FLAG_PREFIXES = {"KafkaSettings": "kafka-"}


def _env_name(cls: type[BaseSettings], field: str) -> str:
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def add_settings_flags(
    parser: argparse.ArgumentParser,
    cls: type[BaseSettings],
    skip: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
) -> None:
    group = parser.add_argument_group(cls.__name__.removesuffix("Settings").lower() + " settings")
    prefix = FLAG_PREFIXES.get(cls.__name__, "")
    for name, info in cls.model_fields.items():
        if name in skip or (only is not None and name not in only):
            continue
        default = info.default
        shown = "unset" if default is None else default
        help_text = f"{info.description or name} (default: {shown}) [env: {_env_name(cls, name)}]"
        group.add_argument(
            f"--{prefix}{name.replace('_', '-')}",
            dest=f"{cls.__name__}.{name}",
            default=None,
            metavar=name.upper(),
            help=help_text.replace("%", "%%"),
        )


def settings_from_args(cls: type[S], args: argparse.Namespace, **overrides: Any) -> S:
    """Flags given on the command line win over env vars, which win over defaults."""
    values = {
        key.split(".", 1)[1]: value
        for key, value in vars(args).items()
        if key.startswith(f"{cls.__name__}.") and value is not None
    }
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
    shown = "unset" if default is None else default
    parser.add_argument(
        flag,
        type=kind,
        default=value,
        choices=choices,
        help=f"{help_text} (default: {shown}) [env: {env}]".replace("%", "%%"),
    )
