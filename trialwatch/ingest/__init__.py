"""The ingest path: payloads (fetched by a crawl or a backfill, read from files) into stored
versions, in batches, parsed on every core; re-derivation of stored versions (`reparse`); and
the whole jobs (crawl, then alert) the commands and the scheduler run."""
