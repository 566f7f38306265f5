"""Every exception dockspec raises; all derive from DockspecError.

The split follows h11's Local/Remote idea: InvalidDockerHost and
InvalidContainerId are the caller's input, InvalidResponse is the daemon's
fault, DaemonNotFound means nobody answered.
"""

from __future__ import annotations

__all__ = [
    "ContextError",
    "DaemonNotFound",
    "DockspecError",
    "InvalidContainerId",
    "InvalidDockerHost",
    "InvalidResponse",
    "SpecError",
]


class DockspecError(Exception):
    """Base class of every error dockspec raises."""


class SpecError(DockspecError):
    """A spec file does not match spec/schema.yaml."""


class InvalidDockerHost(DockspecError, ValueError):
    """A DOCKER_HOST-style value the docker CLI would reject.

    `value` is the text, `position` the offending character's index; str()
    shows the value with a caret under it.
    """

    def __init__(self, message: str, value: str, position: int = 0) -> None:
        self.message = message
        self.value = value
        self.position = position
        super().__init__(message, value, position)

    def __str__(self) -> str:
        caret = " " * self.position + "^"
        return f"{self.message}\n    {self.value}\n    {caret}"


class InvalidContainerId(DockspecError, ValueError):
    """A container id or name that could corrupt the request it goes into."""


class ContextError(DockspecError):
    """A docker context or podman connection is named but cannot be used.

    The context store has no entry for the name, its metadata is unreadable,
    or a connection name has no recorded destination. str() names the
    context, where the name came from and the file that was expected.
    """


class DaemonNotFound(DockspecError):
    """No daemon answered at any endpoint tried; `attempts` says why for each."""

    def __init__(self, message: str, attempts: tuple[tuple[str, str], ...] = ()) -> None:
        self.attempts = attempts
        super().__init__(message)


class InvalidResponse(DockspecError):
    """A daemon answered with something dockspec cannot use (framing, size, status or JSON)."""
