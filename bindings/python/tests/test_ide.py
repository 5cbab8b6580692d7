"""Folder associations (the store every process of the user shares) and the rights of dev mode."""

import json
import os
import subprocess
import sys

import pytest

import nocalhost


@pytest.fixture
def store(tmp_path):
    return tmp_path / "cfg" / "associations.json"


def test_processes_writing_the_store_at_once_lose_no_entry(tmp_path, store):
    dirs = tmp_path / "dirs"
    procs, each = 4, 25
    for p in range(procs):
        for i in range(each):
            (dirs / f"{p}-{i}").mkdir(parents=True)
    script = (
        "import sys, nocalhost\n"
        "p, each, dirs, store = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]\n"
        "for i in range(each):\n"
        "    nocalhost.associate(f'{dirs}/{p}-{i}', f'deployment/web-{p}-{i}', namespace='demo', store=store)\n"
    )
    # Run from elsewhere: the source folder must not shadow the installed package.
    runs = [subprocess.Popen([sys.executable, "-c", script, str(p), str(each), str(dirs), str(store)], cwd=tmp_path)
            for p in range(procs)]
    assert [r.wait(timeout=120) for r in runs] == [0] * procs
    names = {e["name"] for e in nocalhost.associations(store=store)}
    assert len(names) == procs * each, "entries were lost to a concurrent writer"


def test_the_nearest_ancestor_wins_and_symlinks_resolve(tmp_path, store):
    repo = tmp_path / "repo"
    (repo / "svc" / "api").mkdir(parents=True)
    nocalhost.associate(repo, "deploy/web", namespace="demo", container="app", store=store)
    nocalhost.associate(repo / "svc" / "api", "sts", "api", namespace="demo", store=store)
    assert nocalhost.association(repo / "svc" / "api" / "src" / "x.go", store=store)["name"] == "api"
    entry = nocalhost.association(repo / "svc", store=store)
    assert (entry["kind"], entry["name"], entry["container"], entry["dir"]) == (
        "deployment", "web", "app", os.path.realpath(repo))
    assert nocalhost.association(tmp_path, store=store) is None
    link = tmp_path / "link"
    link.symlink_to(repo / "svc" / "api")
    assert nocalhost.association(link, store=store)["name"] == "api"
    found = nocalhost.find_associations("deployments", "web", namespace="demo", store=store)
    assert [e["dir"] for e in found] == [os.path.realpath(repo)]
    assert nocalhost.find_associations("deployment/web", namespace="other", store=store) == []
    assert nocalhost.dissociate(link, store=store) is True
    assert nocalhost.dissociate(link, store=store) is False
    assert nocalhost.association(link, store=store)["name"] == "web"
    with pytest.raises(nocalhost.InvalidArgument):
        nocalhost.associate(repo, "service/web", store=store)
    with pytest.raises(nocalhost.NotFound):
        nocalhost.associate(tmp_path / "missing", "deployment/web", store=store)


def test_a_corrupt_store_is_refused_and_kept(tmp_path, store):
    store.parent.mkdir(parents=True)
    store.write_text('{"associations": [')
    with pytest.raises(nocalhost.ConfigError) as e:
        nocalhost.associate(tmp_path, "deployment/web", store=store)
    assert str(store) in str(e.value)
    with pytest.raises(nocalhost.ConfigError):
        nocalhost.associations(store=store)
    assert store.read_text() == '{"associations": ['


def test_client_associate_records_the_clients_namespace_and_context(client, kubeconfig, namespace, tmp_path, store):
    e = client.associate(tmp_path, "deployment/web", container="app", store=store)
    assert e["namespace"] == namespace
    assert e["context"] == client.context
    assert e["kubeconfig"] == kubeconfig
    assert nocalhost.association(tmp_path / "a" / "b", store=store) == e


def test_the_rights_of_dev_mode_and_what_an_identity_lacks(client, kubeconfig, nobody_kubeconfig, namespace):
    rules = client.dev_required_rights("deployment/web", ignore_cluster_config=True)
    resources = {r for rule in rules for r in rule["resources"]}
    assert {"deployments", "replicasets", "pods", "pods/exec", "pods/portforward", "secrets", "leases",
            "events", "horizontalpodautoscalers"} <= resources
    dup = client.dev_required_rights("deployment/web", mode="duplicate", ignore_cluster_config=True)
    assert "replicasets" not in {r for rule in dup for r in rule["resources"]}
    assert client.dev_access_check("deployment/web", ignore_cluster_config=True)["missing"] == []
    with nocalhost.Client(nobody_kubeconfig, namespace=namespace, timeout=15) as nobody:
        report = nobody.dev_access_check("deployment/web", ignore_cluster_config=True)
    assert report["checked"] is True
    missing = {(m["verb"], m["resource"], m["subresource"]) for m in report["missing"]}
    assert ("update", "deployments", "") in missing
    assert ("create", "pods", "exec") in missing
    assert ("create", "secrets", "") in missing
    assert report["rules"] == rules


def test_the_dev_config_is_written_back_only_over_the_version_read(client, namespace, tmp_path):
    config = ("application:\n  name: shop\n  services:\n    - name: web\n      serviceType: deployment\n"
              "      containers:\n        - name: app\n          dev:\n            image: registry.example/dev:cm\n")
    assert client.dev_config_read("deployment/web", app="shop")["config"] is None
    written = client.dev_config_write("deployment/web", app="shop", config=config)
    assert written["config"] == config
    with pytest.raises(nocalhost.Conflict):
        client.dev_config_write("deployment/web", app="shop", config=config)
    with pytest.raises(nocalhost.InvalidArgument):
        client.dev_config_write("deployment/web", app="shop", config="application: [",
                                resource_version=written["resource_version"])
    again = client.dev_config_write("deployment/web", app="shop", config=config + "\n",
                                    resource_version=written["resource_version"])
    assert again["config"] == config + "\n"
    with pytest.raises(nocalhost.Conflict):
        client.dev_config_write("deployment/web", app="shop", config=config,
                                resource_version=written["resource_version"])

    store = tmp_path / "profiles.json"
    assert client.dev_profile("deployment/web", store=store) is None
    client.remember_dev_profile("deployment/web", image="golang:1.22", container="app", store=store)
    client.remember_dev_profile("deploy", "web", workdir="/src", store=store)
    p = client.dev_profile("deployment/web", store=store)
    assert (p["image"], p["container"], p["workdir"], p["namespace"]) == ("golang:1.22", "app", "/src", namespace)
