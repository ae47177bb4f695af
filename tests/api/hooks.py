"""schemathesis hooks for the sync worker's API (loaded through SCHEMATHESIS_HOOKS by run.py).

- `after_call`: counts the requests sent per operation (calls.json, which run.py prints).
- `documented_error_code`: every 4xx/5xx answer is `{"code", "message"}` whose `code` is one the
  document lists for that operation and status.
- Path parameters and body fields: half the generated cases use a value the seeded database
  and the catalog know (run.py passes them in TOLLGATE_API_KNOWN as JSON `{"customer": [...],
  "id": [...], "file": [...], "plan": [...], "feature": [...], "order": [...]}`), so calls
  reach past `unknown_customer`, `unknown_plan` and the like. The same for the `feature` query
  parameter (`GET /v1/analytics/usage`), so usage reports are computed, not only refused.
"""

import atexit
import collections
import json
import os
import pathlib

import schemathesis
from hypothesis import strategies as st

KNOWN: dict[str, list[str]] = json.loads(os.environ.get("TOLLGATE_API_KNOWN", "{}"))

# Requests sent per operation, written to calls.json in the working directory at the end.
CALLS: collections.Counter = collections.Counter()
atexit.register(lambda: pathlib.Path("calls.json").write_text(json.dumps(CALLS, indent=1)))


@schemathesis.hook
def after_call(ctx, case, response):
    CALLS[f"{case.operation.method.upper()} {case.operation.path}"] += 1


@schemathesis.hook
def flatmap_path_parameters(ctx, parameters):
    if not parameters:
        return st.just(parameters)
    choices = [st.just(parameters)]
    for name in parameters:
        if KNOWN.get(name):
            choices.append(
                st.sampled_from(KNOWN[name]).map(lambda value, name=name: {**parameters, name: value})
            )
    return st.one_of(*choices)


@schemathesis.hook
def flatmap_body(ctx, body):
    """Half the bodies that name a customer, plan, feature or order name a real one."""
    if not isinstance(body, dict):
        return st.just(body)
    real = {name: KNOWN.get(name) for name in ("customer", "plan", "feature", "order")}
    named = [name for name, values in real.items() if values and isinstance(body.get(name), str)]
    if not named:
        return st.just(body)

    def substitute(choice):
        return {**body, **choice}

    choice = st.fixed_dictionaries({name: st.sampled_from(real[name]) for name in named})
    return st.one_of(st.just(body), choice.map(substitute))


@schemathesis.hook
def flatmap_query(ctx, query):
    """Half the queries that name a feature name one the catalog has."""
    features = KNOWN.get("feature")
    if not isinstance(query, dict) or not isinstance(query.get("feature"), str) or not features:
        return st.just(query)
    known = st.sampled_from(features).map(lambda feature: {**query, "feature": feature})
    return st.one_of(st.just(query), known)


def documented_codes(case, status: int) -> list[str] | None:
    """The codes the document lists for this operation and status, or None if it lists none."""
    responses = case.operation.definition.raw.get("responses", {})
    response = responses.get(str(status))
    if response is None:
        return None
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    for part in schema.get("allOf", []):
        codes = part.get("properties", {}).get("code", {}).get("enum")
        if codes is not None:
            return codes
    return None


@schemathesis.check
def documented_error_code(ctx, response, case):
    """A refusal carries a stable `code` that the document lists for its operation and status."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError(
            f"{response.status_code} without a JSON body ({error}): {response.content[:200]!r}"
        ) from None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        raise AssertionError(f"{response.status_code} without a `code`: {body!r}")
    if not isinstance(body.get("message"), str) or not body["message"]:
        raise AssertionError(f"{response.status_code} `{body['code']}` without a `message`")
    if case.method.upper() != case.operation.method.upper():
        # A method the path does not take (schemathesis tries them): the router's answer.
        if body["code"] != "method_not_allowed":
            raise AssertionError(f"{case.method} answered `{body['code']}`, not `method_not_allowed`")
        return None
    codes = documented_codes(case, response.status_code)
    if codes is None:
        raise AssertionError(f"{response.status_code} is not a documented status of this operation")
    if body["code"] not in codes:
        raise AssertionError(
            f"{response.status_code} `{body['code']}` is not among the documented codes {codes}"
        )
    return None
