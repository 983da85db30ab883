"""The API fuzzed from its own OpenAPI document, with schemathesis, against a real server.

The contract (issue "Reliability and security", Hostile input): requests generated from the
service's OpenAPI document find no server error and no response that breaks the documented
schema, across at least 1,000 generated requests, within a bounded time.

Every operation of ``/openapi.json`` is fuzzed twice, with data that fits the document
(positive) and data that breaks it somewhere (negative), every request carrying the run's
write token so that writes get past the token check; then every write again without a
valid token. The generation is derandomized: CI sends the same requests on every run.
A uvicorn subprocess serves the app on 127.0.0.1, so requests go over real HTTP, and its
log holds the traceback of any 500.

The fuzzing runs once, in the module's ``fuzzing`` fixture, and records what it saw; each
test then asserts one property of the contract on that record.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from factories import TEST_TOKEN_VARIABLE
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup
from servers import running_server

from bookstore.tables import Book

pytestmark = pytest.mark.slow

# Examples per operation and generation mode. An operation without parameters (GET
# /health) has a single possible request, which Hypothesis sends once.
EXAMPLES = 40
EXAMPLES_WITHOUT_A_TOKEN = 10
MINIMUM_REQUESTS = 1_000
REQUEST_TIMEOUT_S = 10

WRITE_METHODS = {"POST", "PATCH", "DELETE"}

# schemathesis failure codes, stable across its releases ("never renumbered or reused").
SERVER_ERROR = "ST101"
UNDOCUMENTED_STATUS = "ST103"

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Finding:
    operation: str
    status: int
    kind: str  # the failed check's title
    detail: str
    curl: str

    def __str__(self) -> str:
        return f"{self.operation} -> {self.status} {self.kind}: {self.detail}\n    {self.curl}"


@dataclass
class FuzzRecord:
    """What the fuzzing sent and saw."""

    requests_by_operation: Counter[str] = field(default_factory=Counter)
    server_errors: list[Finding] = field(default_factory=list)
    schema_violations: list[Finding] = field(default_factory=list)
    undocumented_statuses: list[Finding] = field(default_factory=list)
    statuses_without_a_token: Counter[tuple[str, int]] = field(default_factory=Counter)
    catalog_changed_without_a_token: bool = False
    operations: list[str] = field(default_factory=list)
    server_log: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.requests_by_operation.values())


def token_header() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ[TEST_TOKEN_VARIABLE]}"}


def error_body_has_detail(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every error of this API is JSON ``{"detail": ...}``, documented or not."""
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            raise AssertionError("an error answered without a JSON body") from None
        assert isinstance(body, dict), "an error body that is not an object"
        assert "detail" in body, "an error body without detail"
    return None


def explore(
    operation: Any,
    mode: GenerationMode,
    max_examples: int,
    headers: dict[str, str] | None,
    send: Callable[[Any], None],
) -> None:
    """Send up to ``max_examples`` requests to ``operation``, each through ``send``.

    ``send`` never raises on a finding, so Hypothesis neither stops nor shrinks: every
    example is sent, and the run's length is bounded by ``max_examples``.
    """

    @settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    def run(case: Any) -> None:
        send(case)

    with suppress(Unsatisfiable):  # nothing to negate: an operation without parameters
        run()


class Fuzzer:
    def __init__(self, base_url: str, record: FuzzRecord) -> None:
        self.base_url = base_url
        self.record = record
        self.session = requests.Session()
        # Not sanitized: schemathesis would hide `author_id` (it looks like "auth") in the
        # curl commands; the token is replaced by its variable's name in ``file`` instead.
        config = schemathesis.Config.from_dict({"output": {"sanitization": {"enabled": False}}})
        self.schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
        self.operations = [result.ok() for result in self.schema.get_all_operations()]
        record.operations = [operation.label for operation in self.operations]

    def call(self, case: Any) -> Any:
        response = case.call(
            base_url=self.base_url, session=self.session, timeout=REQUEST_TIMEOUT_S
        )
        self.record.requests_by_operation[case.operation.label] += 1
        return response

    def send_and_check(self, case: Any, *, without_a_token: bool = False) -> None:
        response = self.call(case)
        if without_a_token:
            key = (case.operation.label, response.status_code)
            self.record.statuses_without_a_token[key] += 1
        try:
            case.validate_response(
                response,
                checks=CHECKS,
                additional_checks=[error_body_has_detail],
                transport_kwargs={"base_url": self.base_url, "session": self.session},
            )
        except FailureGroup as group:
            self.file(case, response, group.exceptions)
        except AssertionError as error:  # error_body_has_detail
            self.file(case, response, [error])

    def file(self, case: Any, response: Any, failures: Any) -> None:
        label = case.operation.label
        token = os.environ[TEST_TOKEN_VARIABLE]
        curl = case.as_curl_command(base_url=self.base_url)
        curl = curl.replace(token, f"${TEST_TOKEN_VARIABLE}")
        for failure in failures:
            code = getattr(failure, "code", None)
            kind = getattr(failure, "title", None) or str(failure).splitlines()[0]
            message = " ".join(str(getattr(failure, "message", "")).split())[:300]
            detail = f"{message} | response: {response.text[:300]}"
            finding = Finding(label, response.status_code, kind, detail, curl)
            if code == SERVER_ERROR:
                self.record.server_errors.append(finding)
            elif code == UNDOCUMENTED_STATUS:
                self.record.undocumented_statuses.append(finding)
            else:
                self.record.schema_violations.append(finding)

    def fuzz_with_the_token(self) -> None:
        for operation in self.operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                explore(operation, mode, EXAMPLES, token_header(), self.send_and_check)

    def fuzz_writes_without_a_token(self) -> None:
        """Every write again, with a token schemathesis makes up, then with none at all."""

        def send_with_made_up_token(case: Any) -> None:
            self.send_and_check(case, without_a_token=True)

        def send_without_authorization(case: Any) -> None:
            case.headers.pop("Authorization", None)
            self.send_and_check(case, without_a_token=True)

        for operation in self.operations:
            if operation.method.upper() in WRITE_METHODS:
                for send in (send_with_made_up_token, send_without_authorization):
                    explore(
                        operation, GenerationMode.POSITIVE, EXAMPLES_WITHOUT_A_TOKEN, None, send
                    )


