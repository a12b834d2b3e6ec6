"""Export files: the formats an analyst reads (CSV, JSONL, typed Parquet)."""
