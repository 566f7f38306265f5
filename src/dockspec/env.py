"""The environment dockspec runs in, as a value.

`Env.from_os()` is the only place dockspec reads os.environ, the uid or the
home directory; everything else takes an Env, so every rule that depends on
the environment can be tested with a literal one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from types import MappingProxyType

import attrs

__all__ = ["Env"]


def _platform_family(platform: str) -> str:
    if platform.startswith("win"):
        return "windows"
    if platform == "darwin":
        return "darwin"
    return "linux"


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class Env:
    """What the endpoint table and DOCKER_HOST rules are expanded against."""

    platform: str = "linux"
    """linux, windows or darwin."""
    uid: int | None = None
    home: str | None = None
    xdg_runtime_dir: str | None = None
    xdg_data_home: str | None = None
    environ: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    """A snapshot of the variables dockspec reads (DOCKER_HOST, DOCKER_TLS_VERIFY, ...)."""

    @classmethod
    def from_os(cls, home: str | os.PathLike[str] | None = None) -> Env:
        """Snapshot this process's environment; `home` overrides the home directory."""
        environ = dict(os.environ)
        if home is None:
            # What pathlib.Path.home() does, without importing pathlib (urllib.parse, fnmatch, ...):
            # $HOME, else the password database; "~" back means neither knows.
            expanded = os.path.expanduser("~")
            home_text: str | None = None if expanded == "~" else expanded
        else:
            home_text = os.fspath(home)
        getuid = getattr(os, "getuid", None)
        return cls(
            platform=_platform_family(sys.platform),
            uid=getuid() if getuid is not None else None,
            home=home_text,
            xdg_runtime_dir=environ.get("XDG_RUNTIME_DIR") or None,
            xdg_data_home=environ.get("XDG_DATA_HOME") or None,
            environ=environ,
        )

    def placeholders(self) -> dict[str, str]:
        """Template placeholders with a known value; unknown ones are absent."""
        values = {
            "uid": None if self.uid is None else str(self.uid),
            "home": self.home,
            "xdg_runtime_dir": self.xdg_runtime_dir,
            "xdg_data_home": self.xdg_data_home,
        }
        return {k: v for k, v in values.items() if v}
