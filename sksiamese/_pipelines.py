"""The scikit-learn part of a saved pipeline, written and read by skops.

A pipeline, or any other object that holds sksiamese estimators beside
scikit-learn ones (a grid search, a column transformer), is saved in two
parts: each sksiamese estimator in sksiamese's own format, and everything
around them by ``skops.io``, with a :class:`Slot` where each sksiamese
estimator was. skops knows scikit-learn's objects, and refuses, as
:func:`sksiamese.load` does, to build types the caller has not trusted; it
does not know Keras models, which sksiamese's format stores.

:func:`replace` walks what can hold an estimator: the attributes of
estimators and of scikit-learn's other objects (a grid search's scorer holds
its estimator), lists, tuples and dicts. It copies what lies on the
way to a replaced object (shallow copies: the caller's objects are not
changed, and arrays are not copied) and leaves the rest as it is.

This module imports no other module of the package: the save and load
modules call it, and hand it what it needs to know about their estimators.
"""

import importlib.metadata

from sklearn.base import BaseEstimator

_INSTALL_HINT = 'Saving and loading pipelines needs skops: pip install "sksiamese[pipelines]".'


def import_skops():
    """``skops.io``, or an ImportError that says how to install it."""
    try:
        import skops.io
    except ImportError as error:
        raise ImportError(f"{_INSTALL_HINT} ({error})") from error
    return skops.io


def skops_version():
    return importlib.metadata.version("skops")


class Slot:
    """Stands in the skops tree for the sksiamese estimator stored as number ``index``.

    skops rebuilds it from ``__reduce__`` as ``Slot(index)``; loading trusts
    this type, and no other, on the caller's behalf.
    """

    def __init__(self, index):
        self.index = index

    def __reduce__(self):
        return (Slot, (self.index,))


SLOT_TYPE = f"{Slot.__module__}.{Slot.__qualname__}"


def replace(value, replacement, memo):
    """``value`` with every object for which ``replacement`` returns something replaced by it.

    ``replacement(obj)`` returns the stand-in of ``obj``, or None to keep it
    and look inside. ``memo`` maps ids of objects already seen to their
    result, so that an object held in two places is replaced by one
    stand-in.
    """
    key = id(value)
    if key in memo:
        return memo[key]
    result = replacement(value)
    if result is None:
        result = _replace_inside(value, replacement, memo)
    memo[key] = result
    return result


def _replace_inside(value, replacement, memo):
    """``value`` itself if nothing inside it is replaced, else a shallow copy that differs."""
    if _has_walked_attributes(value):
        attributes = vars(value)
        replaced = {key: replace(item, replacement, memo) for key, item in attributes.items()}
        if all(replaced[key] is attributes[key] for key in attributes):
            return value
        copy = type(value).__new__(type(value))
        vars(copy).update(replaced)
        return copy
    if type(value) in (list, tuple):
        replaced = [replace(item, replacement, memo) for item in value]
        if all(new is old for new, old in zip(replaced, value)):
            return value
        return type(value)(replaced)
    if type(value) is dict:
        replaced = {key: replace(item, replacement, memo) for key, item in value.items()}
        if all(replaced[key] is value[key] for key in value):
            return value
        return replaced
    return value


def _has_walked_attributes(value):
    """Whether ``value`` is an estimator or another scikit-learn object with attributes."""
    cls = type(value)
    in_scikit_learn = cls.__module__.partition(".")[0] == "sklearn"
    return (
        hasattr(value, "__dict__")
        and not isinstance(value, type)
        and (isinstance(value, BaseEstimator) or in_scikit_learn)
    )


def dump_around(obj, is_own, own_types):
    """The skops bytes of ``obj`` with its own estimators replaced by slots, and those estimators.

    ``is_own(value)`` tells the estimators that sksiamese's format stores,
    ``own_types`` names their classes (``"module.Class"``): one of them left
    where :func:`replace` does not look would be refused by skops on loading,
    so it is refused here, when saving.
    """
    skops_io = import_skops()
    estimators = []

    def slot(value):
        if not is_own(value):
            return None
        estimators.append(value)
        return Slot(len(estimators) - 1)

    tree = skops_io.dumps(replace(obj, slot, {}))
    hidden = sorted(set(own_types) & set(skops_io.get_untrusted_types(data=tree)))
    if hidden:
        raise ValueError(
            f"Cannot save {type(obj).__name__}: it holds {', '.join(hidden)} inside an "
            "object that is neither an estimator, nor another scikit-learn object, nor a "
            "list, tuple or dict, where sksiamese.save does not look for its estimators."
        )
    return tree, estimators


def untrusted_types(tree):
    """The types in the skops bytes ``tree`` that skops does not trust by default.

    Reads the tree without importing or building anything (skops' own
    guarantee); a damaged tree raises skops' error.
    """
    skops_io = import_skops()
    return set(skops_io.get_untrusted_types(data=tree)) - {SLOT_TYPE}


def load_around(tree, trusted, estimator):
    """The object in the skops bytes ``tree``, with each slot replaced by ``estimator(index)``."""
    obj = import_skops().loads(tree, trusted=[*trusted, SLOT_TYPE])
    return replace(obj, lambda value: estimator(value.index) if type(value) is Slot else None, {})
