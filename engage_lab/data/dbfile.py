"""What a database path may name, and how a new database file comes into being.

DuckDB opens whatever it is given, and some of it silently: an existing JSON or CSV file
is opened as a throwaway in-memory database (whatever is loaded into it is lost at close),
a 0-byte file is refused forever, and a create cut short (a full disk, a kill) leaves a
0-byte or truncated file behind. So the path is settled before DuckDB sees it:

* an existing file must be a DuckDB database: bytes 8 to 12 of its header read ``DUCK``
  (the extension says nothing); a data file, a text file, a folder, a device are refused
  with one line;
* a 0-byte file holds no data: it is what a create cut short leaves behind (by another
  tool, or an engage_lab before this rule), so it is taken as a database never written
  and a new one is created in its place (refused while another process holds it);
* a new database is built under a temporary name in the same folder, checkpointed, then
  linked into place: the path is either absent or a whole database, whatever happens
  during the create; a failed create removes its temporary file;
* DuckDB is always given an absolute path, so ``:memory:`` or ``md:x`` name files, never
  DuckDB's special databases; after opening, the database must be that file.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "events.json").write_text('{"type": "agent"}\\n')
18
>>> try:
...     prepare(folder / "events.json", initialise=lambda con: None)
... except DatabaseError as error:
...     print(str(error).replace(str(folder), "DIR"))
DIR/events.json: cannot open: not a DuckDB database (it holds JSON text; data files are \
loaded into a database: engage-lab load FILE --db engage.duckdb)
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

import duckdb

from engage_lab.errors import DatabaseError, duckdb_message, translate_duckdb

__all__ = ["MAGIC", "check_opened", "looks_like_duckdb", "prepare"]

#: DuckDB's main header: an 8-byte checksum, then these four bytes.
MAGIC = b"DUCK"
MAGIC_OFFSET = 8
#: Marks the temporary file of a create in progress (next to the database).
CREATING_SUFFIX = ".creating"


def looks_like_duckdb(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a DuckDB database file.

    >>> looks_like_duckdb(b"\\x0a\\xc0\\x33\\x4f\\x45\\xac\\xc3\\xb6DUCK\\xe7\\x03")
    True
    >>> looks_like_duckdb(b'{"type": "page_view"}')
    False
    """
    return head[MAGIC_OFFSET : MAGIC_OFFSET + len(MAGIC)] == MAGIC


def _what_it_holds(head: bytes) -> str:
    """A short guess at what a file that is not a database holds, from its first bytes."""
    text = head.lstrip()
    if text[:1] in (b"{", b"["):
        return "JSON text"
    if text[:4] == b"PAR1":
        return "Parquet data"
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        return "other bytes"
    return "text (CSV or other)"


def prepare(
    path: str | Path,
    initialise: Callable[[duckdb.DuckDBPyConnection], None],
    *,
    create: bool = True,
) -> Path:
    """The absolute path of a whole DuckDB database at ``path``, created when missing.

    Without ``create`` (a read-only open), a missing or 0-byte file is refused instead.

    ``initialise`` creates the tables of a new database (on its temporary file, before it
    is linked into place). Raises :class:`DatabaseError` (one line, naming ``path``) for
    a path that is not a DuckDB database or cannot be created.
    """
    shown = Path(path)
    target = Path(os.path.abspath(shown))
    if isinstance(path, str) and path.endswith(("/", os.sep)) and not target.is_file():
        raise DatabaseError(
            f"{path}: cannot open: a folder, not a database file (e.g. {shown}/engage.duckdb)"
        )
    try:
        info = target.stat()
    except FileNotFoundError:
        if os.path.lexists(target):
            raise DatabaseError(f"{shown}: cannot open: a symbolic link to nothing") from None
        if not create:
            raise DatabaseError(f"{shown}: no such database (load data into it first)") from None
        _create(shown, target, initialise, replace=False)
        return target
    except NotADirectoryError as exc:  # a file where a folder of the path should be
        raise DatabaseError(
            f"{shown}: cannot create its folder {shown.parent}: {_os_words(exc)}"
        ) from exc
    except OSError as exc:
        raise DatabaseError(f"{shown}: cannot open: {_os_words(exc)}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise DatabaseError(
            f"{shown}: cannot open: a folder, not a database file (e.g. {shown}/engage.duckdb)"
        )
    if not stat.S_ISREG(info.st_mode):
        raise DatabaseError(f"{shown}: cannot open: not a regular file")
    if info.st_size == 0 and not create:
        raise DatabaseError(f"{shown}: an empty file, no database (load data into it first)")
    if info.st_size == 0:  # (through a symbolic link: the file it names)
        _replace_empty(shown, Path(os.path.realpath(target)), initialise)
        return target
    try:
        with target.open("rb") as fh:
            head = fh.read(64)
    except OSError as exc:
        raise DatabaseError(f"{shown}: cannot open: {_os_words(exc)}") from exc
    if not looks_like_duckdb(head):
        raise DatabaseError(
            f"{shown}: cannot open: not a DuckDB database (it holds {_what_it_holds(head)}; "
            "data files are loaded into a database: engage-lab load FILE --db engage.duckdb)"
        )
    return target


