"""Stack configuration, set with ``outrun config set [--secret] KEY VALUE``
and read by the program with :class:`Config`."""

from __future__ import annotations

import json
from typing import Any

from _outrun import Output


class ConfigMissingError(Exception):
    """A required configuration value is not set."""

    def __init__(self, key: str, secret: bool = False) -> None:
        flag = " --secret" if secret else ""
        super().__init__(
            f"Missing required configuration variable '{key}'\n"
            f"\tset it with `outrun config set{flag} {key} <value>`")
        self.key = key
        self.secret = secret


class ConfigTypeError(Exception):
    """A configuration value cannot be read as the type asked for."""

    def __init__(self, key: str, value: str, type_name: str) -> None:
        super().__init__(f"Configuration '{key}' value '{value}' is not a "
                         f"valid '{type_name}'")
        self.key = key
        self.value = value
        self.type_name = type_name


def _values() -> dict[str, Any]:
    from outrun._engine import deployment

    dep = deployment.current()
    return dict(dep.config) if dep is not None else {}


class Config:
    """The configuration of one namespace (the project's by default): keys
    are set as ``NAMESPACE:KEY``, or just ``KEY`` for the project's own."""

    def __init__(self, name: str | None = None) -> None:
        if name is None:
            from outrun.resource import get_project

            name = get_project()
        if not isinstance(name, str):
            raise TypeError("Expected name to be a string")
        self.name = name

    def full_key(self, key: str) -> str:
        return f"{self.name}:{key}"

    def _raw(self, key: str) -> tuple[str, bool] | None:
        entry = _values().get(self.full_key(key))
        if entry is None:
            return None
        return entry.value, entry.secret

    def _get(self, key: str, secret_ok: bool = True) -> str | None:
        raw = self._raw(key)
        return None if raw is None else raw[0]

    # Plain values ---------------------------------------------------------

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self._get(key)
        return default if value is None else value

    def get_bool(self, key: str, default: bool | None = None) -> bool | None:
        value = self._get(key)
        if value is None:
            return default
        if value in ("true", "True"):
            return True
        if value in ("false", "False"):
            return False
        raise ConfigTypeError(self.full_key(key), value, "bool")

    def get_int(self, key: str, default: int | None = None) -> int | None:
        value = self._get(key)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ConfigTypeError(self.full_key(key), value, "int") from None

    def get_float(self, key: str,
                  default: float | None = None) -> float | None:
        value = self._get(key)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise ConfigTypeError(self.full_key(key), value,
                                  "float") from None

    def get_object(self, key: str, default: Any = None) -> Any:
        value = self._get(key)
        if value is None:
            return default
        try:
            return json.loads(value)
        except ValueError:
            raise ConfigTypeError(self.full_key(key), value,
                                  "JSON object") from None

    def _require(self, value: Any, key: str, secret: bool = False) -> Any:
        if value is None:
            raise ConfigMissingError(self.full_key(key), secret)
        return value

    def require(self, key: str) -> str:
        return self._require(self.get(key), key)

    def require_bool(self, key: str) -> bool:
        return self._require(self.get_bool(key), key)

    def require_int(self, key: str) -> int:
        return self._require(self.get_int(key), key)

    def require_float(self, key: str) -> float:
        return self._require(self.get_float(key), key)

    def require_object(self, key: str) -> Any:
        return self._require(self.get_object(key), key)

    # Secrets: the same, as secret Outputs ------------------------------

    def _secret(self, value: Any) -> Output[Any] | None:
        return None if value is None else Output.secret(value)

    def get_secret(self, key: str, default: str | None = None
                   ) -> Output[str] | None:
        return self._secret(self.get(key, default))

    def get_secret_bool(self, key: str, default: bool | None = None
                        ) -> Output[bool] | None:
        return self._secret(self.get_bool(key, default))

    def get_secret_int(self, key: str, default: int | None = None
                       ) -> Output[int] | None:
        return self._secret(self.get_int(key, default))

    def get_secret_float(self, key: str, default: float | None = None
                         ) -> Output[float] | None:
        return self._secret(self.get_float(key, default))

    def get_secret_object(self, key: str, default: Any = None
                          ) -> Output[Any] | None:
        return self._secret(self.get_object(key, default))

    def require_secret(self, key: str) -> Output[str]:
        return Output.secret(self._require(self.get(key), key, True))

    def require_secret_bool(self, key: str) -> Output[bool]:
        return Output.secret(self._require(self.get_bool(key), key, True))

    def require_secret_int(self, key: str) -> Output[int]:
        return Output.secret(self._require(self.get_int(key), key, True))

    def require_secret_float(self, key: str) -> Output[float]:
        return Output.secret(self._require(self.get_float(key), key, True))

    def require_secret_object(self, key: str) -> Output[Any]:
        return Output.secret(self._require(self.get_object(key), key, True))


__all__ = ["Config", "ConfigMissingError", "ConfigTypeError"]
