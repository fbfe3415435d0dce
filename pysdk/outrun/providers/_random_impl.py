"""The providers behind :mod:`outrun.providers.random`.

They live apart from the resource classes, which the engine never needs:
it unpickles these from the state to delete what a program no longer
declares.  The engine stores them by their qualified name,
``outrun.providers._random_impl.<Class>``: moving or renaming one breaks
every state that holds it.

Every value comes from the operating system's cryptographic generator
(``os.urandom``, ``secrets``), except a RandomInteger given a ``seed``,
which is a pure function of the seed and its bounds by design.

No property can change in place: diff() asks the engine to replace the
resource whenever any input differs, ``keepers`` included, and update() is
never called.
"""

from __future__ import annotations

import base64
import hashlib
import operator
import os
import threading
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from _outrun import Unknown

from outrun.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
NUMERIC = "0123456789"
#: The special characters used when override_special is unset or empty.
SPECIAL = "!@#$%&*()-_=+[]{}<>:?"


# ---------------------------------------------------------------------------
# Validation shared by the providers
# ---------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return type(value).__name__


# In a preview, an input that depends on a resource not created yet is
# UNKNOWN: check() lets it through unvalidated, and diff() sees it as a
# change, so the plan shows a replacement.


def _as_int(value: Any) -> int | None:
    """Returns value as an int if it is one (or an integral float, as
    numbers are after a trip through JSON), else None.  Booleans are not
    integers here."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _check_min_counts(get: Any, length: int | None, inputs: dict[str, Any],
                      failures: list[CheckFailure]) -> None:
    """check_all's part on min_upper, min_lower, min_numeric and
    min_special: each into inputs, and whether length holds them all
    and has a character class to draw from."""
    total = 0
    for key in _STRING_MINS:
        value = get(key)
        if value is None:
            value = 0
        elif isinstance(value, Unknown):
            inputs[key] = value
            continue
        else:
            count = _as_int(value)
            if count is None:
                failures.append(CheckFailure(
                    key, f"{key} must be an integer, not {_kind(value)}"))
                value = 0
            elif count < 0:
                failures.append(CheckFailure(
                    key, f"{key} must be at least 0"))
                value = 0
            else:
                value = count
        inputs[key] = value
        total += value
    if length is not None and length >= 1:
        if total > length:
            failures.append(CheckFailure(
                "length",
                "min_upper + min_lower + min_numeric + min_special "
                f"({total}) is more than length ({length})"))
        elif (total < length and inputs["upper"] is False
              and inputs["lower"] is False
              and inputs["numeric"] is False
              and inputs["special"] is False):
            failures.append(CheckFailure(
                "length",
                "no character class is enabled: set at least one of "
                "upper, lower, numeric, special"))


def _check_keepers(value: Any, failures: list[CheckFailure]) -> None:
    if (value is not None and not isinstance(value, Mapping)
            and not isinstance(value, Unknown)):
        failures.append(CheckFailure(
            "keepers",
            f"keepers must be a mapping of names to values, not {_kind(value)}"))


def _check_known(news: Mapping[str, Any], allowed: frozenset[str],
                 inputs: dict[str, Any],
                 failures: list[CheckFailure]) -> None:
    """Refuses properties the resource does not have.  Keys starting with
    an underscore belong to the engine and pass through untouched; output
    keys (given as None by the resource class) are dropped."""
    if news.keys() <= allowed:
        return
    for key in news.keys() - allowed:
        if isinstance(key, str) and key.startswith("_"):
            inputs[key] = news[key]
        else:
            failures.append(CheckFailure(key, f"unknown property {key!r}"))


def _diff(keys: tuple[str, ...], olds: Mapping[str, Any],
          news: Mapping[str, Any]) -> DiffResult:
    """Every input forces a replacement; a missing key and None are the
    same."""
    old = olds.get
    new = news.get
    replaces = [key for key in keys if old(key) != new(key)]
    return DiffResult(changes=bool(replaces), replaces=replaces)


class _RandomProvider(ResourceProvider):
    """What every random provider shares: pure and quick, replace-only."""

    blocking = False

    def read(self, id_: str, props: Mapping[str, Any]) -> ReadResult:
        """A random value exists only in the state: it is what it was."""
        return ReadResult(id_, props)

    def update(self, _id: str, _olds: Mapping[str, Any],
               _news: Mapping[str, Any]) -> UpdateResult:
        """Never called: diff() replaces on every change."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot update in place: every change "
            "to a random resource replaces it")

    def delete(self, _id: str, _props: Mapping[str, Any]) -> None:
        """Nothing to delete outside the state."""
        return


