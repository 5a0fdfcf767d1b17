// Validates Kubernetes manifests against the Kubernetes API schemas (the
// kubernetes-models packages carry them), document by document.
//   node k8s_schema.js FILE.yaml...      prints "PASS|what" / "FAIL|what"
// A kind whose schema is not known is a failure, not a pass.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');

// The operator's package is ES modules only (its exports have no "require"
// condition), so a model that require() cannot load is imported.
async function modelFor(apiVersion, kind) {
	const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
	const candidates = [];
	if (group === '')
		candidates.push(`kubernetes-models/${version}/${kind}`);
	else if (group === 'monitoring.coreos.com')
		candidates.push(`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`);
	else
		candidates.push(`kubernetes-models/${group}/${version}/${kind}`);
	for (const c of candidates) {
		try {
			return require(c)[kind];
		} catch (e) {
			/* not found, or an ES module: try import() below */
		}
		try {
			/* import() ignores NODE_PATH: find the file from the package's own package.json */
			const parts = c.split('/'), pkg = parts[0].startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1);
			const dir = path.dirname(require.resolve(pkg.join('/') + '/package.json'));
			const file = path.join(dir, ...parts.slice(pkg.length)) + '.js';
			return (await import(require('url').pathToFileURL(file).href))[kind];
		} catch (e) {
			/* not found: no schema */
		}
	}
	return null;
}

let failed = 0;
(async () => {
for (const file of process.argv.slice(2)) {
	const docs = yaml.loadAll(fs.readFileSync(file, 'utf8')).filter((d) => d);
	for (const [i, doc] of docs.entries()) {
		const what = `${path.basename(file)} #${i + 1} ${doc.kind || '?'} ${(doc.metadata || {}).name || '?'}`;
		const Model = doc.apiVersion && doc.kind ? await modelFor(doc.apiVersion, doc.kind) : null;
		if (!Model) {
			console.log(`FAIL|${what}: no schema for ${doc.apiVersion} ${doc.kind}`);
			failed++;
			continue;
		}
		try {
			new Model(doc).validate();
			console.log(`PASS|${what} matches the ${doc.apiVersion} ${doc.kind} schema`);
		} catch (e) {
			console.log(`FAIL|${what}: ${String(e.message).split('\n').slice(0, 5).join('; ')}`);
			failed++;
		}
	}
}
process.exit(failed ? 1 : 0);
})();
