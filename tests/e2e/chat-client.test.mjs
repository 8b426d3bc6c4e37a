// The spec's "Complete Code Examples" flow, driven through its own ChatClient class, as our users run it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { ack, connected, png, RecordingChatClient, rest } from './helpers.mjs';
import { makeUsers, startServer } from './server.mjs';

let server;
const clients = [];

before(async () => { server = await startServer(); });
after(async () => {
  for (const client of clients) client.disconnect();
  await server?.stop();
});

async function chatClient(user, options) {
  const client = new RecordingChatClient(server.url, user.id, user.token, options);
  clients.push(client);
  await connected(client.socket);
  return client;
}

/** The spec's joinRoomWithUser, awaited: its (response, error) callback as one object. */
const joinWithUser = (client, otherUserId) =>
  ack((cb) => client.joinRoomWithUser(otherUserId, (response, error) => cb({ response, error })));

const MESSAGE_DTO_KEYS = [
  'caption', 'chatHeaderId', 'clientMessageId', 'creationTime', 'id', 'isEdited', 'lastModificationTime',
  'message', 'messageType', 'reactions', 'replyTo', 'seq', 'user', 'userId',
].sort(); // seq, reactions, replyTo: CONTRACT §9

/** Make `a` and `b` accepted friends through the REST API; false when that API is not there. */
async function befriend(a, b) {
  const asked = await rest(server.url, 'POST', '/api/friendships', a.token, { userId: b.id });
  if (asked.status === 404 && typeof asked.body !== 'object') return false;
  assert.equal(asked.status, 201, JSON.stringify(asked.body));
  const accepted = await rest(server.url, 'POST', `/api/friendships/${a.id}/accept`, b.token);
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  return true;
}