def check_opened(con: duckdb.DuckDBPyConnection, shown: str | Path, target: Path) -> None:
    """Refuse a connection whose database is not the file ``target`` (e.g. in memory)."""
    row = con.execute(
        "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    opened = None if row is None else row[0]
    try:
        same = opened is not None and os.path.samefile(opened, target)
    except OSError:  # DuckDB named a file that is not there
        same = False
    if not same:
        raise DatabaseError(
            f"{shown}: cannot open: DuckDB did not open it as a database file "
            "(nothing would be kept)"
        )


def _os_words(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _replace_empty(
    shown: Path, target: Path, initialise: Callable[[duckdb.DuckDBPyConnection], None]
) -> None:
    """A 0-byte file: a create cut short; replaced by a new database unless in use."""
    wal = target.with_name(target.name + ".wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise DatabaseError(
            f"{shown}: cannot open: an empty file beside a write-ahead log ({wal.name}); "
            "move both away"
        )
    try:
        fd = os.open(target, os.O_RDWR)
    except OSError as exc:
        raise DatabaseError(f"{shown}: cannot open: {_os_words(exc)}") from exc
    try:
        import fcntl  # POSIX; DuckDB locks its files with fcntl there

        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise DatabaseError(
                f"{shown} is in use by another process; close it there first"
            ) from None
    except ImportError:  # pragma: no cover - not POSIX
        pass
    finally:
        os.close(fd)
    _create(shown, target, initialise, replace=True)


def _create(
    shown: Path,
    target: Path,
    initialise: Callable[[duckdb.DuckDBPyConnection], None],
    *,
    replace: bool,
) -> None:
    """Build a new database beside ``target`` and link it into place whole."""
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(
            f"{shown}: cannot create its folder {shown.parent}: {_os_words(exc)}"
        ) from exc
    temp = folder / f".{os.getpid()}-{secrets.token_hex(6)}{CREATING_SUFFIX}"
    try:
        def cannot_create(exc: duckdb.Error) -> str:
            words = duckdb_message(exc, first_line=True).replace(str(temp), str(shown))
            return f"{shown}: cannot create the database: {words}"

        with translate_duckdb(DatabaseError, by_kind={duckdb.Error: cannot_create}):
            con = duckdb.connect(str(temp))
            try:
                initialise(con)
                con.execute("CHECKPOINT")  # the whole database in the file, no log
            finally:
                con.close()
        try:
            if replace:
                os.replace(temp, target)
            else:
                _link_new(temp, target)
            _sync_folder(folder)
        except OSError as exc:
            raise DatabaseError(f"{shown}: cannot create the database: {_os_words(exc)}") from exc
    finally:
        for leftover in (temp, temp.with_name(temp.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _link_new(temp: Path, target: Path) -> None:
    """Put ``temp`` at ``target`` unless something is there already.

    A hard link never replaces: when another process created the database meanwhile,
    its file stays and is opened (and locked) as any existing database.
    """
    try:
        os.link(temp, target)
    except FileExistsError:
        return
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # A file system without hard links: a rename, after checking nothing is there.
        if not os.path.lexists(target):
            os.rename(temp, target)


def _sync_folder(folder: Path) -> None:
    """Make the new name durable (a crash right after the create keeps it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that do not sync folders
        pass
    finally:
        os.close(fd)
