"""A use case's system prompt recorded in Amazon Bedrock Prompt Management, one immutable version per
prompt version: the in-account history of what each environment ran."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_bedrock as bedrock

from constructs import Construct

#: Bedrock Prompt Management reads ``{{name}}`` in a template as a variable.
_VARIABLE_MARK = "{{"


def prompt_fingerprint(system: str) -> str:
    """A short, stable hash of a system prompt's text (what the version's description carries)."""
    return hashlib.sha256(system.encode()).hexdigest()[:16]


class PromptRecord(Construct):
    """``AWS::Bedrock::Prompt`` holding the system prompt as its one TEXT variant, and an
    ``AWS::Bedrock::PromptVersion`` snapshot of it.

    The orchestrator does not read the prompt from here (it ships in ``runtime_config.json`` with the
    function, so a request never waits on another service); this is the record. The version's
    description carries the prompt version and the text's fingerprint, and a changed description
    replaces the version resource (``Description``: "Update requires: Replacement",
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-bedrock-promptversion.html):
    CloudFormation updates the prompt's draft first (the version depends on the prompt), then creates the
    new snapshot ("a static snapshot of your prompt", same page). The replaced version is kept
    (``UpdateReplacePolicy: Retain``), so the prompt accumulates one version per release; deleting the
    stack deletes the prompt, and with it all its versions (``DeletePrompt`` without a version,
    https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent_DeletePrompt.html).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        prompt_name: str,
        system: str,
        version: str,
        source_file: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, id)
        problems = []
        if _VARIABLE_MARK in system:
            problems.append(
                "the system prompt contains '{{', which Prompt Management reads as a template variable; "
                "rephrase it"
            )
        if not cdk.Token.is_unresolved(prompt_name) and not (1 <= len(prompt_name) <= 100):
            problems.append(f"prompt_name {prompt_name!r} must be 1 to 100 characters")
        if problems:
            raise ValueError(f"PromptRecord {self.node.path}: " + "; ".join(problems))
        self.fingerprint = prompt_fingerprint(system)
        variant = version.replace(".", "-")
        self.resource = bedrock.CfnPrompt(
            self,
            "Resource",
            name=prompt_name,
            description=description,
            default_variant=variant,
            variants=[
                bedrock.CfnPrompt.PromptVariantProperty(
                    name=variant,
                    template_type="TEXT",
                    template_configuration=bedrock.CfnPrompt.PromptTemplateConfigurationProperty(
                        text=bedrock.CfnPrompt.TextPromptTemplateConfigurationProperty(text=system)
                    ),
                    metadata=[
                        bedrock.CfnPrompt.PromptMetadataEntryProperty(key="promptVersion", value=version),
                        bedrock.CfnPrompt.PromptMetadataEntryProperty(key="sourceFile", value=source_file),
                    ],
                )
            ],
            tags=dict(tags) if tags else None,
        )
        self.version_resource = bedrock.CfnPromptVersion(
            self,
            "Version",
            prompt_arn=self.resource.attr_arn,
            description=f"Prompt {version}; text sha256 {self.fingerprint}",
            tags=dict(tags) if tags else None,
        )
        # Replaced versions are the prompt's release history: keep them (UpdateReplacePolicy). cfn-lint and
        # CDK's validation want DeletionPolicy to match; on stack deletion CloudFormation then leaves the
        # current version alone, and Bedrock deletes it with the prompt (DeletePrompt without a version
        # deletes every version), so nothing outlives the stack.
        self.version_resource.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        self.prompt_arn = self.resource.attr_arn
        #: The version's ARN (``arn:...:prompt/<id>:<n>``): what the release registry records.
        self.version_arn = self.version_resource.attr_arn
        self.version = version
