'use strict';
// Folder associations: which workload a local directory belongs to, in the store every process
// of the user shares ($XDG_CONFIG_HOME/nocalhost/associations.json, the file `nh dev associate`
// writes too). The calls are synchronous: a small local file read or replaced under a lock.
// An association: {dir, namespace, kind, name, container, kubeconfig, context, updated}.

const path = require('node:path');
const native = require('./native');
const { checkOptions } = require('./options');

const STORE = ['store'];
const SET = ['namespace', 'container', 'kubeconfig', 'context', ...STORE];
const FIND = ['namespace', 'kubeconfig', 'context', ...STORE];

function storeOptions(what, options, keys) {
  const o = { ...checkOptions(what, options, keys) };
  if (o.store != null) o.store = String(o.store);
  return o;
}

/** [kind, name, options] from ('deployment/web', options) or ('deployment', 'web', options). */
function workload(kind, name, options) {
  if (name !== null && typeof name === 'object') [name, options] = [undefined, name];
  if (name === undefined || name === null) {
    const text = String(kind);
    const slash = text.indexOf('/');
    if (slash <= 0 || slash === text.length - 1) {
      const { InvalidArgumentError } = require('./errors');
      throw new InvalidArgumentError(`expected KIND/NAME, e.g. deployment/web, got '${text}'`, -2);
    }
    return [text.slice(0, slash), text.slice(slash + 1), options];
  }
  return [kind, name, options];
}

/**
 * Associate the existing directory `dir` with a workload ('deployment/web', or kind and name);
 * replaces the directory's earlier association. Returns the entry. Throws
 * InvalidArgumentError (unknown kind), NotFoundError (no such directory), ConfigError (the
 * store file is not one; it is left as it is). Options: namespace, container, kubeconfig,
 * context, store.
 */
function associate(dir, kind, name, options) {
  [kind, name, options] = workload(kind, name, options);
  const o = storeOptions('associate', options, SET);
  return JSON.parse(native.associationSet(path.resolve(String(dir)), kind, name, o));
}

/** The association of `dir` or of its nearest associated ancestor, or null. Options: store. */
function association(dir, options) {
  const text = native.associationGet(path.resolve(String(dir)), storeOptions('association', options, STORE));
  return text === null ? null : JSON.parse(text);
}

/** The associations of a workload (and of namespace, context, kubeconfig, those given). */
function findAssociations(kind, name, options) {
  [kind, name, options] = workload(kind, name, options);
  return JSON.parse(native.associationFind(kind, name, storeOptions('findAssociations', options, FIND)));
}

/** Every association. Options: store. */
function associations(options) {
  return JSON.parse(native.associationList(storeOptions('associations', options, STORE)));
}

/** Remove the association of exactly `dir`; false when it had none. Options: store. */
function dissociate(dir, options) {
  return native.associationRemove(path.resolve(String(dir)), storeOptions('dissociate', options, STORE));
}

module.exports = { associate, association, findAssociations, associations, dissociate };
