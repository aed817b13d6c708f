// A Beckon cluster for a browser test, as docs/cluster.md sets one up: three `beckon` nodes on a
// PostgreSQL database of the test's own (created on 127.0.0.1:5432 and dropped after), NATS at
// 127.0.0.1:4222 on a subject prefix of the test's own, and nginx (Debian's package) in front with
// the configuration docs/cluster.md gives — read from that file, so the test fails if the
// documented configuration stops working. The browser only ever talks to nginx.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, deadPort, ROOT } = require('./server');

const POSTGRES = process.env.BECKON_TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const NATS = process.env.BECKON_TEST_NATS_URL || 'nats://127.0.0.1:4222';
const START_TIMEOUT_MS = 15_000;

/** The fenced block of docs/cluster.md in `language` (the first one), without its indentation. */
function documented(language) {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'cluster.md'), 'utf8');
  const m = doc.match(new RegExp('^( *)```' + language + '\\n([\\s\\S]*?)^ *```', 'm'));
  if (!m) throw new Error(`docs/cluster.md has no ${language} block`);
  const indent = m[1].length;
  return m[2].split('\n').map((l) => l.slice(Math.min(indent, l.length - l.trimStart().length))).join('\n');
}

function psql(sql) {
  const server = POSTGRES.replace(/\/[^/]*$/, '');
  try {
    execFileSync('psql', [`${server}/postgres`, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`PostgreSQL is required for the cluster test (${sql}): ${e.stderr || e.message}`);
  }
  return server;
}

/**
 * Starts nginx with docs/cluster.md's configuration, its upstream servers replaced by `ports`,
 * listening on `port` of the loopback interface. Resolves to {url, stop()}.
 */
async function startNginx(ports, dir, port) {
  let site = documented('nginx');
  const upstreams = site.match(/^\s*server 127\.0\.0\.1:\d+ .*;$/gm);
  if (!upstreams || upstreams.length !== ports.length) throw new Error('docs/cluster.md: expected one upstream line per node');
  upstreams.forEach((line, i) => { site = site.replace(line, line.replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${ports[i]}`)); });
  site = site.replace(/listen 80;/, `listen 127.0.0.1:${port};`);
  // Which node served a request or a socket, for the test to know whom to kill.
  site = site.replace(/location \/ \{/, 'location / {\n        add_header X-Beckon-Node $upstream_addr always;');
  const conf = [
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'worker_processes 1;',
    'events { worker_connections 1024; }',
    'http {',
    `  access_log ${dir}/access.log;`,
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
    site,
    '}',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const nginx = fs.existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
  const child = spawn(nginx, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.once('error', (e) => { stderr += `cannot start nginx (Debian package nginx-light): ${e.message}`; });
  const url = `http://127.0.0.1:${port}`;
  // Ready once it answers (through to a node): polled with a deadline, since nginx prints nothing.
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}\n${conf}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch (_) { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`nginx did not answer within ${START_TIMEOUT_MS} ms: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
    },
  };
}

/**
 * Three nodes, nginx in front. Resolves to {url (nginx's), login, widgetKey, nodes: [{url, port,
 * kill()…}], nodeAt(addr), stop()} — shaped like startServer()'s answer, so the usual fixtures
 * (site, agent) take it as the server.
 */
async function startCluster({ logDir } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beckon-cluster-'));
  if (logDir) fs.mkdirSync(logDir, { recursive: true });
  const name = `beckon_e2e_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
  const server = psql(`create database "${name}"`);
  const nodes = [];
  let nginx = null;
  const stop = async () => {
    if (nginx) await nginx.stop();
    for (const n of nodes) await n.stop();
    try { psql(`drop database if exists "${name}" with (force)`); } catch (_) { /* already gone */ }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The nodes' ports come first: nginx's configuration and the nodes' public URL need them.
    const ports = [await deadPort(), await deadPort(), await deadPort()];
    const lbPort = await deadPort();
    // docs/cluster.md's beckon.toml, with this test's database, NATS and balancer.
    const toml = documented('toml')
      .replace(/^database_url = .*$/m, `database_url = "${server}/${name}"`)
      .replace(/^nats_url = .*$/m, `nats_url = "${NATS}"`)
      .replace(/^public_url = .*$/m, 'public_url = "http://127.0.0.1:LB_PORT"');
    const env = {
      BECKON_NATS_SUBJECT_PREFIX: `beckon-e2e-${crypto.randomBytes(6).toString('hex')}`,
      // An offer on a dead node's console moves on within seconds (the default is 30 s).
      BECKON_PRESENCE_GRACE_SECS: '2',
    };
    for (const [i, port] of ports.entries()) {
      const nodeDir = path.join(dir, `node${i + 1}`);
      fs.mkdirSync(nodeDir);
      // The balancer's port is chosen when nginx starts; the nodes are told it now.
      fs.writeFileSync(path.join(nodeDir, 'beckon.toml'), toml.replace('LB_PORT', String(lbPort)));
      // (Its printed URL is the public one, the balancer's: the node is known by its port.)
      nodes.push(await startServer({
        dir: nodeDir,
        bind: `127.0.0.1:${port}`,
        databaseUrl: `${server}/${name}`,
        env,
        logFile: logDir ? path.join(logDir, `node${i + 1}.log`) : undefined,
      }));
      nodes[i].bindPort = port;
    }
    nginx = await startNginx(ports, dir, lbPort);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url: nginx.url,
    login: nodes[0].login,
    widgetKey: nodes[0].widgetKey,
    nodes,
    /** The node behind an upstream address as nginx names it (`127.0.0.1:PORT`). */
    nodeAt(addr) {
      const node = nodes.find((n) => `127.0.0.1:${n.bindPort}` === addr);
      if (!node) throw new Error(`no node at ${addr}`);
      return node;
    },
    stop,
  };
}

module.exports = { startCluster, documented };
