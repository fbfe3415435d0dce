"""Fails with an exception raised two calls deep."""


def inner():
    raise ValueError("the program failed on purpose")


def outer():
    inner()


outer()
