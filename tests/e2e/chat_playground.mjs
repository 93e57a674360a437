// Asks the LangServe chat playground one question in headless Chromium and prints what the page shows.
// Usage: node chat_playground.mjs URL QUESTION EXPECTED_TEXT SCREENSHOT_PATH
import { chromium } from 'playwright-core';

const [url, question, expected, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let result = { answered: false, text: '' };
try {
  const page = await browser.newPage();
  const streamed = [];
  page.on('response', (response) => { if (response.url().includes('/stream')) streamed.push(response.status()); });
  await page.goto(url);
  const box = page.locator('textarea[placeholder="Send a message..."]');
  await box.fill(question);
  await box.press('Enter');
  try {
    await page.waitForFunction((text) => document.body.innerText.includes(text), expected, { timeout: 120000 });
    result.answered = true;
  } catch (error) {
    result.error = String(error);
  }
  result.text = await page.evaluate(() => document.body.innerText);
  result.stream_statuses = streamed;
  await page.screenshot({ path: screenshot });
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
