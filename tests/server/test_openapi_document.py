"""The OpenAPI document says what the server answers (issue #13, item 13): the statuses every
operation can give, the constraints the server checks, the methods a 405 names. The schema
fuzzing in test_schema_fuzz.py checks the same at large; these pin each defect found."""

from __future__ import annotations

import time

import pytest
from helpers.accounts import signed_in_client

from contentguard.schemas import ErrorResult


@pytest.fixture(scope="module")
def document(client) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return client.get("/openapi.json").json()


def operations(document: dict):  # type: ignore[no-untyped-def, type-arg]
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_lists_the_statuses_of_its_kind(document) -> None:  # type: ignore[no-untyped-def]
    secured = bodies = 0
    for name, operation in operations(document):
        listed = set(operation["responses"])
        if operation.get("security"):
            secured += 1
            assert {"401", "403", "429"} <= listed, name
        if operation.get("requestBody"):
            bodies += 1
            assert {"400", "413", "422"} <= listed, name
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResult"}, (name, status)
    assert secured >= 30 and bodies >= 12
    moderation = document["paths"]["/v1/moderate/image"]["post"]["responses"]
    assert {"401", "403"} <= set(moderation)  # missing before: only the admin routes had them
    assert "HTTPValidationError" not in document["components"]["schemas"]  # never sent


def test_a_failed_async_job_answers_a_documented_status(client, document) -> None:  # type: ignore[no-untyped-def]
    accepted = client.post("/v1/moderate/image?async=true", content=b"no image at all",
                           headers={"content-type": "image/png"})
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 30
    while (answer := client.get(accepted.json()["status_url"])).status_code == 202:
        assert time.monotonic() < deadline, "the job stayed pending"
        time.sleep(0.05)
    assert answer.status_code == 415, answer.text
    ErrorResult.model_validate(answer.json())
    listed = document["paths"]["/v1/results/{result_id}"]["get"]["responses"]
    assert {"400", "413", "415", "422", "502", "503", "504"} <= set(listed)


def test_a_405_allows_every_method_of_the_path(client) -> None:  # type: ignore[no-untyped-def]
    admin = signed_in_client(client, "allow-admin", "admin")
    for path, methods in [("/v1/admin/users", "GET, POST"), ("/v1/admin/keys", "GET, POST"),
                          ("/admin/users", "GET, POST"), ("/login", "GET, POST"),
                          ("/v1/admin/keys/1", "PATCH"), ("/v1/moderate/image", "POST")]:
        for method in ("DELETE", "PUT", "OPTIONS"):
            answer = admin.request(method, path)
            assert answer.status_code == 405, (method, path, answer.text)
            assert answer.headers["allow"] == methods, (method, path)
            assert answer.json()["error"]["code"] == "method_not_allowed"


def test_the_url_must_look_like_one(client, document) -> None:  # type: ignore[no-untyped-def]
    url = document["components"]["schemas"]["UrlRequest"]["properties"]["url"]
    assert url["pattern"].startswith("^")
    for bad in ("", "   ", "ftp://x/y.png", "example.com/a.png"):
        answer = client.post("/v1/moderate/image", json={"url": bad})
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.json()["error"]["code"] == "blocked_url"  # check_url says what is wrong


def test_texts_needs_at_least_one(client, document) -> None:  # type: ignore[no-untyped-def]
    request = document["paths"]["/v1/moderate/text"]["post"]["requestBody"]
    schema = document["components"]["schemas"][request["content"]["application/json"]["schema"]["$ref"]
                                               .rsplit("/", 1)[1]]
    assert schema["properties"]["texts"]["anyOf"][0]["minItems"] == 1
    assert len(schema["oneOf"]) == 2  # `text` or `texts`, as the route checks
    for body in ({"texts": []}, {"texts": [], "text": None}):
        for query in ("", "?async=true"):
            answer = client.post(f"/v1/moderate/text{query}", json=body)
            assert answer.status_code == 422, (body, query, answer.text)
            assert answer.json()["error"]["code"] == "invalid_request"
    assert client.post("/v1/moderate/text", json={"text": None, "texts": ["fine words"]}).status_code == 200


def test_claim_excludes_item_ids_only(client, document) -> None:  # type: ignore[no-untyped-def]
    items = document["components"]["schemas"]["ClaimRequest"]["properties"]["exclude"]["items"]
    assert items == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    moderator = signed_in_client(client, "claim-moderator", "moderator")
    for bad in ([False], [True], ["3"], [1.5], [0], [2**31]):
        answer = moderator.post("/v1/review/claim", json={"exclude": bad})
        assert answer.status_code == 422, (bad, answer.text)
    for fine in ([], [3], [3.0]):  # JSON has one kind of number: 3.0 is the integer 3
        assert moderator.post("/v1/review/claim", json={"exclude": fine}).status_code == 200, fine


def test_account_fields_say_what_the_server_checks(client, document) -> None:  # type: ignore[no-untyped-def]
    schemas = document["components"]["schemas"]
    assert schemas["UserIn"]["properties"]["username"]["pattern"]
    assert schemas["UserIn"]["properties"]["password"]["minLength"] == 10
    assert schemas["PasswordIn"]["properties"]["password"]["minLength"] == 10
    assert schemas["KeyIn"]["properties"]["name"]["minLength"] == 1
    admin = signed_in_client(client, "fields-admin", "admin")
    for body in ({"username": "", "password": "x" * 12}, {"username": "fine", "password": "short"}):
        assert admin.post("/v1/admin/users", json=body).status_code == 422, body
    assert admin.post("/v1/admin/keys", json={"name": "", "scopes": ["moderate"]}).status_code == 422
