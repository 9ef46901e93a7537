'use strict';
// Starts a real durod (DURO_BIN, default build/durod) on a free loopback port with a
// temporary data dir, for the JS SDK tests; stop() kills only that process.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = process.env.DURO_BIN || path.join(ROOT, 'build', 'durod');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startDurod(args = []) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durojs-'));
    const proc = spawn(BIN, ['--listen', `127.0.0.1:${port}`, '--rpc-port', '0', '--data', dir,
      '--log-level', 'warn', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => { stderr += d; });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && proc.exitCode === null) {
      try {
        const r = await fetch(`${url}/healthz`);
        if (r.status === 200) {
          return {
            url, port, dir,
            async stop() {
              if (proc.exitCode === null) {
                const done = new Promise((r2) => proc.once('exit', r2));
                proc.kill('SIGTERM');
                await done;
              }
              fs.rmSync(dir, { recursive: true, force: true });
            },
          };
        }
      } catch (_) { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    if (!/not available|cannot listen/.test(stderr) || attempt === 2) {
      throw new Error(`durod did not start: ${stderr.slice(-2000)}`);
    }
  }
  throw new Error('unreachable');
}

module.exports = { startDurod, ROOT };
