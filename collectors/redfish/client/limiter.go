package client

import "context"

// Limiter bounds the requests in flight. One Limiter per BMC (inside each
// Client) and one shared by all the Clients of a collector.
type Limiter struct{ ch chan struct{} }

// NewLimiter allows n requests at once; n <= 0 means no limit (nil Limiter).
func NewLimiter(n int) *Limiter {
	if n <= 0 {
		return nil
	}
	return &Limiter{ch: make(chan struct{}, n)}
}

// Acquire waits for a slot or for ctx to end.
func (l *Limiter) Acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release frees a slot taken by Acquire.
func (l *Limiter) Release() {
	if l != nil {
		<-l.ch
	}
}
