"""Fixtures for the suite that runs against the real test cluster.

Cluster tests need NH_TEST_KUBECONFIG (`source <(scripts/test-cluster env)`);
without it they FAIL, unless NH_SKIP_CLUSTER_TESTS=1 says to skip them.
"""

import os
import uuid

import pytest

import nocalhost


def cluster_env(name: str) -> str:
    value = os.environ.get(name)
    if value:
        return value
    if os.environ.get("NH_SKIP_CLUSTER_TESTS") == "1":
        pytest.skip(f"{name} is not set and NH_SKIP_CLUSTER_TESTS=1")
    pytest.fail(f"{name} is not set: run `source <(scripts/test-cluster env)` (or set NH_SKIP_CLUSTER_TESTS=1)")


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    return cluster_env("NH_TEST_KUBECONFIG")


@pytest.fixture(scope="session")
def nobody_kubeconfig() -> str:
    return cluster_env("NH_TEST_NOBODY_TOKEN_KUBECONFIG")


@pytest.fixture(scope="session")
def namespace(kubeconfig):
    """A namespace of this test run, deleted afterwards."""
    name = f"nh-py-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    with nocalhost.Client(kubeconfig, timeout=15) as c:
        c.create("/api/v1/namespaces", {"metadata": {"name": name}})
        yield name
        c.delete(f"/api/v1/namespaces/{name}")


@pytest.fixture
def client(kubeconfig, namespace):
    with nocalhost.Client(kubeconfig, namespace=namespace, timeout=15) as c:
        yield c


@pytest.fixture
def cm_path(namespace):
    """Path of the ConfigMap collection of the test namespace, or of one ConfigMap."""
    return lambda name="": f"/api/v1/namespaces/{namespace}/configmaps" + (f"/{name}" if name else "")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
