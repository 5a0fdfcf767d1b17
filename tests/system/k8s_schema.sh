#!/usr/bin/env bash
# The Kubernetes manifests hound ships validate against the Kubernetes API
# schemas (kubernetes-models from npm; the Prometheus operator's for
# ServiceMonitor and PodMonitor), and a broken manifest does not.
. "$(dirname "$0")/lib.sh"

: "${HOUND_NPM_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/hound/npm}"
mods="kubernetes-models@4.5.1 @kubernetes-models/prometheus-operator@6.0.0 js-yaml@4.1.0"
command -v node >/dev/null 2>&1 || skip_all "node is not installed (apt-get install nodejs npm)"
have_mods() { [ -f "$HOUND_NPM_DIR/node_modules/kubernetes-models/package.json" ] &&
	[ -f "$HOUND_NPM_DIR/node_modules/@kubernetes-models/prometheus-operator/package.json" ] &&
	[ -f "$HOUND_NPM_DIR/node_modules/js-yaml/package.json" ]; }
if ! have_mods; then
	command -v npm >/dev/null 2>&1 || skip_all "npm is not installed (apt-get install npm)"
	mkdir -p "$HOUND_NPM_DIR"
	# tests run in parallel: one installer at a time (tests/s3/s3env.sh shares the folder)
	( flock 9
	  have_mods || npm install --prefix "$HOUND_NPM_DIR" --no-audit --no-fund --prefer-offline \
		--loglevel=error $mods >"$T/npm.log" 2>&1
	) 9>"$HOUND_NPM_DIR/.lock"
	have_mods || { cat "$T/npm.log" 2>/dev/null; skip_all "cannot install $mods from npm"; }
fi
validate() { NODE_PATH=$HOUND_NPM_DIR/node_modules node "$TOP_SRCDIR/tests/system/k8s_schema.js" "$@"; }

files=$(ls "$TOP_SRCDIR"/packaging/kubernetes/*.yaml "$TOP_SRCDIR"/packaging/monitoring/*.yaml 2>/dev/null |
	xargs grep -l '^apiVersion:' 2>/dev/null)
check "there are manifests to validate" test -n "$files"
while IFS='|' read -r st what; do
	case $st in
	PASS) pass "$what" ;;
	FAIL) fail "$what" ;;
	*) diag "$st$what" ;;
	esac
done < <(validate $files 2>&1)

# The validator is not a rubber stamp: a type error, a missing required
# field and an unknown kind each fail.
sed 's/^  replicas: 2$/  replicas: two/' "$TOP_SRCDIR/packaging/kubernetes/sidecar.yaml" >"$T/bad1.yaml"
validate "$T/bad1.yaml" >"$T/bad1.out" 2>&1
check "a replica count that is not a number is refused" grep -q '^FAIL|.*Deployment.*replicas' "$T/bad1.out"
cat >"$T/bad2.yaml" <<'YAML'
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: x}
spec:
  template:
    spec:
      containers: [{name: hound, image: x}]
YAML
validate "$T/bad2.yaml" >"$T/bad2.out" 2>&1
check "a DaemonSet without a selector is refused" grep -q '^FAIL|.*selector' "$T/bad2.out"
printf 'apiVersion: v9\nkind: Nonsense\nmetadata: {name: x}\n' >"$T/bad3.yaml"
validate "$T/bad3.yaml" >"$T/bad3.out" 2>&1
check "an unknown kind is refused" grep -q '^FAIL|.*no schema' "$T/bad3.out"
done_testing
