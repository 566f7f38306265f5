"""Throwaway unprivileged users for the trust tests (run as root): made once, idempotently."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess

import pytest

SPOOF_USER = "dsspoof"


def spoof_user(name: str = SPOOF_USER) -> pwd.struct_passwd:
    """The user `name` (useradd'ed without a home when missing); skips unless root with useradd and setpriv."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv, to run processes as another user")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if shutil.which("useradd") is None:
        pytest.skip("needs useradd")
    subprocess.run(["useradd", "-M", "-s", "/usr/sbin/nologin", name], check=False, capture_output=True)
    return pwd.getpwnam(name)
