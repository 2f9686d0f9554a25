"""BatchModelAPI: Cortex's BatchAPI as one Pulumi component: jobs split into batches on an SQS queue, processed by
workers that scale on the queue's depth (from zero), with retries and a dead-letter queue."""

from typing import Optional

import pulumi

from modelstack.serving import queue_workers
from modelstack.serving.queue_workers import QueueWorkersArgs

TYPE_TOKEN = "modelstack:index:BatchModelAPI"


class BatchModelAPIArgs(QueueWorkersArgs):
    """A ModelAPI's args for the workers (no `ingress`: jobs come through the queue) plus the queue's."""


class BatchModelAPI(pulumi.ComponentResource):
    """A batch job is a list of items: `modelstack batch submit` (modelstack.ops.batch) splits it into batches,
    stores each as `jobs/<job>/<n>/payload` in the API's bucket and queues one message per batch. Each worker pod
    runs the model server and the queue consumer (render/queue.py), which POSTs a batch (a JSON list) to the
    server, stores the response as `jobs/<job>/<n>/result` and deletes the message; a failed batch is retried
    (`queue.max_receives`, default 3 receives), then recorded as `.../error` and dead-lettered.
    `modelstack batch status` counts items done and failed from those objects.

    Children: `<name>-queue` (ModelQueue: queue, DLQ, bucket, policies), `<name>-trigger-auth` (KEDA
    TriggerAuthentication, podIdentity aws), `<name>-workers` (ModelAPI, signal queue: KEDA's aws-sqs-queue
    scaler, min 0 by default). Objects expire `queue.result_expiry_days` (default 7) after they were written.
    """

    queue_url: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    bucket: pulumi.Output[str]
    deployment_name: pulumi.Output[str]
    role_arn: pulumi.Output[Optional[str]]
    """The workers' IAM role."""

    def __init__(self, name: str, args: BatchModelAPIArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        a = args.copy()  # a snapshot: the Outputs below read it when they resolve
        queue_workers.check("BatchModelAPI", name, a)
        if a.get("ingress"):
            raise ValueError(f"BatchModelAPI {name!r}: ingress: jobs are submitted through the queue, not a route")
        super().__init__(TYPE_TOKEN, name, None, opts)
        w = queue_workers.register(self, name, a, "batch")
        self.queue_url, self.dlq_url, self.bucket = w.queue.queue_url, w.queue.dlq_url, w.queue.bucket
        self.deployment_name, self.role_arn = w.api.deployment_name, w.api.role_arn
        self.register_outputs({"queue_url": self.queue_url, "dlq_url": self.dlq_url, "bucket": self.bucket,
                               "deployment_name": self.deployment_name, "role_arn": self.role_arn})
