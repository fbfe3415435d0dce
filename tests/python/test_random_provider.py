"""The built-in random provider: outrun.providers._random_impl, called as
the engine calls it (check, then create or diff), without a program."""

from __future__ import annotations

import base64
import collections
import itertools
import pickle
import string
import uuid

import pytest
from _outrun import UNKNOWN
from outrun.dynamic import CheckResult, DiffResult
from outrun.providers._random_impl import (
    LOWER,
    NUMERIC,
    SPECIAL,
    STRING_INPUTS,
    UPPER,
    RandomIdProvider,
    RandomIntegerProvider,
    RandomPasswordProvider,
    RandomStringProvider,
    RandomUuidProvider,
)

DRAWS = 2000
CLASSES = {"upper": UPPER, "lower": LOWER, "numeric": NUMERIC,
           "special": SPECIAL}


def checked(provider, **news) -> dict:
    """Returns the inputs check() makes of news, which must be valid."""
    result = provider.check(None, news)
    assert isinstance(result, CheckResult)
    assert result.failures == [], result.failures
    return result.inputs


def failures(provider, **news) -> list[tuple[str, str]]:
    return [(f.property, f.reason)
            for f in provider.check(None, news).failures]


def strings(count=DRAWS, provider=None, **news) -> list[str]:
    provider = provider or RandomStringProvider()
    inputs = checked(provider, **news)
    return [provider.create(inputs).outs["result"] for _ in range(count)]


def count_in(text: str, chars: str) -> int:
    return sum(1 for c in text if c in chars)


# --- strings: alphabets, lengths, min_* ------------------------------------


def test_string_default_alphabet_is_all_four_classes():
    drawn = collections.Counter("".join(strings(length=16)))
    assert set(drawn) == set(UPPER + LOWER + NUMERIC + SPECIAL)
    assert SPECIAL == "!@#$%&*()-_=+[]{}<>:?"


@pytest.mark.parametrize("disabled", sorted(CLASSES))
def test_string_disabled_class_never_appears(disabled):
    drawn = set("".join(strings(length=16, **{disabled: False})))
    expected = "".join(chars for name, chars in CLASSES.items()
                       if name != disabled)
    assert drawn == set(expected)


def test_string_number_is_an_alias_of_numeric():
    inputs = checked(RandomStringProvider(), length=8, number=False)
    assert inputs["numeric"] is False and inputs["number"] is False
    drawn = "".join(strings(length=16, number=False))
    assert count_in(drawn, NUMERIC) == 0


def test_string_number_conflicting_with_explicit_numeric_fails():
    assert failures(RandomStringProvider(), length=8, numeric=False,
                    number=True) == [
        ("number", ("number and numeric are set to different values; "
                    "number is a deprecated alias of numeric: set only "
                    "numeric"))]


@pytest.mark.parametrize("length", [1, 2, 15, 16, 17, 100, 1000])
def test_string_has_the_length_asked_for(length):
    results = strings(200, length=length)
    assert {len(s) for s in results} == {length}


def test_string_draw_is_unbiased():
    # 83 characters: bytes mapped with a plain modulo would make the first
    # 256 % 83 = 7 characters a third more likely than the others.
    alphabet = UPPER + LOWER + NUMERIC + SPECIAL
    drawn = collections.Counter("".join(strings(length=64)))
    first = sum(drawn[c] for c in alphabet[:7]) / 7
    rest = sum(drawn[c] for c in alphabet[7:]) / (len(alphabet) - 7)
    assert 0.9 < first / rest < 1.1


def test_string_min_counts_are_honoured():
    mins = {"min_upper": 2, "min_lower": 3, "min_numeric": 1,
            "min_special": 2}
    for s in strings(length=8, **mins):
        assert count_in(s, UPPER) >= 2
        assert count_in(s, LOWER) >= 3
        assert count_in(s, NUMERIC) >= 1
        assert count_in(s, SPECIAL) >= 2


def test_string_min_count_draws_from_a_disabled_class():
    # As in Pulumi's provider: the minimum comes from its class even when
    # the class is off, and the rest never does.
    results = strings(length=10, numeric=False, min_numeric=3)
    assert {count_in(s, NUMERIC) for s in results} == {3}


