"""The ingest benchmark: data generator, runner, loopback API server (see README.md)."""
