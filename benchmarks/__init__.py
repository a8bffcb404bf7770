"""Benchmarks of bedrock-platform: ``python -m benchmarks.run`` (see ``benchmarks/README.md``)."""