def test_string_min_counts_are_shuffled_into_every_position():
    results = strings(length=8, numeric=False, min_numeric=1)
    positions = collections.Counter(
        next(i for i, c in enumerate(s) if c in NUMERIC) for s in results)
    assert set(positions) == set(range(8))


def test_string_min_counts_may_fill_the_whole_length():
    results = strings(length=4, upper=False, lower=False, numeric=False,
                      special=False, min_upper=2, min_numeric=2)
    for s in results:
        assert count_in(s, UPPER) == 2 and count_in(s, NUMERIC) == 2


def test_string_override_special_replaces_the_specials():
    drawn = set("".join(strings(length=16, upper=False, lower=False,
                                numeric=False, override_special="_-.")))
    assert drawn == set("_-.")
    mixed = "".join(strings(length=16, override_special="%"))
    assert set(mixed) - set(UPPER + LOWER + NUMERIC) == {"%"}


def test_string_override_special_feeds_min_special():
    for s in strings(length=6, special=False, override_special="#~",
                     min_special=2):
        assert count_in(s, "#~") == 2
        assert count_in(s, SPECIAL.replace("#", "")) == 0


def test_string_empty_override_special_means_the_default():
    drawn = set("".join(strings(length=16, upper=False, lower=False,
                                numeric=False, override_special="")))
    assert drawn == set(SPECIAL)


def test_string_duplicate_specials_are_not_drawn_more_often():
    drawn = collections.Counter("".join(strings(
        length=64, upper=False, lower=False, numeric=False,
        override_special="aaaaaaab")))
    assert set(drawn) == {"a", "b"}
    assert 0.9 < drawn["a"] / drawn["b"] < 1.1


def test_string_non_ascii_and_huge_alphabets():
    greek = "αβγδ"
    drawn = set("".join(strings(200, length=16, upper=False, lower=False,
                                numeric=False, override_special=greek)))
    assert drawn == set(greek)
    huge = "".join(chr(0x4E00 + i) for i in range(300))
    results = strings(200, length=16, upper=False, lower=False,
                      numeric=False, override_special=huge)
    assert {len(s) for s in results} == {16}
    assert set("".join(results)) <= set(huge)


# --- strings: check ------------------------------------------------------


def test_string_check_fills_defaults_and_drops_outputs():
    inputs = checked(RandomStringProvider(), length=5, result=None)
    assert inputs == {
        "length": 5, "special": True, "upper": True, "lower": True,
        "numeric": True, "number": True, "min_upper": 0, "min_lower": 0,
        "min_numeric": 0, "min_special": 0, "override_special": None,
        "keepers": None}


@pytest.mark.parametrize("news, expected", [
    ({"length": 0}, [("length", "length must be at least 1")]),
    ({"length": -3}, [("length", "length must be at least 1")]),
    ({}, [("length", "length is required")]),
    ({"length": "16"}, [("length", "length must be an integer, not str")]),
    ({"length": True}, [("length", "length must be an integer, not bool")]),
    ({"length": 8, "min_upper": 5, "min_lower": 5, "min_numeric": 1,
      "min_special": 1},
     [("length", ("min_upper + min_lower + min_numeric + min_special (12) "
                  "is more than length (8)"))]),
    ({"length": 8, "upper": False, "lower": False, "numeric": False,
      "special": False},
     [("length", ("no character class is enabled: set at least one of "
                  "upper, lower, numeric, special"))]),
    ({"length": 8, "min_lower": -1},
     [("min_lower", "min_lower must be at least 0")]),
    ({"length": 8, "min_special": False},
     [("min_special", "min_special must be an integer, not bool")]),
    ({"length": 8, "upper": "yes"},
     [("upper", "upper must be true or false, not str")]),
    ({"length": 8, "override_special": 5},
     [("override_special", "override_special must be a string, not int")]),
    ({"length": 8, "keepers": ["a"]},
     [("keepers", ("keepers must be a mapping of names to values, not "
                   "list"))]),
    ({"length": 8, "lenght": 9}, [("lenght", "unknown property 'lenght'")]),
])
def test_string_check_failures(news, expected):
    assert failures(RandomStringProvider(), **news) == expected


