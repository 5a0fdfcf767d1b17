package main

import (
	"runtime/debug"
	"sync"
)

var burstOnce sync.Once

// burstTick is steady until SIGUSR1, then loads one large report and drops
// it: the in-use heap comes back down, RSS does not when the runtime frees
// with MADV_FREE (GODEBUG=madvdontneed=0).
func burstTick(id uint64) {
	steadyTick(id)
	if leaking.Load() {
		burstOnce.Do(func() {
			burstSink = loadReportBurst()
			burstSink = nil
			debug.FreeOSMemory()
		})
	}
}

var burstSink [][]byte

// loadReportBurst allocates 128 MiB in 1 MiB pieces and touches them.
//
//go:noinline
func loadReportBurst() [][]byte {
	parts := make([][]byte, 0, 128)
	for i := 0; i < 128; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += 4096 {
			b[j] = byte(j)
		}
		parts = append(parts, b)
	}
	return parts
}
