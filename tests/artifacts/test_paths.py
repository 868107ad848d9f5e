"""artifacts.paths: the one gate between a client's string and a store path."""
from __future__ import annotations

import pytest

from medflow.artifacts import paths
from medflow.errors import MedflowError


@pytest.mark.parametrize("raw, expected", [
    ("1/abc/artifacts/model/MLmodel", "1/abc/artifacts/model/MLmodel"),
    ("a//b/./c/", "a/b/c"),
    ("", ""),
    (None, ""),
    ("a%20b.txt", "a b.txt"),
    ("100%.txt", "100%.txt"),
    ("résumé/naïve.txt", "résumé/naïve.txt"),
    ("run:1/x", "run:1/x"),
    ("..foo/bar..", "..foo/bar.."),
])
def test_valid_paths_normalize(raw, expected):
    assert paths.store_path(raw) == expected


@pytest.mark.parametrize("raw", [
    "../etc/passwd", "a/../../b", "..", "a/..",
    "%2E%2E/x", "..%2Fx", "%252E%252E%252Fx", "%25252E%25252E%25252F", "a/%2e%2e/%2e%2e/b",
    "/etc/passwd", "%2Fetc", "//server/share",
    "C:/Windows", "c:", "C:%5CWindows", "z:foo",
    "a\\b", "..\\..\\x", "%5C..%5C",
    "a\x00b", "a%00b", "a\nb", "a%0Ab",
    "a?/a", "a%3F/a", "a#/../..", "a%23b",
    ".medflow-staging/x", "%2Emedflow-staging/x",
    "x" * 256, "/".join(["abc"] * 300),
    "%ff%fe",
    "%" + "25" * 10 + "2E",
])
def test_dangerous_paths_are_rejected(raw):
    with pytest.raises(MedflowError) as info:
        paths.store_path(raw)
    assert info.value.code == "INVALID_PARAMETER_VALUE"
    assert "\x00" not in info.value.message


def test_root_can_be_refused():
    for raw in ("", None, ".", "./", "//"):
        with pytest.raises(MedflowError):
            paths.store_path(raw, allow_root=False)


@pytest.mark.parametrize("uri, expected", [
    ("mlflow-artifacts:/1/abc/artifacts", "1/abc/artifacts"),
    ("mlflow-artifacts:/1/models/m-1/artifacts/", "1/models/m-1/artifacts"),
])
def test_server_issued_uris(uri, expected):
    assert paths.store_path_from_uri(uri) == expected


@pytest.mark.parametrize("uri", [
    "file:///etc", "/etc/passwd", "http://169.254.169.254/latest", "s3://bucket/x",
    "mlflow-artifacts://evil-host/1/x", "mlflow-artifacts:/../x", "mlflow-artifacts:/1/%2E%2E/x",
    "mlflow-artifacts:/1#/../../x", "",
])
def test_other_uris_are_never_served(uri):
    with pytest.raises(MedflowError):
        paths.store_path_from_uri(uri)


def test_relative_to():
    assert paths.relative_to("1/r/artifacts/a/b", "1/r/artifacts") == "a/b"
    assert paths.relative_to("x", "") == "x"
