"""Custom resource handler that empties an S3 bucket when CloudFormation deletes it.

The asset root must contain this ``empty_bucket/`` package; the Lambda handler string is
``empty_bucket.handler.lambda_handler``. Used by ``bedrock_constructs.empty_bucket.EmptyBucketsOnDelete``
in place of aws-cdk-lib's ``auto_delete_objects`` provider, whose function and role are bare
``CfnResource`` constructs that no cdk-nag pack evaluates. The constants below are the contract between
the construct and the handler (standard library only: the construct imports them at synth).
"""

#: The CloudFormation type of the custom resource (one per bucket).
RESOURCE_TYPE = "Custom::EmptyBucketOnDelete"
#: The tag a bucket must carry (value ``true``) for the handler to empty it.
EMPTY_ON_DELETE_TAG = "bedrock-platform:empty-on-delete"
