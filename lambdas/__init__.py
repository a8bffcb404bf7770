"""Lambda function code. Each sub-package is one function's asset; nothing here runs at import.

Installed as ``bedrock_platform_lambdas`` (``pyproject.toml``), never as a generic top-level ``lambdas``
that would collide with an app's own: an app outside this repository finds the code through that name,
in a checkout or installed from a wheel. The tests, which run the handlers from the checkout, import
the folder as ``lambdas``.
"""

from pathlib import Path

#: The orchestrator's handler package: what ``OrchestrationApi(code_directory=...)`` is given.
ORCHESTRATOR_CODE_DIRECTORY = Path(__file__).resolve().parent / "orchestrator"
#: The review functions' package (scoring, reviewer API, backlog): what ``HumanReview(code_directory=...)``
#: is given.
REVIEW_CODE_DIRECTORY = Path(__file__).resolve().parent / "review"
#: The folder holding the ``empty_bucket`` package (the asset root of ``EmptyBucketsOnDelete``).
LAMBDAS_DIRECTORY = Path(__file__).resolve().parent
