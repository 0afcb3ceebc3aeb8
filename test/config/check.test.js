'use strict';
// `esbc check`: valid files print the effective configuration; invalid ones
// fail with every error naming its key path.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { loadDefaultConfig, validateConfig } = require('../../dist');

const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'esbc-config-'));
const write = (name, text) => {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
};
const check = (file) => spawnSync(process.execPath, [cli, 'check', '--config', file], { encoding: 'utf8' });

test('the built-in defaults are valid: two loopback realms, embedded engine', () => {
  const c = loadDefaultConfig();
  assert.deepEqual(c.realms.map((r) => [r.name, r.media.security]), [['secure', 'dtls-srtp'], ['plain', 'rtp']]);
  assert.equal(c.sip.engine, 'embedded');
  assert.ok(c.realms.every((r) => r.sip.listen.every((l) => l.address === '127.0.0.1')));
});

test('a valid file prints the effective configuration with defaults', () => {
  const r = check(write('ok.yaml', [
    'realms:',
    '  - name: a',
    '    sip: { listen: [{ address: 127.0.0.1, port: 5060 }], nextHop: "sip:127.0.0.1:5070" }',
    '    media: { security: dtls-srtp }',
    '  - name: b',
    '    sip: { listen: [{ address: 127.0.0.1, port: 5080 }] }',
    'routes: [{ from: b, to: a }]',
  ].join('\n')));
  assert.equal(r.status, 0, r.stderr);
  const eff = JSON.parse(r.stdout);
  assert.equal(eff.realms[1].media.security, 'rtp');
  assert.equal(eff.realms[0].sip.listen[0].transport, 'udp');
  assert.equal(eff.media.portMin, 30000);
});

test('an invalid file fails with each error and its key path', () => {
  const r = check(write('bad.yaml', [
    'realms:',
    '  - name: a',
    '    sip: { listen: [{ address: not-an-ip }] }',
    '    media: { security: tls, moh: local }',
    '  - name: a',
    '    sip: { listen: [{ address: 127.0.0.1, transport: sctp }] }',
    'routes: [{ from: nowhere, to: a, user: "(" }]',
    'sip: { engine: external }',
    'extra: 1',
  ].join('\n')));
  assert.equal(r.status, 2);
  for (const expected of [
    'realms.0.sip.listen.0.address: must be an IP address',
    'realms.0.media.security: Invalid option',
    'realms.1.sip.listen.0.transport: Invalid option',
    '(root): Unrecognized key: "extra"',
  ]) assert.ok(r.stderr.includes(expected), `missing "${expected}" in:\n${r.stderr}`);
  // Cross-field checks run once the shapes are right.
  assert.throws(() => validateConfig({
    realms: [
      { name: 'a', sip: { listen: [{ address: '127.0.0.1' }] }, media: { moh: 'local' } },
      { name: 'a', sip: { listen: [{ address: '127.0.0.1' }] } },
    ],
    routes: [{ from: 'nowhere', to: 'a', user: '(' }],
    sip: { engine: 'external' },
  }), (e) => {
    for (const m of ["realms.1.name: duplicate realm 'a'", "routes.0.from: unknown realm 'nowhere'", 'routes.0.user: not a valid regular expression',
      "routes.0.uri: realm 'a' has no nextHop", 'sip.external: required when sip.engine is external', 'realms.0.media.moh: moh: local needs media.mohFile']) {
      assert.ok(e.message.includes(m), `missing "${m}" in ${e.message}`);
    }
    return true;
  });
});

test('a file that is not YAML or does not exist is reported as such', () => {
  assert.match(check(write('broken.yaml', 'realms: [\n')).stderr, /is not valid YAML/);
  assert.match(check(path.join(tmp, 'missing.yaml')).stderr, /cannot read/);
});

test('environment variables override file values (ESBC__path__to__key)', () => {
  const file = write('env.yaml', [
    'realms:',
    '  - name: a',
    '    sip: { listen: [{ address: 127.0.0.1, port: 5060 }] }',
  ].join('\n'));
  const r = spawnSync(process.execPath, [cli, 'check', '--config', file], {
    encoding: 'utf8',
    env: { ...process.env, ESBC__media__portMin: '40000', ESBC__media__portMax: '40999', ESBC__realms__0__sip__listen__0__port: '5070', ESBC__log__level: 'debug' },
  });
  assert.equal(r.status, 0, r.stderr);
  const eff = JSON.parse(r.stdout);
  assert.equal(eff.media.portMin, 40000);
  assert.equal(eff.realms[0].sip.listen[0].port, 5070);
  assert.equal(eff.log.level, 'debug');
  const bad = spawnSync(process.execPath, [cli, 'check', '--config', file], { encoding: 'utf8', env: { ...process.env, ESBC__media__portMin: 'lots' } });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /media\.portMin/);
});

test('esbc version and --help', () => {
  const v = spawnSync(process.execPath, [cli, 'version'], { encoding: 'utf8' });
  assert.equal(v.status, 0);
  const info = JSON.parse(v.stdout);
  assert.equal(info.esbc, require('../../package.json').version);
  assert.match(info.openssl, /^OpenSSL 3\./);
  assert.match(info.libsrtp, /^libsrtp2 2\./);
  const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /esbc check --config/);
  const unknown = spawnSync(process.execPath, [cli, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
});