# ---------------------------------------------------------------------------
# Strings and passwords
# ---------------------------------------------------------------------------


class _RandomPool:
    """os.urandom, read 4 KiB at a time: a small draw costs a slice
    instead of a system call.  The bytes are the kernel's all the same,
    each handed out once."""

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0
        self._lock = threading.Lock()

    def __call__(self, n: int) -> bytes:
        if n > 512:
            return os.urandom(n)
        with self._lock:
            pos = self._pos
            end = pos + n
            if end > len(self._buf):
                self._buf = os.urandom(4096)
                pos, end = 0, n
            self._pos = end
            return self._buf[pos:end]


    def forget(self) -> None:
        """After a fork: the child must never hand out the parent's
        bytes."""
        self._buf = b""
        self._pos = 0
        self._lock = threading.Lock()


_urandom = _RandomPool()
os.register_at_fork(after_in_child=_urandom.forget)


class _Alphabet:
    """A set of characters and the tables that map random bytes onto it
    without bias: a byte below the largest multiple of the alphabet's size
    that fits in 256 maps to ``chars[byte % size]``; any other byte is
    dropped (rejection sampling)."""

    __slots__ = ("ascii", "chars", "rejected", "size", "slack", "table")

    def __init__(self, chars: str) -> None:
        # Each character once, in first-seen order: a character listed
        # twice (in override_special, or in two classes) is not drawn
        # twice as often.
        chars = "".join(dict.fromkeys(chars))
        self.chars = chars
        self.size = size = len(chars)
        self.ascii = chars.isascii()
        if size == 0 or size > 256:
            self.table = self.rejected = b""
            self.slack = 0.0
            return
        limit = 256 - 256 % size
        if self.ascii:
            codes = chars.encode("ascii")
            mapped = bytes(codes[b % size] for b in range(limit))
        else:
            mapped = bytes(b % size for b in range(limit))
        self.table = mapped + bytes(256 - limit)
        self.rejected = bytes(range(limit, 256))
        # Draw enough that one read almost always suffices.
        self.slack = 256 / limit

    def draw(self, count: int) -> str:
        """Returns count characters drawn uniformly from the alphabet."""
        if count <= 0:
            return ""
        size = self.size
        if size > 256:
            chars = self.chars
            return "".join(chars[secrets.randbelow(size)]
                           for _ in range(count))
        table = self.table
        rejected = self.rejected
        got = _urandom(int(count * self.slack) + 2).translate(
            table, rejected)
        while len(got) < count:
            got += _urandom(count - len(got) + 8).translate(
                table, rejected)
        got = got[:count]
        if self.ascii:
            return got.decode("ascii")
        return "".join(map(self.chars.__getitem__, got))


_ALPHABETS: dict[tuple[bool, bool, bool, bool, str], _Alphabet] = {}
_CLASS_ALPHABETS: dict[str, _Alphabet] = {
    chars: _Alphabet(chars) for chars in (UPPER, LOWER, NUMERIC, SPECIAL)}


def _alphabet(upper: bool, lower: bool, numeric: bool, special: bool,
              specials: str) -> _Alphabet:
    key = (upper, lower, numeric, special, specials)
    alphabet = _ALPHABETS.get(key)
    if alphabet is None:
        if len(_ALPHABETS) >= 256:
            _ALPHABETS.clear()
        alphabet = _ALPHABETS[key] = _Alphabet(
            (UPPER if upper else "") + (LOWER if lower else "")
            + (NUMERIC if numeric else "") + (specials if special else ""))
    return alphabet


_DEFAULT_ALPHABET = _alphabet(True, True, True, True, SPECIAL)


def _class_alphabet(chars: str) -> _Alphabet:
    alphabet = _CLASS_ALPHABETS.get(chars)
    if alphabet is None:
        if len(_CLASS_ALPHABETS) >= 256:
            _CLASS_ALPHABETS.clear()
        alphabet = _CLASS_ALPHABETS[chars] = _Alphabet(chars)
    return alphabet


