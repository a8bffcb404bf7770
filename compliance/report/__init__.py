"""The compliance review pack: one self-contained HTML file and the same content as Markdown per
environment (Stage) of a synthesized cloud assembly, built from the assembly and the compliance gate's
result, organised by topic (``topics/``), optionally with what changed against another assembly or another
environment. ``python -m compliance.report --help``; see README.md beside this file."""