async def catalog_checksum() -> str:
    """An md5 of every row of the catalog tables, in id order."""
    tables = ("authors", "categories", "books", "book_category")
    parts = " || ".join(
        f"(SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t.id)), '') FROM {table} t)"
        for table in tables
    )
    rows = await Book.raw(f"SELECT {parts} AS checksum")
    return rows[0]["checksum"]


def seed_catalog(base_url: str) -> None:
    """A few rows at ids 1, 2, 3, which generated ids hit, so that reads answer 200."""
    with requests.Session() as session:
        session.headers.update(token_header())
        for number in (1, 2, 3):
            for url, body in (
                ("/authors", {"name": f"Author {number}", "bio": "A bio."}),
                ("/categories", {"name": f"Category {number}", "description": "Books."}),
                (
                    "/books",
                    {
                        "title": f"Book {number}",
                        "author_id": number,
                        "category_ids": [number],
                        "published_year": 1990 + number,
                        "price": "9.99",
                    },
                ),
            ):
                response = session.post(f"{base_url}{url}", json=body, timeout=REQUEST_TIMEOUT_S)
                assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
async def fuzzing(app) -> AsyncIterator[FuzzRecord]:
    await Book.raw(
        "TRUNCATE books, authors, categories, book_category, search_logs RESTART IDENTITY CASCADE"
    )
    record = FuzzRecord()
    with running_server() as server:
        await asyncio.to_thread(seed_catalog, server.url)
        fuzzer = await asyncio.to_thread(Fuzzer, server.url, record)
        await asyncio.to_thread(fuzzer.fuzz_with_the_token)
        before = await catalog_checksum()
        await asyncio.to_thread(fuzzer.fuzz_writes_without_a_token)
        record.catalog_changed_without_a_token = await catalog_checksum() != before
        record.server_log = server.output().splitlines(keepends=True)
    yield record


def report(findings: list[Finding]) -> str:
    """One example of each (operation, status, kind), with the number of requests like it."""
    kinds = Counter((f.operation, f.status, f.kind) for f in findings)
    examples = {(f.operation, f.status, f.kind): f for f in reversed(findings)}
    lines = [f"[{count} requests] {examples[key]}" for key, count in sorted(kinds.items())]
    return f"{len(findings)} requests:\n" + "\n".join(lines)


def test_the_fuzzing_sent_over_1000_requests_to_every_operation(fuzzing):
    print(f"\n{fuzzing.requests} requests: {dict(fuzzing.requests_by_operation)}")
    assert fuzzing.requests >= MINIMUM_REQUESTS, fuzzing.requests_by_operation
    assert len(fuzzing.operations) == 24  # with the exports, import and /search-logs/stats
    assert set(fuzzing.requests_by_operation) == set(fuzzing.operations)


def test_no_generated_request_gets_a_server_error(fuzzing):
    assert not fuzzing.server_errors, (
        report(fuzzing.server_errors) + "\n\nserver log:\n" + "".join(fuzzing.server_log[-200:])
    )


def test_every_response_matches_its_documented_schema(fuzzing):
    assert not fuzzing.schema_violations, report(fuzzing.schema_violations)


def test_every_status_code_the_api_answers_is_documented(fuzzing):
    statuses_by_operation = defaultdict(set)
    for finding in fuzzing.undocumented_statuses:
        statuses_by_operation[finding.operation].add(finding.status)
    summary = "\n".join(
        f"{operation}: {sorted(statuses)}"
        for operation, statuses in sorted(statuses_by_operation.items())
    )
    assert not fuzzing.undocumented_statuses, (
        f"answered but missing from /openapi.json:\n{summary}\n\n"
        + report(fuzzing.undocumented_statuses)
    )


def test_a_write_without_a_valid_token_answers_401_and_changes_nothing(fuzzing):
    writes = {label for label in fuzzing.operations if label.split()[0] in WRITE_METHODS}
    statuses = {status for (_operation, status) in fuzzing.statuses_without_a_token}
    # POST, PATCH and DELETE on books, authors and categories, and POST /books/import
    assert len(writes) == 10
    assert {operation for (operation, _status) in fuzzing.statuses_without_a_token} == writes
    assert statuses == {401}, dict(fuzzing.statuses_without_a_token)
    assert not fuzzing.catalog_changed_without_a_token
