"""Typed errors for duro's error envelope: one class per error code."""


class DuroError(Exception):
    """A request failed: `code` is the envelope's error code (e.g. "NOT_FOUND"),
    `status` the HTTP status (0 when the server could not be reached)."""

    def __init__(self, code, message, status=0):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.status = status


class BadRequest(DuroError):
    pass


class Unauthorized(DuroError):
    pass


class Forbidden(DuroError):
    pass


class NotFound(DuroError):
    pass


class MethodNotAllowed(DuroError):
    pass


class Conflict(DuroError):
    pass


class PreconditionFailed(DuroError):
    pass


class PayloadTooLarge(DuroError):
    pass


class UnsupportedMediaType(DuroError):
    pass


class RateLimited(DuroError):
    """429: `retry_after` is the seconds the server asked to wait (None if it did not say)."""

    def __init__(self, code, message, status=429, retry_after=None):
        super().__init__(code, message, status)
        self.retry_after = retry_after


class Internal(DuroError):
    pass


class Unavailable(DuroError):
    pass


class InsufficientStorage(DuroError):
    pass


class ConnectionFailed(DuroError):
    """The server could not be reached or the connection broke (status 0)."""


BY_CODE = {
    "BAD_REQUEST": BadRequest,
    "UNAUTHORIZED": Unauthorized,
    "FORBIDDEN": Forbidden,
    "NOT_FOUND": NotFound,
    "METHOD_NOT_ALLOWED": MethodNotAllowed,
    "CONFLICT": Conflict,
    "PRECONDITION_FAILED": PreconditionFailed,
    "PAYLOAD_TOO_LARGE": PayloadTooLarge,
    "UNSUPPORTED_MEDIA_TYPE": UnsupportedMediaType,
    "RATE_LIMITED": RateLimited,
    "INTERNAL": Internal,
    "UNAVAILABLE": Unavailable,
    "INSUFFICIENT_STORAGE": InsufficientStorage,
}
