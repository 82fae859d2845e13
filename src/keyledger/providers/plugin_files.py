"""Whether any installed distribution may declare an entry point of a group, found without
importing ``importlib.metadata``.

``importlib.metadata`` (and the ``email``, ``zipfile`` and ``csv`` modules it loads) costs
more to import than the look itself, and ``check`` asks before its first request whether a
provider plugin is installed: nearly always none is. This module reads the same
``entry_points.txt`` files ``importlib.metadata.distributions()`` would (every
``*.dist-info`` and ``*.egg-info`` directory in each directory on ``sys.path``, through the
standard path finder) and answers ``False`` only when it read every place that finder looks
and none names the group. Anything it cannot read the same way (a zip archive or an ``.egg``
on ``sys.path``, another finder on ``sys.meta_path`` that finds distributions) answers
``True``: the caller then asks ``importlib.metadata``, which stays the one that decides.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys

_INFO_SUFFIXES = (".dist-info", ".egg-info")


def _names_in(folder: object, needle: bytes) -> bool | None:
    """``True`` if a distribution in ``folder`` names ``needle`` in its ``entry_points.txt``,
    ``False`` if none does, ``None`` if ``folder`` is not a plain directory to read (or not
    a string: a ``Path`` or other object a program put on ``sys.path``)."""
    if not isinstance(folder, str):
        return None  # importlib.metadata handles such entries its own way
    if folder.lower().endswith(".egg"):
        return None  # importlib.metadata reads an .egg's EGG-INFO too
    try:
        with os.scandir(folder or ".") as listing:
            infos = [entry.path for entry in listing if entry.name.lower().endswith(_INFO_SUFFIXES)]
    except NotADirectoryError:
        return None  # a zip archive (or another file) on sys.path
    except OSError:
        return False  # missing or unreadable: importlib.metadata finds nothing there either
    for info in infos:
        try:
            with open(os.path.join(info, "entry_points.txt"), "rb") as file:
                if needle in file.read():
                    return True
        except OSError:
            continue
    return False


def may_name_group(group: str) -> bool:
    """Whether an installed distribution may declare an entry point in ``group``: ``False``
    only when every ``entry_points.txt`` ``importlib.metadata`` would read was read here and
    none holds the group's name."""
    for finder in sys.meta_path:
        if finder is not importlib.machinery.PathFinder and hasattr(finder, "find_distributions"):
            return True  # distributions found some other way: let importlib.metadata look
    needle = group.encode()
    return any(_names_in(folder, needle) is not False for folder in sys.path)


__all__ = ["may_name_group"]
