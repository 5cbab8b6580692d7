"""Dev spaces against the real test cluster: created by the admin, used with the developer's
own kubeconfig (allowed in the space, refused elsewhere), shared, listed and deleted."""

import os

import pytest

import nocalhost

from conftest import unique


def test_a_space_round_trip(kubeconfig):
    name = unique(f"nh-pyspace-{os.getpid()}")
    with nocalhost.Client(kubeconfig, timeout=15) as admin:
        try:
            more = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]
            access = admin.create_space(name, "alice", cpu="2", memory="2Gi", pods=10, token_seconds=3600,
                                        extra_rules=more)
            assert access["service_account"] == "nh-alice"
            assert access["namespace"] == name
            with nocalhost.Client(kubeconfig_data=access["kubeconfig"], timeout=15) as alice:
                assert alice.check()["user"]["username"] == f"system:serviceaccount:{name}:nh-alice"
                alice.create(f"/api/v1/namespaces/{name}/configmaps", {"metadata": {"name": "mine"}})
                with pytest.raises(nocalhost.Forbidden):
                    alice.get("/api/v1/namespaces/default/configmaps")
                with pytest.raises(nocalhost.Forbidden) as missing:
                    alice.create_space(name + "-x", "mallory")
                assert "create namespaces (cluster-wide)" in str(missing.value)

            bob = admin.share_space(name, "bob")
            assert bob["service_account"] == "nh-bob"
            mine = [s for s in admin.spaces("bob") if s["name"] == name]
            assert len(mine) == 1 and mine[0]["owner"] == "alice"
            assert sorted(d["developer"] for d in mine[0]["developers"]) == ["alice", "bob"]
            assert mine[0]["quota"]["pods"] == "10"

            with pytest.raises(nocalhost.AlreadyExists):
                admin.create_space(name, "carol")
            with pytest.raises(nocalhost.InvalidArgument):
                admin.create_space(name + "-y", "carol", cpu="plenty")
        finally:
            try:
                admin.delete_space(name)
            except nocalhost.NotFound:
                pass
        assert not [s for s in admin.spaces() if s["name"] == name]
        with pytest.raises(nocalhost.NotFound):
            admin.get(f"/api/v1/namespaces/{name}")
