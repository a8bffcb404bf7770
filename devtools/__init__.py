"""Development tools shared by the tests, the demo (``scripts/demo.py``) and the benchmarks; installed as
``bedrock_platform_devtools``, standard library and this project's packages only, nothing runs at import.

* :mod:`~bedrock_platform_devtools.bedrock_stub`: a local Amazon Bedrock Runtime endpoint that real
  botocore talks to (``python -m bedrock_platform_devtools.bedrock_stub --port 0``);
* :mod:`~bedrock_platform_devtools.samples`: sample API Gateway events (``events/*.json``), Lambda
  contexts, and a sample runtime config and ``BEDROCK_RESOURCES`` for running the orchestrator outside
  Lambda;
* :mod:`~bedrock_platform_devtools.serving`: a local server answering on a daemon thread for a ``with``
  block.
"""
