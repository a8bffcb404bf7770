"""Keys the constructs write into synthesized templates and the compliance gate and review pack read back.

Standard library only, so reading an assembly never imports aws-cdk-lib.
"""

from __future__ import annotations

#: The name of the compliance gate's CDK validation plugin (``compliance.gate``). CDK derives the
#: acknowledgment namespace from it: a gate finding is acknowledged as ``BedrockPlatform::<RULE>``.
GATE_NAME = "BedrockPlatform"
#: The file the gate writes into the assembly: which rules ran over which stacks, and their findings.
GATE_RESULT_FILE = "bedrock-platform-gate.json"
#: Rule-id prefix of the gate's cfn-lint findings (``CFN-LINT-W3005``).
CFN_LINT_PREFIX = "CFN-LINT-"
#: Template ``Metadata`` key under which a stack records that its environment opted out of the
#: account-level enforced guardrail: ``{"opt_out_reason": "<why>"}``.
ENFORCED_GUARDRAIL_OPT_OUT = "bedrock-platform:enforced-guardrail-opt-out"
#: The CloudFormation type of the custom resource that sets Bedrock model invocation logging.
INVOCATION_LOGGING_TYPE = "Custom::BedrockModelInvocationLogging"
#: Every delivery flag of Bedrock's ``LoggingConfig`` (PutModelInvocationLoggingConfiguration): the
#: setting is account-wide, so every one is stated explicitly.
LOGGING_DELIVERY_FLAGS = (
    "textDataDeliveryEnabled",
    "imageDataDeliveryEnabled",
    "embeddingDataDeliveryEnabled",
    "videoDataDeliveryEnabled",
    "audioDataDeliveryEnabled",
)
#: Context that turns every acknowledgment (and every cfn-lint ignore) into a record instead of applying it,
#: so that one synth shows which findings each would acknowledge: ``-c acknowledgments=audit``, used by
#: ``python -m compliance.acknowledgments`` (``make audit-acknowledgments``), never by a deploy.
AUDIT_CONTEXT = "acknowledgments"
AUDIT_MODE = "audit"
#: Construct metadata type of such a record: ``{"finding": ..., "reason": ..., "source": "<file>:<line>"}``.
AUDIT_METADATA = "bedrock-platform:unapplied-acknowledgment"
