"""Where keyledger keeps its files: ``$KEYLEDGER_HOME`` or the user data directory (and
where the user's configuration lives: :func:`config_dir`).

The directory is made 0700 and the per-install secret (for key fingerprints) 0600; both are
created before anything is written into them, never loosened by the umask.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

from keyledger.errors import StoreError

SECRET_FILE = "install-secret"


def home_dir(environ: Mapping[str, str]) -> Path:
    """``$KEYLEDGER_HOME`` if set and not empty, else the platform's user data directory."""
    override = environ.get("KEYLEDGER_HOME", "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs  # only without $KEYLEDGER_HOME: seven modules a run need not load

    return Path(platformdirs.user_data_dir("keyledger", appauthor=False))


def config_dir(environ: Mapping[str, str]) -> Path:
    """The user config directory (``$XDG_CONFIG_HOME/keyledger`` on Linux): ``config.toml``
    and ``providers/*.toml`` live there."""
    xdg = environ.get("XDG_CONFIG_HOME", "").strip()
    if os.name == "posix" and sys.platform != "darwin" and xdg and Path(xdg).is_absolute():
        return Path(xdg) / "keyledger"
    import platformdirs

    return Path(platformdirs.user_config_dir("keyledger", appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (0700) if needed; an existing one loses its group and other bits.

    Tightening only ever removes permission bits: a 0555 directory becomes 0500, never 0700.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        tighten(path)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror or 'OS error'}") from None
    return path


def tighten(path: Path) -> None:
    """Remove the group and other permission bits of ``path`` (POSIX only); add none."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        path.chmod(mode & ~0o077)


def writable(path: Path) -> bool:
    """Whether keyledger may write ``path``: the owner write bit is set and access allows it.

    The mode bit is honoured even for root, who could write anyway: a home or ledger made
    read-only on purpose stays unwritten.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return False
    return bool(mode & stat.S_IWUSR) and os.access(path, os.W_OK)


def secret_id(secret: bytes) -> str:
    """A public check value naming an install secret (an HMAC of a fixed text, not the secret)."""
    return hmac.new(secret, b"keyledger install-secret id", hashlib.sha256).hexdigest()[:32]


def create_private_file(path: Path, data: bytes = b"") -> None:
    """Create ``path`` with mode 0600 (fails if it exists)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def install_secret(home: Path, *, create: bool = True) -> bytes:
    """The per-install secret behind fingerprints, created on first use (when ``create``).

    Raises:
        StoreError: it cannot be read, is missing and ``create`` is false, or cannot be
            created (a read-only home, say).
    """
    path = home / SECRET_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise StoreError(f"{path} does not exist") from None
        data = _create_secret(home, path)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or 'OS error'}") from None
    if len(data) < 16:
        raise StoreError(f"{path} is damaged (too short); remove it to start afresh")
    return data


def _create_secret(home: Path, path: Path) -> bytes:
    ensure_private_dir(home)
    if not writable(home):
        raise StoreError(f"cannot create {path}: {home} is read-only")
    data = secrets.token_bytes(32)
    try:
        create_private_file(path, data)
    except FileExistsError:  # another process won the race
        try:
            return path.read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or 'OS error'}") from None
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror or 'OS error'}") from None
    return data
