// /demo/ in headless Chromium (Debian's chromium, driven by playwright-core, pinned in package-lock.json):
// two browser contexts log in as two demo users and chat. A message typed in one appears in the other, the
// typing indicator shows, the read receipt comes back, an uploaded image shows as an image, an edit and a
// delete reach the other side. A screenshot of each side is saved under test-results/demo-browser/
// (E2E_OUTPUT_DIR to put it elsewhere). Skipped, with the reason, only where there is no Chromium
// (`make chromium` installs it as root).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deflateSync } from 'node:zlib';

import { chromium } from 'playwright-core';

import { REPO, startServer } from './server.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const OUTPUT = process.env.E2E_OUTPUT_DIR || join(REPO, 'test-results', 'demo-browser');
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (make chromium, as root, installs Debian's)`;
if (skip) console.log(`# demo-browser: SKIPPED: ${skip}`);

process.env.CHAT_DEMO_ENABLED = 'true';

let server;
let browser;

before(async () => {
  if (skip) return;
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** CRC-32 (IEEE) of a PNG chunk: node:zlib's crc32 needs Node 20.15, the Makefile asks for 20. */
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A 24x24 PNG of one colour, made here (the upload is re-encoded to WebP by the server). */
function png(size, [r, g, b]) {
  const row = Buffer.alloc(1 + size * 3);
  for (let x = 0; x < size; x += 1) row.set([r, g, b], 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: size }, () => row));
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function logIn(name) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${server.url}/demo/`);
  await page.getByTestId(`login-${name}`).click();
  await page.getByTestId('status').filter({ hasText: 'connected' }).waitFor();
  return { page, errors };
}

async function openChatNamed(page, name) {
  await page.locator('#chats li', { hasText: name }).click();
  await page.getByTestId('text').waitFor();
}

test('two demo users chat in Chromium: text, typing, read receipt, image, edit, delete', { skip, timeout: 60_000 }, async (t) => {
  if ((await fetch(`${server.url}/demo/`)).status === 404) {
    t.skip('the server under test has the demo off (CHAT_DEMO_ENABLED)'); // only with CHAT_E2E_URL
    return;
  }
  const sides = {};
  try {
    await chat(sides);
  } finally {
    // Even after a failure: the screenshots show where it stopped.
    mkdirSync(OUTPUT, { recursive: true });
    for (const [name, side] of Object.entries(sides)) {
      await side.page.screenshot({ path: join(OUTPUT, `${name}.png`) }).catch((error) => console.log(`# screenshot of ${name}: ${error.message}`));
    }
  }
  assert.deepEqual([...sides.alice.errors, ...sides.bob.errors], []);
});

async function chat(sides) {
  const alice = (sides.alice = await logIn('Alice'));
  const bob = (sides.bob = await logIn('Bob'));

  // The seeded one-to-one chat is named after the other side; Bob is online, so Alice sees a green dot.
  const aliceChat = alice.page.locator('#chats li', { hasText: 'Bob' });
  await aliceChat.locator('.dot.online').waitFor();
  await openChatNamed(alice.page, 'Bob');
  await openChatNamed(bob.page, 'Alice');
  await bob.page.locator('#messages li', { hasText: 'Great, trying the new chat server.' }).waitFor();

  // Typing shows on the other side, then the message arrives there.
  await alice.page.getByTestId('text').pressSequentially('Hello from Chromium', { delay: 20 });
  await bob.page.getByTestId('typing').filter({ hasText: 'Alice is typing' }).waitFor();
  await alice.page.getByTestId('send').click();
  const received = bob.page.locator('#messages li', { hasText: 'Hello from Chromium' });
  await received.waitFor();
  assert.equal(await received.getAttribute('class'), '');
  await bob.page.getByTestId('typing').filter({ hasText: /^$/ }).waitFor({ state: 'attached' });

  // Bob has the chat open, so he reads it: Alice's message turns "read".
  const sent = alice.page.locator('#messages li.mine', { hasText: 'Hello from Chromium' });
  await sent.locator('[data-read="true"]').waitFor();
  assert.match(await sent.locator('[data-testid^="receipt-"]').textContent(), /read/);

  // An image: uploaded by Alice, shown (decoded, not a broken icon) on Bob's side.
  await alice.page.getByTestId('image').setInputFiles({ name: 'square.png', mimeType: 'image/png', buffer: png(24, [220, 40, 40]) });
  const image = bob.page.locator('#messages img').last();
  await image.waitFor();
  await bob.page.waitForFunction(() => {
    const images = document.querySelectorAll('#messages img');
    const last = images[images.length - 1];
    return last && last.complete && last.naturalWidth > 0;
  });
  assert.match(await image.getAttribute('src'), /^\/uploads\/chat-messages\/.+\.webp$/);

  // An edit and a delete reach the other side too.
  alice.page.once('dialog', (dialog) => dialog.accept('Hello from Chromium, edited'));
  await sent.locator('[data-testid^="edit-"]').click();
  await bob.page.locator('#messages li', { hasText: 'Hello from Chromium, edited' }).locator('.meta', { hasText: 'edited' }).waitFor();
  const first = bob.page.locator('#messages li', { hasText: 'Hi Bob!' });
  await first.waitFor();
  await alice.page.locator('#messages li.mine', { hasText: 'Hi Bob!' }).locator('[data-testid^="delete-"]').click();
  await first.waitFor({ state: 'detached' });
}
