"""Random values kept in the state: the resources of Pulumi's random
provider, built in and run in-process.

    from outrun.providers.random import RandomPassword

    db_password = RandomPassword("db", length=24, min_special=2)
    outrun.export("password", db_password.result)   # a secret

A value is drawn once, when the resource is created, and then stays the
same on every run.  Changing any argument, or any value in ``keepers``,
replaces the resource with a new draw; put in ``keepers`` whatever should
trigger a new value (an image id, a date).

The type tokens and argument names are Pulumi's, so a program written for
``pulumi_random`` needs only its import changed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from outrun.dynamic import Resource
from outrun.providers._random_impl import (
    RandomIdProvider,
    RandomIntegerProvider,
    RandomPasswordProvider,
    RandomStringProvider,
    RandomUuidProvider,
)

# The providers keep no state of their own, so every resource shares one.
_STRING_PROVIDER = RandomStringProvider()
_PASSWORD_PROVIDER = RandomPasswordProvider()
_INTEGER_PROVIDER = RandomIntegerProvider()
_UUID_PROVIDER = RandomUuidProvider()
_ID_PROVIDER = RandomIdProvider()


def _warn_number() -> None:
    warnings.warn(
        "number is deprecated: use numeric, which it is an alias of",
        DeprecationWarning, stacklevel=3)


class RandomString(Resource):
    """A random string, for names and other values that need not be
    secret (see RandomPassword for those).

    length: how many characters.  upper, lower, numeric, special: which
    classes of characters to draw from (all by default; ``number`` is a
    deprecated alias of numeric).  min_upper, min_lower, min_numeric,
    min_special: at least that many of each class.  override_special:
    the special characters to use instead of ``!@#$%&*()-_=+[]{}<>:?``.
    keepers: values whose change draws a new string.

    Output ``result``: the string, which is also the id.
    """

    result: Any

    def __init__(self, name: str, *, length: Any, special: Any = True,
                 upper: Any = True, lower: Any = True, numeric: Any = True,
                 number: Any = None, min_upper: Any = 0, min_lower: Any = 0,
                 min_numeric: Any = 0, min_special: Any = 0,
                 override_special: Any = None,
                 keepers: Mapping[str, Any] | None = None,
                 opts: Any = None) -> None:
        if number is not None:
            _warn_number()
        super().__init__(
            self._PROVIDER, name,
            {"length": length, "special": special, "upper": upper,
             "lower": lower, "numeric": numeric, "number": number,
             "min_upper": min_upper, "min_lower": min_lower,
             "min_numeric": min_numeric, "min_special": min_special,
             "override_special": override_special, "keepers": keepers,
             "result": None},
            opts, type_=self._TYPE)

    _PROVIDER = _STRING_PROVIDER
    _TYPE = "random:index/randomString:RandomString"


class RandomPassword(RandomString):
    """A random string kept secret: RandomString's arguments, and its
    ``result`` is a secret wherever it flows (the state stores it
    encrypted, and the display masks it).  The id is ``"none"``."""

    _secret_outputs = ("result",)
    _PROVIDER = _PASSWORD_PROVIDER
    _TYPE = "random:index/randomPassword:RandomPassword"


class RandomInteger(Resource):
    """A random integer between min and max, both included.

    seed: when given, the integer is a pure function of seed, min and
    max instead of a fresh draw.  keepers: values whose change draws a
    new integer.

    Output ``result``: the integer; its decimal form is the id.
    """

    result: Any

    def __init__(self, name: str, *, min: Any, max: Any,
                 seed: Any = None,
                 keepers: Mapping[str, Any] | None = None,
                 opts: Any = None) -> None:
        super().__init__(
            _INTEGER_PROVIDER, name,
            {"min": min, "max": max, "seed": seed, "keepers": keepers,
             "result": None},
            opts, type_="random:index/randomInteger:RandomInteger")


class RandomUuid(Resource):
    """A random (version 4) UUID.

    keepers: values whose change draws a new UUID.

    Output ``result``: the UUID in its canonical lower-case form, which is
    also the id.
    """

    result: Any

    def __init__(self, name: str, *,
                 keepers: Mapping[str, Any] | None = None,
                 opts: Any = None) -> None:
        super().__init__(
            _UUID_PROVIDER, name, {"keepers": keepers, "result": None},
            opts, type_="random:index/randomUuid:RandomUuid")


class RandomId(Resource):
    """byte_length random bytes, in four encodings, for unique names.

    prefix: a string put in front of each encoding.  keepers: values whose
    change draws new bytes.

    Outputs: ``hex`` (lower case), ``b64_std`` (standard base64, padded),
    ``b64_url`` (URL-safe base64, unpadded) and ``dec`` (the bytes as a
    big-endian unsigned integer), each after prefix.  The id is b64_url
    without the prefix.
    """

    hex: Any
    b64_std: Any
    b64_url: Any
    dec: Any

    def __init__(self, name: str, *, byte_length: Any, prefix: Any = None,
                 keepers: Mapping[str, Any] | None = None,
                 opts: Any = None) -> None:
        super().__init__(
            _ID_PROVIDER, name,
            {"byte_length": byte_length, "prefix": prefix,
             "keepers": keepers, "hex": None, "b64_std": None,
             "b64_url": None, "dec": None},
            opts, type_="random:index/randomId:RandomId")


__all__ = [
    "RandomId",
    "RandomIdProvider",
    "RandomInteger",
    "RandomIntegerProvider",
    "RandomPassword",
    "RandomPasswordProvider",
    "RandomString",
    "RandomStringProvider",
    "RandomUuid",
    "RandomUuidProvider",
]
