// gotarget: a small Go service with net/http/pprof and expvar that behaves
// well for a while and then, depending on -mode, leaks in one known place.
// hound's system tests and benchmarks run it; standard library only.
//
//	-mode cache   a map keyed by a unique request ID that only grows
//	-mode ticker  goroutines parked forever on a stopped ticker
//	-mode labels  a /metrics page whose label values are unbounded
//	-mode gc      a GC storm: a pointer-rich live heap churned with a low GOGC
//	-mode steady  bounded in every way (the control)
//
// The leak starts after -leak-after (or when SIGUSR1 arrives) and ends when
// SIGUSR2 arrives. The chosen
// address is written to -addr-file once the server listens.
package main

import (
	_ "expvar"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

var leaking atomic.Bool

func main() {
	mode := flag.String("mode", "steady", "cache|ticker|labels|gc|steady|burst")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	addrFile := flag.String("addr-file", "", "write the listen address here")
	leakAfter := flag.Duration("leak-after", 0, "start leaking after this long (0: only on SIGUSR1)")
	rate := flag.Int("rate", 200, "simulated requests per second")
	slowVars := flag.Duration("slow-vars", 0, "delay every /debug/vars answer by this long")
	preload := flag.Int("preload", 0, "labels mode: start with this many unique series")
	flag.Parse()

	var tick func(id uint64)
	switch *mode {
	case "cache":
		tick = cacheTick
	case "ticker":
		tick = tickerTick
	case "labels":
		tick = labelsTick
		for i := 0; i < *preload; i++ {
			countRequest(fmt.Sprintf("/preloaded/%d", i))
		}
	case "gc":
		tick = gcTick
	case "steady":
		tick = steadyTick
	case "burst":
		tick = burstTick
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
	http.HandleFunc("/metrics", serveMetrics)
	http.HandleFunc("/request", serveRequest)
	handler := http.Handler(http.DefaultServeMux)
	if *slowVars > 0 {
		handler = slowPath(handler, "/debug/vars", *slowVars)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *addrFile != "" {
		tmp := *addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, *addrFile); err != nil {
			log.Fatal(err)
		}
	}

	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	go func() {
		for {
			select {
			case <-usr1:
				leaking.Store(true)
			case <-usr2:
				leaking.Store(false)
			}
		}
	}()
	if *leakAfter > 0 {
		time.AfterFunc(*leakAfter, func() { leaking.Store(true) })
	}
	go drive(tick, *rate)
	log.Fatal(http.Serve(ln, handler))
}

// drive simulates incoming requests at a fixed rate.
func drive(tick func(uint64), rate int) {
	if rate < 1 {
		rate = 1
	}
	t := time.NewTicker(time.Second / time.Duration(rate))
	var id uint64
	for range t.C {
		id++
		tick(id)
	}
}

func slowPath(h http.Handler, path string, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			time.Sleep(d)
		}
		h.ServeHTTP(w, r)
	})
}

// serveRequest is the request the benchmarks load: a little CPU and garbage.
func serveRequest(w http.ResponseWriter, r *http.Request) {
	buf := make([]byte, 512)
	var sum uint32
	for i := range buf {
		buf[i] = byte(i)
		sum = sum*31 + uint32(buf[i])
	}
	fmt.Fprintf(w, "%d %d\n", sum, runtime.NumGoroutine())
}
