package main

import (
	"bufio"
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"sync"
)

// A hand-written Prometheus exposition. Each distinct path becomes a series;
// once leaking, every request's path carries its unique ID.
var (
	pathsMu sync.Mutex
	paths   = map[string]uint64{}
)

func labelsTick(id uint64) {
	if leaking.Load() {
		countRequest(fmt.Sprintf("/orders/%d", id))
		return
	}
	countRequest(fmt.Sprintf("/orders/%d", id%20))
}

//go:noinline
func countRequest(path string) {
	pathsMu.Lock()
	paths[path]++
	pathsMu.Unlock()
}

func serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# HELP go_goroutines Number of goroutines that currently exist.\n")
	fmt.Fprintf(bw, "# TYPE go_goroutines gauge\n")
	fmt.Fprintf(bw, "go_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintf(bw, "# HELP app_build_info Build information.\n# TYPE app_build_info gauge\n")
	fmt.Fprintf(bw, "app_build_info{version=\"1.0 \\\"quoted\\\" \\\\ # not a comment\"} 1\n")
	fmt.Fprintf(bw, "# HELP app_requests_total Requests by path.\n# TYPE app_requests_total counter\n")
	pathsMu.Lock()
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(bw, "app_requests_total{method=\"GET\",path=%q} %d\n", k, paths[k])
	}
	pathsMu.Unlock()
	bw.Flush()
}
