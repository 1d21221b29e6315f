"""What every settings model shares, the core's and each plugin's: environment names, secrets
kept out of reprs, dumps and the config file, URL keys masked, choices in any case."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Self, Union, get_args, get_origin
from urllib.parse import unquote

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    Secret,
    SecretStr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_serializer,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

MASK = "**********"


class ConfigError(Exception):
    """A configuration problem, phrased as one line naming the setting and the fix."""


# A URL's password (user:password@host) and the values of key-like query parameters.
_URL_PASSWORD = re.compile(r"^(?:[^:/?#]+://)?[^/?#:@]*:(?P<secret>[^/?#]*)@")
_QUERY_VALUE = re.compile(r"[?&](?P<key>[^=&#]*)=(?P<secret>[^&#]*)")
_SECRET_KEY = re.compile(r"pass|key|token|secret|sig", re.IGNORECASE)
_HAS_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_UNSET_VARIABLE = re.compile(r"\$\{?\w+\}?")


def _secret_spans(url: str) -> list[tuple[int, int]]:
    spans = []
    if password := _URL_PASSWORD.match(url):
        spans.append(password.span("secret"))
    spans += [m.span("secret") for m in _QUERY_VALUE.finditer(url) if _SECRET_KEY.search(m["key"])]
    return [(start, end) for start, end in spans if end > start]


def mask_url(url: str) -> str:
    """The URL or DSN with its password and key-like query values masked, for any message."""
    for start, end in sorted(_secret_spans(url), reverse=True):
        url = url[:start] + MASK + url[end:]
    return url


def url_secrets(url: str) -> set[str]:
    """The credentials inside a URL, as written and percent-decoded, for the log filter."""
    if not _HAS_SCHEME.match(url):
        return set()
    found = {url[start:end] for start, end in _secret_spans(url)}
    return found | {unquote(secret) for secret in found}


def _shown(value: Any) -> Any:
    """A value as reprs and dumps show it: a URL with its keys masked, anything else as is."""
    return mask_url(value) if isinstance(value, str) and _HAS_SCHEME.match(value) else value


class SecretUrl(Secret[str]):
    """A URL that may carry a password: reprs and dumps show it masked; the store reads it whole."""

    def _display(self) -> str:
        return mask_url(self.get_secret_value())


def expand_path(value: str | Path) -> Path:
    """A path with ~ and $VARS expanded as a shell would; a variable that is not set is an error."""
    expanded = os.path.expandvars(os.path.expanduser(str(value)))
    if unset := _UNSET_VARIABLE.search(expanded):
        raise ValueError(f"{unset.group()} is not set")
    return Path(expanded)


ExpandedPath = Annotated[Path, BeforeValidator(expand_path)]
"""A file or folder setting: `~/parley` and `$STATE_DIRECTORY/parley` mean what they say."""


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


StrList = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]
"""A list that the environment gives comma-separated: PARLEY_USER_IDS=123,456."""
IntList = Annotated[list[int], NoDecode, BeforeValidator(_split_commas)]


def _must_be_url(value: str) -> str:
    if not value.startswith(("http://", "https://", "ws://", "wss://")):
        raise ValueError("must be a URL starting with http:// or https://")
    return value


Url = Annotated[str, AfterValidator(_must_be_url)]
"""An endpoint: http(s):// or ws(s)://. Any key in it is masked in reprs and dumps."""


def secret(env_name: str) -> Any:
    """A secret field, read only from the environment under its ecosystem's usual name."""
    return Field(None, validation_alias=AliasChoices(env_name), repr=False)


def literal_choices(annotation: Any) -> tuple[Any, ...]:
    """The choices of a Literal setting (also inside `Literal[...] | None`)."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    if get_origin(annotation) in (Union, UnionType):
        return tuple(choice for arg in get_args(annotation) for choice in literal_choices(arg))
    return ()


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


class SettingsModel(BaseSettings):
    """The base of every settings model. A plugin's model sets its own `env_prefix` (PARLEY_NAME_)
    in model_config, declares secrets with `secret("USUAL_NAME")`, and documents each field
    with a docstring under it: that text is the help, doctor and README description."""

    model_config = SettingsConfigDict(
        extra="forbid",
        validate_default=True,
        populate_by_name=True,
        use_attribute_docstrings=True,
    )
    file_values: ClassVar[dict[str, Any]] = {}
    """Values from the config file: below the environment, above the defaults."""

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable that sets a field."""
        alias = cls.model_fields[field].validation_alias
        if isinstance(alias, AliasChoices):
            return str(alias.choices[0])
        if isinstance(alias, str):
            return alias
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()

    @classmethod
    def env_names(cls) -> dict[str, str]:
        """Every field and the environment variable that sets it."""
        return {field: cls.env_name(field) for field in cls.model_fields}

    @classmethod
    def secret_fields(cls) -> dict[str, str]:
        """The secret fields and their variables: they are refused in the config file."""
        return {
            field: cls.env_name(field)
            for field, info in cls.model_fields.items()
            if _is_secret(info.annotation)
        }

    @classmethod
    def with_file_values(cls, values: dict[str, Any]) -> type[Self]:
        """This model reading `values` (from the config file) below the environment."""
        return type(cls.__name__, (cls,), {"file_values": values, "__module__": cls.__module__})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_values = getattr(settings_cls, "file_values", {})
        return (init_settings, env_settings, InitSettingsSource(settings_cls, file_values))

    @field_validator("*", mode="before")
    @classmethod
    def _any_case(cls, value: Any, info: ValidationInfo) -> Any:
        """A choice in any case (PARLEY_LOG_LEVEL=debug) becomes its canonical spelling."""
        if isinstance(value, str) and info.field_name:
            for choice in literal_choices(cls.model_fields[info.field_name].annotation):
                if isinstance(choice, str) and choice.lower() == value.lower():
                    return choice
        return value

    @field_serializer("*", mode="wrap")
    def _masked_url(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        """A gateway URL may carry a key (?api-key=...): dumps show it masked."""
        return _shown(value) if isinstance(value, str) else handler(value)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The fields for repr(settings), with any key inside a URL masked."""
        for name, value in super().__repr_args__():
            yield name, _shown(value)

    def secret_values(self) -> set[str]:
        """Every credential these settings hold (tokens, URL passwords), for the log filter."""
        found: set[str] = set()
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                found.add(value.get_secret_value())
            elif isinstance(value, SecretUrl):
                found |= url_secrets(value.get_secret_value())
            elif isinstance(value, str):
                found |= url_secrets(value)
        return found
