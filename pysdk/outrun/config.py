"""Stack configuration, set with ``outrun config set [--secret] KEY VALUE``
and read by the program with :class:`Config`."""

from __future__ import annotations

import json
from typing import Any

from _outrun import Output

from outrun import _monitor


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
        monitor = _monitor.active
        entry = monitor.config(self.full_key(key)) if monitor else None
        if entry is None:
            return None
        return entry.value, entry.secret

    def _get(self, key: str, secret_ok: bool = False) -> str | None:
        raw = self._raw(key)
        if raw is None:
            return None
        if raw[1] and not secret_ok:
            from outrun import log

            log.warn(f"configuration '{self.full_key(key)}' is a secret, "
                     "but was read with a plain getter; use get_secret or "
                     "require_secret so that it stays secret")
        return raw[0]

    # Plain values ---------------------------------------------------------

    def _typed(self, key: str, default: Any, type_name: str,
               secret_ok: bool) -> Any:
        value = self._get(key, secret_ok)
        if value is None:
            return default
        if type_name == "str":
            return value
        if type_name == "bool":
            if value in ("true", "True"):
                return True
            if value in ("false", "False"):
                return False
        else:
            try:
                if type_name == "int":
                    return int(value)
                if type_name == "float":
                    return float(value)
                return json.loads(value)
            except ValueError:
                pass
        raise ConfigTypeError(self.full_key(key), value,
                              "JSON object" if type_name == "object"
                              else type_name)

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._typed(key, default, "str", False)

    def get_bool(self, key: str, default: bool | None = None) -> bool | None:
        return self._typed(key, default, "bool", False)

    def get_int(self, key: str, default: int | None = None) -> int | None:
        return self._typed(key, default, "int", False)

    def get_float(self, key: str,
                  default: float | None = None) -> float | None:
        return self._typed(key, default, "float", False)

    def get_object(self, key: str, default: Any = None) -> Any:
        return self._typed(key, default, "object", False)

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

    def _secret(self, key: str, default: Any, type_name: str) -> Any:
        value = self._typed(key, default, type_name, True)
        return None if value is None else Output.secret(value)

    def _require_secret(self, key: str, type_name: str) -> Output[Any]:
        value = self._typed(key, None, type_name, True)
        return Output.secret(self._require(value, key, True))

    def get_secret(self, key: str, default: str | None = None
                   ) -> Output[str] | None:
        return self._secret(key, default, "str")

    def get_secret_bool(self, key: str, default: bool | None = None
                        ) -> Output[bool] | None:
        return self._secret(key, default, "bool")

    def get_secret_int(self, key: str, default: int | None = None
                       ) -> Output[int] | None:
        return self._secret(key, default, "int")

    def get_secret_float(self, key: str, default: float | None = None
                         ) -> Output[float] | None:
        return self._secret(key, default, "float")

    def get_secret_object(self, key: str, default: Any = None
                          ) -> Output[Any] | None:
        return self._secret(key, default, "object")

    def require_secret(self, key: str) -> Output[str]:
        return self._require_secret(key, "str")

    def require_secret_bool(self, key: str) -> Output[bool]:
        return self._require_secret(key, "bool")

    def require_secret_int(self, key: str) -> Output[int]:
        return self._require_secret(key, "int")

    def require_secret_float(self, key: str) -> Output[float]:
        return self._require_secret(key, "float")

    def require_secret_object(self, key: str) -> Output[Any]:
        return self._require_secret(key, "object")


__all__ = ["Config", "ConfigMissingError", "ConfigTypeError"]
