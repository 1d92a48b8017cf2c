"""Trusted experiment folders and the hash of every file trusted in them (the policy is kg/trust.py)."""

from __future__ import annotations

from kg.store import Store


def trust_folder(store: Store, folder: str, files: dict[str, str], now: str) -> None:
    """Record `folder` as trusted with exactly these files (path → hash), in one transaction."""
    with store.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO trusted_folders (path, trusted_at) VALUES (?, ?)", (folder, now))
        conn.execute("DELETE FROM trusted_files WHERE folder = ?", (folder,))
        conn.executemany(
            "INSERT OR REPLACE INTO trusted_files (path, folder, hash, trusted_at) VALUES (?, ?, ?, ?)",
            [(p, folder, h, now) for p, h in files.items()],
        )


def revoke_folder(store: Store, folder: str) -> bool:
    """Forget a trusted folder and its files, in one transaction. Returns whether it was trusted."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM trusted_files WHERE folder = ?", (folder,))
        return conn.execute("DELETE FROM trusted_folders WHERE path = ?", (folder,)).rowcount > 0


def trusted_folders(store: Store) -> list[tuple[str, str, int]]:
    """(path, trusted_at, files trusted in it) of every trusted folder, by path."""
    return store.conn.execute(
        "SELECT f.path, f.trusted_at, count(t.path) FROM trusted_folders f "
        "LEFT JOIN trusted_files t ON t.folder = f.path GROUP BY f.path ORDER BY f.path"
    ).fetchall()


def folder_paths(store: Store) -> list[str]:
    """The path of every trusted folder."""
    return [r[0] for r in store.conn.execute("SELECT path FROM trusted_folders").fetchall()]


def trusted_hash(store: Store, path: str) -> str | None:
    """The hash a file was trusted as, or None when it was never trusted."""
    row = store.conn.execute("SELECT hash FROM trusted_files WHERE path = ?", (path,)).fetchone()
    return None if row is None else row[0]
