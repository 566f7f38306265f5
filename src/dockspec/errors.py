"""Every exception dockspec raises; all derive from DockspecError.

The split follows h11's Local/Remote idea: InvalidAddress (InvalidDockerHost)
and InvalidContainerId are the caller's input, InvalidResponse is the daemon's
fault, DaemonNotFound means nobody answered.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousContainer",
    "ContextError",
    "DaemonNotFound",
    "DockspecError",
    "InvalidAddress",
    "InvalidConnectionAddress",
    "InvalidContainerId",
    "InvalidDockerHost",
    "InvalidResponse",
    "SpecError",
]


class DockspecError(Exception):
    """Base class of every error dockspec raises."""


class SpecError(DockspecError):
    """A spec file does not match spec/schema.yaml."""


class InvalidAddress(DockspecError, ValueError):
    """An address (host, port, `host:port`, a URL's authority) outside dockspec.addresses' grammar.

    `value` is the text, `position` the offending character's index; str()
    shows the value (control characters escaped, as in `\\r`) with a caret
    under it.
    """

    def __init__(self, message: str, value: str, position: int = 0) -> None:
        self.message = message
        self.value = value
        self.position = position
        super().__init__(message, value, position)

    def __str__(self) -> str:
        shown = [char if char.isprintable() else repr(char)[1:-1] for char in self.value]
        caret = " " * len("".join(shown[: self.position])) + "^"
        return f"{self.message}\n    {''.join(shown)}\n    {caret}"

    def summary(self) -> str:
        """One line, for a report: the message, the value and the (1-based) character."""
        return f"{self.message} (character {self.position + 1} of {self.value!r})"


class InvalidDockerHost(InvalidAddress):
    """A DOCKER_HOST-style value the docker CLI would reject (or whose address is invalid).

    `value` is the text, `position` the offending character's index; str()
    shows the value with a caret under it.
    """


class InvalidContainerId(DockspecError, ValueError):
    """A container id or name that could corrupt the request it goes into."""


class ContextError(DockspecError):
    """A docker context or podman connection is named but cannot be used.

    The context store has no entry for the name, its metadata is unreadable,
    or a connection name has no recorded destination. str() names the
    context, where the name came from and the file that was expected.
    """


class InvalidConnectionAddress(ContextError, InvalidAddress):
    """A docker context's Host or a podman connection's URI with an invalid address.

    A ContextError (the context or connection cannot be used) and an
    InvalidAddress (`value` is the Host or URI; str() has the caret).
    """


class DaemonNotFound(DockspecError):
    """No daemon answered at any endpoint tried; `attempts` says why for each."""

    def __init__(self, message: str, attempts: tuple[tuple[str, str], ...] = ()) -> None:
        self.attempts = attempts
        super().__init__(message)


class InvalidResponse(DockspecError):
    """A daemon answered with something dockspec cannot use (framing, size, status or JSON)."""


class AmbiguousContainer(DockspecError):
    """stop/kill of a name (or id prefix) more than one daemon knows, with no daemon picked.

    `daemons` holds each such daemon's URL, in endpoint order; pass one of
    them (or its origin) as `daemon=` to act on that daemon alone.
    """

    def __init__(self, message: str, daemons: tuple[str, ...] = ()) -> None:
        self.daemons = daemons
        super().__init__(message)
