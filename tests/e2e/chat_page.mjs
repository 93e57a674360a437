// Drives the API server's reference chat page (/app) in headless Chromium as a student would.
// Usage: node chat_page.mjs API_URL EMAIL PASSWORD SCREENSHOT_DIR
// Prints progress lines on stdout; before the last question it prints "stop-rag" and waits for a line on stdin
// (the test stops the RAG server mid-answer, then answers "stopped"). The last line is a JSON report.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const [url, email, password, screens] = process.argv.slice(2);
const stdin = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => stdin.once('line', resolve));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const report = { page_errors: [], csp_violations: [], failed_responses: [], chat_bodies: [] };

// Records how the last assistant message's text changes while it streams, until it is done or failed.
async function askAndWatch(page, question) {
  await page.evaluate(() => {
    const messages = document.getElementById('messages');
    const before = messages.querySelectorAll('article.assistant').length;
    window.__watch = { updates: 0, final: null };
    const observer = new MutationObserver(() => {
      const answers = messages.querySelectorAll('article.assistant');
      if (answers.length <= before || window.__watch.final !== null) return;
      const message = answers[answers.length - 1];
      const text = message.querySelector('.answer')?.textContent ?? '';
      if (message.dataset.state === 'streaming' && text && text !== window.__watch.last) {
        window.__watch.updates += 1;
        window.__watch.last = text;
      } else if (message.dataset.state !== 'streaming') {
        window.__watch.final = { state: message.dataset.state, updates_before: window.__watch.updates };
      }
    });
    observer.observe(messages, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  await page.fill('#question', question);
  await page.press('#question', 'Enter');
}

async function lastAssistant(page) {
  return page.evaluate(() => {
    const message = [...document.querySelectorAll('article.assistant')].at(-1);
    return {
      state: message.dataset.state,
      answer: message.querySelector('.answer')?.textContent ?? '',
      markers: [...message.querySelectorAll('.answer a.marker')].map((link) => link.getAttribute('href')),
      sources: [...message.querySelectorAll('.sources li')].map((item) => ({
        id: item.id,
        file: item.querySelector('.file')?.textContent,
        location: item.querySelector('.location')?.textContent ?? '',
        link: item.querySelector('a')?.getAttribute('href'),
      })),
      failure: message.querySelector('.failure')?.textContent ?? null,
    };
  });
}

const finished = (page) => page.waitForFunction(() => window.__watch.final !== null, null, { timeout: 90000 });

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('pageerror', (error) => report.page_errors.push(String(error)));
  page.on('console', (message) => {
    if (message.text().startsWith('CSP violation')) report.csp_violations.push(message.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 400) report.failed_responses.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  page.on('request', (request) => {
    if (request.url().endsWith('/chat-auth')) report.chat_bodies.push(JSON.parse(request.postData()));
  });
  await page.addInitScript(() => document.addEventListener('securitypolicyviolation',
    (event) => console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`)));
  const response = await page.goto(`${url}/app`);
  report.csp = response.headers()['content-security-policy'];

  await page.fill('input[name=username]', email);
  await page.fill('input[name=password]', 'senha-errada-123');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-error:not([hidden])');
  report.wrong_password = await page.textContent('#login-error');
  await page.fill('input[name=password]', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#chat-view:not([hidden])');
  report.account = await page.textContent('#account-email');
  await page.screenshot({ path: `${screens}/chat-page-empty.png` });

  await askAndWatch(page, 'Quantas séries por semana para hipertrofia?');
  await finished(page);
  report.first = { ...(await page.evaluate(() => window.__watch.final)), ...(await lastAssistant(page)) };
  await page.screenshot({ path: `${screens}/chat-page-answer.png` });
  console.log('first answered');

  await askAndWatch(page, 'E para iniciantes?');
  await finished(page);
  report.follow_up = { ...(await page.evaluate(() => window.__watch.final)), ...(await lastAssistant(page)) };
  report.conversations_listed = await page.$$eval('#conversations a', (links) => links.map((link) => link.textContent));
  await page.screenshot({ path: `${screens}/chat-page-follow-up.png`, fullPage: true });

  // A reload keeps the session; the conversation opens from the list with both turns.
  await page.reload();
  await page.waitForSelector('#conversations a');
  await page.click('#conversations a');
  await page.waitForFunction(() => document.querySelectorAll('#messages article').length === 4);
  report.reopened = await page.$$eval('#messages article', (items) => items.map((item) => item.dataset.role));
  await page.click('#new-conversation');
  report.after_new_conversation = await page.$$eval('#messages article', (items) => items.length);

  await askAndWatch(page, 'Quanta proteína devo comer por dia?');
  await page.waitForFunction(() => window.__watch.updates >= 1, null, { timeout: 60000 });
  console.log('stop-rag');
  await nextLine();
  await finished(page);
  report.stopped = { ...(await page.evaluate(() => window.__watch.final)), ...(await lastAssistant(page)) };
  await page.screenshot({ path: `${screens}/chat-page-rag-stopped.png` });
} catch (error) {
  report.error = String(error.stack || error);
} finally {
  stdin.close();
  await browser.close();
}
console.log(JSON.stringify(report));
