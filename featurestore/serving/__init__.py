"""Online serving: one request, answered from an immutable :class:`ServingState`.

A :class:`ServingState` holds the definitions of one registry listing and the plans serving
derives from them (reads, compiled on-demand features, output names). Its owner (the
``FeatureStore``) builds a new one aside on refresh and swaps it in whole, so a request always
sees one consistent set of definitions and never waits for the registry. :func:`answer` (or
:func:`answer_async`) answers a :class:`Request` from a state with one online read and returns an
:class:`OnlineResponse` whose columns are read-only.

Follow one request (``POST /get-online-features``) through six modules:

1. ``featurestore/server/routes/serving.py``: the app hands the request to ``OnlineFastPath``
   before FastAPI; it checks the token, parses the body into a :class:`Request`, calls
   :func:`answer_async` with the store's current state and online store, sends
   ``to_feast_json()``, then has the store's monitor sample the answer into the serving log
   (at once under load; with no other request in flight, while the next request waits on its
   read: ``Monitor.defer``).
2. ``featurestore/serving/answer.py``: :func:`start` takes the plan of the request's shape from
   the state, checks the entities and request data (the functions of ``serving/checks.py``) and
   encodes the entity keys (``online/keys.py``); one read; :func:`finish` applies the status
   rule (:func:`fill`) and computes the on-demand features.
3. ``featurestore/serving/state.py``: what a plan holds (the reads, the compiled on-demand
   functions, the output names), made once per shape and state, all immutable.
4. ``featurestore/online/redis.py``: ``aread``: one round trip, pipelined ``HMGET``s on a
   standalone Redis, awaited over the small protocol of ``online/_redis_async.py``
   (``sqlite.py``: a query).
5. ``featurestore/online/records.py``: ``decode_records``: stored records to read-only columns,
   with each row's event time and view version.
6. ``featurestore/serving/response.py``: :class:`OnlineResponse`: read-only columns, written to
   Feast's JSON.

``FeatureStore.get_online_features`` is steps 2-6 with a blocking read.
"""

from featurestore.serving.answer import (
    Pending,
    Request,
    answer,
    answer_async,
    fill,
    finish,
    start,
)
from featurestore.serving.checks import check_entities, request_columns
from featurestore.serving.requestids import is_request_id, new_request_id
from featurestore.serving.response import OnlineResponse, Statuses
from featurestore.serving.state import Plan, ServingState, StoredDefinition, key_types

__all__ = [
    "OnlineResponse",
    "Pending",
    "Plan",
    "Request",
    "ServingState",
    "Statuses",
    "StoredDefinition",
    "answer",
    "answer_async",
    "check_entities",
    "fill",
    "finish",
    "is_request_id",
    "key_types",
    "new_request_id",
    "request_columns",
    "start",
]
