// The web app in a real browser against a real parleyd that serves it.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  PHONE, Server, bodies, launchBrowser, logIn, makeFriends, newPage, online, openConversation, seeText, send,
  signUp, startDirect,
} from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await new Server().start();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe("two users", () => {
  let alice;
  let bob;

  test("sign up, become friends and see each other online", async () => {
    alice = await newPage(browser, server);
    bob = await newPage(browser, server);
    await signUp(alice, "alice");
    await signUp(bob, "bob");
    await makeFriends(alice, "alice", bob, "bob");
    await seeText(alice.locator('[data-testid="friend"][data-username="bob"]'), "online");
    await seeText(bob.locator('[data-testid="friend"][data-username="alice"]'), "online");
  });

  test("chat 1:1 with unread counts, typing and a read receipt", async () => {
    await startDirect(alice, "bob");
    await seeText(alice.getByTestId("chat-subtitle"), "online");
    await send(alice, "hello bob");

    // Bob is on another pane: the conversation shows one unread.
    const row = bob.locator('[data-testid="conversation"]').filter({ hasText: "alice" });
    await seeText(row.getByTestId("unread"), "1");
    await openConversation(bob, "alice");
    await seeText(bob.getByTestId("messages"), "hello bob");
    await row.getByTestId("unread").waitFor({ state: "detached" });

    // Alice sees that bob read it, and that he is typing.
    await alice.getByTestId("seen").waitFor();
    await bob.getByTestId("composer").pressSequentially("hi al", { delay: 20 });
    await seeText(alice.getByTestId("typing"), "bob is typing");
    await bob.getByTestId("composer").fill("hi alice");
    await bob.getByTestId("send").click();
    await seeText(alice.getByTestId("messages"), "hi alice");
    await alice.getByTestId("typing").filter({ hasText: "typing" }).waitFor({ state: "detached" });
    assert.deepEqual(await bodies(alice), ["hello bob", "hi alice"]);
    await bob.locator('[data-testid="message"]:not([data-message-id^="~"])').filter({ hasText: "hi alice" }).waitFor();
    assert.deepEqual(await bodies(bob), ["hello bob", "hi alice"]);
  });

  test("a reload keeps the session and the conversation", async () => {
    await bob.reload();
    await online(bob);
    assert.equal(await bob.getByTestId("me").textContent(), "bob");
    await openConversation(bob, "alice");
    await seeText(bob.getByTestId("messages"), "hi alice");
    assert.deepEqual(await bodies(bob), ["hello bob", "hi alice"]);
  });

  test("a double click on Log in opens one connection", async () => {
    await bob.getByRole("button", { name: "Log out" }).click();
    await bob.getByLabel("Username").fill("bob");
    await bob.getByLabel("Password").fill("correct horse battery");
    const before = bob.sockets.length;
    await bob.getByRole("button", { name: "Log in" }).dblclick();
    await online(bob);
    await openConversation(bob, "alice");
    await seeText(bob.getByTestId("messages"), "hi alice");
    const opened = bob.sockets.slice(before).filter((ws) => ws.url().includes("/v1/ws"));
    assert.equal(opened.length, 1, `sockets opened: ${opened.map((ws) => ws.url()).join(", ")}`);
  });

  test("a server killed mid-conversation: nothing lost, nothing twice", async () => {
    await openConversation(alice, "bob");
    await server.kill();
    await alice.locator('[data-testid="connection"]:not([data-state="online"])').waitFor();
    await bob.locator('[data-testid="connection"]:not([data-state="online"])').waitFor();

    // Written while the server is down: sent once it is back.
    await alice.getByTestId("composer").fill("sent while you were away");
    await alice.getByTestId("send").click();
    await seeText(alice.getByTestId("messages"), "sending…");

    await server.restart();
    await online(alice);
    await online(bob);
    await alice.locator('[data-testid="message"]:not([data-message-id^="~"])').filter({ hasText: "sent while you were away" }).waitFor();
    await seeText(bob.getByTestId("messages"), "sent while you were away");
    await send(bob, "back again");
    await seeText(alice.getByTestId("messages"), "back again");

    const expected = ["hello bob", "hi alice", "sent while you were away", "back again"];
    assert.deepEqual(await bodies(alice), expected);
    assert.deepEqual(await bodies(bob), expected);
  });
});

