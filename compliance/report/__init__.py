"""The compliance review pack: one self-contained HTML file and the same content as Markdown per
environment (Stage) of a synthesized cloud assembly, optionally with what changed against another
assembly or another environment. ``python -m compliance.report --help``."""
