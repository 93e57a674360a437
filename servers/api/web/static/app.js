// The reference chat page of the API server: log in, conversations, answers streamed over Server-Sent Events.
// Plain browser JavaScript with no build step; the README's "Frontend" section documents the same contract.

const TOKENS_KEY = 'dnaforca.tokens';
const $ = (id) => document.getElementById(id);

let tokens = JSON.parse(sessionStorage.getItem(TOKENS_KEY) || 'null');
let conversationId = null;
let answering = false;

// ---- HTTP -------------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function errorOf(response) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
  } catch { /* not JSON */ }
  return new ApiError(response.status, detail);
}

function saveTokens(value) {
  tokens = value;
  if (value) sessionStorage.setItem(TOKENS_KEY, JSON.stringify(value));
  else sessionStorage.removeItem(TOKENS_KEY);
}

async function refreshTokens() {
  const response = await fetch('/auth/refresh', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: tokens.refresh_token }),
  });
  if (!response.ok) return false;
  saveTokens(await response.json());
  return true;
}

// A call with the access token; an expired one is refreshed once (refresh tokens are one-use), else log in again.
async function api(path, options = {}) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const headers = { ...options.headers, Authorization: `Bearer ${tokens.access_token}` };
    const response = await fetch(path, { ...options, headers });
    if (response.status !== 401) return response;
    if (attempt === 0 && await refreshTokens()) continue;
    showLogin('Sua sessão expirou. Entre novamente.');
    throw new ApiError(401, 'Sessão expirada');
  }
}

async function apiJson(path, options) {
  const response = await api(path, options);
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

// Server-Sent Events from a fetch body: EventSource cannot POST. Calls onEvent(name, data) per event.
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length) onEvent(name, JSON.parse(data.join('\n')));
    }
  }
}

// ---- Rendering --------------------------------------------------------------------------------------------

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

let messageCount = 0;

function addMessage(role) {
  messageCount += 1;
  const node = element('article', { class: `message ${role}`, 'data-role': role, id: `mensagem-${messageCount}` });
  $('messages').append(node);
  return node;
}

function sourceAnchor(message, number) {
  return `${message.id}-fonte-${number}`;
}

// The answer's text with each [n] turned into a link to source n of the same message.
function renderAnswer(message, text) {
  let answer = message.querySelector('.answer');
  if (!answer) {
    answer = element('div', { class: 'answer' });
    message.prepend(answer);
  }
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    parts.push(text.slice(last, match.index));
    parts.push(element('a', { class: 'marker', href: `#${sourceAnchor(message, match[1])}`, text: match[0] }));
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  answer.replaceChildren(...parts);
  scrollToEnd();
}

async function download(source, link) {
  try {
    const response = await api(`/materials/${encodeURIComponent(source.material_id)}/file`);
    if (response.status === 403) throw new ApiError(403, 'o arquivo só pode ser baixado pela equipe do curso');
    if (!response.ok) throw await errorOf(response);
    const url = URL.createObjectURL(await response.blob());
    const save = element('a', { href: url, download: source.source });
    save.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    link.after(element('span', { class: 'error', text: ` Não foi possível baixar: ${error.message}` }));
  }
}

// A source's link: its Google Drive page when it has one, else the API server's download route.
function sourceLink(source) {
  if (source.url) {
    return element('a', { href: source.url, target: '_blank', rel: 'noopener noreferrer', text: 'abrir no Drive' });
  }
  const link = element('a', { href: `/materials/${encodeURIComponent(source.material_id)}/file`, text: 'baixar' });
  link.addEventListener('click', (event) => { event.preventDefault(); download(source, link); });
  return link;
}

function renderSources(message, sources) {
  message.querySelector('.sources')?.remove();
  if (!sources.length) return;
  const list = element('ol', { class: 'sources' }, element('h3', { text: 'Fontes' }));
  sources.forEach((source, index) => {
    const where = source.location || (source.page ? `p. ${source.page}` : '');
    list.append(element('li', { id: sourceAnchor(message, index + 1) },
      element('strong', { class: 'file', text: source.source }),
      where ? element('span', { class: 'location', text: ` — ${where}` }) : '',
      ' · ', sourceLink(source),
      element('details', {}, element('summary', { text: 'trecho' }), source.text)));
  });
  message.append(list);
}

// What failed is told in pt-BR; the server's own detail (in English) follows for whoever reports it.
function showFailure(message, detail) {
  message.dataset.state = 'error';
  message.append(element('p', { class: 'failure', role: 'alert' },
    'Não foi possível concluir a resposta. Tente novamente em instantes.',
    element('small', { class: 'detail', text: ` (${detail})` })));
}

