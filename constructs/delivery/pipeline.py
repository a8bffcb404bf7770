"""The delivery pipeline: a CodePipeline (V2) in the delivery account that takes every commit of one branch
through the build, the three readiness gates and every environment in order.

Stages (``delivery/pipeline.yaml`` names the environments, in order):

1. ``Source``: the branch, through a CodeConnections connection.
2. ``Build``: ``make synth`` (synth with every compliance check, the review pack) and ``make test``; the
   output is the checkout with its ``cdk.out``.
3. ``UpdatePipeline``: deploys ``Delivery/*`` from that assembly; when the pipeline itself changed,
   CloudFormation restarts the execution on the new pipeline (``RestartExecutionOnUpdate``).
4. ``Governance``: gate 1, ``python -m delivery.gates governance``.
5. One stage per environment, each deploying ``<Env>/*`` with ``cdk deploy`` through the environment's CDK
   bootstrap roles. The environment before production ends with gate 2, ``python -m delivery.gates
   readiness`` (through that environment's readiness role).
6. ``ApproveRelease``: the review pack of the candidate against the last production release is written to
   the artifact bucket, then a person approves (the approval links to it).
7. Production: deploy, gate 3 (the canary bake, a Step Functions action that waits for the state machine),
   then the release is recorded as the last production release. The stage rolls back (V2 stage condition
   ``onFailure: ROLLBACK``: the artifacts of the last successful execution are deployed again) when any of
   its actions fails.

Every build step runs in CodeBuild in this account. A deploy step assumes only the target account's
bootstrap roles ``cdk-hnb659fds-deploy-role-<account>-<region>`` and ``...-file-publishing-role-...``
(which `cdk bootstrap --trust <delivery account>` lets this account assume), so no artifact crosses an
account boundary through this pipeline's bucket and no long-lived key exists anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_codestarnotifications as notifications
from aws_cdk import aws_iam as iam

from bedrock_constructs.delivery.artifacts import ArtifactStore
from bedrock_constructs.delivery.bake import CanaryBake
from bedrock_constructs.lint import ignore_generated_depends_on
from bedrock_constructs.monitoring import NotificationTopic
from bedrock_constructs.monitoring.topic import CODESTAR_NOTIFICATIONS
from bedrock_constructs.nag import (
    acknowledge,
    acknowledge_all,
    acknowledge_inline_policy,
    acknowledge_wildcards,
    logical_ref,
)
from bedrock_constructs.retention import log_retention
from constructs import Construct
from platform_config.delivery import DeliveryConfig
from platform_config.model import EnvironmentConfig
from platform_config.naming import pascal
from platform_spec.delivery import (
    BOOTSTRAP_ROLES,
    RELEASES_PREFIX,
    REVIEW_PREFIX,
    SOURCE_COMMIT_VARIABLE,
    DeliveryRole,
    Gate,
    bootstrap_role_name,
    readiness_results_file,
    readiness_role_name,
    release_prefix,
    release_role_name,
)

#: The build step's image: Debian 12 with Node 20 (the CDK CLI); Python 3.11 and Debian's chromium (`make
#: test` checks the review pack in a headless browser) come from apt. CodeBuild's managed images are Ubuntu,
#: whose chromium package only installs a snap, which does not run in a build container. CodeBuild pulls
#: the image from Amazon ECR Public.
BROWSER_IMAGE = "public.ecr.aws/docker/library/node:20-bookworm"
#: Every other step runs on CodeBuild's managed image (Ubuntu 22.04, Python 3.11 and Node 20 runtimes).
MANAGED_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
#: Every step starts from the checkout: `make install` (uv.lock, package-lock.json) after the runtime.
_INSTALL_DEBIAN = [
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv >/dev/null",
    "make install",
]
_INSTALL_MANAGED = ["make install"]
_RUNTIMES = {"python": "3.11", "nodejs": "20"}
#: A deploy step runs the CDK CLI on the build's assembly: the pinned CLI alone (package-lock.json), not the
#: Python environment (~740 MB of packages no deploy reads).
_INSTALL_CLI = ["make node_modules/.installed"]
_CLI_RUNTIMES = {"nodejs": "20"}
#: What the build hands on: the checkout with its synthesized assembly, without what `make` reinstalls, nor
#: the links `make lint` makes for mypy (no later step lints; a symlink in an artifact is not something
#: CodePipeline keeps: scripts/mypy_links.py).
_EXCLUDED = [
    ".venv/**/*",
    "node_modules/**/*",
    ".git/**/*",
    ".mypy_cache/**/*",
    ".pytest_cache/**/*",
    ".mypy_path/**/*",
]
#: The notification events people act on: an approval is waiting, a release failed or went through.
NOTIFIED_EVENTS = (
    "codepipeline-pipeline-manual-approval-needed",
    "codepipeline-pipeline-pipeline-execution-failed",
    "codepipeline-pipeline-pipeline-execution-succeeded",
)
EXECUTION_ID = "#{codepipeline.PipelineExecutionId}"
#: How long a build step may run (a deploy or the readiness gate gets two hours).
STEP_TIMEOUT = cdk.Duration.hours(1)


class DeliveryPipeline(Construct):
    """The pipeline of ``delivery`` with its artifact store (``artifacts``), notification topic
    (``notifications``), one CodeBuild project per step (``projects``, by action name) and the production
    canary bake (``bake``). See the module docstring for the stages."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        delivery: DeliveryConfig,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        self.delivery = delivery
        retention = log_retention(
            delivery.log_retention_days, owner=f"{delivery.source_file} log_retention_days"
        )
        self.artifacts = ArtifactStore(self, "Artifacts", retention=retention, removal_policy=removal_policy)
        self.notifications = NotificationTopic(
            self,
            "Notifications",
            emails=delivery.notifications.emails,
            https_endpoints=delivery.notifications.https_endpoints,
            removal_policy=removal_policy,
            publishers=(CODESTAR_NOTIFICATIONS,),
        )
        production = delivery.production
        stack = cdk.Stack.of(self)
        self.bake = CanaryBake(
            self,
            "CanaryBake",
            environment=production.name,
            stack_name=f"{pascal(production.name)}-Platform",
            region=production.region,
            release_role_arn=f"arn:{stack.partition}:iam::{production.account}:role/{release_role_name(production.name)}",
            bake=delivery.bake,
            notifications=self.notifications.topic,
            encryption_key=self.artifacts.key,
            log_retention=retention,
            removal_policy=removal_policy,
        )
        self.projects: dict[str, codebuild.PipelineProject] = {}
        self.source = codepipeline.Artifact("Source")
        self.build = codepipeline.Artifact("Build")
        #: The readiness gate's evaluation run (results.json), for the production review pack: see
        #: platform_spec.delivery.readiness_evaluation.
        self.readiness_results = codepipeline.Artifact("ReadinessResults")
        owner, repo = delivery.source.repository.split("/", 1)
        #: Its output is a zip of the commit without .git (CodePipeline downloads the files:
        #: https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk.aws_codepipeline_actions/CodeStarConnectionsSourceActionProps.html,
        #: code_build_clone_output), so every step is told the commit (`_step`, SOURCE_COMMIT).
        self.source_action = actions.CodeStarConnectionsSourceAction(
            action_name="Source",
            connection_arn=delivery.source.connection_arn,
            owner=owner,
            repo=repo,
            branch=delivery.source.branch,
            output=self.source,
        )
        stages = [
            codepipeline.StageProps(stage_name="Source", actions=[self.source_action]),
            codepipeline.StageProps(
                stage_name="Build",
                actions=[
                    self._step(
                        "Synth",
                        "make synth (every compliance check, the review pack) and make test",
                        ["make synth", "make test"],
                        input=self.source,
                        outputs=[self.build],
                        compute=codebuild.ComputeType.MEDIUM,
                        browser=True,
                    )
                ],
            ),
            codepipeline.StageProps(
                stage_name="UpdatePipeline",
                actions=[self._deploy("SelfUpdate", "Delivery", delivery.account, delivery.region)],
            ),
            codepipeline.StageProps(
                stage_name="Governance",
                actions=[
                    self._step(
                        "GovernanceGate",
                        "Gate 1: compliance gate clean, every contract complete, offline suites pass",
                        [f".venv/bin/python -m delivery.gates {Gate.GOVERNANCE} --assembly cdk.out"],
                    )
                ],
            ),
        ]
        for environment in delivery.stages:
            stages += self._environment_stages(environment)
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_type=codepipeline.PipelineType.V2,
            # A newer commit replaces an older one waiting between stages; a stage in progress (a 72-hour
            # bake) finishes first.
            execution_mode=codepipeline.ExecutionMode.SUPERSEDED,
            artifact_bucket=self.artifacts.bucket,
            restart_execution_on_update=True,
            use_pipeline_role_for_actions=True,
            stages=stages,
        )
        self.notification_rule = notifications.CfnNotificationRule(
            self,
            "NotificationRule",
            name=f"bedrock-platform-releases-{stack.region}",
            detail_type="FULL",
            event_type_ids=list(NOTIFIED_EVENTS),
            resource=self.pipeline.pipeline_arn,
            targets=[
                notifications.CfnNotificationRule.TargetProperty(
                    target_type="SNS", target_address=self.notifications.topic.topic_arn
                )
            ],
        )
        self._acknowledge()
        ignore_generated_depends_on(self.pipeline)

    # ------------------------------------------------------------------ stages

    def _environment_stages(self, environment: EnvironmentConfig) -> list[codepipeline.StageProps]:
        delivery = self.delivery
        name = pascal(environment.name)
        stage_actions: list[codepipeline.IAction] = [
            self._deploy(f"Deploy{name}", name, environment.account, environment.region)
        ]
        stages: list[codepipeline.StageProps] = []
        if environment is delivery.readiness:
            role_arn = self._role_arn(environment.account, readiness_role_name(environment.name))
            gate = self._step(
                "ReadinessGate",
                f"Gate 2: smoke, alarm delivery, suites, load test and human review path in {environment.name}",
                [
                    f".venv/bin/python -m delivery.gates {Gate.READINESS} --env {environment.name} "
                    f"--assembly cdk.out --role-arn {role_arn}"
                ],
                run_order=2,
                role_name=DeliveryRole.READINESS_GATE,
                assume=[role_arn],
                timeout=cdk.Duration.hours(2),
                outputs=[self.readiness_results],
                output_files=[readiness_results_file(environment.name)],
            )
            stage_actions.append(gate)
        if environment is not delivery.production:
            return [codepipeline.StageProps(stage_name=name, actions=stage_actions)]
        # The pack's evaluation evidence is the readiness gate's run of this candidate against the environment
        # before production (an input artifact of its own: CodeBuild unpacks it in the folder named by
        # CODEBUILD_SRC_DIR_<artifact name>, https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html),
        # not the offline emulator run, which the pack shows as NOT RUN.
        readiness_results = (
            f'"$CODEBUILD_SRC_DIR_{self.readiness_results.artifact_name}/'
            f'{readiness_results_file(delivery.readiness.name)}"'
        )
        review = self._step(
            "ReleaseDiff",
            "The candidate's review pack against the last production release, for the approver",
            [
                f".venv/bin/python -m delivery.release review --environment {environment.name} --assembly cdk.out "
                f'--bucket "$ARTIFACT_BUCKET" --execution "$EXECUTION_ID" --evaluation-results {readiness_results}'
            ],
            extra_inputs=[self.readiness_results],
            puts=f"{REVIEW_PREFIX}/*",
        )
        approval = actions.ManualApprovalAction(
            action_name="ApproveRelease",
            run_order=2,
            external_entity_link=cdk.Fn.join(
                "",
                [
                    "https://console.aws.amazon.com/s3/buckets/",
                    self.artifacts.bucket.bucket_name,
                    f"?region={cdk.Stack.of(self).region}&prefix={REVIEW_PREFIX}/{EXECUTION_ID}/",
                ],
            ),
            additional_information=(
                f"Release to {environment.name}: open the review pack ({pascal(environment.name)}.html, its "
                "'Changes' section compares this candidate with the last production release) before approving. "
                f"After approval the release bakes at 10 % for {delivery.bake.minutes} minutes."
            ),
            timeout=cdk.Duration.hours(delivery.approval_timeout_hours),
        )
        stages.append(codepipeline.StageProps(stage_name="ApproveRelease", actions=[review, approval]))
        stage_actions.append(
            actions.StepFunctionInvokeAction(
                action_name="CanaryBake",
                run_order=2,
                state_machine=self.bake.state_machine,
                state_machine_input=actions.StateMachineInput.literal({"environment": environment.name}),
                execution_name_prefix=f"{environment.name}-release",
            )
        )
        stage_actions.append(
            self._step(
                "RecordRelease",
                f"Keep this assembly as the last release to {environment.name}",
                [
                    f".venv/bin/python -m delivery.release record --environment {environment.name} "
                    f'--assembly cdk.out --bucket "$ARTIFACT_BUCKET" --execution "$EXECUTION_ID"'
                ],
                run_order=3,
                puts=f"{RELEASES_PREFIX}/{environment.name}/*",
                # the last release's objects that this assembly no longer has (record replaces them)
                deletes=f"{release_prefix(environment.name)}*",
            )
        )
        stages.append(
            codepipeline.StageProps(
                stage_name=name,
                actions=stage_actions,
                on_failure=codepipeline.FailureConditions(result=codepipeline.Result.ROLLBACK),
            )
        )
        return stages

    # ------------------------------------------------------------------ steps

    def _role_arn(self, account: str, name: str) -> str:
        return f"arn:{cdk.Stack.of(self).partition}:iam::{account}:role/{name}"

    def _deploy(self, action: str, stage: str, account: str, region: str) -> actions.CodeBuildAction:
        """`cdk deploy` of one Stage of the build's assembly, through its account's bootstrap roles."""
        return self._step(
            action,
            f"Deploy {stage}/* to {account} in {region} through its CDK bootstrap roles",
            # `npx cdk deploy --app cdk.out '<stage>/*'` with the Makefile's CLI settings (no telemetry, no
            # version check): the Makefile target, not the command written out again here
            [f"make deploy-assembly STAGE={stage}"],
            install=_INSTALL_CLI,
            runtimes=_CLI_RUNTIMES,
            assume=[
                self._role_arn(account, bootstrap_role_name(kind, account, region))
                for kind in BOOTSTRAP_ROLES
            ],
            timeout=cdk.Duration.hours(2),
        )

    def _step(
        self,
        action: str,
        description: str,
        commands: Sequence[str],
        *,
        input: codepipeline.Artifact | None = None,
        extra_inputs: Sequence[codepipeline.Artifact] = (),
        outputs: Sequence[codepipeline.Artifact] = (),
        output_files: Sequence[str] = (),
        run_order: int = 1,
        role_name: str | None = None,
        assume: Sequence[str] = (),
        puts: str | None = None,
        deletes: str | None = None,
        compute: codebuild.ComputeType = codebuild.ComputeType.SMALL,
        browser: bool = False,
        timeout: cdk.Duration = STEP_TIMEOUT,
        install: Sequence[str] = _INSTALL_MANAGED,
        runtimes: Mapping[str, str] = _RUNTIMES,
    ) -> actions.CodeBuildAction:
        """A CodeBuild project running ``commands`` in the checkout after ``install`` (default ``make
        install``: Python and the CLI) on the managed image's ``runtimes``, or in the browser image after
        Debian's Python and ``make install``, and its action."""
        phase: dict[str, object] = (
            {"commands": list(_INSTALL_DEBIAN)}
            if browser
            else {"runtime-versions": dict(runtimes), "commands": list(install)}
        )
        build_spec: dict[str, object] = {
            "version": "0.2",
            "env": {"shell": "bash"},
            "phases": {"install": phase, "build": {"commands": list(commands)}},
        }
        if output_files:
            build_spec["artifacts"] = {"files": list(output_files)}
        elif outputs:
            build_spec["artifacts"] = {"files": ["**/*"], "exclude-paths": list(_EXCLUDED)}
        role = (
            iam.Role(
                self,
                f"{action}Role",
                role_name=role_name,
                assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
                description=f"The delivery pipeline's {action} step",
            )
            if role_name is not None
            else None
        )
        project = codebuild.PipelineProject(
            self,
            action,
            description=description,
            role=role,
            build_spec=codebuild.BuildSpec.from_object(build_spec),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.from_docker_registry(BROWSER_IMAGE)
                if browser
                else MANAGED_IMAGE,
                compute_type=compute,
                privileged=False,
            ),
            encryption_key=self.artifacts.key,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.artifacts.logs, prefix=action)
            ),
            timeout=timeout,
            grant_report_group_permissions=False,
        )
        if assume:
            project.add_to_role_policy(
                iam.PolicyStatement(
                    sid="AssumeTargetAccountRoles", actions=["sts:AssumeRole"], resources=list(assume)
                )
            )
        if puts is not None:
            self.artifacts.bucket.grant_put(project, puts)
        if deletes is not None:
            self.artifacts.bucket.grant_delete(project, deletes)
        if browser:
            acknowledge(
                project,
                "AwsSolutions-CB5",
                "make test checks the review pack in Debian's headless chromium; CodeBuild's managed images are "
                "Ubuntu, whose chromium package installs a snap that cannot run in a build container.",
            )
        self.projects[action] = project
        environment_variables: Mapping[str, codebuild.BuildEnvironmentVariable] = {
            "ARTIFACT_BUCKET": codebuild.BuildEnvironmentVariable(value=self.artifacts.bucket.bucket_name),
            "EXECUTION_ID": codebuild.BuildEnvironmentVariable(value=EXECUTION_ID),
            # The commit this execution carries (the source action's CommitId variable, "The SHA1 hash of
            # the currently last commit on the tracked branch": https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html):
            # what an evaluation run records it measured and what a review pack names, where there is no .git
            # (platform_config.checkout).
            SOURCE_COMMIT_VARIABLE: codebuild.BuildEnvironmentVariable(
                value=self.source_action.variables.commit_id
            ),
        }
        return actions.CodeBuildAction(
            action_name=action,
            project=project,
            input=input or self.build,
            extra_inputs=list(extra_inputs) or None,
            outputs=list(outputs) or None,
            run_order=run_order,
            environment_variables=dict(environment_variables),
        )

    # ------------------------------------------------------------------ acknowledgments

    def _grant_reasons(self) -> list[tuple[str, str]]:
        """Why each wildcard that aws-cdk-lib's grants write into the pipeline's roles is needed."""
        bucket = re.escape(f"<{logical_ref(self.artifacts.bucket)}.Arn>/")
        return [
            (
                r"Action::kms:(GenerateDataKey|ReEncrypt)\*",
                "aws-cdk-lib's encrypt/decrypt grant on the pipeline's own artifact key: artifacts, build output "
                "and logs are encrypted with it (data keys are generated per object).",
            ),
            (
                r"Action::s3:(GetObject|GetBucket|List)\*",
                "aws-cdk-lib's read grant on the pipeline's artifact bucket: the input artifact and its versions.",
            ),
            (
                r"Action::s3:(Abort|DeleteObject|PutObject)\*",
                "aws-cdk-lib's write grant on the pipeline's artifact bucket: the output artifact, uploaded in "
                "parts and replaced on a re-run; for the record step, the last release's objects under "
                "releases/<environment>/cdk.out/ that the new assembly replaces.",
            ),
            (
                rf"Resource::{bucket}",
                "Objects of the pipeline's own artifact bucket: artifacts under keys CodePipeline generates per "
                "execution and, for the release steps, the review/ and releases/<environment>/ prefixes.",
            ),
            (
                # the partition, region and account as a literal or, where the app leaves them to deploy time,
                # as cdk-nag prints a pseudo parameter (<AWS::Partition>: nag.printed_stack_arn_parts)
                r"Resource::arn:([^:<]+|<AWS::Partition>):logs:([^:<]+|<AWS::Region>):([0-9]+|<AWS::AccountId>)"
                r":log-group:/aws/codebuild/",
                "aws-cdk-lib grants every CodeBuild project its default log group /aws/codebuild/<project>; this "
                "project writes to the pipeline's KMS-encrypted log group instead, so nothing is written there.",
            ),
            (
                r":execution:",
                "CodePipeline's Step Functions action describes the execution it starts, whose name it generates "
                "under the action's prefix; the grant is those executions of the bake state machine only.",
            ),
        ]

    def _acknowledge_project(self, project: codebuild.PipelineProject) -> None:
        role = project.role
        assert role is not None
        policy = role.node.find_child("DefaultPolicy")
        acknowledge_inline_policy(
            policy,
            "The step's permissions (its logs, the pipeline's artifacts, the roles it assumes) are generated for "
            "this one CodeBuild role by least-privilege grants; an inline policy cannot be attached elsewhere.",
        )
        acknowledge_wildcards(policy, self._grant_reasons())
        acknowledge_all(
            project,
            dict.fromkeys(
                ("HIPAA.Security-CodeBuildProjectSourceRepoUrl", "PCI.DSS.321-CodeBuildProjectSourceRepoUrl"),
                "The project's source is CODEPIPELINE: CodePipeline hands it the artifact, so it has no repository "
                "URL and holds no credentials; the pipeline reaches the repository through a CodeConnections "
                "connection (an OAuth app installation).",
            ),
        )

    def _acknowledge(self) -> None:
        for project in self.projects.values():
            self._acknowledge_project(project)
        policy = self.pipeline.role.node.find_child("DefaultPolicy")
        acknowledge_inline_policy(
            policy,
            "The pipeline's permissions (its artifacts, its CodeBuild steps, the bake state machine, the "
            "connection) are generated by aws-cdk-lib for this one role; an inline policy cannot be attached elsewhere.",
        )
        acknowledge_wildcards(policy, self._grant_reasons())
