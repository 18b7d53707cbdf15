"""Settings fields that carry their command-line flag: the default, the flag and its help are
written once, on the dataclass field (:func:`setting`), and the CLI's flags are generated from
the fields (:func:`add_flags`), read back into the dataclasses (:func:`build`), and the same
option names serve the Python API and study YAML (:func:`resolve`).

An option's name is its flag's (``--max-concurrent`` → ``max_concurrent``); a field without
a flag is set from Python only. A nested settings field (:func:`nested`) adds the flags of
its own dataclass, in its argparse group.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, field, fields
from functools import cache
from typing import TYPE_CHECKING, get_args, get_type_hints

from scalesearch.errors import ScalesearchError, as_plain

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def setting(default=MISSING, *, flag: str | None = None, help: str = "", factory=None,
            aliases: tuple[str, ...] = (), group: str | None = None, show=None,
            **argparse_kwargs):
    """A dataclass field with its default and, when ``flag`` is given, its CLI flag: ``help``
    may name ``{default}`` (numbers ``:g``, booleans on/off, or ``show(default)``); ``aliases``
    are old spellings; ``argparse_kwargs`` (type, choices, metavar, action, nargs, required)
    go to argparse."""
    meta = dict(flag=flag, help=help, aliases=aliases, group=group, show=show,
                argparse=argparse_kwargs)
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def nested(cls: type, *, group: str | None = None, flag: str | None = None, help: str = "",
           optional: bool = False, skip: tuple[str, ...] = ()):
    """A field holding a settings dataclass whose flags join the parent's (in ``group`` unless
    a field names its own); ``optional``: the field is None unless ``flag`` (a switch) is
    given; ``skip``: fields of ``cls`` that get no flag here."""
    meta = dict(nested=cls, group=group, flag=flag, help=help, skip=skip, aliases=(), show=None,
                argparse=dict(action="store_true") if optional else {})
    if optional:
        return field(default=None, metadata=meta)
    return field(default_factory=cls, metadata=meta)


def default(cls: type[DataclassInstance], name: str):
    """The default of field ``name`` of dataclass ``cls``: the one place it is written."""
    f = cls.__dataclass_fields__[name]
    if f.default is MISSING:
        return None if f.default_factory is MISSING else f.default_factory()  # None: required
    return f.default


def option_name(flag: str) -> str:
    """The Python name of a flag: ``--max-concurrent`` → ``max_concurrent``."""
    return flag.lstrip("-").replace("-", "_")


def _help(f, value) -> str:
    text = f.metadata["help"].replace("%", "%%")  # argparse %-formats help
    if "{default}" not in text:
        return text
    if f.metadata["show"]:
        shown = f.metadata["show"](value)
    elif isinstance(value, bool):
        shown = "on" if value else "off"
    elif isinstance(value, float):
        shown = f"{value:g}"
    elif isinstance(value, tuple):
        shown = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    else:
        shown = value
    return text.format(default=shown)


def _flag_fields(cls: type, group: str | None, skip: tuple[str, ...] = ()):
    """(field, group, dataclass) of every field of ``cls`` with a flag, nested ones in order."""
    for f in fields(cls):
        if f.name in skip:
            continue
        where = f.metadata.get("group") or group
        if f.metadata.get("flag"):
            yield f, where, cls
        if f.metadata.get("nested"):
            yield from _flag_fields(f.metadata["nested"], where, f.metadata["skip"])


def flags(*classes: type) -> list[tuple]:
    """(field, option name, group, default, the dataclass that declares it) of every flagged
    field of ``classes`` and of the settings nested in them, in declaration order."""
    return [(f, option_name(f.metadata["flag"]), where,
             False if f.metadata.get("nested") else default(owner, f.name), owner)
            for cls in classes for f, where, owner in _flag_fields(cls, None)]


def options(*classes: type) -> dict:
    """{option name: default} of ``classes``' flags: the options the API and study YAML take."""
    return {name: value for _, name, _, value, _ in flags(*classes)}


def add_flags(parser: argparse.ArgumentParser, *classes: type) -> None:
    """Declare the flags of ``classes``' fields (and their nested settings') on ``parser``,
    each in its argparse group, with the field's default and help."""
    groups: dict[str | None, argparse._ActionsContainer] = {None: parser}
    for f, name, where, value, _ in flags(*classes):
        if where not in groups:
            groups[where] = parser.add_argument_group(where)
        kwargs = dict(f.metadata["argparse"])
        if not kwargs.get("required"):
            kwargs["default"] = list(value) if kwargs.get("nargs") and value else value
        groups[where].add_argument(f.metadata["flag"], *f.metadata["aliases"], dest=name,
                                   help=_help(f, value), **kwargs)


def build(cls: type, values: dict, skip: tuple[str, ...] = (), **extra):
    """``cls`` from option values (an argparse namespace's ``vars`` or :func:`resolve`'s), its
    nested settings built from the same values; ``extra`` sets fields directly."""
    kwargs = {}
    for f in fields(cls):
        if f.name in skip or f.name in extra:
            continue
        meta = f.metadata
        name = option_name(meta["flag"]) if meta.get("flag") else None
        if meta.get("nested"):
            if meta["argparse"].get("action") == "store_true" and not values.get(name):
                continue  # an optional nested setting that was not switched on
            kwargs[f.name] = build(meta["nested"], values, meta["skip"])
        elif name and name in values:
            kwargs[f.name] = values[name]
    return cls(**kwargs, **extra)


def resolve(given: dict, what: str, *classes: type, renamed: dict[str, str] | None = None,
            **fixed) -> dict:
    """The options of ``classes`` at their defaults, overridden by ``given`` (option names,
    e.g. ``scheduler="sha"``; ``renamed`` maps old names to new ones) and ``fixed``; an unknown
    name is refused in one line that lists the known ones."""
    known = options(*classes)
    given = {(renamed or {}).get(k, k): v for k, v in given.items()}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ScalesearchError(f"unknown {what} option(s) {', '.join(unknown)}; known: "
                               f"{', '.join(sorted(known))}")
    return {**known, **given, **fixed}


def _numeric(tp) -> bool:
    """Whether a field of type ``tp`` holds numbers (int or float, alone, in a union or a
    tuple) and never a bool."""
    args = get_args(tp)
    if tp is bool or bool in args:
        return False
    if tp in (int, float):
        return True
    return any(_numeric(a) for a in args if a is not Ellipsis)


@cache
def _numeric_fields(cls: type) -> tuple:
    hints = get_type_hints(cls)
    return tuple(f for f in fields(cls) if _numeric(hints[f.name]))


def plain_numbers(obj: object) -> None:
    """The first check of every settings ``__post_init__``: a field that holds numbers refuses
    a bool (``True`` is not α = 1, ``seeds=True`` not 1 seed) and turns numpy numbers into
    Python ones (``numpy.int64(3)`` seeds are 3; JSON cannot write numpy's)."""
    cls: type = type(obj)  # as type[object], mypy takes it for unhashable (the cache's key)
    for f in _numeric_fields(cls):
        name = f.metadata.get("flag") or f.name
        value = getattr(obj, f.name)
        plain = as_plain(name, value)
        if plain is not value:
            object.__setattr__(obj, f.name, plain)
