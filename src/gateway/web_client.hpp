#pragma once
// The small web client served at "/": sign up, log in, chat 1:1, see the
// conversation list. It speaks only docs/PROTOCOL.md, like any other client.

#include <string_view>

namespace parley::gateway {

inline constexpr std::string_view kWebClientHtml = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley</title>
<style>
 body{font:15px system-ui,sans-serif;margin:0;display:flex;height:100vh}
 #side{width:260px;border-right:1px solid #ddd;padding:12px;overflow:auto}
 #main{flex:1;display:flex;flex-direction:column}
 #log{flex:1;overflow:auto;padding:12px}
 .m{margin:4px 0}.me{color:#064}.sys{color:#888;font-size:13px}
 input,button{font:inherit;margin:2px 0}
 form{padding:8px;border-top:1px solid #ddd;display:flex;gap:6px}
 #text{flex:1}
</style></head><body>
<div id="side">
 <h3>Parley</h3>
 <div id="auth">
  <input id="user" placeholder="username"><br>
  <input id="pass" type="password" placeholder="password (8+)"><br>
  <button id="signup">Sign up</button> <button id="login">Log in</button>
 </div>
 <div id="who" class="sys"></div>
 <h4>Conversations</h4><div id="convs" class="sys">—</div>
</div>
<div id="main">
 <div id="log"></div>
 <form id="send"><input id="to" placeholder="to (username)" size="12">
  <input id="text" placeholder="message"><button>Send</button></form>
</div>
<script>
const $ = id => document.getElementById(id);
let ws, me, nextId = 1, pending = {};
const device = localStorage.device || (localStorage.device = 'web-' + Math.random().toString(36).slice(2, 10));
function line(text, cls) { const d = document.createElement('div'); d.className = 'm ' + (cls || ''); d.textContent = text; $('log').append(d); $('log').scrollTop = 1e9; }
async function http(method, path, body, token) {
  const r = await fetch(path, {method, headers: token ? {Authorization: 'Bearer ' + token} : {}, body: body && JSON.stringify(body)});
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.message || r.status);
  return j;
}
function request(op, fields) {
  const id = nextId++;
  ws.send(JSON.stringify({op, id, ...fields}));
  return new Promise((ok, fail) => pending[id] = r => r.ok ? ok(r) : fail(new Error(r.error.message)));
}
async function refresh() {
  const r = await request('conversations', {limit: 20});
  $('convs').textContent = r.conversations.map(c => `${c.conversation} (${c.kind}) ${c.unread} unread`).join('\n') || 'none yet';
  $('convs').style.whiteSpace = 'pre';
}
async function start(user, pass) {
  const s = await http('POST', '/v1/sessions', {username: user, password: pass, device_id: device});
  me = s;
  $('who').textContent = `${user} (id ${s.user_id}) on ${device}`;
  ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws?token=${encodeURIComponent(s.token)}`);
  ws.onmessage = e => {
    const f = JSON.parse(e.data);
    if ('re' in f) { (pending[f.re] || (() => {}))(f); delete pending[f.re]; return; }
    if (f.ev === 'message') { const m = f.message; line(`${m.from === me.user_id ? 'me' : m.from}: ${m.body}`, m.from === me.user_id ? 'me' : ''); request('ack', {seq: f.seq || 0}).catch(() => {}); refresh(); }
    else line(JSON.stringify(f), 'sys');
  };
  ws.onopen = async () => { line('connected', 'sys'); const s = await request('sync', {}); s.entries.forEach(x => line(`${x.message.from}: ${x.message.deleted ? '(deleted)' : x.message.body}`)); refresh(); };
  ws.onclose = e => line(`disconnected (${e.code})`, 'sys');
  setInterval(() => ws.readyState === 1 && request('ping', {}), 5000);
}
$('signup').onclick = async () => { try { await http('POST', '/v1/users', {username: $('user').value, password: $('pass').value}); await start($('user').value, $('pass').value); } catch (e) { line(e.message, 'sys'); } };
$('login').onclick = async () => { try { await start($('user').value, $('pass').value); } catch (e) { line(e.message, 'sys'); } };
$('send').onsubmit = async e => {
  e.preventDefault();
  try {
    const u = await http('GET', '/v1/users/by-name/' + encodeURIComponent($('to').value), null, me.token);
    await request('send', {to: {user: u.user_id}, client_msg_id: crypto.randomUUID(), body: $('text').value});
    $('text').value = '';
  } catch (err) { line(err.message, 'sys'); }
};
</script></body></html>
)html";

}  // namespace parley::gateway