def generate_string(length: int, *, upper: bool = True, lower: bool = True,
                    numeric: bool = True, special: bool = True,
                    min_upper: int = 0, min_lower: int = 0,
                    min_numeric: int = 0, min_special: int = 0,
                    override_special: str | None = None) -> str:
    """Returns a random string as RandomString makes it.

    As in Pulumi's provider, each min_* count is drawn from its own class
    (even a class that is disabled), the rest from every enabled class,
    and the characters are then shuffled.  override_special, when not
    empty, replaces the special characters.  The caller validates first:
    the min_* counts must not exceed length, and an alphabet must be
    enabled when they do not fill it.
    """
    specials = override_special or SPECIAL
    rest = length - min_upper - min_lower - min_numeric - min_special
    drawn = _alphabet(upper, lower, numeric, special, specials).draw(rest)
    if rest == length:
        return drawn
    chars = list(drawn)
    for count, klass in ((min_upper, UPPER), (min_lower, LOWER),
                         (min_numeric, NUMERIC), (min_special, specials)):
        if count > 0:
            chars.extend(_class_alphabet(klass).draw(count))
    return "".join(shuffled(chars))


def shuffled(items: list[Any]) -> list[Any]:
    """Returns items in a random order: sorted by a random 64-bit key
    each, from one read of the system's generator (two keys are equal with
    probability below n² / 2⁶⁵, and then the earlier item stays first)."""
    keys = memoryview(os.urandom(8 * len(items))).cast("Q")
    order = sorted(range(len(items)), key=keys.__getitem__)
    return [items[i] for i in order]

_STRING_BOOLS = (("special", True), ("upper", True), ("lower", True),
                 ("numeric", True))
_STRING_MINS = ("min_upper", "min_lower", "min_numeric", "min_special")
STRING_INPUTS = ("length", "special", "upper", "lower", "numeric", "number",
                 "min_upper", "min_lower", "min_numeric", "min_special",
                 "override_special", "keepers")
STRING_OUTPUTS = ("result",)
_STRING_KEYS = frozenset(STRING_INPUTS + STRING_OUTPUTS)


_string_rest = operator.itemgetter(
    "special", "upper", "lower", "numeric", "number", "min_upper",
    "min_lower", "min_numeric", "min_special", "override_special")
_STRING_DEFAULTS = (True, True, True, True, None, 0, 0, 0, 0, None)
# The same after check() filled them in (number follows numeric).
_STRING_CHECKED_DEFAULTS = (True, True, True, True, True, 0, 0, 0, 0, None)
_STRING_DEFAULT_INPUTS: dict[str, Any] = {
    "length": 0, "special": True, "upper": True, "lower": True,
    "numeric": True, "number": True, "min_upper": 0, "min_lower": 0,
    "min_numeric": 0, "min_special": 0, "override_special": None,
    "keepers": None}


