"""Lambda function code. Each sub-package is one function's asset; nothing here runs at import."""
