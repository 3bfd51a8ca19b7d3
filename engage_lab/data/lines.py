"""Lines of a text file: their length, where CSV records start, a readable copy.

DuckDB reads JSON Lines and CSV files, but its messages about a file's bytes do not
always name the right line (a line longer than its buffer, bytes that are not UTF-8,
a CSV record that spans lines), and one such line stops the whole read, hiding every
other problem of the file. The loader therefore learns about lines here, with numpy
over the chunks it hashes anyway, and when a file has such lines it reads a *readable
copy* instead (the original stays the file named, hashed and recorded):

* a line longer than :data:`MAX_LINE_BYTES` is refused with its number; in a JSON Lines
  file the copy holds an empty line in its place, so the other lines are still checked
  (a CSV file is refused whole: a record may continue on the next line);
* bytes that are not UTF-8 are refused line by line; in the copy a JSON Lines line that
  holds them is empty, and in a CSV file they become U+FFFD (a record may span lines),
  so every other problem of the file is still listed;
* in JSON Lines, a line with the control byte 0x01 (the line reader's delimiter, never
  valid in JSON text) is refused and empty in the copy;
* in JSON Lines, line ends are written ``\\n`` when the file mixes ``\\r\\n`` and ``\\n`` or
  holds a lone ``\\r`` (DuckDB's line reader stops on either); a lone ``\\r`` between
  JSON tokens is whitespace, one inside a string makes its line malformed.

CSV line numbers are physical lines: :func:`csv_record_lines` maps DuckDB's record
numbers to the line where each record starts when a quoted value holds a newline or a
blank line is skipped. A CSV file whose line ends mix ``\\r\\n`` and ``\\n``, or with a
``\\r`` outside quotes that ends no line, is refused naming the first such line (DuckDB
stops on it and names line 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = [
    "MAX_LINE_BYTES",
    "READER_MAX_LINE_SIZE",
    "LineScan",
    "csv_record_lines",
    "long_line_problems",
    "readable_copy",
]

#: The longest line a data file may hold, in bytes (16 MiB, 8 times DuckDB's default).
#: A record of the schema takes well under a kilobyte; the limit bounds the memory one
#: line costs the readers (DuckDB and Python's JSON parser) whatever the file.
MAX_LINE_BYTES = 16 << 20
#: DuckDB's ``max_line_size`` for our readers: the limit plus a line end (``\r\n``).
READER_MAX_LINE_SIZE = MAX_LINE_BYTES + 2
_NL, _CR, _QUOTE = 10, 13, 34
_CHUNK = 8 << 20


class LineScan:
    """Facts about the lines of a file, fed its bytes chunk by chunk.

    ``lines``: how many lines; ``long_lines``: numbers (1-based) of the lines longer
    than :data:`MAX_LINE_BYTES`; ``csv_irregular`` (when ``csv``): some CSV record does
    not start on the line after the previous one (a line with an odd number of quotes,
    i.e. a quoted value spans lines, or an empty line, which DuckDB skips).

    >>> scan = LineScan(csv=True)
    >>> scan.feed(b'id,title\\n1,"a\\nb"\\n')
    >>> scan.feed(b"2,c")
    >>> scan.finish()
    >>> scan.lines, scan.long_lines, scan.csv_irregular
    (4, [], True)
    """

    def __init__(self, csv: bool = False) -> None:
        self.lines = 0
        self.long_lines: list[int] = []
        self.csv_irregular = False
        self._csv = csv
        self._open = 0  # bytes of the line not ended yet
        self._open_quotes = 0  # quotes in it (CSV)
        self._last = -1  # the last byte seen (a '\\r' before the next line's end)
        self._ends = self._returns = self._crlf = 0  # counts of "\\n", "\\r", "\\r\\n"
        #: CSV: the first line (outside quotes) whose line end differs from the first one's
        self.first_other_line_end: int | None = None
        self._crlf_file: bool | None = None
        self._inside = 0  # CSV: 1 inside a quoted value at the start of the open line
        #: CSV: the first line with a "\\r" outside quotes that does not end the line
        self.first_lone_return: int | None = None
        self._pending_return = 0  # its line, when a chunk ends with such a "\\r"

    @property
    def mixed_line_ends(self) -> bool:
        """Some "\\r" is not part of a "\\r\\n", or "\\r\\n" and "\\n" line ends mix.

        DuckDB's line reader stops on such a file without naming a line.
        """
        return self._returns != self._crlf or 0 < self._crlf < self._ends

    def feed(self, chunk: bytes) -> None:
        """Scan the next bytes of the file."""
        if not chunk:
            return
        count = chunk.count(b"\n")
        self._ends += count
        returns = chunk.count(b"\r")
        if returns or self._last == _CR:
            self._returns += returns
            self._crlf += chunk.count(b"\r\n") + (self._last == _CR and chunk[0] == _NL)
        if self._csv:
            self._csv_lines(chunk)
        if count == 0:
            self._open += len(chunk)
        else:
            # Only the line the chunk's first line end closes can be long unless the
            # chunk itself is longer than the limit (the lines inside it are shorter).
            first = chunk.find(b"\n")
            if self._open + first > MAX_LINE_BYTES:
                self.long_lines.append(self.lines + 1)
            if len(chunk) > MAX_LINE_BYTES:
                ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == _NL)
                long = np.flatnonzero(np.diff(ends) - 1 > MAX_LINE_BYTES)
                self.long_lines += (self.lines + 2 + long).tolist()
            self.lines += count
            self._open = len(chunk) - chunk.rfind(b"\n") - 1
        self._last = chunk[-1]

    def _csv_lines(self, chunk: bytes) -> None:
        """Is a line's quote count odd, or a line empty? (then records and lines differ)"""
        data = np.frombuffer(chunk, dtype=np.uint8)
        ends = np.flatnonzero(data == _NL)
        quotes = np.flatnonzero(data == _QUOTE)
        if self.first_lone_return is None:
            self._lone_returns(data, ends, quotes)
        if not len(ends):
            self._open_quotes += len(quotes)
            return
        counts = np.diff(np.searchsorted(quotes, ends), prepend=0)
        counts[0] += self._open_quotes
        lengths = np.diff(ends, prepend=-1) - 1
        lengths[0] += self._open
        # An empty line (or "\\r" alone) is skipped by DuckDB's CSV reader.
        ended_by_cr = data[np.maximum(ends - 1, 0)] == _CR
        if ends[0] == 0:
            ended_by_cr[0] = self._last == _CR
        blank = (lengths == 0) | ((lengths == 1) & ended_by_cr)
        self.csv_irregular |= bool((counts % 2).any() or blank.any())
        if self.first_other_line_end is None:
            # DuckDB reads one kind of line end per file; a quoted value may hold either.
            outside = (np.cumsum(counts) + self._inside) % 2 == 0
            record_ends = np.flatnonzero(outside)
            if self._crlf_file is None and len(record_ends):
                self._crlf_file = bool(ended_by_cr[record_ends[0]])
            other = np.flatnonzero(outside & (ended_by_cr != self._crlf_file))
            if len(other):
                self.first_other_line_end = self.lines + 1 + int(other[0])
        self._inside = int((np.sum(counts) + self._inside) % 2)
        self._open_quotes = len(quotes) - int(np.searchsorted(quotes, ends[-1]))

    def _lone_returns(self, data: np.ndarray, ends: np.ndarray, quotes: np.ndarray) -> None:
        """The first "\\r" outside quotes and not before "\\n" (DuckDB stops on it)."""
        if self._pending_return and data[0] != _NL:
            self.first_lone_return = self._pending_return
            return
        self._pending_return = 0
        returns = np.flatnonzero(data == _CR)
        if not len(returns):
            return
        start = (self._inside + self._open_quotes) % 2  # quote parity at the chunk's start
        outside = (start + np.searchsorted(quotes, returns)) % 2 == 0
        following = np.minimum(returns + 1, len(data) - 1)
        lone = outside & (data[following] != _NL) & (returns + 1 < len(data))
        if lone.any():
            at = returns[np.flatnonzero(lone)[0]]
            self.first_lone_return = self.lines + 1 + int(np.searchsorted(ends, at))
        elif returns[-1] == len(data) - 1 and outside[-1]:  # the next chunk says
            self._pending_return = self.lines + 1 + len(ends)

    def finish(self) -> None:
        """The last line, when the file does not end with a line end."""
        if self._open:
            self.lines += 1
            if self._open > MAX_LINE_BYTES:
                self.long_lines.append(self.lines)
            if self._csv and (self._open_quotes % 2 or (self._open == 1 and self._last == _CR)):
                self.csv_irregular = True  # an open quote, or a last line of "\\r" alone
            self._open = 0


