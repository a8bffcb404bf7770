"""The Bedrock orchestrator Lambda (API Gateway REST proxy integration).

The asset root must contain this ``orchestrator/`` package; the Lambda handler string is
``orchestrator.handler.lambda_handler``. Modules import each other relatively, so the package works both
as ``orchestrator`` (in Lambda) and as ``lambdas.orchestrator`` (in tests). Importing the package runs
nothing: configuration is read when ``handler`` is imported.
"""