test("a group of three, and a channel joined by its id", async () => {
  const [carol, dave, erin] = await Promise.all([1, 2, 3].map(() => newPage(browser, server)));
  await signUp(carol, "carol");
  await signUp(dave, "dave");
  await signUp(erin, "erin");

  await carol.getByTestId("new-chat").click();
  await carol.getByTestId("new-group").click();
  await carol.getByTestId("new-name").fill("Weekend trip");
  await carol.getByTestId("new-members").fill("dave");
  await carol.getByTestId("new-submit").click();
  await seeText(carol.getByTestId("chat-title"), "Weekend trip");
  // Erin is added afterwards, from the group's header.
  await carol.getByTestId("add-member").click();
  await carol.getByLabel("Username to add").fill("erin");
  await carol.getByRole("button", { name: "Add", exact: true }).click();
  await carol.getByTestId("add-member").waitFor();

  await send(carol, "who is in?");
  for (const p of [dave, erin]) {
    await p.locator('[data-testid="conversation"][data-conversation^="g:"]').click();
    await seeText(p.getByTestId("messages"), "who is in?");
  }
  await send(dave, "me");
  await send(erin, "me too");
  for (const p of [carol, dave, erin]) {
    await seeText(p.getByTestId("messages"), "me too");
    await seeText(p.getByTestId("messages"), "me");
  }
  for (const p of [carol, dave, erin]) assert.deepEqual(await bodies(p), ["who is in?", "me", "me too"]);
  await seeText(carol.getByTestId("seen"), "Seen by");

  // Erin leaves: the group goes from her list.
  erin.once("dialog", (d) => d.accept());
  await erin.getByTestId("leave").click();
  await erin.locator('[data-testid="conversation"][data-conversation^="g:"]').waitFor({ state: "detached" });

  // A channel: dave makes one, carol joins it by its id.
  await dave.getByTestId("new-chat").click();
  await dave.getByTestId("new-channel").click();
  await dave.getByTestId("new-name").fill("announcements");
  await dave.getByTestId("new-submit").click();
  const id = (await dave.getByTestId("chat").getAttribute("data-conversation")).slice(2);
  await carol.getByTestId("new-chat").click();
  await carol.getByTestId("new-join").click();
  await carol.getByTestId("new-name").fill(id);
  await carol.getByTestId("new-submit").click();
  await seeText(carol.getByTestId("chat-subtitle"), `id ${id}`);
  await send(dave, "channel news");
  await seeText(carol.getByTestId("messages"), "channel news");

  // A bad id is explained, not swallowed.
  await carol.getByTestId("new-chat").click();
  await carol.getByTestId("new-join").click();
  await carol.getByTestId("new-name").fill("999999");
  await carol.getByTestId("new-submit").click();
  await seeText(carol.getByRole("alert"), "");
  for (const p of [carol, dave, erin]) await p.context().close();
});

test("history loads as you scroll up, and search finds old messages", async () => {
  const [frank, gina] = await Promise.all([newPage(browser, server), newPage(browser, server)]);
  await signUp(frank, "frank");
  await signUp(gina, "gina");
  await startDirect(frank, "gina");
  // Seventy messages through the SDK in the page (faster than typing them).
  await frank.evaluate(async () => {
    const token = JSON.parse(localStorage.getItem("parley.session")).token;
    const ws = new WebSocket(`${location.origin.replace("http", "ws")}/v1/ws?token=${token}`);
    await new Promise((r) => (ws.onopen = r));
    const me = JSON.parse(localStorage.getItem("parley.session")).user_id;
    const gina = await (await fetch("/v1/users/by-name/gina", { headers: { Authorization: `Bearer ${token}` } })).json();
    for (let i = 1; i <= 70; i++) {
      ws.send(JSON.stringify({ op: "send", id: i, to: { user: gina.user_id }, client_msg_id: `seed-${me}-${i}`, body: `note ${i}` }));
      await new Promise((r) => { ws.onmessage = (e) => { if (JSON.parse(e.data).re === i) r(); }; });
    }
    ws.close();
  });
  // Not friends: gina knows frank's id, not his name (see the phone test).
  await gina.locator('[data-testid="conversation"][data-conversation^="d:"]').click();
  await seeText(gina.getByTestId("messages"), "note 70");
  const shown = (await bodies(gina)).length;
  assert.ok(shown < 70, `the first page is a page, not everything: ${shown}`);
  // Scrolling to the top loads the page before, until the beginning.
  for (let i = 0; i < 5 && !(await gina.getByText("This is the beginning").isVisible()); i++) {
    const held = (await bodies(gina)).length;
    await gina.getByTestId("messages").evaluate((el) => el.scrollTo(0, 0));
    await gina.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="message-body"]').length > n || document.body.textContent.includes("This is the beginning"),
      held,
    );
  }
  const all = await bodies(gina);
  assert.equal(all.length, 70);
  assert.deepEqual(all, Array.from({ length: 70 }, (_, i) => `note ${i + 1}`));

  await gina.getByLabel("Search messages").fill("note 7");
  await seeText(gina.getByTestId("search-results"), "note 7");
  await frank.context().close();
  await gina.context().close();
});

