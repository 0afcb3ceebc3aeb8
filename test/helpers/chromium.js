'use strict';
// Headless Debian Chromium driven by playwright-core (no bundled browser), for
// the WebRTC tests: serves test/webrtc/page/softphone.js (JsSIP bundled with
// esbuild) on 127.0.0.1 (a secure context, so getUserMedia works) and opens it
// with a fake microphone playing `audioFile` (16-bit PCM WAV).
// Flags: the fake device / auto-granted permission, loopback ICE candidates, and
// no background networking (this machine has no outside network).
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.ESBC_CHROMIUM || '/usr/bin/chromium';
const PAGE = path.join(__dirname, '..', 'webrtc', 'page', 'softphone.js');

function available() {
  return fs.existsSync(CHROMIUM);
}

async function bundle() {
  const r = await esbuild.build({ entryPoints: [PAGE], bundle: true, write: false, format: 'iife', platform: 'browser', target: 'chrome120', logLevel: 'silent' });
  return r.outputFiles[0].text;
}

/**
 * Starts Chromium on the softphone page; returns { page, stop(), consoleLines }.
 * `extraArgs`: more Chromium flags (e.g. --ignore-certificate-errors for a
 * WSS server with a self-signed test certificate).
 */
async function startSoftphone({ audioFile, extraArgs = [] }) {
  const js = await bundle();
  const server = http.createServer((req, res) => {
    if (req.url === '/softphone.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript' });
      return res.end(js);
    }
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><html><body><script src="/softphone.js"></script></body></html>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const userDataDir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'esbc-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-audio-capture=${audioFile}`,
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      ...extraArgs,
    ],
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForFunction(() => !!window.softphone);
  return {
    page,
    consoleLines,
    async stop() {
      await browser.close().catch(() => undefined);
      server.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

module.exports = { available, startSoftphone, CHROMIUM };
