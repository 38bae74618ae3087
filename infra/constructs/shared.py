"""What the pipeline's constructs share, as one small typed object instead of a Stack.

A construct such as ``TrainingPipeline`` receives a :class:`SharedResources` and reaches
the project key, the bus, the buckets, the tables, the layers and the SageMaker
execution environment through it; it never reaches into another stack's attributes.
The data stack publishes its part as :class:`DataResources`; the pipeline stack adds
its own (the artifacts bucket, the SageMaker role and code) with :meth:`with_pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.functions import PipelineFunction, SharedLayers
from infra.constructs.sagemaker import SageMakerJobs


@dataclass(frozen=True)
class Buckets:
    # Validated dataset versions (the data stack's).
    curated: s3.IBucket
    # Where files arrive (the data stack's): labelled rows are fed back here.
    raw: s3.IBucket
    # The pipeline stack's own: job inputs, models and their baselines, transform output.
    artifacts: s3.IBucket
    # Server access log target of the stack's buckets (CDK needs it in the same stack).
    access_logs: s3.IBucket


@dataclass(frozen=True)
class Tables:
    lineage: dynamodb.ITable


@dataclass(frozen=True)
class DataResources:
    """What the data stack shares with the stacks that consume its datasets."""

    config: StageConfig
    key: kms.IKey
    bus: events.IEventBus
    layers: SharedLayers
    curated: s3.IBucket
    raw: s3.IBucket
    lineage: dynamodb.ITable
    # Read access to manifests and curated data: consumers attach it.
    curated_reader: iam.IManagedPolicy
    # Writes labelled rows back to the raw bucket as feedback files.
    feedback_writer: iam.IManagedPolicy
    # Drops captured real-time traffic as <capture dataset>/capture-* files (None: no
    # dataset captures into a batch).
    capture_writer: iam.IManagedPolicy | None = None

    def with_pipeline(
        self,
        *,
        layers: SharedLayers,
        artifacts: s3.IBucket,
        access_logs: s3.IBucket,
        sagemaker: SageMakerJobs,
    ) -> SharedResources:
        """The consuming stack's view: its own layers (see ``SharedLayers``), the data
        stack's key, bus, curated data and lineage."""
        return SharedResources(
            config=self.config,
            key=self.key,
            bus=self.bus,
            layers=layers,
            buckets=Buckets(
                curated=self.curated, raw=self.raw, artifacts=artifacts, access_logs=access_logs
            ),
            tables=Tables(lineage=self.lineage),
            curated_reader=self.curated_reader,
            feedback_writer=self.feedback_writer,
            sagemaker=sagemaker,
            capture_writer=self.capture_writer,
        )


@dataclass(frozen=True)
class SharedResources:
    """Everything a pipeline construct may use that it does not own."""

    config: StageConfig
    key: kms.IKey
    bus: events.IEventBus
    layers: SharedLayers
    buckets: Buckets
    tables: Tables
    curated_reader: iam.IManagedPolicy
    feedback_writer: iam.IManagedPolicy
    sagemaker: SageMakerJobs
    capture_writer: iam.IManagedPolicy | None = None

    @property
    def model_group_prefix(self) -> str:
        """Every model package group of the stage is ``<prefix>-<training dataset>``."""
        return self.config.prefix

    def function(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: str,
        description: str,
        environment: dict[str, str],
        memory_size: int = 512,
        timeout: Duration | None = None,
    ) -> PipelineFunction:
        """A function of ``functions/<source>/`` with the project's layers, key and settings."""
        return PipelineFunction(
            scope,
            construct_id,
            config=self.config,
            source=source,
            description=description,
            layers=self.layers,
            key=self.key,
            environment=environment,
            memory_size=memory_size,
            timeout=timeout,
        )
