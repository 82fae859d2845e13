"""Where keyledger keeps its files: ``$KEYLEDGER_HOME`` or the user data directory.

The directory is made 0700 and the per-install secret (for key fingerprints) 0600; both are
created before anything is written into them, never loosened by the umask.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from keyledger.errors import StoreError

SECRET_FILE = "install-secret"


def home_dir(environ: Mapping[str, str]) -> Path:
    """``$KEYLEDGER_HOME`` if set and not empty, else the platform's user data directory."""
    override = environ.get("KEYLEDGER_HOME", "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("keyledger", appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (0700) if needed and tighten it if it is looser."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o700)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror or 'OS error'}") from None
    return path


def create_private_file(path: Path, data: bytes = b"") -> None:
    """Create ``path`` with mode 0600 (fails if it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def install_secret(home: Path) -> bytes:
    """The per-install secret behind fingerprints, created on first use."""
    ensure_private_dir(home)
    path = home / SECRET_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        data = secrets.token_bytes(32)
        try:
            create_private_file(path, data)
        except FileExistsError:  # another process won the race
            data = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or 'OS error'}") from None
    if len(data) < 16:
        raise StoreError(f"{path} is damaged (too short); remove it to start afresh")
    return data