def test_string_check_reports_every_failure():
    got = failures(RandomStringProvider(), length=0, special=1,
                   min_upper=-1, keepers=3)
    assert [prop for prop, _ in got] == [
        "length", "special", "min_upper", "keepers"]


def test_string_check_passes_engine_keys_through():
    inputs = checked(RandomStringProvider(), length=4, __provider="blob")
    assert inputs["__provider"] == "blob"


def test_string_check_accepts_integral_floats():
    inputs = checked(RandomStringProvider(), length=16.0, min_upper=2.0)
    assert type(inputs["length"]) is int and inputs["length"] == 16
    assert type(inputs["min_upper"]) is int


def test_string_check_lets_unknowns_through():
    inputs = checked(RandomStringProvider(), length=UNKNOWN, upper=UNKNOWN,
                     min_lower=UNKNOWN, keepers=UNKNOWN,
                     override_special=UNKNOWN)
    assert inputs["length"] is UNKNOWN and inputs["keepers"] is UNKNOWN
    assert inputs["min_lower"] is UNKNOWN


VALID_VARIANTS = [
    {"length": length, **flags, **mins}
    for length in (1, 4, 16)
    for flags in ({}, {"special": False}, {"upper": False, "lower": False},
                  {"numeric": False, "number": False}, {"number": True},
                  {"override_special": "+"}, {"keepers": {"k": "v"}})
    for mins in ({}, {"min_upper": 1}, {"min_numeric": 1, "min_special": 0})
]


@pytest.mark.parametrize("news", VALID_VARIANTS)
def test_string_check_fast_path_agrees_with_full_check(news):
    provider = RandomStringProvider()
    fast = provider.check(None, news)
    full = provider.check_all(news)
    assert fast.failures == [] and full.failures == []
    assert fast.inputs == full.inputs
    assert [type(v) for v in fast.inputs.values()] == [
        type(full.inputs[k]) for k in fast.inputs]


# --- strings: create, diff, passwords -------------------------------------


def test_string_create_returns_inputs_and_result_with_result_as_id():
    provider = RandomStringProvider()
    inputs = checked(provider, length=12, keepers={"image": "ami-1"})
    created = provider.create(inputs)
    assert created.id == created.outs["result"]
    assert {k: v for k, v in created.outs.items() if k != "result"} == inputs
    assert set(created.outs) == set(STRING_INPUTS) | {"result"}


def test_string_results_differ():
    assert len(set(strings(length=16))) == DRAWS


def test_password_is_drawn_like_a_string_and_its_id_is_none():
    provider = RandomPasswordProvider()
    results = set()
    for _ in range(200):
        created = provider.create(checked(provider, length=20, min_special=3))
        assert created.id == "none"
        assert len(created.outs["result"]) == 20
        assert count_in(created.outs["result"], SPECIAL) >= 3
        results.add(created.outs["result"])
    assert len(results) == 200


def test_string_diff_without_change():
    provider = RandomStringProvider()
    inputs = checked(provider, length=8, keepers={"a": "1"})
    outs = provider.create(inputs).outs
    diff = provider.diff(outs["result"], outs, dict(inputs))
    assert isinstance(diff, DiffResult)
    assert diff.changes is False and diff.replaces == []


def test_string_diff_keepers_change_replaces():
    provider = RandomStringProvider()
    outs = provider.create(checked(provider, length=8,
                                   keepers={"a": "1"})).outs
    news = checked(provider, length=8, keepers={"a": "2"})
    diff = provider.diff(outs["result"], outs, news)
    assert diff.changes is True and diff.replaces == ["keepers"]


CHANGES = {
    "length": 9, "special": False, "upper": False, "lower": False,
    "numeric": False, "min_upper": 1, "min_lower": 1, "min_numeric": 1,
    "min_special": 1, "override_special": "!", "keepers": {"a": "1"},
}


@pytest.mark.parametrize("key", sorted(CHANGES))
def test_string_diff_each_input_change_replaces(key):
    provider = RandomStringProvider()
    outs = provider.create(checked(provider, length=8)).outs
    news = checked(provider, **{"length": 8, key: CHANGES[key]})
    diff = provider.diff(outs["result"], outs, news)
    assert diff.changes is True
    assert key in diff.replaces
    # number follows numeric; nothing else moves.
    assert set(diff.replaces) <= {key, "number"}


