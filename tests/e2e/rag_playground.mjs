// Opens the RAG server's /rag playground in headless Chromium through /playground-login (the playground pass),
// then calls /rag from the page as the playground does, with a changed answer prompt. Prints a JSON report.
// Usage: node rag_playground.mjs RAG_URL SERVICE_TOKEN ANSWER_PROMPT SCREENSHOT_PATH
import { chromium } from 'playwright-core';

const [url, token, prompt, screenshot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const report = { failed_responses: [], page_errors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('pageerror', (error) => report.page_errors.push(String(error)));
  page.on('response', (response) => {
    if (response.status() >= 400) report.failed_responses.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  report.without_pass = (await page.goto(`${url}/rag/playground/`)).status();
  await page.goto(`${url}/playground-login?next=/rag/playground/`);
  await page.fill('input[name=token]', 'not-the-token');
  await page.click('button[type=submit]');
  report.wrong_token = await page.textContent('[role=alert]');
  await page.fill('input[name=token]', token);
  await Promise.all([page.waitForURL(`${url}/rag/playground/`), page.click('button[type=submit]')]);
  await page.waitForLoadState('networkidle');
  report.playground_title = await page.title();
  report.cookie = (await page.context().cookies()).map(({ name, httpOnly, sameSite }) => ({ name, httpOnly, sameSite }));
  report.invoke = await page.evaluate(async (answerPrompt) => {
    const response = await fetch('/rag/invoke', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ input: { question: 'Quantas séries por semana para hipertrofia?' },
                             config: { configurable: { answer_prompt: answerPrompt } } }),
    });
    return { status: response.status, body: await response.json() };
  }, prompt);
  report.data_route = await page.evaluate(async () => (await fetch('/materials')).status);
  await page.screenshot({ path: screenshot });
  await page.goto(`${url}/chat/playground/`);
  await page.waitForLoadState('networkidle');
  await page.screenshot({ path: screenshot.replace('.png', '-chat.png') });
} catch (error) {
  report.error = String(error.stack || error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
