"""The review table and the audit table, through DynamoDB's low-level client (requests built by
``platform_spec.review``). Every write is conditional: a second write of the same item, a decision on an
item that is not pending, a second audit record of the same event change nothing and are reported as
such (``False`` or :class:`Conflict`), never as a failure of the store."""

from __future__ import annotations

import base64
import binascii
import json
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from platform_spec.api import store_call_max_s
from platform_spec.clients import ClockBoundClient
from platform_spec.review import (
    MAX_REVIEW_ID_CHARS,
    AuditTable,
    ReviewTable,
    parse_iso,
    pending_since,
    plain,
    store_client_config,
)

__all__ = ["Conflict", "ReviewStore", "decode_token", "encode_token"]

_CONDITION_FAILED = "ConditionalCheckFailedException"


class Conflict(Exception):
    """A conditional transaction was cancelled: ``which`` names the conditions that failed (``item``,
    ``audit``)."""

    def __init__(self, which: tuple[str, ...]) -> None:
        super().__init__(", ".join(which))
        self.which = which


#: The most audit records ``GET /reviews/{id}`` shows: a Lambda response is at most 6 MB, and a record is
#: at most a few KB (a decision's reason and correction, a feedback comment, what fired).
AUDIT_TRAIL_MAX_RECORDS = 500


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code", ""))


