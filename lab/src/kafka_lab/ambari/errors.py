"""Ambari's error responses: a status code and a message, rendered as {"status", "message"}."""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found(what: str) -> ApiError:
    return ApiError(404, f"The requested resource doesn't exist: {what}")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def internal(message: str) -> ApiError:
    """AmbariException in a write path, wrapped by AbstractResourceProvider as a SystemException."""
    return ApiError(500, f"An internal system exception occurred: {message}")


def unsupported(props: list[str], resource_type: str) -> ApiError:
    return ApiError(400, f"The properties [{', '.join(props)}] specified in the request or predicate are not "
                         f"supported for the resource type {resource_type}.")
