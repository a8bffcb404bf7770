"""The delivery account's stack: the pipeline that releases every environment, its artifacts and the bake."""

from __future__ import annotations

import aws_cdk as cdk

from bedrock_constructs.delivery import DeliveryPipeline
from constructs import Construct
from platform_config.delivery import DeliveryConfig


class DeliveryStack(cdk.Stack):
    """The delivery pipeline of ``delivery/pipeline.yaml`` (``DeliveryPipeline``); its stateful resources
    (the artifact key and buckets, the log groups) are retained."""

    def __init__(self, scope: Construct, id: str, *, delivery: DeliveryConfig, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.pipeline = DeliveryPipeline(self, "Delivery", delivery=delivery)
        cdk.CfnOutput(self, "PipelineName", value=self.pipeline.pipeline.pipeline_name)
        cdk.CfnOutput(self, "ArtifactBucketName", value=self.pipeline.artifacts.bucket.bucket_name)
        cdk.CfnOutput(self, "BakeStateMachineArn", value=self.pipeline.bake.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "NotificationTopicArn", value=self.pipeline.notifications.topic.topic_arn)
