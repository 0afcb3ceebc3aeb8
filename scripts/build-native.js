#!/usr/bin/env node
// Builds the Rust parts from source (run by `npm install`): the napi-rs media
// addon (native/node -> native/node/esbc.node + index.d.ts) and the embedded
// SIP engine binary (native/sip -> target/release/esbc-sip).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const env = { ...process.env };

function run(cmd, args) {
  console.log(`[esbc build] ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) {
    console.error(`[esbc build] cannot run ${cmd}: ${r.error.message}` +
      (cmd === 'cargo' ? ' (install Rust: https://rustup.rs)' : ''));
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const napiCli = path.join(path.dirname(require.resolve('@napi-rs/cli/package.json')), 'dist', 'cli.js');
run(process.execPath, [napiCli, 'build', '--release', '--platform',
  '--manifest-path', 'native/node/Cargo.toml',
  '--package-json-path', 'package.json',
  '--output-dir', 'native/node',
  '--js', 'binding.js', '--dts', 'binding.d.ts']);
run('cargo', ['build', '--release', '-p', 'esbc-sip']);
