"""The server's own limit: a WSGI application that answers every request with a bare 302
and does nothing else, served by the same granian as Torii (bench/limits.py). /healthz
answers 200, so the benchmark's readiness check does not follow the 302 off the machine."""

HEADERS = [("Location", "https://example.com/"), ("Content-Length", "0")]


def application(environ, start_response):
    if environ["PATH_INFO"] == "/healthz":
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]
    start_response("302 Found", HEADERS)
    return [b""]
