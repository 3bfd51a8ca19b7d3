"""Which files a load reads, and a first byte-level pass over each.

A folder is loaded by reading its data files at the top level only (``*.jsonl``,
``*.ndjson``, ``*.json`` as JSON Lines, ``*.csv``, ``*.parquet``); sub-folders such as
``truth/`` and other files are not read. The byte pass hashes each file (sha256, recorded
in ``loads.digests``) and finds what DuckDB's readers cannot report by line: bytes that
are not UTF-8, lines too long, CSV records that span lines (:mod:`.lines`), and empty
files. It reads the file in chunks, so memory stays bounded.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from engage_lab.data import schema
from engage_lab.data.lines import LineScan, long_line_problems

__all__ = ["SourceFile", "discover", "prepass"]

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
    #: the byte pass found lines the readers cannot read (see :mod:`.lines`): they read
    #: ``read_path``, a readable copy, instead
    needs_copy: bool = False
    read_path: Path | None = None
    #: csv: some record does not start on the line after the previous record's start
    csv_irregular: bool = False

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def reading(self) -> Path:
        """The file the readers read: the file itself, or its readable copy."""
        return self.read_path or self.path


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


def prepass(source: SourceFile) -> list[tuple[int, str, str]]:
    """Hash the file and check its bytes; return problems as ``(line, field, message)``."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    check_text = source.fmt != "parquet"
    has_delimiter = False
    size = 0
    delim = LINE_READER_DELIMITER.encode()
    scan = LineScan(csv=source.fmt == "csv")
    with source.path.open("rb") as fh:
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
