#!/usr/bin/env bash
# The Kubernetes manifests hound ships validate against the Kubernetes API
# schemas (kubernetes-models from npm; the Prometheus operator's for
# ServiceMonitor and PodMonitor), and a broken manifest does not.
. "$(dirname "$0")/lib.sh"

need_npm kubernetes-models@4.5.1 @kubernetes-models/prometheus-operator@6.0.0 js-yaml@4.1.0
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
printf 'apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: x}\nspec:\n  podMetricsEndpoints: 9155\n  selector: {}\n' >"$T/bad4.yaml"
validate "$T/bad4.yaml" >"$T/bad4.out" 2>&1
check "a PodMonitor whose endpoints are not a list is refused" grep -q '^FAIL|.*PodMonitor.*podMetricsEndpoints' "$T/bad4.out"
done_testing