for (const [aliceTransport, bobTransport] of [['default', 'websocket'], ['websocket', 'default']]) {
  const options = (name) => (name === 'websocket' ? { transports: ['websocket'] } : {});

  test(`ChatClient flow: Alice on ${aliceTransport}, Bob on ${bobTransport} transports`, async (t) => {
    const [alice, bob] = await makeUsers(server, 'Alice', 'Bob');
    const friends = await befriend(alice, bob);
    // The spec's ChatClient connects without a token; its events carry one and so bind the socket.
    const a = await chatClient(alice, options(aliceTransport));
    const b = await chatClient(bob, options(bobTransport));
    let chatHeaderId;
    let first;

    await t.test('joinRoomWithUser gets or creates the one-to-one chat and joins it', async () => {
      const { response, error } = await joinWithUser(a, bob.id);
      assert.equal(error, null);
      assert.equal(typeof response.chatHeaderId, 'number');
      chatHeaderId = response.chatHeaderId;
      assert.equal(response.joined, true);
      assert.equal(response.chatHeader.id, chatHeaderId);
      assert.equal(response.currentMember.userId, alice.id);
      assert.deepEqual(response.members.map((m) => m.userId).sort(), [alice.id, bob.id].sort());
      assert.deepEqual(response.roomMembers, response.members);
      assert.equal(response.friendshipStatus, friends ? 1 : null);
    });

    await t.test('joinRoom with the chatHeaderId; the other member hears onMemberJoin', async () => {
      const response = await ack((cb) => b.joinRoom(chatHeaderId, cb));
      assert.equal(response.joined, true, JSON.stringify(response));
      assert.equal(response.chatHeaderId, chatHeaderId);
      const [member] = await a.log.next('onMemberJoin', (m) => m.userId === bob.id);
      assert.equal(member.chatHeaderId, chatHeaderId);
      assert.equal(member.isViewingChat, true);
      assert.equal(a.hooks.onMemberJoined.at(-1).userId, bob.id);
    });

    await t.test('sendMessage (text, messageType 0): ack, then `message` on both sides', async () => {
      const sent = await ack((cb) => a.sendMessage(chatHeaderId, 'Hello, world!', 0, '', cb));
      first = sent.chatMessage;
      assert.deepEqual(Object.keys(first).sort(), MESSAGE_DTO_KEYS);
      assert.equal(first.message, 'Hello, world!');
      assert.equal(first.messageType, 0);
      assert.equal(first.userId, alice.id);
      assert.deepEqual(first.user, { id: alice.id, name: 'Alice', avatar: first.user.avatar });
      assert.match(first.creationTime, /Z$/);
      const [received] = await b.log.next('message', (m) => m.chatMessage.id === first.id);
      assert.deepEqual(received, { chatMessage: first });
      assert.deepEqual(b.hooks.onMessageReceived.at(-1), { chatMessage: first });
      await a.log.next('message', (m) => m.chatMessage.id === first.id); // the sender's own socket too
    });

    await t.test("the spec's fire-and-forget sendMessage (no ack) is delivered", async () => {
      a.sendMessage(chatHeaderId, 'no ack asked', 0);
      const [received] = await b.log.next('message', (m) => m.chatMessage.message === 'no ack asked');
      assert.equal(received.chatMessage.userId, alice.id);
    });

    await t.test("sendMessage's default messageType (1, audio) with plain text is invalid, and says why", async () => {
      const refused = await ack((cb) => a.sendMessage(chatHeaderId, 'Hello, world!', undefined, '', cb));
      assert.equal(refused.code, 'invalid', JSON.stringify(refused));
      assert.match(refused.error, /upload/i);
      // Without an ack callback (exactly the spec's `chat.sendMessage(456, 'Hello, world!')`) the error
      // arrives as an `exception` event naming the event.
      a.sendMessage(chatHeaderId, 'Hello, world!');
      const [exception] = await a.log.next('exception', (e) => e.event === 'createMessage');
      assert.equal(exception.code, 'invalid');
    });

    await t.test('getAllMessages: newest first, with totalCount', async () => {
      const page = await ack((cb) => b.getAllMessages(chatHeaderId, 0, 50, cb));
      assert.equal(page.totalCount, 2, JSON.stringify(page));
      assert.deepEqual(page.items.map((m) => m.message), ['no ack asked', 'Hello, world!']);
      assert.deepEqual(page.items[1], first);
      const one = await ack((cb) => b.getAllMessages(chatHeaderId, 1, 1, cb));
      assert.deepEqual(one.items.map((m) => m.id), [first.id]);
      assert.equal(one.totalCount, 2);
    });

    await t.test('getAllChatHeaders lists the chat with its last message and members', async () => {
      const headers = await ack((cb) => b.getAllChatHeaders(0, 20, cb));
      assert.equal(headers.totalCount, 1, JSON.stringify(headers));
      const [header] = headers.items;
      assert.equal(header.id, chatHeaderId);
      assert.equal(header.chatType, 0);
      assert.equal(header.lastMessage.message, 'no ack asked');
      assert.equal(header.unreadCount, 2);
      assert.deepEqual(header.members.map((m) => m.userId).sort(), [alice.id, bob.id].sort());
    });

    await t.test('updateMessage: the author edits; the room hears messageUpdated', async () => {
      const updated = await ack((cb) => a.updateMessage(first.id, chatHeaderId, 'Hello, edited world!', '', cb));
      assert.equal(updated.id, first.id, JSON.stringify(updated));
      assert.equal(updated.message, 'Hello, edited world!');
      assert.equal(updated.isEdited, true);
      assert.match(updated.lastModificationTime, /Z$/);
      const [heard] = await b.log.next('messageUpdated', (m) => m.id === first.id);
      assert.deepEqual(heard, updated);
      assert.deepEqual(b.hooks.onMessageUpdated.at(-1), updated);
      const notAuthor = await ack((cb) => b.updateMessage(first.id, chatHeaderId, 'not mine', '', cb));
      assert.equal(notAuthor.code, 'forbidden');
    });

    await t.test('setTyping: the other member hears typing with the stored name', async () => {
      a.setTyping(chatHeaderId, true, 'Whatever the client says');
      const [typing] = await b.log.next('typing', (d) => d.isTyping === true);
      assert.deepEqual(typing, { name: 'Alice', isTyping: true, chatHeaderId, userId: alice.id });
      assert.equal(b.hooks.onTyping.at(-1).isTyping, true);
      a.setTyping(chatHeaderId, false, 'Alice');
      const [stopped] = await b.log.next('typing', (d) => d.isTyping === false);
      assert.equal(stopped.userId, alice.id);
      await a.log.barrier();
      assert.deepEqual(a.log.all('typing'), [], 'the typist does not hear their own typing');
    });

    await t.test('markAsRead: ack with unreadCount 0; the room hears messageHasBeenRead (the chat id alone), then messageRead', async () => {
      const read = await ack((cb) => b.markAsRead(chatHeaderId, cb));
      assert.equal(read.chatHeaderId, chatHeaderId, JSON.stringify(read));
      assert.equal(read.unreadCount, 0);
      assert.equal(typeof read.lastReadMessageId, 'number');
      const args = await a.log.next('messageHasBeenRead', (id) => id === chatHeaderId);
      assert.deepEqual(args, [chatHeaderId]); // exactly one argument (CONTRACT §5)
      const [detail] = await a.log.next('messageRead', (d) => d.userId === bob.id);
      assert.deepEqual(detail, { chatHeaderId, userId: bob.id, lastReadMessageId: read.lastReadMessageId });
      assert.ok(a.hooks.onMessagesRead.includes(chatHeaderId));
    });

    await t.test('deleteMessage: messageDeleted (the id alone); gone from getAllMessages', async () => {
      const removed = await ack((cb) => a.deleteMessage(first.id, chatHeaderId, cb));
      assert.deepEqual(removed, { deletedIds: [first.id] });
      const args = await b.log.next('messageDeleted', (id) => id === first.id);
      assert.deepEqual(args, [first.id]); // exactly one argument (CONTRACT §5)
      assert.ok(b.hooks.onMessageDeleted.includes(first.id));
      const page = await ack((cb) => b.getAllMessages(chatHeaderId, 0, 50, cb));
      assert.equal(page.totalCount, 1);
      assert.ok(!page.items.some((m) => m.id === first.id));
    });

    await t.test('getMyFriendships (and the spec\'s getFriendshipsAndCreateChats)', async (st) => {
      const friendships = await ack((cb) => a.socket.emit('getMyFriendships', { accessToken: alice.token }, cb));
      assert.ok(Array.isArray(friendships), JSON.stringify(friendships));
      if (!friends) {
        assert.deepEqual(friendships, []);
        st.skip('REST /api/friendships is not there, so nobody could become friends');
        return;
      }
      assert.deepEqual(friendships, [
        // lastSeen: CONTRACT §9, null while online
        { userId: bob.id, name: 'Bob', avatar: friendships[0].avatar, isOnline: true, chatHeaderId, lastSeen: null },
      ]);
      const withChats = await ack((cb) => a.getFriendshipsAndCreateChats(cb));
      assert.equal(withChats[0].chatHeaderId, chatHeaderId);
    });

    await t.test('getMyChats: the one-to-one chat with the other user online', async () => {
      const chats = await ack((cb) => b.socket.emit('getMyChats', { accessToken: bob.token }, cb));
      assert.ok(Array.isArray(chats), JSON.stringify(chats));
      assert.equal(chats.length, 1);
      const [chat] = chats;
      assert.equal(chat.chatHeaderId, chatHeaderId);
      assert.equal(chat.userId, alice.id);
      assert.equal(chat.userName, 'Alice');
      assert.equal(chat.lastMessage, 'no ack asked');
      assert.match(chat.lastMessageTime, /Z$/);
      assert.match(chat.creationTime, /Z$/);
      assert.equal(chat.isOnline, true);
      assert.equal(chat.unreadCount, 0);
      assert.equal(chat.friendshipStatus, friends ? 1 : null);
    });

    await t.test('clientStatus: Bob leaving and coming back is announced to Alice', async () => {
      b.disconnect();
      const [offline] = await a.log.next('clientStatus', (s) => s.userId === bob.id && s.activeNow === false);
      assert.deepEqual(offline, { userId: bob.id, clientType: 'web', activeNow: false });
      assert.deepEqual(a.hooks.onUserStatusChanged.at(-1), offline);
      const back = await chatClient(bob, options(bobTransport));
      await ack((cb) => back.joinRoom(chatHeaderId, cb)); // the first event with a token binds the socket
      const [online] = await a.log.next('clientStatus', (s) => s.userId === bob.id && s.activeNow === true);
      assert.deepEqual(online, { userId: bob.id, clientType: 'web', activeNow: true });
      const chats = await ack((cb) => a.socket.emit('getMyChats', {}, cb));
      assert.equal(chats.find((c) => c.chatHeaderId === chatHeaderId).isOnline, true);
    });
  });
}

