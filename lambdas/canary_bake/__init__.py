"""The production canary bake: one step per invocation of the delivery account's state machine."""
