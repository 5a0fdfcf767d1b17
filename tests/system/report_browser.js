// Loads a hound HTML report in headless Chromium (playwright-core driving the
// Debian chromium) and checks it as a reader would use it.
//   node report_browser.js PAGE.html HOT_FUNCTION [GRAPHS]
// Prints "PASS|what" / "FAIL|what" lines; "#..." lines are diagnostics.
'use strict';
const { chromium } = require('playwright-core');

const [file, hot, graphs] = process.argv.slice(2);
let failed = 0;
function check(ok, what) {
	console.log((ok ? 'PASS|' : 'FAIL|') + what);
	if (!ok) failed++;
}

(async () => {
	const browser = await chromium.launch({
		executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
			'--disable-component-update', '--disable-sync', '--no-first-run'],
	});
	const page = await browser.newPage();
	const errors = [], fetched = [];
	page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
	page.on('pageerror', (e) => errors.push('uncaught: ' + e.message));
	page.on('dialog', (d) => { errors.push('a dialog opened: ' + d.message()); d.dismiss(); });
	page.on('request', (r) => { if (!r.url().startsWith('file://')) fetched.push(r.url()); });
	const url = 'file://' + require('path').resolve(file);
	await page.goto(url, { waitUntil: 'load' });
	await page.waitForSelector('body[data-flamegraphs]', { timeout: 30000 });

	const drawn = await page.getAttribute('body', 'data-flamegraphs');
	if (graphs !== undefined)
		check(drawn === graphs, `the page draws ${graphs} flame graphs (drew ${drawn})`);
	const order = await page.$$eval('section', (s) => s.map((x) => x.id).join(','));
	check(order === 'why,findings,flamegraphs,files', `sections in order: why, findings, flame graphs, files (${order})`);

	const frames = page.locator('.fg').first().locator('.fg-n', { hasText: hot });
	const n = await frames.count();
	check(n > 0, `the first flame graph's DOM holds ${hot}`);
	if (n > 0) {
		await frames.first().click();
		const status = await page.locator('.fg').first().locator('.fg-status').textContent();
		check(status.includes('zoomed on ' + hot), `a click zooms on ${hot} (${status})`);
		const box = await frames.first().boundingBox(), graph = await page.locator('.fg-graph').first().boundingBox();
		check(box && graph && box.width > 0.95 * graph.width, 'the zoomed frame spans the graph');
		await page.locator('.fg-reset').first().click();
		await page.locator('.fg-search').first().fill(hot);
		const found = await page.locator('.fg').first().locator('.fg-found').textContent();
		const marked = await page.locator('.fg').first().locator('.fg-n.fg-match').count();
		check(marked > 0 && /matched [0-9.]+%/.test(found), `search marks ${hot} (${marked} frames, ${found})`);
	}
	const injected = await page.$$eval('img, iframe, object, embed, a[href^="javascript"]', (e) => e.length);
	check(injected === 0, 'no element came from the bundle\'s text');
	check(fetched.length === 0, 'the page fetched nothing' + (fetched.length ? ': ' + fetched.join(' ') : ''));
	for (const e of errors) console.log('# console: ' + e);
	check(errors.length === 0, `no console error or warning (${errors.length})`);
	await browser.close();
	process.exit(failed ? 1 : 0);
})().catch((e) => { console.log('FAIL|the browser run: ' + e.message); process.exit(1); });