test("a phone-sized screen: the composer and send button are there and work", async () => {
  const hal = await newPage(browser, server, PHONE);
  const ivy = await newPage(browser, server, PHONE);
  await signUp(hal, "hal");
  await signUp(ivy, "ivy");
  await startDirect(hal, "ivy");
  for (const id of ["composer", "send"]) {
    const box = await hal.getByTestId(id).boundingBox();
    assert.ok(box && box.x >= 0 && box.y >= 0 && box.x + box.width <= PHONE.width && box.y + box.height <= PHONE.height,
      `${id} lies inside the 390×844 screen: ${JSON.stringify(box)}`);
  }
  await send(hal, "hi from a phone");
  // Ivy and hal are not friends: the protocol tells her hal's id, not his
  // name, so she finds the chat by its kind.
  await ivy.locator('[data-testid="conversation"][data-conversation^="d:"]').click();
  await seeText(ivy.getByTestId("messages"), "hi from a phone");
  // The list is hidden while a chat is open, and back shows it again.
  assert.equal(await ivy.getByTestId("conversations").isVisible(), false);
  await ivy.getByRole("button", { name: "Back to conversations" }).click();
  await ivy.getByTestId("conversations").waitFor();
  await hal.context().close();
  await ivy.context().close();
});

test("wrong passwords and taken names are explained", async () => {
  const page = await newPage(browser, server);
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await seeText(page.getByRole("alert"), "Wrong username or password");
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill("another good password");
  await page.locator('button[type="submit"]').click();
  await seeText(page.getByRole("alert"), "taken");
  await page.context().close();
});

test("the device list shows both devices; logging the other out closes its page's connection", async () => {
  const laptop = await newPage(browser, server);
  await signUp(laptop, "dana");
  const phone = await newPage(browser, server); // another browser profile: another device
  await logIn(phone, "dana");
  const phoneSocket = phone.sockets.at(-1);
  const phoneClosed = new Promise((resolve) => phoneSocket.on("close", resolve));

  await laptop.getByTestId("devices-tab").click();
  const rows = laptop.locator('[data-testid="device"]');
  await rows.nth(1).waitFor();
  assert.equal(await rows.count(), 2);
  const mine = laptop.locator('[data-testid="device"][data-current="true"]');
  await seeText(mine, "this device");
  const other = laptop.locator('[data-testid="device"][data-current="false"]');
  await other.getByTestId("device-logout").click();

  // The phone's connection is closed by the server, and its page goes back
  // to the login saying why; the laptop stays online with one device.
  await phoneClosed;
  await seeText(phone.locator(".notice"), "Your session has ended");
  assert.equal(await phone.evaluate(() => localStorage.getItem("parley.session")), null);
  await other.waitFor({ state: "detached" });
  assert.equal(await rows.count(), 1);
  await online(laptop);

  // "Log out" on this device ends its session on the server too.
  const token = await laptop.evaluate(() => JSON.parse(localStorage.getItem("parley.session")).token);
  await mine.getByTestId("device-logout").click();
  await laptop.getByRole("button", { name: "Log in" }).waitFor();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await fetch(`${server.url}/v1/sessions`, { headers: { Authorization: `Bearer ${token}` } });
    if (res.status === 401) break;
    assert.ok(Date.now() < deadline, "the logged-out token still works");
    await new Promise((r) => setTimeout(r, 50));
  }
  await laptop.context().close();
  await phone.context().close();
});

test("a session the server no longer knows goes back to the login, saying why", async () => {
  const page = await newPage(browser, server);
  await page.evaluate(() =>
    localStorage.setItem("parley.session", JSON.stringify({ token: "not-a-token", user_id: "1", device_id: "web-x", username: "alice" })),
  );
  await page.reload();
  await seeText(page.locator(".notice"), "Your session has ended");
  await page.getByRole("button", { name: "Log in" }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem("parley.session")), null);
  await page.context().close();
});

test("the messages of a user an administrator deleted show as deleted", async () => {
  const token = "web-test-admin-token-0123456789";
  const tokenDir = mkdtempSync(join(tmpdir(), "parley-web-admin-"));
  writeFileSync(join(tokenDir, "admin-token"), token);
  const deleting = await new Server(["--admin-token-file", join(tokenDir, "admin-token")]).start();
  try {
    const alice = await newPage(browser, deleting);
    const bob = await newPage(browser, deleting);
    await signUp(alice, "alice");
    await signUp(bob, "bob");
    await makeFriends(alice, "alice", bob, "bob");
    await startDirect(alice, "bob");
    await send(alice, "hello bob");
    await openConversation(bob, "alice");
    await send(bob, "a secret");
    await seeText(alice.getByTestId("messages"), "a secret");

    const headers = { Authorization: `Bearer ${token}` };
    const users = await (await fetch(`${deleting.url}/v1/admin/users?q=bob`, { headers })).json();
    const done = await fetch(`${deleting.url}/v1/admin/users/${users.users[0].user_id}`, { method: "DELETE", headers });
    assert.equal(done.status, 204);

    // Read again: the list's preview and the conversation.
    await alice.reload();
    await seeText(alice.locator('[data-testid="conversation"]').filter({ hasText: "bob" }), "Message deleted");
    await openConversation(alice, "bob");
    await seeText(alice.getByTestId("messages"), "Message deleted");
    assert.deepEqual(await bodies(alice), ["hello bob", "Message deleted"]);
  } finally {
    await deleting.stop();
    rmSync(tokenDir, { recursive: true, force: true });
  }
});