def test_string_diff_treats_missing_and_none_alike():
    provider = RandomStringProvider()
    outs = provider.create(checked(provider, length=8)).outs
    news = {k: v for k, v in outs.items()
            if v is not None and k != "result"}
    assert "keepers" not in news and "override_special" not in news
    assert provider.diff("x", outs, news).changes is False


def test_string_diff_sees_unknown_as_a_replacement():
    provider = RandomStringProvider()
    outs = provider.create(checked(provider, length=8)).outs
    news = checked(provider, length=8, keepers=UNKNOWN)
    assert provider.diff("x", outs, news).replaces == ["keepers"]


# --- integers --------------------------------------------------------------


def integers(count=DRAWS, **news) -> list[int]:
    provider = RandomIntegerProvider()
    inputs = checked(provider, **news)
    return [provider.create(inputs).outs["result"] for _ in range(count)]


@pytest.mark.parametrize("low, high", [(1, 3), (-2, 2), (0, 0), (7, 7)])
def test_integer_bounds_are_inclusive(low, high):
    assert set(integers(min=low, max=high)) == set(range(low, high + 1))


def test_integer_beyond_64_bits():
    low = 2**70
    results = integers(200, min=low, max=low + 2**66)
    assert all(low <= r <= low + 2**66 for r in results)
    assert len(set(results)) == 200


def test_integer_create_outs_and_id():
    provider = RandomIntegerProvider()
    inputs = checked(provider, min=10, max=20, keepers={"k": 1}, result=None)
    created = provider.create(inputs)
    assert created.id == str(created.outs["result"])
    assert created.outs == {**inputs, "result": created.outs["result"]}
    assert type(created.outs["result"]) is int


def test_integer_seed_is_deterministic():
    assert set(integers(50, min=1, max=1_000_000, seed="db")) == {
        integers(1, min=1, max=1_000_000, seed="db")[0]}
    by_seed = {integers(1, min=1, max=1_000_000, seed=f"s{i}")[0]
               for i in range(50)}
    assert len(by_seed) > 40
    assert all(1 <= r <= 1_000_000 for r in by_seed)


def test_integer_seed_covers_the_range():
    results = {integers(1, min=0, max=4, seed=str(i))[0] for i in range(200)}
    assert results == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("news, expected", [
    ({"min": 5, "max": 4}, [("min", ("min must not be greater than max "
                                     "(5 > 4)"))]),
    ({"max": 4}, [("min", "min is required")]),
    ({"min": 1, "max": "9"}, [("max", "max must be an integer, not str")]),
    ({"min": 1, "max": 9, "seed": 3},
     [("seed", "seed must be a string, not int")]),
    ({"min": 1, "max": 9, "keepers": "x"},
     [("keepers", ("keepers must be a mapping of names to values, not "
                   "str"))]),
    ({"min": 1, "max": 9, "step": 2}, [("step", "unknown property 'step'")]),
])
def test_integer_check_failures(news, expected):
    assert failures(RandomIntegerProvider(), **news) == expected


@pytest.mark.parametrize("key, value", [
    ("min", 0), ("max", 10), ("seed", "x"), ("keepers", {"a": "b"})])
def test_integer_diff_each_input_change_replaces(key, value):
    provider = RandomIntegerProvider()
    outs = provider.create(checked(provider, min=1, max=9)).outs
    news = checked(provider, **{"min": 1, "max": 9, key: value})
    assert provider.diff("x", outs, news).replaces == [key]
    same = checked(provider, min=1, max=9)
    assert provider.diff("x", outs, same).changes is False


# --- UUIDs -----------------------------------------------------------------


def test_uuid_is_a_canonical_version_4_uuid():
    provider = RandomUuidProvider()
    inputs = checked(provider, result=None)
    assert inputs == {"keepers": None}
    seen = set()
    for _ in range(DRAWS):
        created = provider.create(inputs)
        result = created.outs["result"]
        parsed = uuid.UUID(result)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == result and created.id == result
        seen.add(result)
    assert len(seen) == DRAWS