class RandomStringProvider(_RandomProvider):
    """Provider of ``random:index/randomString:RandomString``.

    Inputs: length, special, upper, lower, numeric (number is its
    deprecated alias), min_upper, min_lower, min_numeric, min_special,
    override_special, keepers.  Output: result, which is also the id.
    """

    def check(self, _olds: Mapping[str, Any],
              news: Mapping[str, Any]) -> CheckResult:
        """Validates the inputs and fills in the defaults."""
        # Quickest path: a length, keepers, and every other input at its
        # default (the resource classes pass them all).
        try:
            rest = _string_rest(news)
        except (KeyError, TypeError):
            rest = None
        if rest == _STRING_DEFAULTS:
            length = news["length"]
            keepers = news.get("keepers")
            if (type(length) is int and length > 0
                    and (keepers is None or type(keepers) is dict)
                    and news.keys() <= _STRING_KEYS):
                inputs = _STRING_DEFAULT_INPUTS.copy()
                inputs["length"] = length
                inputs["keepers"] = keepers
                return CheckResult(inputs)
        # The fast path takes plainly valid inputs (every flag true, false
        # or unset, number unset or equal to numeric); anything else,
        # valid or not, goes through check_all(), which has the last word
        # and the messages.  The engine's benchmark creates 100,000
        # strings: this is most of the cost of checking one.
        get = news.get
        length = get("length")
        special = get("special")
        upper = get("upper")
        lower = get("lower")
        numeric = get("numeric")
        number = get("number")
        min_upper = get("min_upper")
        min_lower = get("min_lower")
        min_numeric = get("min_numeric")
        min_special = get("min_special")
        override = get("override_special")
        keepers = get("keepers")
        if special is None:
            special = True
        if upper is None:
            upper = True
        if lower is None:
            lower = True
        if numeric is None:
            numeric = True
        if number is None:
            number = numeric
        if min_upper is None:
            min_upper = 0
        if min_lower is None:
            min_lower = 0
        if min_numeric is None:
            min_numeric = 0
        if min_special is None:
            min_special = 0
        total = min_upper + min_lower + min_numeric + min_special \
            if (type(min_upper) is int and type(min_lower) is int
                and type(min_numeric) is int
                and type(min_special) is int) else -1
        if (type(length) is int and 0 <= total <= length
                and min_upper >= 0 and min_lower >= 0
                and min_numeric >= 0 and min_special >= 0
                and (special is True or special is False)
                and (upper is True or upper is False)
                and (lower is True or lower is False)
                and (numeric is True or numeric is False)
                and number is numeric
                and (special or upper or lower or numeric
                     or total == length)
                and (override is None or type(override) is str)
                and (keepers is None or type(keepers) is dict)
                and length > 0 and news.keys() <= _STRING_KEYS):
            return CheckResult({
                "length": length, "special": special, "upper": upper,
                "lower": lower, "numeric": numeric, "number": number,
                "min_upper": min_upper, "min_lower": min_lower,
                "min_numeric": min_numeric, "min_special": min_special,
                "override_special": override, "keepers": keepers})
        return self.check_all(news)

    def check_all(self, news: Mapping[str, Any]) -> CheckResult:
        """check() without its fast path: validates every input and
        reports every failure."""
        failures: list[CheckFailure] = []
        inputs: dict[str, Any] = {}
        get = news.get

        value = get("length")
        length = _as_int(value)
        if length is None:
            if isinstance(value, Unknown):
                inputs["length"] = value
            else:
                failures.append(CheckFailure(
                    "length", "length is required" if value is None else
                    f"length must be an integer, not {_kind(value)}"))
                inputs["length"] = None
        else:
            if length < 1:
                failures.append(CheckFailure("length",
                                             "length must be at least 1"))
            inputs["length"] = length

        for key, default in _STRING_BOOLS:
            value = get(key)
            if value is None:
                value = default
            elif (value is not True and value is not False
                  and not isinstance(value, Unknown)):
                failures.append(CheckFailure(
                    key, f"{key} must be true or false, not {_kind(value)}"))
            inputs[key] = value

        number = get("number")
        if number is None:
            number = inputs["numeric"]
        elif isinstance(number, Unknown):
            pass
        elif number is not True and number is not False:
            failures.append(CheckFailure(
                "number",
                f"number must be true or false, not {_kind(number)}"))
        elif number is not inputs["numeric"]:
            if get("numeric") is None or inputs["numeric"] is True:
                # numeric at its default: the deprecated alias decides.
                inputs["numeric"] = number
            else:
                failures.append(CheckFailure(
                    "number",
                    "number and numeric are set to different values; number "
                    "is a deprecated alias of numeric: set only numeric"))
        inputs["number"] = number

        _check_min_counts(get, length, inputs, failures)

        override = get("override_special")
        if (override is not None and not isinstance(override, str)
                and not isinstance(override, Unknown)):
            failures.append(CheckFailure(
                "override_special",
                f"override_special must be a string, not {_kind(override)}"))
        inputs["override_special"] = override

        keepers = get("keepers")
        _check_keepers(keepers, failures)
        inputs["keepers"] = keepers

        _check_known(news, _STRING_KEYS, inputs, failures)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: Mapping[str, Any],
             news: Mapping[str, Any]) -> DiffResult:
        """Any changed input replaces the string."""
        return _diff(STRING_INPUTS, olds, news)

    def create(self, props: Mapping[str, Any]) -> CreateResult:
        """Draws the string; its id is the string itself."""
        length = props["length"]
        try:
            rest = _string_rest(props)
        except (KeyError, TypeError):
            rest = None
        if rest == _STRING_CHECKED_DEFAULTS:
            # Every class, no minimums: the one alphabet, no shuffle.
            result = _DEFAULT_ALPHABET.draw(length)
        elif not (props["min_upper"] or props["min_lower"]
                or props["min_numeric"] or props["min_special"]):
            result = _alphabet(
                props["upper"], props["lower"], props["numeric"],
                props["special"], props["override_special"] or SPECIAL,
            ).draw(length)
        else:
            result = generate_string(
                length,
                upper=props["upper"], lower=props["lower"],
                numeric=props["numeric"], special=props["special"],
                min_upper=props["min_upper"], min_lower=props["min_lower"],
                min_numeric=props["min_numeric"],
                min_special=props["min_special"],
                override_special=props["override_special"])
        outs = dict(props)
        outs["result"] = result
        return CreateResult(self._id(result), outs)

    @staticmethod
    def _id(result: str) -> str:
        return result


