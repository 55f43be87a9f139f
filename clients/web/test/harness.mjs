// What the browser tests stand on: a real parleyd serving the built app
// (a fresh data dir, a free port, kill -9 and restart on both), and headless
// Chromium driven by playwright-core.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

export const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const DIST = join(APP_DIR, "dist");
export const PARLEYD = resolve(APP_DIR, process.env.PARLEYD ?? "../../build/release/parleyd");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

// Quick password hashing and no request limits: the tests are many users
// on one machine, not an attack. Groups of users who are not friends: the
// app is tested here, the consent rule in tests/e2e/test_room_consent.py.
const SERVER_ARGS = ["--pwhash-limits", "min", "--threads", "2", "--rate-limit", "100000", "--rate-burst", "100000",
  "--user-rate-limit", "0", "--max-rooms-per-hour", "0", "--room-add", "anyone"];

export class Server {
  dataDir = mkdtempSync(join(tmpdir(), "parley-web-"));
  port = 0;
  #proc;
  #log = "";
  #args;

  /** `args`: more flags for parleyd. */
  constructor(args = []) {
    this.#args = args;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    if (!existsSync(join(DIST, "index.html"))) throw new Error(`${DIST}/index.html is missing: run npm run build`);
    const proc = spawn(PARLEYD, ["--listen", `127.0.0.1:${this.port}`, "--data-dir", this.dataDir, "--web-dir", DIST,
      ...SERVER_ARGS, ...this.#args], { stdio: ["ignore", "pipe", "pipe"] });
    this.#proc = proc;
    proc.stderr.on("data", (d) => { this.#log = (this.#log + d).slice(-4000); });
    const lines = createInterface({ input: proc.stdout });
    this.port = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`parleyd did not start: ${this.#log}`)), 20000);
      proc.once("error", (e) => { clearTimeout(timer); fail(e); });
      proc.once("exit", (code) => { clearTimeout(timer); fail(new Error(`parleyd exited with ${code}: ${this.#log}`)); });
      lines.on("line", (line) => {
        const m = /^parleyd listening on 127\.0\.0\.1:(\d+)$/.exec(line);
        if (m) { clearTimeout(timer); ok(Number(m[1])); }
      });
    });
    return this;
  }

  /** A crash: SIGKILL, nothing drained. */
  async kill() {
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await gone;
  }

  /** Starts again on the same data dir and port, while the port is still being freed. */
  async restart() {
    for (let i = 0; ; i++) {
      try {
        return await this.start();
      } catch (e) {
        if (i >= 40) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async stop() {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // A closed network: nothing may try Google's hosts (and wait on them).
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** A page in a context of its own (its own localStorage: its own user). */
export async function newPage(browser, server, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, baseURL: server.url, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.sockets = [];
  page.on("websocket", (ws) => page.sockets.push(ws));
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  await page.goto("/");
  return page;
}

/** Signs up through the form and waits for the app. */
export async function signUp(page, username, password = "correct horse battery") {
  await page.getByRole("button", { name: "Sign up" }).click();
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign up" }).click();
  await online(page);
}

export async function logIn(page, username, password = "correct horse battery") {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await online(page);
}

export async function online(page) {
  await page.locator('[data-testid="connection"][data-state="online"]').waitFor();
}

/** Waits until `locator` holds an element with `text`. */
export async function seeText(locator, text) {
  await locator.filter({ hasText: text }).first().waitFor();
}

/** The bodies of the messages on screen, in order. */
export async function bodies(page) {
  return page.locator('[data-testid="message-body"]').allTextContents();
}

/** Opens the conversation titled `title` from the list. */
export async function openConversation(page, title) {
  const back = page.getByRole("button", { name: "Back to conversations" });
  if (await back.isVisible()) await back.click();
  await page.locator('[data-testid="conversation"]').filter({ hasText: title }).first().click();
  await page.locator('[data-testid="chat-title"]').filter({ hasText: title }).waitFor();
}

export async function send(page, text) {
  await page.getByTestId("composer").fill(text);
  await page.getByTestId("send").click();
  await page.locator('[data-testid="message"]:not([data-message-id^="~"])').filter({ hasText: text }).first().waitFor();
}

/** Alice asks bob to be friends; bob accepts. Both end on their friends pane. */
export async function makeFriends(a, aName, b, bName) {
  await a.getByTestId("friends-tab").click();
  await a.getByTestId("friend-name").fill(bName);
  await a.getByTestId("friend-add").click();
  await seeText(a.locator(".notice"), `Request sent to ${bName}`);
  await b.getByTestId("friends-tab").click();
  await b.locator('[data-testid="request"]').filter({ hasText: aName }).getByTestId("accept").click();
  await b.locator(`[data-testid="friend"][data-username="${aName}"]`).waitFor();
}

/** Starts a 1:1 with `username` from the "+ New" pane. */
export async function startDirect(page, username) {
  await page.getByTestId("new-chat").click();
  await page.getByTestId("new-direct").click();
  await page.getByTestId("new-name").fill(username);
  await page.getByTestId("new-submit").click();
  await page.locator('[data-testid="chat-title"]').filter({ hasText: username }).waitFor();
}