def test_uuid_diff():
    provider = RandomUuidProvider()
    outs = provider.create(checked(provider, keepers={"a": "1"})).outs
    assert provider.diff("x", outs, {"keepers": {"a": "1"}}).changes is False
    changed = provider.diff("x", outs, {"keepers": {"a": "2"}})
    assert changed.changes is True and changed.replaces == ["keepers"]
    assert failures(provider, keepers=1) == [
        ("keepers", ("keepers must be a mapping of names to values, not "
                     "int"))]


# --- ids -------------------------------------------------------------------


@pytest.mark.parametrize("byte_length", [1, 2, 3, 8, 33])
@pytest.mark.parametrize("prefix", [None, "", "web-"])
def test_id_encodings_agree(byte_length, prefix):
    provider = RandomIdProvider()
    inputs = checked(provider, byte_length=byte_length, prefix=prefix)
    p = prefix or ""
    for _ in range(50):
        created = provider.create(inputs)
        outs = created.outs
        for key in ("hex", "b64_std", "b64_url", "dec"):
            assert outs[key].startswith(p)
        data = bytes.fromhex(outs["hex"][len(p):])
        assert len(data) == byte_length
        assert outs["hex"][len(p):] == data.hex()
        assert base64.b64decode(outs["b64_std"][len(p):],
                                validate=True) == data
        url = outs["b64_url"][len(p):]
        assert "=" not in url
        assert base64.urlsafe_b64decode(url + "=" * (-len(url) % 4)) == data
        assert int(outs["dec"][len(p):]) == int.from_bytes(data, "big")
        assert created.id == url
        assert {k: outs[k] for k in inputs} == inputs


def test_id_bytes_cover_every_value():
    provider = RandomIdProvider()
    inputs = checked(provider, byte_length=1)
    # 6,000 draws miss one of the 256 values with probability 2e-8.
    values = {provider.create(inputs).outs["hex"] for _ in range(6000)}
    assert len(values) == 256


@pytest.mark.parametrize("news, expected", [
    ({"byte_length": 0}, [("byte_length", "byte_length must be at least 1")]),
    ({}, [("byte_length", "byte_length is required")]),
    ({"byte_length": 4, "prefix": 1},
     [("prefix", "prefix must be a string, not int")]),
])
def test_id_check_failures(news, expected):
    assert failures(RandomIdProvider(), **news) == expected


@pytest.mark.parametrize("key, value", [
    ("byte_length", 5), ("prefix", "p-"), ("keepers", {"a": "b"})])
def test_id_diff_each_input_change_replaces(key, value):
    provider = RandomIdProvider()
    outs = provider.create(checked(provider, byte_length=4)).outs
    news = checked(provider, **{"byte_length": 4, key: value})
    assert provider.diff("x", outs, news).replaces == [key]
    assert provider.diff("x", outs, checked(provider, byte_length=4)
                         ).changes is False


# --- every provider ----------------------------------------------------------

PROVIDERS = [RandomStringProvider, RandomPasswordProvider,
             RandomIntegerProvider, RandomUuidProvider, RandomIdProvider]
VALID = {RandomStringProvider: {"length": 8},
         RandomPasswordProvider: {"length": 8},
         RandomIntegerProvider: {"min": 1, "max": 6},
         RandomUuidProvider: {},
         RandomIdProvider: {"byte_length": 4}}


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
def test_provider_pickles_and_still_works(cls):
    provider = pickle.loads(pickle.dumps(cls()))
    assert type(provider) is cls
    assert provider.blocking is False
    created = provider.create(checked(provider, **VALID[cls]))
    assert created.id


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
def test_provider_read_returns_its_arguments_and_update_refuses(cls):
    provider = cls()
    outs = provider.create(checked(provider, **VALID[cls])).outs
    read = provider.read("the-id", outs)
    assert read.id == "the-id" and read.outs == outs
    with pytest.raises(NotImplementedError, match="replaces it"):
        provider.update("the-id", outs, outs)
    assert provider.delete("the-id", outs) is None


def test_string_classes_cover_ascii_punctuation_only_from_specials():
    # The classes are disjoint, so min_* counts can be counted.
    for a, b in itertools.combinations(CLASSES.values(), 2):
        assert not set(a) & set(b)
    assert set(SPECIAL) <= set(string.punctuation)