class RandomPasswordProvider(RandomStringProvider):
    """Provider of ``random:index/randomPassword:RandomPassword``: the
    same inputs and output as RandomString, but the id is the constant
    ``"none"`` (as in Pulumi's provider), so that the password never
    appears outside the secret ``result``."""

    @staticmethod
    def _id(_result: str) -> str:
        return "none"


# ---------------------------------------------------------------------------
# Integers
# ---------------------------------------------------------------------------

INTEGER_INPUTS = ("min", "max", "seed", "keepers")
INTEGER_OUTPUTS = ("result",)
_INTEGER_KEYS = frozenset(INTEGER_INPUTS + INTEGER_OUTPUTS)


def seeded_integer(seed: str, low: int, high: int) -> int:
    """Returns the integer in [low, high] that seed selects: SHAKE-256
    of the seed and a counter, rejection-sampled onto the range, so that
    it never depends on the version of Python."""
    span = high - low + 1
    bits = span.bit_length()
    size = (bits + 7) // 8
    mask = (1 << bits) - 1
    data = seed.encode("utf-8")
    counter = 0
    while True:
        digest = hashlib.shake_256(
            counter.to_bytes(8, "big") + data).digest(size)
        value = int.from_bytes(digest, "big") & mask
        if value < span:
            return low + value
        counter += 1


class RandomIntegerProvider(_RandomProvider):
    """Provider of ``random:index/randomInteger:RandomInteger``.

    Inputs: min, max (both inclusive), seed, keepers.  Output: result,
    whose decimal form is the id.  With a seed the result is a pure
    function of seed, min and max.
    """

    def check(self, _olds: Mapping[str, Any],
              news: Mapping[str, Any]) -> CheckResult:
        """Validates the bounds and the seed."""
        failures: list[CheckFailure] = []
        inputs: dict[str, Any] = {}
        for key in ("min", "max"):
            value = news.get(key)
            number = _as_int(value)
            if number is None and not isinstance(value, Unknown):
                failures.append(CheckFailure(
                    key, f"{key} is required" if value is None else
                    f"{key} must be an integer, not {_kind(value)}"))
            inputs[key] = value if number is None else number
        if (type(inputs["min"]) is int and type(inputs["max"]) is int
                and inputs["min"] > inputs["max"]):
            failures.append(CheckFailure(
                "min", "min must not be greater than max "
                f"({inputs['min']} > {inputs['max']})"))
        seed = news.get("seed")
        if (seed is not None and not isinstance(seed, str)
                and not isinstance(seed, Unknown)):
            failures.append(CheckFailure(
                "seed", f"seed must be a string, not {_kind(seed)}"))
        inputs["seed"] = seed
        keepers = news.get("keepers")
        _check_keepers(keepers, failures)
        inputs["keepers"] = keepers
        _check_known(news, _INTEGER_KEYS, inputs, failures)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: Mapping[str, Any],
             news: Mapping[str, Any]) -> DiffResult:
        """Any changed input replaces the integer."""
        return _diff(INTEGER_INPUTS, olds, news)

    def create(self, props: Mapping[str, Any]) -> CreateResult:
        """Draws the integer, or derives it from the seed."""
        low = props["min"]
        high = props["max"]
        seed = props["seed"]
        if seed is None:
            result = low + secrets.randbelow(high - low + 1)
        else:
            result = seeded_integer(seed, low, high)
        outs = dict(props)
        outs["result"] = result
        return CreateResult(str(result), outs)


# ---------------------------------------------------------------------------
# UUIDs
# ---------------------------------------------------------------------------

UUID_INPUTS = ("keepers",)
UUID_OUTPUTS = ("result",)
_UUID_KEYS = frozenset(UUID_INPUTS + UUID_OUTPUTS)


