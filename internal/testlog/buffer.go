// Package testlog holds what the project's tests share to read what a
// broker logs.
package testlog

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that a logger's goroutines may write to while
// a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
