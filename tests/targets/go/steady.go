package main

import "sync"

var (
	steadyMu  sync.Mutex
	steadyBuf [32][]byte
)

// steadyTick allocates and drops: garbage, no growth, whatever the phase.
func steadyTick(id uint64) {
	b := make([]byte, 8<<10)
	steadyMu.Lock()
	steadyBuf[id%32] = b
	steadyMu.Unlock()
}
