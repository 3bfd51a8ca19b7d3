"""docs/data-format.md covers the whole schema, its examples parse, and it is up to date."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import pytest

from engage_lab.data import schema

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "data-format.md"
SECTION = re.compile(r"^### `(?P<table>\w+)` — record type `(?P<record_type>\w+)`", re.M)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def sections(text: str) -> dict[str, str]:
    """Record type -> its section's text."""
    marks = list(SECTION.finditer(text))
    out = {}
    for mark, following in zip(marks, [*marks[1:], None], strict=True):
        end = following.start() if following else len(text)
        out[mark["record_type"]] = text[mark.start() : end]
    return out


def json_lines(text: str) -> list[str]:
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_every_table_record_type_and_column_is_documented(doc):
    found = sections(doc)
    assert set(found) == set(schema.RECORD_TYPES), "a record type has no section"
    for table in schema.TABLES:
        section = found[table.record_type]
        assert f"`{table.name}`" in section
        for column in table.columns:
            assert f"`{schema.raw_field(table, column)}`" in section, (table.name, column.name)
            assert f"`{column.sql_type}`" in section
            if not column.raw:
                row = next(r for r in section.splitlines() if f"`{column.name}`" in r)
                assert "*derived*" in row, f"{table.name}.{column.name} not marked derived"
        for (table_name, column_name), values in schema.ENUMS.items():
            if table_name == table.name:
                for value in values:
                    assert f"`{value}`" in section, (table_name, column_name, value)
    for column in (*schema.LOADS_COLUMNS, *schema.BOOKKEEPING_COLUMNS):
        assert f"`{column.name}`" in doc
    assert f"`{schema.LOADS_TABLE}`" in doc


def test_every_example_line_parses_with_its_section_type(doc):
    found = sections(doc)
    for record_type, section in found.items():
        lines = json_lines(section)
        assert lines, f"no example line for {record_type}"
        for line in lines:
            record = json.loads(line)  # one JSON object per line: valid JSON Lines
            assert isinstance(record, dict)
            assert record["type"] == record_type
            assert "id" in record
            table = schema.RECORD_TYPES[record_type]
            allowed = {schema.raw_field(table, c) for c in schema.raw_columns(table)}
            assert set(record) - {"type"} <= allowed, record
            for column in table.columns:
                if column.required:
                    assert record.get(schema.raw_field(table, column)) is not None


def test_doc_mentions_formats_and_folder_rules(doc):
    for needle in ("JSON Lines", "CSV", "Parquet", "ISO 8601", "milliseconds since", "truth/"):
        assert needle in doc


def test_doc_is_generated_from_the_current_schema(doc):
    generator = runpy.run_path(str(ROOT / "tools" / "gen_data_format_doc.py"))
    assert generator["render"]() == doc, "stale: run tools/gen_data_format_doc.py"


def test_section_parser_rejects_a_doc_missing_a_record_type(doc):
    # the checks above would catch a dropped section: prove the parser sees the drop
    cut = doc.replace("### `presence` — record type `presence`", "### presence")
    assert "presence" not in sections(cut)


def test_the_example_lines_load_together(doc, tmp_path):
    # the examples reference each other (pv1, v1, id1, a1): as one file they must load
    import engage_lab as el

    lines = [line for text in sections(doc).values() for line in json_lines(text)]
    (tmp_path / "examples.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with el.open(tmp_path / "examples.duckdb") as lab:
        report = lab.load(tmp_path / "examples.jsonl", progress=False)
        assert report.rows == len(lines)
        assert set(report.rows_by_table) == {t.name for t in schema.TABLES}
