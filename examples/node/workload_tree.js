#!/usr/bin/env node
// What an editor extension's tree view needs, in one file to copy: the workloads of a
// namespace with their dev status, kept live from the watch (another process starting or
// ending dev mode shows up at once), and the syncs and forwards your agent holds, with the
// status a status bar shows. Nothing here polls the cluster; the agent is asked every second.
//
// Usage: node workload_tree.js [--kubeconfig FILE] [--namespace NS] [--seconds N]
'use strict';
const nh = require('nocalhost');

function parseArgs(argv) {
  const args = { seconds: 0 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--kubeconfig') args.kubeconfig = value;
    else if (flag === '--namespace') args.namespace = value;
    else if (flag === '--seconds') args.seconds = Number(value);
    else throw new Error(`unknown argument ${flag}`);
    i++;
  }
  return args;
}

/** One line per workload: KIND/NAME, ready/replicas, and who develops on it. */
function describe(entry) {
  const ready = entry.replicas == null ? '' : ` ${entry.ready}/${entry.replicas}`;
  const dev = entry.dev.map((d) => {
    const pod = d.pod ? ` pod ${d.pod.name} ${d.pod.phase}${d.pod.ready ? ' ready' : ''}` : '';
    return `[dev ${d.mode} by ${d.owner || d.developer || '?'} (${d.tool}), ${d.phase}${pod}]`;
  });
  return `${entry.kind.toLowerCase()}/${entry.name}${ready} app=${entry.application} ${dev.join(' ') || '[not in dev mode]'}`;
}

/** What a status bar shows of a detached sync or forward. */
function describeItem(item) {
  if (item.type === 'sync') {
    const flight = item.files_total ? `, ${item.files_done}/${item.files_total} files` : '';
    return `sync ${item.id} ${item.kind}/${item.name} <- ${item.local_dir}: ${item.state}${flight}, ` +
      `${item.out_of_sync} out of sync, ${item.conflicts} conflicts, last sync ${item.last_sync || 'never'}`;
  }
  const ports = item.ports.map((p) => `${p.local_port}->${p.remote_port}`).join(',');
  return `forward ${item.id} ${item.target} ${ports}: ${item.state}${item.last_error ? ` (last error: ${item.last_error})` : ''}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const client = new nh.Client({ kubeconfig: args.kubeconfig, namespace: args.namespace });
  const tree = new Map(); // "Kind/name" -> entry
  const watch = client.watchTree();
  let agentTimer;
  let endTimer;
  let synced = false;
  try {
    // The whole tree first (ADDED ... SYNCED), then each change as it happens.
    watch.on('event', (event) => {
      if (event.type === 'SYNCED') {
        synced = true;
        console.log(`tree of namespace ${client.namespace}: ${tree.size} workloads`);
        for (const entry of tree.values()) console.log(`  ${describe(entry)}`);
        return;
      }
      const key = `${event.entry.kind}/${event.entry.name}`;
      const before = tree.get(key);
      if (event.type === 'DELETED') tree.delete(key);
      else tree.set(key, event.entry);
      // A tree view redraws the node; here a line says what changed.
      if (before && before.dev_mode !== event.entry.dev_mode) {
        console.log(`${event.entry.dev_mode ? 'dev mode started' : 'dev mode ended'}: ${describe(event.entry)}`);
      } else if (synced) {
        console.log(`${event.type.toLowerCase()}: ${describe(event.entry)}`);
      }
    });

    // The agent's items: every process of yours sees the same ones.
    let last = null;
    const showAgent = async () => {
      const items = await nh.agent.list();
      const text = items.map(describeItem).join('\n');
      if (text !== last) console.log(text ? `agent:\n${text.replace(/^/gm, '  ')}` : 'agent: holds nothing');
      last = text;
    };
    await showAgent();
    agentTimer = setInterval(() => showAgent().catch((e) => console.error(`agent: ${e.message}`)), 1000);

    const stop = new Promise((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
      if (args.seconds > 0) endTimer = setTimeout(resolve, args.seconds * 1000);
    });
    await Promise.race([stop, watch.done]);
  } finally {
    clearInterval(agentTimer);
    clearTimeout(endTimer);
    await watch.close();
    client.close();
  }
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
