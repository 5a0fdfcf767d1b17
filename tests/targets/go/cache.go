package main

import "sync"

// requestCache remembers responses by request ID. In the steady phase it
// evicts; once leaking, remember() keeps every unique ID forever.
type requestCache struct {
	mu      sync.Mutex
	entries map[uint64][]byte
}

var cache = &requestCache{entries: make(map[uint64][]byte)}

func cacheTick(id uint64) {
	if leaking.Load() {
		cache.remember(id)
		return
	}
	cache.rotate(id)
}

// remember is the leak: the key is unique per request, nothing deletes it.
//
//go:noinline
func (c *requestCache) remember(id uint64) {
	v := make([]byte, 16<<10)
	v[0] = byte(id)
	c.mu.Lock()
	c.entries[id] = v
	c.mu.Unlock()
}

// rotate keeps at most 64 entries: steady memory.
//
//go:noinline
func (c *requestCache) rotate(id uint64) {
	v := make([]byte, 16<<10)
	c.mu.Lock()
	c.entries[id%64] = v
	c.mu.Unlock()
}