test('an image uploaded with fetch + FormData is sent as messageType 2', async (t) => {
  const [alice, bob] = await makeUsers(server, 'Alice', 'Bob');
  const form = new FormData();
  form.append('file', new Blob([png(40, 30)], { type: 'image/png' }), 'photo.png');
  form.append('messageType', 2);
  const uploaded = await rest(server.url, 'POST', '/api/chat/uploadFile', alice.token, form);
  if (uploaded.status === 404 && typeof uploaded.body !== 'object') {
    t.skip('POST /api/chat/uploadFile is not there yet');
    return;
  }
  assert.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
  assert.equal(uploaded.body.success, true);
  const filePath = uploaded.body.data;
  assert.match(filePath, /^\/uploads\/chat-messages\/images\/[^/]+\.webp$/);

  const served = await fetch(`${server.url}${filePath}`);
  assert.equal(served.status, 200);
  assert.equal(served.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(new TextDecoder().decode((await served.arrayBuffer()).slice(8, 12)), 'WEBP');

  const a = await chatClient(alice, { transports: ['websocket'] });
  const b = await chatClient(bob);
  const { response } = await joinWithUser(a, bob.id);
  const chatHeaderId = response.chatHeaderId;
  await ack((cb) => b.joinRoom(chatHeaderId, cb));
  const sent = await ack((cb) => a.sendMessage(chatHeaderId, filePath, 2, 'Check out this image!', cb));
  assert.equal(sent.chatMessage?.messageType, 2, JSON.stringify(sent));
  assert.equal(sent.chatMessage.message, filePath);
  assert.equal(sent.chatMessage.caption, 'Check out this image!');
  const [received] = await b.log.next('message', (m) => m.chatMessage.id === sent.chatMessage.id);
  assert.equal(received.chatMessage.message, filePath);

  // A path that was not uploaded, or was uploaded as another type, is refused.
  const forged = await ack((cb) => a.sendMessage(chatHeaderId, '/uploads/chat-messages/images/nope.webp', 2, '', cb));
  assert.equal(forged.code, 'invalid');
  const wrongType = await ack((cb) => a.sendMessage(chatHeaderId, filePath, 4, '', cb));
  assert.equal(wrongType.code, 'invalid');
});
