"""A tiny component registry: register where defined, create by name, list by pattern.

Each kind of component (feature extractor, predictor, CNN model) has one :class:`Registry`.
A component registers itself with a decorator in the module that defines it, so the class is
the single source of truth: its name, its one-line description (the first line of its
docstring) and its defaults all live on it. Third-party packages can add components through
the Python entry point group named by ``Registry.entry_point_group``.

A *family* (:meth:`Registry.register_family`) stands for names that are too many to register
one by one, e.g. every ``timm/<name>`` model: a name with the family's prefix is resolved on
demand by the family's function, and :meth:`Registry.list` does not enumerate the family.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from core.errors import ConfigError

T = TypeVar("T")


class UnknownComponentError(ConfigError, KeyError):
    """Raised for a name that is not registered; the message lists the valid names.

    A :class:`~core.errors.ConfigError`, so every command reports it as one line.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DuplicateComponentError(ValueError):
    """Raised when a second component is registered under an existing name."""


class _Family(Generic[T]):
    """Names ``prefix + rest`` resolved by ``resolve(rest)``; ``description`` is shown by ``--list``."""

    def __init__(self, prefix: str, resolve: Callable[[str], type[T]], description: str) -> None:
        self.prefix = prefix
        self.resolve = resolve
        self.description = description


class Registry(Generic[T]):
    """Name -> component class mapping for one kind of component.

    Parameters
    ----------
    kind : str
        What the components are, used in messages ("feature", "predictor", ...).
    packages : tuple of str
        Packages whose every public module (name not starting with ``_``) is imported on first
        lookup so that their decorators run: a new component is one new module, nothing else.
    entry_point_group : str, optional
        Python entry point group scanned on first lookup for third-party components.
    """

    def __init__(self, kind: str, packages: tuple[str, ...] = (),
                 entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._packages = packages
        self._components: dict[str, type[T]] = {}
        self._families: dict[str, _Family[T]] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator registering ``cls`` under ``name``; raises on a duplicate name."""

        def decorator(cls: type[T]) -> type[T]:
            existing = self._components.get(name)
            if existing is not None and existing is not cls:
                raise DuplicateComponentError(
                    f"{self.kind} {name!r} is already registered by "
                    f"{existing.__module__}.{existing.__qualname__}")
            cls.registry_name = name  # type: ignore[attr-defined]
            self._components[name] = cls
            return cls

        return decorator

    def register_family(self, prefix: str, resolve: Callable[[str], type[T]], description: str) -> None:
        """Accept every name ``prefix + rest`` that ``resolve(rest)`` turns into a component class.

        For families too large to register one by one (``timm/<name>``): :meth:`get` resolves such
        a name on demand, :meth:`list` does not enumerate the family, :meth:`families` describes it.

        Parameters
        ----------
        prefix : str
            Non-empty name prefix, e.g. ``"timm/"``; no registered name may start with it.
        resolve : callable
            ``resolve(rest) -> class``; raises :class:`UnknownComponentError` (one line, with close
            names) when ``rest`` is not a member. It should return the same class for the same name.
        description : str
            One line for listings.

        Raises
        ------
        DuplicateComponentError
            Another family already has ``prefix``.
        """
        existing = self._families.get(prefix)
        if not prefix or (existing is not None and existing.resolve is not resolve):
            raise DuplicateComponentError(f"{self.kind} family prefix {prefix!r} is empty or already registered")
        self._families[prefix] = _Family(prefix, resolve, description)

    def families(self) -> dict[str, str]:
        """Prefix -> one-line description of every registered family (see :meth:`register_family`)."""
        self._load()
        return {prefix: family.description for prefix, family in self._families.items()}

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for package in self._packages:
            pkg = importlib.import_module(package)
            for info in pkgutil.iter_modules(pkg.__path__):
                if not info.name.startswith("_"):
                    importlib.import_module(f"{package}.{info.name}")
        if self.entry_point_group:
            for ep in entry_points(group=self.entry_point_group):
                ep.load()  # importing the module runs its @register decorator

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; unknown names list the valid ones."""
        self._load()
        try:
            return self._components[name]
        except KeyError:
            pass
        for prefix, family in self._families.items():
            if name.startswith(prefix):
                cls = family.resolve(name[len(prefix):])
                cls.registry_name = name  # type: ignore[attr-defined]
                return cls
        close = difflib.get_close_matches(name, self._components, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        extra = "".join(f"; or {prefix}<name>" for prefix in self._families)
        raise UnknownComponentError(
            f"unknown {self.kind} {name!r}.{hint} Valid {self.kind}s: "
            f"{', '.join(sorted(self._components))}{extra}") from None

    def create(self, name: str, **kwargs: Any) -> T:
        """An instance of the component ``name`` built with ``kwargs``."""
        return self.get(name)(**kwargs)

    def list(self, pattern: str = "*") -> list[str]:
        """Sorted registered names matching the shell-style ``pattern`` (families are not enumerated)."""
        self._load()
        return sorted(n for n in self._components if fnmatch.fnmatchcase(n, pattern))

    def describe(self, name: str) -> str:
        """One-line description: the first line of the component's docstring."""
        doc = inspect.getdoc(self.get(name)) or ""
        return doc.splitlines()[0] if doc else ""

    def __contains__(self, name: object) -> bool:
        self._load()
        if name in self._components:
            return True
        if isinstance(name, str) and any(name.startswith(prefix) for prefix in self._families):
            try:
                self.get(name)
            except UnknownComponentError:
                return False
            return True
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.list())

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests that register temporary components)."""
        self._components.pop(name, None)
