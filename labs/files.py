"""Files that other processes read while we may rewrite them (the calendar fakes' tenants, keys and certificates).

:func:`write_atomically` writes beside the file and renames over it, so a reader sees the old content or the new,
never a truncated file: ``demo_site`` rewrote ``var/calendar-fakes/google-tenant.json`` in place while another
process read it and got an empty string (two test runs side by side; ``make run``'s fakes read it the same way).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes | str, *, private: bool = False) -> None:
    """Replace ``path`` with ``data`` in one rename. ``private``: readable by the owner only (0600), as a key is;
    otherwise 0644. The temporary file is unique to the call, so concurrent writers never share one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.chmod(temporary, 0o600 if private else 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
