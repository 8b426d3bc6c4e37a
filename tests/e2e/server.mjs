// The chat server under test, and access tokens minted the way operators do (`manage.py issue_token`).
//
// With CHAT_E2E_URL set, the tests talk to that server (tokens are minted by the repo's manage.py with the
// caller's environment, so it must share CHAT_JWT_SECRET and DATABASE_URL with that server). Otherwise each
// test file starts its own: `manage.py migrate` on a fresh SQLite file in a temp dir, then uvicorn on a free
// loopback port with MEDIA_ROOT in that temp dir and the rate limit off.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PYTHON = process.env.CHAT_E2E_PYTHON || join(REPO, '.venv', 'bin', 'python');

function run(args, env, { timeoutMs = 60_000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(PYTHON, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    child.stderr.on('data', (chunk) => { err += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolvePromise(out.trim());
      else reject(new Error(`${args.join(' ')} exited ${code}: ${err.trim().slice(-2000)}`));
    });
  });
}

async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

async function waitHealthy(url, child, logPath, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the chat server did not become healthy; its log:\n${readFileSync(logPath, 'utf8').slice(-4000)}`);
}

/**
 * Start (or attach to) the server. Returns {url, env, mintToken(userId, name), stop()}.
 */
export async function startServer() {
  if (process.env.CHAT_E2E_URL) {
    const env = { ...process.env };
    return {
      url: process.env.CHAT_E2E_URL.replace(/\/$/, ''),
      env,
      mintToken: (userId, name) => mint(env, userId, name),
      stop: async () => {},
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'chat-e2e-'));
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite:///${join(dir, 'db.sqlite3')}`,
    MEDIA_ROOT: join(dir, 'media'),
    PUSH_FILE_PATH: join(dir, 'pushes.jsonl'),
    CHAT_RATE_LIMIT: '0',
    DJANGO_DEBUG: 'false',
    LOG_LEVEL: 'WARNING',
  };
  delete env.REDIS_URL; // one process: in-memory socket manager and presence
  await run(['manage.py', 'migrate', '--noinput'], env, { timeoutMs: 120_000 });
  const port = await freePort();
  const logPath = join(dir, 'server.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(
    PYTHON,
    ['-m', 'uvicorn', 'chat_project.asgi:application', '--host', '127.0.0.1', '--port', String(port),
      '--ws-per-message-deflate', 'false', '--log-level', 'warning'],
    { cwd: REPO, env, stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(url, child, logPath, 30_000);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    env,
    dir,
    logPath,
    mintToken: (userId, name) => mint(env, userId, name),
    async stop() {
      if (child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (!process.env.CHAT_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function mint(env, userId, name) {
  const args = ['manage.py', 'issue_token', userId];
  if (name) args.push('--name', name);
  return run(args, env);
}

/** New users with tokens: [{id, name, token}], minted in parallel. */
export async function makeUsers(server, ...names) {
  return Promise.all(names.map(async (name) => {
    const id = crypto.randomUUID();
    return { id, name, token: await server.mintToken(id, name) };
  }));
}
