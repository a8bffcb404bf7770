"""The platform's specification, shared by the CDK side and the Lambdas: standard library only.

* :mod:`platform_spec.fields`: how a field is declared once (type, constraints, description) for pydantic
  (YAML validation and editor schemas on the CDK side) and for :func:`~platform_spec.fields.from_dict`
  (the Lambdas, no dependencies).
* :mod:`platform_spec.contract`, :mod:`platform_spec.environment`: the configuration documents.
* :mod:`platform_spec.runtime`: what the CDK side hands a Lambda (``runtime_config.json`` and the
  deployed resources' ARNs), with the environment variable names.
* :mod:`platform_spec.api`: the orchestration API's limits, error codes, metric names and timeouts.

Nothing here imports a third-party package: the module is copied into every Lambda asset.
"""
