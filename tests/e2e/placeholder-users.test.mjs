// The spec's "Full Chat Integration Example" as it is written: Alice connects with her userId only and
// calls joinRoomWithUser with the userId of Bob, whom this server has never seen (his token has not
// reached it yet). CONTRACT §2: Bob is a placeholder user (name and avatar null) until his first token.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { ack, connected, RecordingChatClient } from './helpers.mjs';
import { makeUsers, REPO, startServer } from './server.mjs';

let server;
const clients = [];

before(async () => { server = await startServer(); });
after(async () => {
  for (const client of clients) client.disconnect();
  await server?.stop();
});

/** A token minted as an identity provider would, without telling the chat server (no database write). */
function mintElsewhere(userId, name) {
  const python = process.env.CHAT_E2E_PYTHON || join(REPO, '.venv', 'bin', 'python');
  const code = `from chat.tokens import issue_token; print(issue_token(${JSON.stringify(userId)}, name=${JSON.stringify(name)}))`;
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['manage.py', 'shell', '--no-imports', '-c', code], { cwd: REPO, env: server.env });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    child.stderr.on('data', (chunk) => { err += chunk; });
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve(out.trim().split('\n').at(-1)) : reject(new Error(err))));
  });
}

async function chatClient(userId, token) {
  const client = new RecordingChatClient(server.url, userId, token);
  clients.push(client);
  await connected(client.socket);
  return client;
}

test('Full Chat Integration Example: joinRoomWithUser with a user the server never saw', async (t) => {
  const [alice] = await makeUsers(server, 'Alice');
  const bobId = crypto.randomUUID();
  const a = await chatClient(alice.id, alice.token); // the spec's constructor: query { userId } only
  let chatHeaderId;

  await t.test('joinRoomWithUser answers the chat, Bob a placeholder', async () => {
    const { response, error } = await ack((cb) => a.joinRoomWithUser(bobId, (r, e) => cb({ response: r, error: e })));
    assert.equal(error, null, `joinRoomWithUser failed: ${error}`);
    chatHeaderId = response.chatHeaderId || response.chatHeader?.id;
    assert.equal(typeof chatHeaderId, 'number');
    assert.equal(response.joined, true);
    const bob = response.members.find((m) => m.userId === bobId);
    assert.deepEqual([bob.name, bob.avatar, bob.isOnline], [null, null, false]);
    assert.equal(response.chatHeader.name, null);
  });

  await t.test('the rest of the example works through', async () => {
    const sent = await ack((cb) => a.sendMessage(chatHeaderId, 'Hello, world!', 0, '', cb));
    assert.equal(sent.chatMessage.message, 'Hello, world!', JSON.stringify(sent));
    const page = await ack((cb) => a.getAllMessages(chatHeaderId, 0, 50, cb));
    assert.deepEqual(page.items.map((m) => m.message), ['Hello, world!']);
    const headers = await ack((cb) => a.getAllChatHeaders(0, 20, cb));
    assert.deepEqual(headers.items.map((h) => [h.id, h.name]), [[chatHeaderId, null]]);
    const friendships = await ack((cb) => a.getFriendshipsAndCreateChats(cb));
    assert.deepEqual(friendships, []);
    const typing = await ack((cb) => a.setTyping(chatHeaderId, true, 'Alice', cb));
    assert.equal(typing.error, undefined, JSON.stringify(typing));
    const read = await ack((cb) => a.markAsRead(chatHeaderId, cb));
    assert.equal(read.chatHeaderId, chatHeaderId, JSON.stringify(read));
  });

  await t.test("Bob's first token fills him in, and he finds the chat and the message", async () => {
    const bobToken = await mintElsewhere(bobId, 'Bob');
    const b = await chatClient(bobId, bobToken);
    const joined = await ack((cb) => b.joinRoomWithUser(alice.id, (r, e) => cb({ response: r, error: e })));
    assert.equal(joined.error, null);
    assert.equal(joined.response.chatHeaderId, chatHeaderId);
    assert.equal(joined.response.currentMember.name, 'Bob');
    const [member] = await a.log.next('onMemberJoin', (m) => m.userId === bobId);
    assert.equal(member.name, 'Bob');
    const page = await ack((cb) => b.getAllMessages(chatHeaderId, 0, 50, cb));
    assert.deepEqual(page.items.map((m) => [m.userId, m.message]), [[alice.id, 'Hello, world!']]);
    const reply = await ack((cb) => b.sendMessage(chatHeaderId, 'Hi Alice', 0, '', cb));
    assert.equal(reply.chatMessage.user.name, 'Bob');
    const [heard] = await a.log.next('message', (m) => m.chatMessage.userId === bobId);
    assert.equal(heard.chatMessage.message, 'Hi Alice');
    const headers = await ack((cb) => a.getAllChatHeaders(0, 20, cb));
    assert.deepEqual(headers.items.map((h) => [h.id, h.name]), [[chatHeaderId, 'Bob']]);
  });
});
