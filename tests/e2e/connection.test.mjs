// Connecting as the spec's examples do (CONTRACT §3), with the official socket.io-client.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { io } from 'socket.io-client';

import { ack, connected, EventLog, RecordingChatClient } from './helpers.mjs';
import { makeUsers, startServer } from './server.mjs';

let server;
const sockets = [];

before(async () => { server = await startServer(); });
after(async () => {
  for (const socket of sockets) socket.disconnect();
  await server?.stop();
});

function track(client) {
  sockets.push(client.socket ?? client);
  return client;
}

test("the spec's ChatClient connects with the default transports: polling, then upgraded to WebSocket", async () => {
  const [alice] = await makeUsers(server, 'Alice');
  const chat = track(new RecordingChatClient(server.url, alice.id, alice.token));
  await connected(chat.socket);
  const engine = chat.socket.io.engine;
  if (engine.transport.name !== 'websocket') {
    assert.equal(engine.transport.name, 'polling');
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no upgrade to websocket within 5 s')), 5000);
      engine.once('upgrade', () => { clearTimeout(timer); resolve(); });
    });
  }
  assert.equal(engine.transport.name, 'websocket');
});

test('a WebSocket-only client (as Flutter apps connect) works without polling', async () => {
  const [alice] = await makeUsers(server, 'Alice');
  const chat = track(new RecordingChatClient(server.url, alice.id, alice.token, { transports: ['websocket'] }));
  await connected(chat.socket);
  assert.equal(chat.socket.io.engine.transport.name, 'websocket');
});

test('a token in the handshake (auth.accessToken) is accepted; a wrong one is refused with a reason', async () => {
  const [alice, bob] = await makeUsers(server, 'Alice', 'Bob');
  const good = track(io(server.url, {
    query: { userId: alice.id }, auth: { accessToken: alice.token }, transports: ['websocket'], reconnection: false,
  }));
  await connected(good);

  const wrongUser = track(io(server.url, {
    query: { userId: alice.id }, auth: { accessToken: bob.token }, transports: ['websocket'], reconnection: false,
  }));
  await assert.rejects(connected(wrongUser), (error) => {
    assert.match(error.message, /another user/);
    return true;
  });

  const noUserId = track(io(server.url, { transports: ['websocket', 'polling'], reconnection: false }));
  await assert.rejects(connected(noUserId), /userId/);
});

test("the spec's Basic Connection (no token) is accepted, hears nothing, and is bound by an event carrying the token", async () => {
  const [alice, bob] = await makeUsers(server, 'Alice', 'Bob');
  // Bob is connected and verified, and shares a chat with Alice.
  const bobClient = track(new RecordingChatClient(server.url, bob.id, bob.token, { transports: ['websocket'] }));
  await connected(bobClient.socket);
  const joined = await ack((cb) => bobClient.joinRoomWithUser(alice.id, (response, error) => cb({ response, error })));
  assert.equal(joined.error, null);
  const chatHeaderId = joined.response.chatHeaderId;

  // Exactly the spec's "Basic Connection" snippet.
  const socket = track(io(server.url, {
    query: { userId: alice.id },
    transports: ['websocket', 'polling'],
    reconnection: false,
  }));
  const aliceLog = new EventLog(socket);
  await connected(socket);

  // Unverified: an event without a token is refused, and nothing about Alice is announced.
  const refused = await ack((cb) => socket.emit('getMyChats', {}, cb));
  assert.equal(refused.code, 'unauthorized');
  const early = await ack((cb) => socket.emit('joinRoom', { chatHeaderId }, cb));
  assert.equal(early.code, 'unauthorized');
  await ack((cb) => bobClient.sendMessage(chatHeaderId, 'before Alice is verified', 0, '', cb));
  await Promise.all([aliceLog.barrier(), bobClient.log.barrier()]);
  assert.deepEqual(aliceLog.all('message'), []);
  assert.deepEqual(bobClient.log.all('clientStatus', (s) => s.userId === alice.id), []);

  // The first event that carries her token binds the socket: she comes online at that moment.
  const chats = await ack((cb) => socket.emit('getMyChats', { accessToken: alice.token }, cb));
  assert.ok(Array.isArray(chats), JSON.stringify(chats));
  assert.deepEqual(chats.map((c) => c.chatHeaderId), [chatHeaderId]);
  const [status] = await bobClient.log.next('clientStatus', (s) => s.userId === alice.id);
  assert.deepEqual(status, { userId: alice.id, clientType: 'web', activeNow: true });

  // From now on the socket's identity serves events without a token.
  const join = await ack((cb) => socket.emit('joinRoom', { chatHeaderId }, cb));
  assert.equal(join.joined, true, JSON.stringify(join));
  const sent = await ack((cb) => bobClient.sendMessage(chatHeaderId, 'now she hears', 0, '', cb));
  const [heard] = await aliceLog.next('message', (m) => m.chatMessage.id === sent.chatMessage.id);
  assert.equal(heard.chatMessage.message, 'now she hears');

  socket.disconnect();
  const [offline] = await bobClient.log.next('clientStatus', (s) => s.userId === alice.id && !s.activeNow);
  assert.deepEqual(offline, { userId: alice.id, clientType: 'web', activeNow: false });
});
