'use strict';
// Child-process bookkeeping shared by the peer helpers: every peer a test
// starts is registered here and SIGKILLed when node exits, however it exits
// (normal end, uncaught error, SIGINT/SIGTERM from the test runner).
// Peers additionally get their own self-destruct timer (baresip -t,
// sipp -timeout) for the case where node itself is SIGKILLed.
const { spawn } = require('node:child_process');
const fs = require('node:fs');

const live = new Set();
const tempDirs = new Set();
let hooked = false;

function keepTemp() {
  return !!process.env.ESBC_KEEP_TMP;
}

function killAll() {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
  live.clear();
  if (!keepTemp()) for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
}

function hook() {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      killAll();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

/**
 * spawn() with stdout/stderr captured into `child.log` (a string, also
 * appended to logFile if given) and an `exited` promise of { code, signal }.
 */
function spawnTracked(cmd, args, { cwd, env, logFile } = {}) {
  hook();
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.log = '';
  const onData = (d) => {
    const s = d.toString();
    child.log += s;
    if (logFile) fs.appendFileSync(logFile, s);
    child.emit('log', s);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  live.add(child);
  child.exited = new Promise((resolve) => {
    child.once('error', (err) => {
      live.delete(child);
      resolve({ code: -1, signal: null, error: err });
    });
    child.once('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return child;
}

/** Wait up to graceMs for the child to exit, then SIGTERM, then SIGKILL. */
async function stopChild(child, graceMs = 2000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return child && child.exited;
  const wait = (ms) => Promise.race([child.exited, new Promise((r) => setTimeout(r, ms, 'timeout'))]);
  if ((await wait(graceMs)) !== 'timeout') return child.exited;
  child.kill('SIGTERM');
  if ((await wait(1000)) !== 'timeout') return child.exited;
  child.kill('SIGKILL');
  return child.exited;
}

/** Register a temp dir to be removed at exit (unless ESBC_KEEP_TMP is set). */
function trackTempDir(dir) {
  hook();
  tempDirs.add(dir);
}

function removeTempDir(dir) {
  tempDirs.delete(dir);
  if (!keepTemp()) fs.rmSync(dir, { recursive: true, force: true });
}

module.exports = { spawnTracked, stopChild, trackTempDir, removeTempDir, killAll, live };
