"""Evaluation per use case: golden and adversarial suites, quality gates, the release registry.

``python -m evaluation --help``; README "Evaluation". Built on inspect-ai (imported only here, never by
a Lambda or by synth); the deterministic scorers are ``platform_spec.scoring``.
"""
