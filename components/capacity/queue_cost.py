"""What the requests of an async or batch API cost in SQS and S3 (pure): the calls the gateway, the queue consumer,
KEDA and `modelstack batch` make per request or job (render/queue.py), at us-east-1 list prices.

Prices (data/FIXED_COSTS.md, "Queue and bucket requests"): SQS standard queues $0.40 per million requests, each 64 KiB
of a payload one request; S3 Standard $0.005 per 1,000 PUT/COPY/POST/LIST and $0.0004 per 1,000 GET/HEAD. SQS's free
tier (1M requests a month per account) and S3 storage (objects expire; small) are left out: figures are upper bounds
of the request charges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelstack.capacity.pricing import HOURS_PER_MONTH

SQS_PER_REQUEST = 0.40 / 1_000_000
SQS_CHUNK_BYTES = 64 * 1024
S3_PUT_PER_REQUEST = 0.005 / 1000
S3_GET_PER_REQUEST = 0.0004 / 1000
SQS_SEND_BATCH = 10
S3_LIST_PAGE = 1000
#: KEDA polls each ScaledObject's queue every pollingInterval (render/autoscaling.POLLING_INTERVAL_SECONDS, 10 s).
KEDA_POLLS_PER_HOUR = 3600 // 10
#: A running consumer with nothing to do long-polls every 20 s (render/queue.WAIT_TIME_SECONDS).
IDLE_RECEIVES_PER_HOUR = 3600 // 20

#: The README's example sizes ("Async and batch APIs", cost): a month of async requests and one batch job.
EXAMPLE_ASYNC_REQUESTS = 1_000_000
EXAMPLE_PAYLOAD_BYTES = 10 * 1024
EXAMPLE_POLLS = 2
EXAMPLE_JOB_ITEMS = 1_000_000
EXAMPLE_BATCH_SIZE = 100


@dataclass(frozen=True)
class Calls:
    sqs: int = 0
    s3_put: int = 0
    s3_get: int = 0

    def __add__(self, o: "Calls") -> "Calls":
        return Calls(self.sqs + o.sqs, self.s3_put + o.s3_put, self.s3_get + o.s3_get)

    def __mul__(self, n: int) -> "Calls":
        return Calls(self.sqs * n, self.s3_put * n, self.s3_get * n)

    @property
    def dollars(self) -> float:
        return self.sqs * SQS_PER_REQUEST + self.s3_put * S3_PUT_PER_REQUEST + self.s3_get * S3_GET_PER_REQUEST


def sqs_requests(body_bytes: int) -> int:
    """Billed requests for one call carrying `body_bytes` (each 64 KiB chunk counts)."""
    return max(1, math.ceil(body_bytes / SQS_CHUNK_BYTES))


def async_request(polls: int = EXAMPLE_POLLS) -> Calls:
    """One async request: the gateway's PUT payload + PUT status + SendMessage; the consumer's Receive, PUT status,
    GET payload, PUT result, PUT status, Delete; the client's `polls` GETs of the status and one of the result.
    (The message is the id, well under 64 KiB; the payload travels through S3.)"""
    gateway = Calls(sqs=1, s3_put=2)
    consumer = Calls(sqs=2, s3_put=3, s3_get=1)
    client = Calls(s3_get=polls + 1)
    return gateway + consumer + client


def batch_job(items: int, batch_size: int) -> Calls:
    """One job: job.json and per batch a payload and a status PUT, SendMessageBatch per 10 batches; per batch the
    consumer's Receive, PUT status, GET payload, PUT result, PUT status, Delete; one `batch status` (GET job.json,
    LIST pages of the job's keys, five per batch)."""
    n = math.ceil(items / batch_size)
    submit = Calls(s3_put=1 + 2 * n, sqs=math.ceil(n / SQS_SEND_BATCH))
    consume = Calls(sqs=2, s3_put=3, s3_get=1) * n
    status = Calls(s3_get=1, s3_put=math.ceil(5 * n / S3_LIST_PAGE))  # LIST is billed at the PUT rate
    return submit + consume + status


def idle_month(queues: int = 1) -> Calls:
    """KEDA's GetQueueAttributes on each queue, every poll, all month (the workers at zero make no calls)."""
    return Calls(sqs=KEDA_POLLS_PER_HOUR * int(HOURS_PER_MONTH) * queues)


def consumer_idle_month(replicas: int) -> Calls:
    """Empty long polls of `replicas` consumers kept running all month (min_replicas above zero)."""
    return Calls(sqs=IDLE_RECEIVES_PER_HOUR * int(HOURS_PER_MONTH) * replicas)