function scrollToEnd() {
  const messages = $('messages');
  messages.scrollTop = messages.scrollHeight;
}

// ---- Conversations ----------------------------------------------------------------------------------------

async function loadConversations() {
  const conversations = await apiJson('/conversations');
  $('conversations').replaceChildren(...conversations.map((conversation) => {
    const link = element('a', { href: `#${conversation.id}`, 'data-id': conversation.id, text: conversation.title });
    if (conversation.id === conversationId) {
      link.setAttribute('aria-current', 'true');
      $('conversation-title').textContent = conversation.title;
    }
    link.addEventListener('click', (event) => { event.preventDefault(); openConversation(conversation.id); });
    return element('li', {}, link);
  }));
}

async function openConversation(id) {
  if (answering) return;
  const conversation = await apiJson(`/conversations/${encodeURIComponent(id)}`);
  conversationId = conversation.id;
  $('conversation-title').textContent = conversation.title;
  $('messages').replaceChildren();
  for (const stored of conversation.messages) {
    const message = addMessage(stored.role);
    if (stored.role === 'user') {
      message.textContent = stored.content;
    } else {
      message.dataset.state = 'done';
      renderAnswer(message, stored.content);
      renderSources(message, stored.sources);
    }
  }
  await loadConversations();
}

function newConversation() {
  if (answering) return;
  conversationId = null;
  $('conversation-title').textContent = 'Nova conversa';
  $('messages').replaceChildren();
  for (const link of document.querySelectorAll('#conversations a')) link.removeAttribute('aria-current');
  $('question').focus();
}

// ---- Asking -----------------------------------------------------------------------------------------------

async function ask(question) {
  answering = true;
  $('send').disabled = true;
  addMessage('user').textContent = question;
  const message = addMessage('assistant');
  message.dataset.state = 'streaming';
  renderAnswer(message, '');
  let text = '';
  try {
    const response = await api('/chat-auth', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ message: question, conversation_id: conversationId }),
    });
    if (!response.ok) throw await errorOf(response);
    await readEvents(response, (name, data) => {
      if (name === 'sources') {
        renderSources(message, data.sources);
      } else if (name === 'token') {
        text += data.text;
        renderAnswer(message, text);
      } else if (name === 'done') {
        conversationId = data.conversation_id;
        renderAnswer(message, data.answer);
        renderSources(message, data.sources);
        message.dataset.state = 'done';
      } else if (name === 'error') {
        showFailure(message, data.detail);
      }
    });
    if (message.dataset.state === 'streaming') showFailure(message, 'the stream ended before `done`');
  } catch (error) {
    if (message.dataset.state !== 'error') showFailure(message, error.message);
  } finally {
    answering = false;
    $('send').disabled = false;
  }
  if (message.dataset.state === 'done') await loadConversations();
}

// ---- Session ----------------------------------------------------------------------------------------------

function showLogin(reason = '') {
  saveTokens(null);
  $('chat-view').hidden = true;
  $('account').hidden = true;
  $('login-view').hidden = false;
  $('login-error').hidden = !reason;
  $('login-error').textContent = reason;
}

async function showChat() {
  const me = await apiJson('/auth/me');
  $('account-email').textContent = me.email;
  $('account').hidden = false;
  $('login-view').hidden = true;
  $('chat-view').hidden = false;
  newConversation();
  await loadConversations();
}

async function logIn(event) {
  event.preventDefault();
  const response = await fetch('/auth/login', { method: 'POST', body: new URLSearchParams(new FormData(event.target)) });
  if (!response.ok) {
    const error = await errorOf(response);
    showLogin(response.status === 401 ? 'E-mail ou senha incorretos.' : `Não foi possível entrar: ${error.message}`);
    return;
  }
  saveTokens(await response.json());
  event.target.reset();
  await showChat();
}

async function logOut() {
  await api('/auth/logout', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ refresh_token: tokens.refresh_token }),
  }).catch(() => {});
  showLogin();
}

$('login-form').addEventListener('submit', logIn);
$('logout').addEventListener('click', logOut);
$('new-conversation').addEventListener('click', newConversation);
$('ask-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const question = $('question').value.trim();
  if (!question || answering) return;
  $('question').value = '';
  ask(question);
});
$('question').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    $('ask-form').requestSubmit();
  }
});

if (tokens) showChat().catch(() => showLogin());
else showLogin();
