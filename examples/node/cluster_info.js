#!/usr/bin/env node
// Prints the cluster's version and namespaces, then watches ConfigMaps for a few seconds.
// Usage: node cluster_info.js [KUBECONFIG] [SECONDS]
'use strict';
const nh = require('nocalhost');

async function main() {
  const [kubeconfig, seconds = '3'] = process.argv.slice(2);
  const client = new nh.Client({ kubeconfig });
  try {
    const version = await client.serverVersion();
    console.log(`libnocalhost ${nh.libraryVersion}, context '${client.context}', server ${client.server} (${version.gitVersion})`);
    const namespaces = await client.get('/api/v1/namespaces');
    console.log('namespaces:', namespaces.items.map((ns) => ns.metadata.name).join(', '));

    const path = `/api/v1/namespaces/${client.namespace}/configmaps`;
    console.log(`watching ${path} for ${seconds} s`);
    for await (const event of client.watch(path, { durationMs: Number(seconds) * 1000 })) {
      console.log(`  ${event.type.padEnd(9)} ${event.object.metadata.name}`);
    }
  } finally {
    client.close();
  }
}

main().catch((e) => {
  console.error(`error: ${e.message} (${e.code}, HTTP ${e.httpStatus} ${e.reason})`);
  process.exit(1);
});