def encode_token(key: Mapping[str, Any] | None) -> str | None:
    """An opaque page token for the pending list (DynamoDB's LastEvaluatedKey)."""
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_token(token: str, *, use_case: str) -> dict[str, Any]:
    """The LastEvaluatedKey behind a page token of ``use_case``'s pending list; ``ValueError`` if it is not
    one this API could have issued for that list. Checked before DynamoDB sees it: a start key outside the
    query's partition, or a key over DynamoDB's sizes, is a ValidationException
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html#DDB-Query-request-ExclusiveStartKey:
    "Use the value that was returned for LastEvaluatedKey in the previous operation"), which would read
    as the store failing."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("not a page token") from exc
    expected = {ReviewTable.KEY, ReviewTable.PENDING_USE_CASE, ReviewTable.CREATED_AT}
    if (
        not isinstance(key, dict)
        or set(key) != expected
        or not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
    ):
        raise ValueError("not a page token")
    review_id = key[ReviewTable.KEY]["S"]
    if key[ReviewTable.PENDING_USE_CASE]["S"] != use_case:
        raise ValueError("a page token of another use case's list")
    if not 1 <= len(review_id) <= MAX_REVIEW_ID_CHARS:
        raise ValueError("not a page token")
    try:
        parse_iso(key[ReviewTable.CREATED_AT]["S"])
    except ValueError:
        raise ValueError("not a page token") from None
    return key


class PendingCount:
    """A use case's pending items, read a page at a time (:meth:`ReviewStore.pending_count`): how many, and
    the earliest time one of them went to people (:func:`platform_spec.review.pending_since`). Every page
    is read, as a count would read them (a Query's read capacity is the items it reads, whatever it
    returns): the index sorts by the answers' creation, not by when they went to people, so its first item
    is not necessarily the one waiting longest. Until :attr:`complete`, ``count`` and the oldest time are
    lower bounds."""

    def __init__(self, client: Any, arguments: dict[str, Any]) -> None:
        self._client = client
        self._arguments = arguments
        self.count = 0
        self.pages = 0
        #: The earliest time one of the items read went to people, if any was read.
        self.oldest: str | None = None
        self._oldest_at = math.inf
        #: Every page was read.
        self.complete = False

    def read_page(self) -> None:
        """Read the next page (one Query); nothing once :attr:`complete`."""
        if self.complete:
            return
        response = self._client.query(**self._arguments)
        self.pages += 1
        for item in response.get("Items", []):
            self.count += 1
            since = pending_since(plain(item))
            if (at := parse_iso(since)) < self._oldest_at:
                self.oldest, self._oldest_at = since, at
        if response.get("LastEvaluatedKey"):
            self._arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        else:
            self.complete = True


class ReviewStore:
    """Reads and conditional writes of review items and audit records."""

    def __init__(self, *, review_table: str, audit_table: str | None = None, region: str) -> None:
        self.review_table = review_table
        self.audit_table = audit_table
        self.region = region
        self._lock = threading.Lock()
        self._client: Any = None

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                # abandoned on the clock at its worst case: the timeouts bound each socket read, not the
                # answer (platform_spec.clients.call_within)
                self._client = ClockBoundClient(
                    boto3.client("dynamodb", region_name=self.region, config=Config(**store_client_config())),
                    store_call_max_s(),
                )
            return self._client

    # ---------------------------------------------------------------- review items

    def get(self, review_id: str) -> dict[str, Any] | None:
        """The item as plain values (strongly consistent), or None."""
        response = self.client.get_item(
            TableName=self.review_table, Key={ReviewTable.KEY: {"S": review_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return plain(item) if item else None

    def put_new(self, params: Mapping[str, Any]) -> bool:
        """Write a new item (``new_item``); False when it already exists (a redelivered message)."""
        return self._conditional(self.client.put_item, TableName=self.review_table, **params)

    def update(self, params: Mapping[str, Any]) -> bool:
        """A conditional update; False when its condition does not hold."""
        return self._conditional(self.client.update_item, TableName=self.review_table, **params)

    def _pending_query(self, use_case: str) -> dict[str, Any]:
        return {
            "TableName": self.review_table,
            "IndexName": ReviewTable.PENDING_INDEX,
            "KeyConditionExpression": "#p = :use_case",
            "ExpressionAttributeNames": {"#p": ReviewTable.PENDING_USE_CASE},
            "ExpressionAttributeValues": {":use_case": {"S": use_case}},
        }

    def pending(
        self, use_case: str, *, limit: int, start_key: Mapping[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a use case's pending items, earliest answer first (the index's sort key, ``createdAt``),
        and the key of the next page."""
        arguments = {**self._pending_query(use_case), "ScanIndexForward": True, "Limit": limit}
        if start_key:
            arguments["ExclusiveStartKey"] = dict(start_key)
        response = self.client.query(**arguments)
        return [plain(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")

    def pending_count(self, use_case: str) -> PendingCount:
        """A reader of how many items of a use case are pending (:class:`PendingCount`), no page read yet."""
        arguments = {
            **self._pending_query(use_case),
            "ProjectionExpression": "#since, #created",
        }
        arguments["ExpressionAttributeNames"] = {
            **arguments["ExpressionAttributeNames"],
            "#since": ReviewTable.PENDING_SINCE,
            "#created": ReviewTable.CREATED_AT,
        }
        return PendingCount(self.client, arguments)

    # ---------------------------------------------------------------- audit records

    def record(self, audit: Mapping[str, Any], *, item_update: Mapping[str, Any] | None = None) -> None:
        """Write an audit record (once) and, with ``item_update``, update the review item in the same
        transaction (both or neither). :class:`Conflict` names the conditions that failed."""
        assert self.audit_table is not None, "the audit table is not configured"
        items: list[dict[str, Any]] = [{"Put": {"TableName": self.audit_table, **audit}}]
        if item_update is not None:
            items.append({"Update": {"TableName": self.review_table, **item_update}})
        client = self.client
        try:
            client.transact_write_items(TransactItems=items)
        except client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons") or []
            names = ("audit", "item")
            failed = tuple(
                names[i]
                for i, r in enumerate(reasons)
                if i < len(names) and r.get("Code") == "ConditionalCheckFailed"
            )
            if not failed:
                raise
            raise Conflict(failed) from exc

    def audit_trail(
        self, subject: str, *, time_left_s: Callable[[], float] | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """A request's audit records in event order, at most :data:`AUDIT_TRAIL_MAX_RECORDS`, and whether
        that is all of them. A Query answers at most 1 MB a page, with ``LastEvaluatedKey`` to go on from
        (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html), so the
        pages are read until the last; one record past the most tells that more exist. A next page is asked
        only while ``time_left_s`` (the invocation's) leaves room for one more bounded store call
        (``store_call_max_s``), so a slow store cuts the trail short rather than timing the function out."""
        assert self.audit_table is not None, "the audit table is not configured"
        most = AUDIT_TRAIL_MAX_RECORDS
        records: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            if start and time_left_s is not None and time_left_s() < store_call_max_s():
                return records[:most], False
            arguments: dict[str, Any] = {
                "TableName": self.audit_table,
                "KeyConditionExpression": "#s = :s",
                "ExpressionAttributeNames": {"#s": AuditTable.SUBJECT},
                "ExpressionAttributeValues": {":s": {"S": subject}},
                "Limit": most + 1 - len(records),
            }
            if start:
                arguments["ExclusiveStartKey"] = start
            response = self.client.query(**arguments)
            records += [plain(i) for i in response.get("Items", [])]
            start = response.get("LastEvaluatedKey")
            if not start or len(records) > most:
                return records[:most], len(records) <= most

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _conditional(call: Any, **arguments: Any) -> bool:
        try:
            call(**arguments)
        except Exception as exc:
            if _error_code(exc) == _CONDITION_FAILED:
                return False
            raise
        return True
