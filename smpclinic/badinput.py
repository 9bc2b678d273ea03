"""Guards for whole classes of bad input, so no view has to remember them.

PostgreSQL can neither store nor compare a string holding a NUL character: any query that
carries one fails with a ValueError (a 500), whichever view or admin filter sent it. The
middleware answers such a request with a 400 before a view runs; ``bad_request`` (handler400)
renders every BadInput with its message, as JSON under /api/ and as a page elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

API_PREFIX = "/api/"


class BadInput(BadRequest):
    """A request the site cannot answer; the message is written for the person who sent it."""

    def __init__(self, message: str, *, parameter: str | None = None, code: str = "bad_input"):
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        self.code = code


def _first_with_nul(pairs: Iterable[tuple[str, list[str]]]) -> str | None:
    for name, values in pairs:
        if "\x00" in name or any("\x00" in value for value in values):
            return name.replace("\x00", "")
    return None


def nul_parameter(request: HttpRequest) -> str | None:
    """The name of the first parameter (query string, form or cookie) holding a NUL, else None."""
    if "\x00" in request.path:
        return "path"
    for pairs in (request.GET.lists(), request.COOKIES.items()):
        name = _first_with_nul((k, v if isinstance(v, list) else [v]) for k, v in pairs)
        if name is not None:
            return name
    if request.method == "POST" and request.content_type in {
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }:
        return _first_with_nul(request.POST.lists())
    return None


class RejectNulCharactersMiddleware:
    """400 for any request whose path, query string, form or cookies hold a NUL character."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = nul_parameter(request)
        if name is not None:
            raise BadInput(
                f"{name or 'A parameter'} must not contain a null character (\\0): remove it and try again.",
                parameter=name,
                code="null_character",
            )
        return self.get_response(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: a BadInput shows its message; any other 400 (e.g. a bad Host header) a general one."""
    if isinstance(exception, BadInput):
        message, parameter = exception.message, exception.parameter
    else:
        message, parameter = "The request could not be understood: check the address and try again.", None
    if request.path.startswith(API_PREFIX):
        errors = {parameter or "__all__": [message]}
        return JsonResponse({"error": {"parameter": parameter, "message": message}, "errors": errors}, status=400)
    return render(request, "400.html", {"message": message, "parameter": parameter}, status=400)
