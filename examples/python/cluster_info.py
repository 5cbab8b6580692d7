#!/usr/bin/env python3
"""Prints the cluster's version and namespaces, then watches ConfigMaps for a few seconds.

Usage: cluster_info.py [KUBECONFIG] [SECONDS]
"""
import sys

import nocalhost


def main() -> int:
    kubeconfig = sys.argv[1] if len(sys.argv) > 1 else None
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3
    try:
        with nocalhost.Client(kubeconfig) as client:
            version = client.server_version()
            print(f"libnocalhost {nocalhost.library_version()}, context {client.context!r}, "
                  f"server {client.server} ({version['gitVersion']})")
            namespaces = client.get("/api/v1/namespaces")["items"]
            print("namespaces:", ", ".join(ns["metadata"]["name"] for ns in namespaces))

            path = f"/api/v1/namespaces/{client.namespace}/configmaps"
            print(f"watching {path} for {seconds:g} s (Ctrl-C stops)")
            with client.events(path, timeout=seconds) as events:
                for event in events:
                    print(f"  {event.type.name:9} {event.object['metadata']['name']}")
    except nocalhost.NocalhostError as e:
        print(f"error: {e} ({e.code_name}, HTTP {e.http_status} {e.reason})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
