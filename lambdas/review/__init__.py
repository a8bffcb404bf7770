"""The review path's functions (one asset, three handlers): ``scoring`` (SQS: scores every answered output
and writes its review item), ``api`` (the reviewer endpoints and the callers' feedback and held-answer
endpoints, behind the orchestration API) and ``backlog`` (scheduled: pending items and the oldest one's
age, per use case). What they share is in ``platform_spec.review``; README "Human review" describes the
protocol."""
