"""Data: the table schema, readers for JSONL / CSV / Parquet, transactional loads."""

from __future__ import annotations
