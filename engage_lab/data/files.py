"""Which files a load reads, and a first byte-level pass over each.

A folder is loaded by reading its data files at the top level only (``*.jsonl``,
``*.ndjson``, ``*.json`` as JSON Lines, ``*.csv``, ``*.parquet``); sub-folders such as
``truth/`` and other files are not read. The byte pass hashes each file (sha256, recorded
in ``loads.digests``) and finds what DuckDB's readers cannot report by line: bytes that
are not UTF-8, lines too long, CSV records that span lines (:mod:`.lines`), and empty
files. It reads the file in chunks, so memory stays bounded.

A path is a path: DuckDB's readers take ``*``, ``?``, ``[...]`` and ``**`` in a file name
as a pattern (a file named ``pv*.jsonl`` would also read ``pvB.jsonl``), so DuckDB never
gets a file's name. Each read opens the file here and hands DuckDB the name of that open
descriptor (``/proc/self/fd/N``, see :func:`exact_path`): plain digits, the very file that
was opened even if it is renamed meanwhile, read by DuckDB's own streaming readers (line
numbers and memory as with the name). The file's identity (device, inode, size,
modification and change times) is taken when it is hashed and must be the same at every
later read, before and after it: the digest covers exactly the bytes DuckDB read, or the
load is refused ("changed while it was loaded"). A file with lines the readers cannot
read is read through its readable copy (:func:`.lines.readable_copy`), itself written
from the file through :func:`exact_path`, so the copy holds the bytes hashed.
"""

from __future__ import annotations

import codecs
import contextlib
import difflib
import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from engage_lab.data import schema
from engage_lab.data.lines import LineScan, long_line_problems, readable_copy
from engage_lab.display import visible

__all__ = [
    "FileReadError",
    "SourceFile",
    "discover",
    "exact_path",
    "prepass",
    "write_readable_copy",
]

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
DATA_SUFFIXES = (*JSONL_SUFFIXES, ".csv", ".parquet")
CHUNK = 8 << 20
#: The byte that read_csv uses as its (never present) delimiter when reading lines.
LINE_READER_DELIMITER = "\x01"


@dataclass(slots=True)
class SourceFile:
    """One file of a load."""

    path: Path
    file_no: int
    fmt: str  # "jsonl", "csv" or "parquet"
    record_type: str | None = None  # csv / parquet: the one record type of the file
    digest: str = ""
    size: int = 0
    #: csv / parquet: column name -> type, found by the probe before the load's transaction
    columns: dict[str, str] | None = None
    #: (device, inode, size, mtime, ctime) when hashed: every later read must find the same
    identity: tuple[int, ...] | None = None
    #: the byte pass found lines the readers cannot read (see :mod:`.lines`): they read
    #: ``read_path``, a readable copy (ours, in a private folder), instead; every read,
    #: of the file or of its copy, goes through :func:`exact_path`
    needs_copy: bool = False
    read_path: Path | None = None
    #: csv: some record does not start on the line after the previous record's start
    csv_irregular: bool = False

    @property
    def name(self) -> str:
        return self.path.name


def _record_type_of(path: Path) -> str | None:
    stem = path.name.split(".", 1)[0]
    if stem in schema.RECORD_TYPES:
        return stem
    if stem in schema.TABLES_BY_NAME:
        return schema.TABLES_BY_NAME[stem].record_type
    return None


def discover(paths: tuple[str | Path, ...]) -> tuple[list[SourceFile], list[str]]:
    """The files named by ``paths`` (files or folders), and problems finding them."""
    found: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.suffix in DATA_SUFFIXES
            )
            if not inside:
                problems.append(f"{path}: no data files (*.jsonl, *.csv, *.parquet) in folder")
            found.extend(inside)
        elif path.is_file():
            if path.suffix not in DATA_SUFFIXES:
                problems.append(f"{path.name}: not a data file (expected .jsonl, .csv, .parquet)")
            else:
                found.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    files: list[SourceFile] = []
    seen: set[Path] = set()
    for path in found:
        resolved = path.resolve()
        if resolved in seen:  # the same file named twice: read once
            continue
        if not str(resolved).isascii() and not _is_utf8(str(resolved)):
            # DuckDB reads and stores only UTF-8 names; Python keeps other bytes as surrogates
            problems.append(f"{visible(path)}: the file name is not UTF-8; rename the file")
            continue
        seen.add(resolved)
        fmt = "jsonl" if path.suffix in JSONL_SUFFIXES else path.suffix[1:]
        source = SourceFile(resolved, len(files) + 1, fmt)
        if fmt != "jsonl":
            source.record_type = _record_type_of(path)
            if source.record_type is None:
                stem = path.name.split(".", 1)[0]
                names = [*schema.TABLES_BY_NAME, *schema.RECORD_TYPES]
                close = difflib.get_close_matches(stem, names, n=1)
                problems.append(
                    f"{path.name}:1: file: cannot tell the record type from the file name "
                    + (
                        f"(did you mean {close[0]}{path.name[len(stem) :]}?)"
                        if close
                        else "(name a CSV / Parquet file after its table or record type, "
                        "e.g. page_views.csv)"
                    )
                )
        files.append(source)
    return files, problems


class FileReadError(Exception):
    """A file that cannot be read as the one named and hashed (its message says why)."""


