"""What scripts/test.d/wheel and scripts/test.d/sdist check in a venv with the package installed
(not executable itself, so scripts/test does not run it as a step):

    python installed-python.py KUBECONFIG SITE_PACKAGES

nocalhost comes from SITE_PACKAGES, at the header's version; it carries the static nhsyncd of
this machine's architecture in nocalhost/share/nocalhost; the test cluster answers; and a dev
round trip on the real node with the default sidecar, which uploads the nhsyncd the library
finds from its own directory (no syncd_dir, no $NH_SYNCD_DIR, no sidecar image), syncs a
local file into the dev container, then ends dev mode and the Deployment is as before.
"""
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nocalhost

kubeconfig, site = sys.argv[1], sys.argv[2]
assert nocalhost.__file__.startswith(site), nocalhost.__file__
assert nocalhost.library_version() == nocalhost.__version__, (nocalhost.library_version(), nocalhost.__version__)
assert "NH_SYNCD_DIR" not in os.environ
arch = {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]
syncd = Path(nocalhost.__file__).parent / "share" / "nocalhost" / f"nhsyncd-linux-{arch}"
assert syncd.is_file() and os.access(syncd, os.X_OK), f"no nhsyncd in the package: {syncd}"

env = {k: os.environ[k] for k in ("NH_TEST_REAL_NODE", "NH_TEST_REAL_TAINT", "NH_TEST_IMAGE_APP", "NH_TEST_IMAGE_DEV")}
ns = f"nh-pkg-{uuid.uuid4().hex[:8]}"
taint = env["NH_TEST_REAL_TAINT"]
with nocalhost.Client(kubeconfig, namespace=ns, timeout=30) as client:
    version = client.server_version()
    client.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    try:
        client.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"nodeSelector": {taint: "true"},
                         "tolerations": [{"key": taint, "operator": "Exists", "effect": "NoSchedule"}],
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "app", "image": env["NH_TEST_IMAGE_APP"]}]}}}})
        before = client.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()
        uploads = []

        def on_event(e):
            if e.phase == "upload" and isinstance(e.detail, dict) and "seconds" in e.detail:  # the finished upload
                uploads.append(e.detail)

        with tempfile.TemporaryDirectory() as src:
            Path(src, "hello.txt").write_text("hello from the package\n")
            t0 = time.monotonic()
            with client.dev_start("deployment/web", image=env["NH_TEST_IMAGE_DEV"], local_dir=src, timeout=180,
                                  on_event=on_event, end_on_exit=True) as session:
                seconds = time.monotonic() - t0
                assert len(uploads) == 1 and uploads[0]["arch"] == arch, uploads
                assert uploads[0]["bytes"] == syncd.stat().st_size, (uploads, syncd.stat().st_size)
                got = session.exec(["cat", "hello.txt"])
                assert got.exit_code == 0 and got.text == "hello from the package\n", (got.exit_code, got.text)
        after = client.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()
        assert after["metadata"]["uid"] == before["metadata"]["uid"]
        assert after["spec"]["template"] == before["spec"]["template"], "dev end did not restore the Deployment"
    finally:
        client.request("DELETE", f"/api/v1/namespaces/{ns}")
print(f"installed package ok: libnocalhost {nocalhost.library_version()}, server {version['gitVersion']}, "
      f"dev round trip with the packaged nhsyncd-linux-{arch} ({uploads[0]['bytes']} bytes) in {seconds:.1f} s")
