"""Applications against the real test cluster: the bookinfo fixture of tests/app installed,
listed with its workloads, refused a second time, and uninstalled leaving nothing of it."""

import os

import pytest

import nocalhost

from conftest import unique

BOOKINFO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "app", "fixtures",
                        "bookinfo")


def test_an_application_round_trip(kubeconfig):
    ns = unique(f"nh-pyapp-{os.getpid()}")
    with nocalhost.Client(kubeconfig, namespace=ns, timeout=15) as client:
        client.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        try:
            app = client.install_app("bookinfo", BOOKINFO)
            assert app["namespace"] == ns and app["type"] == "rawManifestLocal"
            assert sorted(w["name"] for w in app["workloads"]) == ["details", "productpage", "reviews"]
            dep = client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/productpage")
            assert dep["metadata"]["annotations"]["dev.nocalhost/application-name"] == "bookinfo"
            assert [a["name"] for a in client.apps()] == ["bookinfo"]
            with pytest.raises(nocalhost.AlreadyExists):
                client.install_app("bookinfo", BOOKINFO)
            with pytest.raises(nocalhost.InvalidArgument) as bad:
                client.install_app("other", BOOKINFO, set_values=["a=b"])
            assert "--values and --set are for Helm charts" in str(bad.value)

            client.uninstall_app("bookinfo")
            assert client.apps() == []
            with pytest.raises(nocalhost.NotFound):
                client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/productpage")
            with pytest.raises(nocalhost.NotFound):
                client.uninstall_app("bookinfo")
        finally:
            client.delete(f"/api/v1/namespaces/{ns}")