def csv_record_lines(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Where the records of a CSV file start: DuckDB's numbering to physical lines.

    Returns ``(starts, kept)``: ``starts[n - 1]`` is the physical line of DuckDB's
    record ``n`` as its error messages count them (every line outside quotes starts
    one, empty lines included; the header is record 1), and ``kept[n]`` the physical
    line of the ``n``-th row DuckDB reads (empty lines skipped; ``kept[0]`` is the
    header). The file's quotes are ``"`` and ``""``, as the loader reads them.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "agents.csv"
    ...     _ = path.write_bytes(b'id,name\\na1,"Ana\\nMaria"\\n\\na2,Bo\\n')
    ...     starts, kept = csv_record_lines(path)
    >>> starts.tolist(), kept.tolist()
    ([1, 2, 4, 5], [1, 2, 5])
    """
    starts: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    lines_before = 0
    inside = 0  # 1 when the line not ended yet starts inside a quoted value
    open_len = open_quotes = 0  # bytes and quotes of the line not ended yet
    last = -1
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            data = np.frombuffer(chunk, dtype=np.uint8)
            ends = np.flatnonzero(data == _NL)
            quotes = np.flatnonzero(data == _QUOTE)
            if not len(ends):
                open_len += len(chunk)
                open_quotes += len(quotes)
                last = int(data[-1])
                continue
            counts = np.diff(np.searchsorted(quotes, ends), prepend=0)
            counts[0] += open_quotes
            # A line starts outside quotes when the quotes before it are even in number.
            total = np.cumsum(counts) + inside
            outside = np.empty(len(ends), dtype=bool)
            outside[0] = inside == 0
            outside[1:] = total[:-1] % 2 == 0
            lengths = np.diff(ends, prepend=-1) - 1
            lengths[0] += open_len
            ended_by_cr = data[np.maximum(ends - 1, 0)] == _CR
            if ends[0] == 0:
                ended_by_cr[0] = last == _CR
            blank = (lengths == 0) | ((lengths == 1) & ended_by_cr)
            numbers = lines_before + 1 + np.arange(len(ends))
            starts.append(numbers[outside])
            kept.append(numbers[outside & ~blank])
            inside = int(total[-1] % 2)
            lines_before += len(ends)
            open_len = len(chunk) - int(ends[-1]) - 1
            open_quotes = len(quotes) - int(np.searchsorted(quotes, ends[-1]))
            last = int(data[-1])
    if open_len and not inside:  # a last line without a line end
        number = np.array([lines_before + 1])
        starts.append(number)
        if not (open_len == 1 and last == _CR):
            kept.append(number)
    empty = np.zeros(0, dtype=np.int64)
    return (np.concatenate(starts) if starts else empty, np.concatenate(kept) if kept else empty)


#: The byte JSON Lines are read with as DuckDB's column delimiter (never in JSON text).
_DELIMITER = b"\x01"


def readable_copy(path: Path, target: Path, jsonl: bool) -> list[tuple[int, str, str]]:
    """Write a copy of ``path`` the readers can read whole; return its problems.

    Each problem is ``(line, field, message)``: every line that is not UTF-8, and in
    JSON Lines every line longer than :data:`MAX_LINE_BYTES` or holding the byte 0x01.
    In JSON Lines those lines are empty in the copy (one message each, the line numbers
    of the others kept); in CSV bytes that are not UTF-8 become U+FFFD. Memory stays
    bounded by the longest line kept.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     source, copy = Path(folder) / "a.jsonl", Path(folder) / "copy.jsonl"
    ...     _ = source.write_bytes(b'{"id": "a1"}\\n{"id": "a\\xff"}\\n{"id": "a3"}\\n')
    ...     print(readable_copy(source, copy, jsonl=True))
    ...     print(copy.read_bytes())
    [(2, 'encoding', 'not UTF-8 (bytes that are not valid UTF-8)')]
    b'{"id": "a1"}\\n\\n{"id": "a3"}\\n'
    """
    problems: list[tuple[int, str, str]] = []
    number = 0
    with path.open("rb") as fh, target.open("wb") as out:
        while line := fh.readline(MAX_LINE_BYTES + 3):
            number += 1
            if len(line.removesuffix(b"\n")) > MAX_LINE_BYTES:  # as LineScan counts
                while not line.endswith(b"\n") and (line := fh.readline(_CHUNK)):
                    pass  # the rest of the long line: read past, never held whole
                if jsonl:
                    problems.append((number, "record", _long_line_message(jsonl)))
                    out.write(b"\n")  # an empty line keeps the numbers of the next ones
                    continue
                raise AssertionError("a CSV file with a long line is not copied")
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                problems.append((number, "encoding", "not UTF-8 (bytes that are not valid UTF-8)"))
                if jsonl:  # one message for the line: it is not read
                    out.write(b"\n")
                    continue
                # A CSV record may go on past this line: U+FFFD keeps its quotes.
                line = line.decode("utf-8", errors="replace").encode("utf-8")
            if jsonl and _DELIMITER in line:
                problems.append((number, "record", "malformed JSON: control byte 0x01"))
                out.write(b"\n")
                continue
            if jsonl and b"\r" in line:  # line ends "\n" alone: DuckDB reads one kind
                line, problem = _without_returns(line)
                if problem:
                    problems.append((number, "record", problem))
            out.write(line)
    return problems


def _without_returns(line: bytes) -> tuple[bytes, str | None]:
    """A JSON line ending in "\\n" alone, its other "\\r" read as the spaces they are.

    A carriage return is JSON whitespace between tokens; within a string it is not JSON
    (a control character): then the line is refused, empty in the copy.
    """
    body = line.removesuffix(b"\n").removesuffix(b"\r")
    if b"\r" not in body:
        return body + b"\n", None
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        reason = f"{exc.msg[0].lower()}{exc.msg[1:]}"
        if exc.msg.startswith("Invalid control character"):
            reason = "a raw control character (carriage return?) inside a string"
        return b"\n", f"malformed JSON at column {exc.colno}: {reason}"
    except (ValueError, RecursionError):
        return b"\n", "malformed JSON (a carriage return inside the line)"
    return body.replace(b"\r", b" ") + b"\n", None


def _long_line_message(jsonl: bool) -> str:
    if jsonl:
        return f"JSON Lines line longer than {MAX_LINE_BYTES:,} bytes: not read"
    return f"CSV line longer than {MAX_LINE_BYTES:,} bytes: the file is not read"


def long_line_problems(numbers: list[int], jsonl: bool) -> list[tuple[int, str, str]]:
    """The problems of the lines longer than :data:`MAX_LINE_BYTES`."""
    return [(n, "record", _long_line_message(jsonl)) for n in numbers]