class RandomUuidProvider(_RandomProvider):
    """Provider of ``random:index/randomUuid:RandomUuid``.

    Input: keepers.  Output: result, a version 4 UUID in its canonical
    lower-case form, which is also the id.
    """

    def check(self, _olds: Mapping[str, Any],
              news: Mapping[str, Any]) -> CheckResult:
        """Validates keepers."""
        failures: list[CheckFailure] = []
        keepers = news.get("keepers")
        _check_keepers(keepers, failures)
        inputs: dict[str, Any] = {"keepers": keepers}
        _check_known(news, _UUID_KEYS, inputs, failures)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: Mapping[str, Any],
             news: Mapping[str, Any]) -> DiffResult:
        """A change of keepers replaces the UUID."""
        return _diff(UUID_INPUTS, olds, news)

    def create(self, props: Mapping[str, Any]) -> CreateResult:
        """Draws the UUID."""
        result = str(uuid.uuid4())
        outs = dict(props)
        outs["result"] = result
        return CreateResult(result, outs)


# ---------------------------------------------------------------------------
# Ids
# ---------------------------------------------------------------------------

ID_INPUTS = ("byte_length", "prefix", "keepers")
ID_OUTPUTS = ("hex", "b64_std", "b64_url", "dec")
_ID_KEYS = frozenset(ID_INPUTS + ID_OUTPUTS)


def encode_id(data: bytes, prefix: str | None) -> dict[str, str]:
    """Returns the four forms of RandomId's bytes, each after prefix:
    hex (lower case), b64_std (standard alphabet, padded), b64_url (URL
    alphabet, unpadded) and dec (the bytes as a big-endian unsigned
    integer)."""
    prefix = prefix or ""
    return {
        "hex": prefix + data.hex(),
        "b64_std": prefix + base64.b64encode(data).decode("ascii"),
        "b64_url": prefix + base64.urlsafe_b64encode(data).decode(
            "ascii").rstrip("="),
        "dec": prefix + str(int.from_bytes(data, "big")),
    }


class RandomIdProvider(_RandomProvider):
    """Provider of ``random:index/randomId:RandomId``.

    Inputs: byte_length, prefix, keepers.  Outputs: hex, b64_std, b64_url
    and dec, each starting with prefix.  The id is the unprefixed b64_url.
    """

    def check(self, _olds: Mapping[str, Any],
              news: Mapping[str, Any]) -> CheckResult:
        """Validates byte_length and prefix."""
        failures: list[CheckFailure] = []
        value = news.get("byte_length")
        byte_length: Any = _as_int(value)  # or the Unknown it was
        if byte_length is None and isinstance(value, Unknown):
            byte_length = value
        elif byte_length is None:
            failures.append(CheckFailure(
                "byte_length", "byte_length is required" if value is None
                else f"byte_length must be an integer, not {_kind(value)}"))
        elif byte_length < 1:
            failures.append(CheckFailure(
                "byte_length", "byte_length must be at least 1"))
        prefix = news.get("prefix")
        if (prefix is not None and not isinstance(prefix, str)
                and not isinstance(prefix, Unknown)):
            failures.append(CheckFailure(
                "prefix", f"prefix must be a string, not {_kind(prefix)}"))
        keepers = news.get("keepers")
        _check_keepers(keepers, failures)
        inputs: dict[str, Any] = {"byte_length": byte_length,
                                  "prefix": prefix, "keepers": keepers}
        _check_known(news, _ID_KEYS, inputs, failures)
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: Mapping[str, Any],
             news: Mapping[str, Any]) -> DiffResult:
        """Any changed input replaces the id."""
        return _diff(ID_INPUTS, olds, news)

    def create(self, props: Mapping[str, Any]) -> CreateResult:
        """Draws byte_length bytes."""
        data = os.urandom(props["byte_length"])
        outs = dict(props)
        outs.update(encode_id(data, props["prefix"]))
        id_ = base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
        return CreateResult(id_, outs)


__all__ = [
    "LOWER",
    "NUMERIC",
    "SPECIAL",
    "UPPER",
    "RandomIdProvider",
    "RandomIntegerProvider",
    "RandomPasswordProvider",
    "RandomStringProvider",
    "RandomUuidProvider",
    "encode_id",
    "generate_string",
    "seeded_integer",
]
