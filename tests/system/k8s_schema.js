// Validates Kubernetes manifests against the Kubernetes API schemas (the
// kubernetes-models packages carry them), document by document.
//   node k8s_schema.js FILE.yaml...      prints "PASS|what" / "FAIL|what"
// A kind whose schema is not known is a failure, not a pass.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');

function modelFor(apiVersion, kind) {
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
			/* not found, or a path the package does not export: no schema */
		}
	}
	return null;
}

let failed = 0;
for (const file of process.argv.slice(2)) {
	const docs = yaml.loadAll(fs.readFileSync(file, 'utf8')).filter((d) => d);
	docs.forEach((doc, i) => {
		const what = `${path.basename(file)} #${i + 1} ${doc.kind || '?'} ${(doc.metadata || {}).name || '?'}`;
		const Model = doc.apiVersion && doc.kind ? modelFor(doc.apiVersion, doc.kind) : null;
		if (!Model) {
			console.log(`FAIL|${what}: no schema for ${doc.apiVersion} ${doc.kind}`);
			failed++;
			return;
		}
		try {
			new Model(doc).validate();
			console.log(`PASS|${what} matches the ${doc.apiVersion} ${doc.kind} schema`);
		} catch (e) {
			console.log(`FAIL|${what}: ${String(e.message).split('\n').slice(0, 5).join('; ')}`);
			failed++;
		}
	});
}
process.exit(failed ? 1 : 0);
