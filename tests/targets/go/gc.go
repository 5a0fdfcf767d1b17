package main

import (
	"runtime/debug"
	"sync"
)

// node is pointer-heavy on purpose: every live node is work for the GC's mark phase.
type node struct {
	next  *node
	left  *node
	right *node
	pad   [4]uint64
}

var (
	gcOnce sync.Once
	live   *node
	sink   []*node
)

// gcTick models a GC storm: a large, pointer-rich live heap and, while the
// storm lasts (SIGUSR1 starts it, SIGUSR2 ends it), a high rate of short-lived
// allocations with a low GOGC, so the runtime spends much of its CPU marking.
func gcTick(id uint64) {
	gcOnce.Do(func() {
		for i := 0; i < 400000; i++ {
			live = &node{next: live}
		}
	})
	if !leaking.Load() {
		return
	}
	debug.SetGCPercent(5)
	garbage := make([]*node, 0, 2048)
	for i := 0; i < 2048; i++ {
		garbage = append(garbage, &node{left: live})
	}
	sink = garbage
}
