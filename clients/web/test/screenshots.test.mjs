// Screenshots of the main screens at desktop and phone width, for the
// README: `npm run screenshots` writes them to docs/screenshots. Skipped in
// `npm test` (SCREENSHOTS unset).

import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { test } from "node:test";

import {
  DESKTOP, PHONE, Server, launchBrowser, makeFriends, newPage, openConversation, seeText, send, signUp, startDirect,
} from "./harness.mjs";

const OUT = process.env.SCREENSHOTS;

test("screenshots of the main screens", { skip: !OUT && "SCREENSHOTS is not set" }, async () => {
  mkdirSync(OUT, { recursive: true });
  const server = await new Server().start();
  const browser = await launchBrowser();
  try {
    // A little history to show: maya, noah and owen are friends (so each
    // knows the others' names); maya and noah talk, and the three plan a
    // trip in a group.
    const [maya, noah, owen] = await Promise.all([1, 2, 3].map(() => newPage(browser, server)));
    await signUp(maya, "maya");
    await signUp(noah, "noah");
    await signUp(owen, "owen");
    await makeFriends(maya, "maya", noah, "noah");
    await makeFriends(maya, "maya", owen, "owen");
    await makeFriends(owen, "owen", noah, "noah");
    await startDirect(noah, "maya");
    await send(noah, "Are we still on for Saturday?");
    await startDirect(maya, "noah");
    await send(maya, "Yes! 10am at the station");
    await send(noah, "Perfect, I'll bring snacks");
    await maya.getByTestId("seen").waitFor();

    await maya.getByTestId("new-chat").click();
    await maya.getByTestId("new-group").click();
    await maya.getByTestId("new-name").fill("Weekend trip");
    await maya.getByTestId("new-members").fill("noah owen");
    await maya.getByTestId("new-submit").click();
    await send(maya, "Made a group for the trip");
    await owen.locator('[data-testid="conversation"][data-conversation^="g:"]').click();
    await send(owen, "Great idea. Weather looks sunny");
    await seeText(maya.getByTestId("messages"), "sunny");
    await startDirect(owen, "noah");
    await send(owen, "Noah, can you book the tickets?");

    for (const [label, viewport] of [["desktop", DESKTOP], ["phone", PHONE]]) {
      const shot = (page, name) => page.screenshot({ path: resolve(OUT, `${name}-${label}.png`) });
      const login = await newPage(browser, server, viewport);
      await login.getByLabel("Username").waitFor();
      await shot(login, "login");
      await login.context().close();

      // Noah's view: the list (with an unread 1:1 from owen) and his chat with maya.
      const page = await newPage(browser, server, viewport);
      await page.evaluate((s) => { for (const [k, v] of Object.entries(s)) localStorage.setItem(k, v); }, await storage(noah));
      await page.reload();
      await seeText(page.locator('[data-testid="conversation"]').filter({ hasText: "owen" }).getByTestId("unread"), "1");
      if (label === "phone") await shot(page, "conversations");
      await openConversation(page, "maya");
      await seeText(page.getByTestId("messages"), "snacks");
      await shot(page, "chat");
      await page.locator('[data-testid="conversation"][data-conversation^="g:"]').isVisible() ||
        (await page.getByRole("button", { name: "Back to conversations" }).click());
      await page.locator('[data-testid="conversation"][data-conversation^="g:"]').click();
      await seeText(page.getByTestId("messages"), "sunny");
      await shot(page, "group");
      if (label === "phone") await page.getByRole("button", { name: "Back to conversations" }).click();
      await page.getByTestId("friends-tab").click();
      await page.locator('[data-testid="friend"][data-username="maya"]').waitFor();
      await shot(page, "friends");
      if (label === "phone") await page.getByRole("button", { name: "Back to conversations" }).click();
      await page.getByTestId("devices-tab").click();
      await page.locator('[data-testid="device"]').first().waitFor();
      await shot(page, "devices");
      await page.context().close();
    }
  } finally {
    await browser.close();
    await server.stop();
  }
});

/** A page's localStorage, to open the same session (and device) in another viewport. */
async function storage(page) {
  return page.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
}
