// The /demo/ client: a demo user's chats, one open chat, text and images, typing, read receipts, edits and
// deletes, over the same Socket.IO events and REST upload any client uses (see /docs/). No framework: the
// official socket.io browser client (served by this server from the npm package) and the DOM.
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('[name=csrfmiddlewaretoken]').value;

  let me = null; // {userId, name, accessToken}
  let socket = null;
  let openChat = null; // the open chat's id
  const chats = new Map(); // chat id -> ChatHeaderDto
  const online = new Map(); // user id -> bool
  const messages = new Map(); // message id -> MessageDto, of the open chat
  const readMarks = new Map(); // the open chat's other members: user id -> lastReadMessageId
  let typingSent = false;
  let typingTimer = null;
  const typers = new Map(); // user id -> [name, timer], in the open chat

  function status(text) { $('status').textContent = text || ''; }

  function call(event, payload) {
    return new Promise((resolve, reject) => {
      socket.timeout(10000).emit(event, payload, (err, ack) => {
        if (err) reject(new Error(`${event}: no answer`));
        else if (ack && ack.error) reject(new Error(`${event}: ${ack.code}: ${ack.error}`));
        else resolve(ack);
      });
    });
  }

  async function login(name) {
    const response = await fetch('token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf },
      body: JSON.stringify({ name }),
    });
    if (!response.ok) { status(`login failed: ${response.status}`); return; }
    me = await response.json();
    $('whoami').textContent = `as ${me.name}`;
    $('login').hidden = true;
    $('app').hidden = false;
    socket = io({ query: { userId: me.userId, clientType: 'web' }, auth: { accessToken: me.accessToken } });
    socket.on('connect', () => { status('connected'); loadChats().catch((e) => status(e.message)); });
    socket.on('connect_error', (e) => status(`connection error: ${e.message}`));
    socket.on('disconnect', (reason) => status(`disconnected (${reason})`));
    socket.on('message', ({ chatMessage }) => onMessage(chatMessage));
    socket.on('messageUpdated', (dto) => { if (messages.has(dto.id)) { messages.set(dto.id, dto); renderMessages(); } });
    socket.on('messageDeleted', (id) => { if (messages.delete(id)) renderMessages(); });
    socket.on('messageRead', ({ chatHeaderId, userId, lastReadMessageId }) => {
      if (chatHeaderId === openChat && userId !== me.userId) {
        readMarks.set(userId, Math.max(readMarks.get(userId) || 0, lastReadMessageId || 0));
        renderMessages();
      }
    });
    socket.on('typing', onTyping);
    socket.on('clientStatus', ({ userId, activeNow }) => { online.set(userId, activeNow); renderChats(); });
    socket.on('onMemberJoin', (member) => { online.set(member.userId, member.isOnline); renderChats(); });
    socket.on('exception', (e) => status(`${e.event}: ${e.code}: ${e.error}`));
  }

  async function loadChats() {
    const page = await call('findAllChatHeaders', { MaxResultCount: 50 });
    chats.clear();
    for (const header of page.items) {
      chats.set(header.id, header);
      for (const m of header.members) if (m.userId !== me.userId) online.set(m.userId, m.isOnline);
    }
    renderChats();
  }

  function others(header) { return header.members.filter((m) => m.userId !== me.userId); }

  function renderChats() {
    const list = $('chats');
    list.replaceChildren();
    for (const header of chats.values()) {
      const li = document.createElement('li');
      li.dataset.testid = `chat-${header.id}`;
      li.className = header.id === openChat ? 'open' : '';
      const dot = document.createElement('span');
      const anyOnline = others(header).some((m) => online.get(m.userId));
      dot.className = anyOnline ? 'dot online' : 'dot';
      dot.dataset.testid = `online-${header.id}`;
      dot.title = anyOnline ? 'online' : 'offline';
      const name = document.createElement('span');
      name.textContent = header.name || `Chat ${header.id}`;
      const unread = document.createElement('span');
      unread.className = 'unread';
      unread.dataset.testid = `unread-${header.id}`;
      unread.dataset.count = String(header.unreadCount);
      unread.textContent = header.unreadCount ? String(header.unreadCount) : '';
      li.append(dot, name, unread);
      li.addEventListener('click', () => open(header.id).catch((e) => status(e.message)));
      list.append(li);
    }
  }

  async function open(chatId) {
    if (openChat !== null && openChat !== chatId) {
      await stopTyping();
      call('leaveRoom', { chatHeaderId: openChat }).catch(() => {});
    }
    openChat = chatId;
    messages.clear();
    readMarks.clear();
    typers.clear();
    renderTyping();
    const joined = await call('joinRoom', { chatHeaderId: chatId });
    for (const m of joined.roomMembers) {
      if (m.userId !== me.userId) readMarks.set(m.userId, m.lastReadMessageId || 0);
      online.set(m.userId, m.userId === me.userId || m.isOnline);
    }
    const header = chats.get(chatId) || joined.chatHeader;
    $('chat-title').textContent = header.name || `Chat ${chatId}`;
    const page = await call('findAllMessages', { chatHeaderId: chatId, maxResultCount: 50 });
    for (const dto of page.items.slice().reverse()) messages.set(dto.id, dto);
    $('composer').hidden = false;
    renderMessages();
    renderChats();
    await markRead();
  }

  async function markRead() {
    if (openChat === null) return;
    const last = [...messages.values()].pop();
    const header = chats.get(openChat);
    if (!last || (header && header.unreadCount === 0 && last.userId === me.userId)) return;
    await call('readMessage', { chatHeaderId: openChat });
    if (header) { header.unreadCount = 0; renderChats(); }
  }

  function onMessage(dto) {
    if (dto.chatHeaderId === openChat) {
      messages.set(dto.id, dto);
      typers.delete(dto.userId);
      renderTyping();
      renderMessages();
      if (dto.userId !== me.userId) markRead().catch((e) => status(e.message));
      return;
    }
    const header = chats.get(dto.chatHeaderId);
    if (!header) { loadChats().catch(() => {}); return; }
    if (dto.userId !== me.userId) header.unreadCount += 1;
    header.lastMessage = dto;
    renderChats();
  }

  function isRead(dto) {
    for (const last of readMarks.values()) if (last >= dto.id) return true;
    return false;
  }

  function renderMessages() {
    const list = $('messages');
    list.replaceChildren();
    for (const dto of messages.values()) {
      const mine = dto.userId === me.userId;
      const li = document.createElement('li');
      li.dataset.testid = `message-${dto.id}`;
      li.className = mine ? 'mine' : '';
      const who = document.createElement('div');
      who.className = 'who';
      who.textContent = mine ? 'you' : (dto.user.name || dto.userId);
      li.append(who);
      if (dto.messageType === 2) {
        const img = document.createElement('img');
        img.src = dto.message;
        img.alt = dto.caption || 'image';
        img.dataset.testid = `image-${dto.id}`;
        li.append(img);
      } else {
        const text = document.createElement('div');
        text.className = 'text';
        text.dataset.testid = `text-${dto.id}`;
        text.textContent = dto.message;
        li.append(text);
      }
      const meta = document.createElement('div');
      meta.className = 'meta';
      meta.textContent = new Date(dto.creationTime).toLocaleTimeString() + (dto.isEdited ? ' · edited' : '');
      if (mine) {
        const receipt = document.createElement('span');
        receipt.dataset.testid = `receipt-${dto.id}`;
        receipt.textContent = isRead(dto) ? ' · ✓✓ read' : ' · ✓ sent';
        receipt.dataset.read = String(isRead(dto));
        meta.append(receipt);
        if (dto.messageType === 0) meta.append(' ', button('edit', `edit-${dto.id}`, () => edit(dto)));
        meta.append(' ', button('delete', `delete-${dto.id}`, () => remove(dto)));
      }
      li.append(meta);
      list.append(li);
    }
    list.scrollTop = list.scrollHeight;
  }

  function button(label, testid, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.testid = testid;
    b.addEventListener('click', () => onClick().catch((e) => status(e.message)));
    return b;
  }

  async function edit(dto) {
    const text = window.prompt('Edit the message', dto.message);
    if (text === null || text.trim() === '' || text === dto.message) return;
    const updated = await call('updateMessage', { id: dto.id, chatHeaderId: dto.chatHeaderId, message: text });
    messages.set(updated.id, updated);
    renderMessages();
  }

  async function remove(dto) {
    await call('removeMessage', { id: dto.id, chatHeaderId: dto.chatHeaderId });
    messages.delete(dto.id);
    renderMessages();
  }

  function onTyping({ name, isTyping, chatHeaderId, userId }) {
    if (chatHeaderId !== openChat || userId === me.userId) return;
    clearTimeout((typers.get(userId) || [])[1]);
    if (isTyping) typers.set(userId, [name, setTimeout(() => { typers.delete(userId); renderTyping(); }, 8000)]);
    else typers.delete(userId);
    renderTyping();
  }

  function renderTyping() {
    const names = [...typers.values()].map(([name]) => name);
    $('typing').textContent = names.length ? `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'} typing…` : '';
  }

  async function startTyping() {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => stopTyping().catch(() => {}), 3000);
    if (typingSent || openChat === null) return;
    typingSent = true;
    await call('roomTyping', { chatHeaderId: openChat, isTyping: true, name: me.name });
  }

  async function stopTyping() {
    clearTimeout(typingTimer);
    if (!typingSent || openChat === null) return;
    typingSent = false;
    await call('roomTyping', { chatHeaderId: openChat, isTyping: false, name: me.name });
  }

  async function send(event) {
    event.preventDefault();
    const input = $('text');
    const text = input.value;
    if (!text.trim() || openChat === null) return;
    input.value = '';
    await stopTyping();
    const ack = await call('createMessage', {
      chatHeaderId: openChat, message: text, messageType: 0, clientMessageId: crypto.randomUUID(),
    });
    onMessage(ack.chatMessage);
  }

  async function upload() {
    const file = $('image').files[0];
    if (!file || openChat === null) return;
    status(`uploading ${file.name}…`);
    const form = new FormData();
    form.append('messageType', '2');
    form.append('file', file);
    const response = await fetch('/api/chat/uploadFile', {
      method: 'POST', headers: { Authorization: `Bearer ${me.accessToken}` }, body: form,
    });
    const body = await response.json();
    if (!body.success) throw new Error(`upload: ${body.code}: ${body.message}`);
    const ack = await call('createMessage', {
      chatHeaderId: openChat, message: body.data, messageType: 2, clientMessageId: crypto.randomUUID(),
    });
    $('image').value = '';
    status('');
    onMessage(ack.chatMessage);
  }

  for (const pick of document.querySelectorAll('.pick')) {
    pick.addEventListener('click', () => login(pick.dataset.user).catch((e) => status(e.message)));
  }
  $('composer').addEventListener('submit', (e) => send(e).catch((err) => status(err.message)));
  $('text').addEventListener('input', () => startTyping().catch((e) => status(e.message)));
  $('image').addEventListener('change', () => upload().catch((e) => status(e.message)));
  document.addEventListener('visibilitychange', () => { if (!document.hidden) markRead().catch(() => {}); });
})();
