'use strict';
// Peers must never outlive the test process, however it ends.
const test = require('node:test');
const assert = require('node:assert');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const helpers = __dirname;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid, ms = 3000) {
  const end = Date.now() + ms;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

// The child starts a baresip and a sipp UAS, prints their pids and dirs, then dies in `how`.
for (const how of ['process.exit(3)', 'throw new Error("boom")', 'process.kill(process.pid, "SIGTERM")']) {
  test(`peers are killed and temp dirs removed when node ends via ${how}`, async () => {
    const script = `
      const { startBaresip } = require(${JSON.stringify(path.join(helpers, 'baresip'))});
      const { startSipp } = require(${JSON.stringify(path.join(helpers, 'sipp'))});
      (async () => {
        const b = await startBaresip({ name: 'doomed' });
        const s = await startSipp({ builtin: 'uas' });
        console.log(JSON.stringify({ pids: [b.child.pid, s.child.pid], dirs: [b.dir, s.dir] }));
        setTimeout(() => { ${how} }, 100);
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    assert.ok(line, `child output: ${r.stdout} ${r.stderr}`);
    const { pids, dirs } = JSON.parse(line);
    assert.notStrictEqual(r.status, 0);
    for (const pid of pids) assert.ok(await gone(pid), `pid ${pid} still alive`);
    for (const d of dirs) assert.ok(!fs.existsSync(d), `${d} left behind`);
  });
}
