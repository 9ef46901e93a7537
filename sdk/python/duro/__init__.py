"""duro: the Python client of a duro server (docs/sdk-python.md).

    from duro import Client, NotFound
    c = Client()                      # $DURO_URL or http://127.0.0.1:8787, $DURO_TOKEN
    c.kv.put("app", "k", {"a": 1})
"""

from .client import Client, Response, dumps, loads
from .datastore import Datastore, DatastoreError, InvalidInput, NotAuthorized
from .errors import (BadRequest, Conflict, ConnectionFailed, DuroError, Forbidden,
                     InsufficientStorage, Internal, MethodNotAllowed, NotFound,
                     PayloadTooLarge, PreconditionFailed, RateLimited, Unauthorized,
                     Unavailable, UnsupportedMediaType)

__all__ = ["Client", "Response", "dumps", "loads", "Datastore", "DatastoreError", "InvalidInput",
           "NotAuthorized", "DuroError", "BadRequest", "Unauthorized",
           "Forbidden", "NotFound", "MethodNotAllowed", "Conflict", "PreconditionFailed",
           "PayloadTooLarge", "UnsupportedMediaType", "RateLimited", "Internal", "Unavailable",
           "InsufficientStorage", "ConnectionFailed"]
__version__ = "0.1.0"