#: Where an open descriptor has a name (Linux: /proc/self/fd; BSD, macOS: /dev/fd).
_FD_FOLDER = next((d for d in ("/proc/self/fd", "/dev/fd") if os.path.isdir(d)), None)
#: What DuckDB's readers take as a pattern in a file name.
_PATTERN_CHARS = re.compile(r"[*?\[\]{}]")


def _identity(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _check_identity(source: SourceFile, fd: int) -> None:
    found = _identity(os.fstat(fd))
    if source.identity is None:
        source.identity = found
    elif found != source.identity:
        raise FileReadError(
            "file changed while it was loaded (the digest would not cover what was read); "
            "load it again"
        )


@contextlib.contextmanager
def exact_path(source: SourceFile) -> Iterator[str]:
    """A name of exactly the file the readers read for ``source``, during the block.

    That file is ``source.read_path`` when the file has a readable copy, else the file
    itself. It is opened here; the name is its descriptor's (``/proc/self/fd/N``), where
    no pattern can hide. For the file itself, the first call notes its identity and
    every call checks it before and after the block (:class:`FileReadError` when it
    changed or cannot be read); the copy is ours, written from the file through this
    function, so it is not checked. DuckDB errors raised in the block name the file
    instead of the descriptor.

    >>> import tempfile, pathlib, duckdb
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "pv*.csv").write_text("a\\n1\\n")
    >>> _ = (folder / "pvB.csv").write_text("a\\n2\\n")
    >>> with exact_path(SourceFile(folder / "pv*.csv", 1, "csv")) as name:
    ...     duckdb.connect().execute("SELECT a FROM read_csv(?)", [name]).fetchall()
    [(1,)]
    """
    original = source.read_path is None
    path = source.path if source.read_path is None else source.read_path
    try:  # non-blocking: a FIFO put in the file's place must not hang the load
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FileReadError(f"cannot read: {exc.strerror or exc}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileReadError("not a regular file")
        if original:
            _check_identity(source, fd)
        if _FD_FOLDER is not None:
            name = f"{_FD_FOLDER}/{fd}"
        elif _PATTERN_CHARS.search(str(path)):  # pragma: no cover - no /dev/fd
            raise FileReadError("cannot read a file whose path holds * ? [ ] { } here")
        else:  # pragma: no cover - no /dev/fd
            name = str(path)
        try:
            yield name
        except duckdb.Error as exc:
            try:  # a file changed while DuckDB read it: that is what went wrong
                if original:
                    _check_identity(source, fd)
            except FileReadError as changed:
                raise changed from exc  # (its cause: the transaction may be aborted)
            said = re.sub(re.escape(name) + r"(?!\d)", source.name, str(exc))
            try:
                renamed = type(exc)(said)
            except Exception:  # pragma: no cover - an error class built otherwise
                raise exc from None
            raise renamed from exc
        if original:
            _check_identity(source, fd)
    finally:
        os.close(fd)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def write_readable_copy(source: SourceFile, target: Path) -> list[tuple[int, str, str]]:
    """Write ``source``'s readable copy to ``target``; the readers read it from now on.

    The copy is made from the file through :func:`exact_path` (the file hashed, unchanged
    since); returns the problems of its lines as ``(line, field, message)``
    (:func:`.lines.readable_copy`).
    """
    with exact_path(source) as name:
        problems = readable_copy(Path(name), target, jsonl=source.fmt == "jsonl")
    source.read_path = target
    return problems


def prepass(source: SourceFile) -> list[tuple[int, str, str]]:
    """Hash the file and check its bytes; return problems as ``(line, field, message)``.

    Notes the file's identity: later reads (:func:`exact_path`) must find the same file.
    """
    try:
        with exact_path(source) as name:
            return _prepass(source, name)
    except FileReadError as exc:
        return [(1, "file", str(exc))]


def _prepass(source: SourceFile, name: str) -> list[tuple[int, str, str]]:
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    check_text = source.fmt != "parquet"
    has_delimiter = False
    size = 0
    delim = LINE_READER_DELIMITER.encode()
    scan = LineScan(csv=source.fmt == "csv")
    with open(name, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if check_text:
                scan.feed(chunk)
            if check_text and utf8_ok:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
            if source.fmt == "jsonl" and not has_delimiter:
                has_delimiter = delim in chunk
    if check_text and utf8_ok:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    source.digest = digest.hexdigest()
    source.size = size
    if size == 0:
        return [(1, "file", "empty file")]
    scan.finish()
    source.csv_irregular = scan.csv_irregular
    if source.fmt == "csv" and scan.long_lines:  # a record may go on: the file is not read
        return long_line_problems(scan.long_lines, jsonl=False)
    if source.fmt == "csv" and scan.first_other_line_end:
        message = "line ends mix \\r\\n and \\n (DuckDB reads one kind; save the file with one)"
        return [(scan.first_other_line_end, "record", f"CSV {message}")]
    if source.fmt == "csv" and scan.first_lone_return:
        message = "a carriage return (\\r) outside quotes, not ending the line (quote the value)"
        return [(scan.first_lone_return, "record", f"CSV line with {message}")]
    # The lines at fault are listed when the readable copy is written (every one of them).
    mixed = source.fmt == "jsonl" and scan.mixed_line_ends
    source.needs_copy = not utf8_ok or has_delimiter or bool(scan.long_lines) or mixed
    return []
