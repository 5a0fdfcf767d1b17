package main

import "time"

func tickerTick(id uint64) {
	if leaking.Load() {
		if id%4 == 0 {
			go pollUpstream(id)
		}
		return
	}
	if id%4 == 0 {
		go pollOnce(id)
	}
}

// pollUpstream is the leak: it stops its ticker and then waits on it, so it
// waits forever.
//
//go:noinline
func pollUpstream(id uint64) {
	t := time.NewTicker(time.Hour)
	t.Stop()
	for range t.C {
		_ = id
	}
}

// pollOnce finishes: the steady phase's goroutines come and go.
//
//go:noinline
func pollOnce(id uint64) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	<-t.C
	_ = id
}
