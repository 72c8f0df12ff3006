"""Name -> class registries for heads, priors, networks and models (no chains of `if name ==`)."""


class Registry:
    """Maps names to classes; `register(name)` is a class decorator, `get(name)` the look-up.

    Args:
        kind: what the registry holds, used in error messages ("likelihood", "model", ...).
    """

    def __init__(self, kind):
        self.kind = kind
        self._classes = {}

    def register(self, name):
        def wrap(cls):
            if name in self._classes and self._classes[name] is not cls:
                raise ValueError(f"{self.kind} {name!r} is registered twice.")
            self._classes[name] = cls
            cls.registry_name = name
            return cls

        return wrap

    def get(self, name):
        """The class registered as `name`; a ValueError listing the choices otherwise."""
        if name not in self._classes:
            raise ValueError(
                f"Unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}."
            )
        return self._classes[name]

    def names(self):
        return sorted(self._classes)

    def __contains__(self, name):
        return name in self._classes
