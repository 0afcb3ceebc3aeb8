#!/usr/bin/env node
// `npm test`: the Rust tests of the whole workspace, then every TypeScript/JS
// test file under test/ (node's built-in runner, one file at a time because
// many tests start real peers on loopback). Files under a `wip/` folder are
// work in progress and not run.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const only = process.argv.slice(2);

function run(cmd, args) {
  console.log(`\n[esbc test] ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function testFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'wip' && e.name !== 'fixtures') out.push(...testFiles(p));
    } else if (e.name.endsWith('.test.js')) {
      out.push(path.relative(root, p));
    }
  }
  return out.sort();
}

if (only.length === 0 || only.includes('rust')) run('cargo', ['test', '--release', '--workspace']);
if (only.length === 0 || only.includes('ts')) {
  run('npx', ['tsc', '--noEmit']);
  run(process.execPath, ['--test', '--test-concurrency=1', ...testFiles(path.join(root, 'test'))]);
}
