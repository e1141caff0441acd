'use strict';
// The network of one container or pod, simulated on loopback for test/deploy/wiring.test.js. Loaded with
// `node --require` (NODE_OPTIONS) into every Node.js process of that container, which then sees what its
// manifest promises: the deployment's names (compose services, Kubernetes Services and pod DNS names) resolve
// to the loopback addresses of their containers, and nothing else does; a server bound to all interfaces
// (0.0.0.0, ::) listens on the container's own address; and 127.0.0.1 / localhost is the container itself.
// Ports are left as the manifest says: each container has an address of its own, so a wrong port is refused.
//
//   install({ self: '127.31.7.4', hosts: { redis: ['127.31.7.2'], 'ps-0.ps': ['127.31.7.3'] } })
const dns = require('node:dns');
const net = require('node:net');

const ALL_INTERFACES = new Set(['0.0.0.0', '::', '']);
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', 'localhost.']);

/** Patches name resolution, listen and connect of this process for the container whose address is `self`. */
function install({ self, hosts }) {
  const addresses = (name) => {
    if (LOOPBACK.has(name)) return [self];
    if (net.isIP(name)) return [name];
    return hosts[name] ?? hosts[name.replace(/\.$/, '')] ?? null;
  };
  const notFound = (name) =>
    Object.assign(new Error(`getaddrinfo ENOTFOUND ${name} (no service, pod or container of this deployment has that name)`), {
      code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname: name,
    });
  const answer = (name, options) => {
    const found = addresses(name);
    if (!found) throw notFound(name);
    const all = found.map((address) => ({ address, family: net.isIP(address) }));
    return options && options.all ? all : all[0];
  };

  dns.lookup = function lookup(name, options, callback) {
    if (typeof options === 'function') [callback, options] = [options, {}];
    if (typeof options === 'number') options = { family: options };
    try {
      const a = answer(name, options);
      if (options && options.all) process.nextTick(callback, null, a);
      else process.nextTick(callback, null, a.address, a.family);
    } catch (err) {
      process.nextTick(callback, err);
    }
    return {};
  };
  dns.promises.lookup = async (name, options) => answer(name, typeof options === 'number' ? { family: options } : options);
  // gRPC asks for a service configuration in TXT records: a deployment name has none.
  const noTxt = (name) => Object.assign(new Error(`queryTxt ENODATA ${name}`), { code: 'ENODATA', syscall: 'queryTxt', hostname: name });
  dns.promises.resolveTxt = async (name) => {
    throw noTxt(name);
  };
  dns.resolveTxt = (name, callback) => process.nextTick(callback, noTxt(name));

  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function listenInContainer(...args) {
    const [first] = args;
    if (first !== null && typeof first === 'object' && !Array.isArray(first) && first.port !== undefined && first.path === undefined) {
      if (first.host === undefined || ALL_INTERFACES.has(first.host)) args[0] = { ...first, host: self };
    } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      if (typeof args[1] === 'string') {
        if (ALL_INTERFACES.has(args[1])) args[1] = self;
      } else if (args[1] === undefined || args[1] === null) {
        args[1] = self;
      } else {
        args.splice(1, 0, self);
      }
    }
    return listen.apply(this, args);
  };

  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function connectInContainer(...args) {
    // net.connect passes its normalised arguments as one array; a direct call passes options or (port, host).
    const options = Array.isArray(args[0]) ? args[0][0] : args[0];
    if (options !== null && typeof options === 'object' && typeof options.host === 'string' && LOOPBACK.has(options.host)) options.host = self;
    else if (typeof options !== 'object' && typeof args[1] === 'string' && LOOPBACK.has(args[1])) args[1] = self;
    return connect.apply(this, args);
  };
}

module.exports = { install };
