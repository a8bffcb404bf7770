"""`python -m human_review exercise --target offline|<env>`: the human review path exercised end to end."""
