"""Where a dataset version's files live in the curated bucket: one place for every writer
and reader (the ingest function writes them, training and the CLI read them)."""

from __future__ import annotations

from datetime import date

# Key prefixes of the curated bucket (IAM grants are scoped to them).
CURATED_PREFIXES = ("curated", "manifests", "reports")


def data_key(dataset: str, version: str, arrived: date) -> str:
    return f"curated/{dataset}/ingest_date={arrived:%Y-%m-%d}/{version}.parquet"


def manifest_key(dataset: str, version: str) -> str:
    return f"manifests/{dataset}/{version}.json"


def report_key(dataset: str, version: str) -> str:
    return f"reports/{dataset}/{version}.json"
