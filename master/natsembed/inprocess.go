package natsembed

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnectInProcess connects a client inside this process to the server
// with no socket: an in-memory pipe, and reconnects the same way. Such a
// client logs in like any other but never uses TLS, since nothing leaves
// the process.
func (s *Server) ConnectInProcess(opts ...nats.Option) (*nats.Conn, error) {
	u, err := url.Parse(s.ns.ClientURL())
	if err != nil {
		return nil, fmt.Errorf("natsembed: client URL: %w", err)
	}
	u.Scheme = "nats" // tls:// would make the client insist on TLS over the pipe
	return nats.Connect(u.String(), append(opts, nats.InProcessServer(inProcess{s}))...)
}

// inProcess hands the NATS client its end of an in-process connection,
// with a send buffer.
type inProcess struct{ s *Server }

// sendBuffer bounds what a client's in-process connection queues for the
// server, as a socket's send buffer does (4 MiB: the most Linux gives a
// TCP socket by default, tcp_wmem).
const sendBuffer = 4 << 20

func (p inProcess) InProcessConn() (net.Conn, error) {
	c, err := p.s.ns.InProcessConn()
	if err != nil {
		return nil, err
	}
	return newBufferedConn(c, sendBuffer), nil
}

// bufferedConn is the client's end of an in-process connection with a
// send buffer, as a socket has: Write queues and returns, and a goroutine
// hands what has queued to the pipe in one piece. On the bare pipe a
// Write lasts until the server has read and routed every byte, the NATS
// client holds its connection lock for that long, and every flush reaches
// the server on its own instead of with those queued behind it. Reads go
// straight to the pipe.
type bufferedConn struct {
	net.Conn // the pipe

	max   int
	ready chan struct{} // cap 1: data queued, or closing
	room  chan struct{} // cap 1: the drainer took the queue
	done  chan struct{} // closed when the drainer has returned

	mu            sync.Mutex
	buf           []byte
	writeDeadline time.Time
	closing       bool
	err           error // once set, writes fail with it
}

func newBufferedConn(c net.Conn, max int) *bufferedConn {
	b := &bufferedConn{Conn: c, max: max, ready: make(chan struct{}, 1), room: make(chan struct{}, 1), done: make(chan struct{})}
	go b.drain()
	return b
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Write queues p. It waits only while the queue is full, for at most
// the write deadline.
func (b *bufferedConn) Write(p []byte) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		b.mu.Lock()
		if b.err != nil {
			err := b.err
			b.mu.Unlock()
			return 0, err
		}
		if len(b.buf) == 0 || len(b.buf)+len(p) <= b.max {
			b.buf = append(b.buf, p...)
			b.mu.Unlock()
			signal(b.ready)
			return len(p), nil
		}
		dl := b.writeDeadline
		b.mu.Unlock()
		var expired <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			expired = timer.C
		}
		select {
		case <-b.room:
		case <-b.done:
		case <-expired:
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// drain writes what Write queued to the pipe, all of it at a time, until
// the connection closes (after the queue is written) or the pipe fails.
func (b *bufferedConn) drain() {
	defer close(b.done)
	var out []byte
	for range b.ready {
		for {
			b.mu.Lock()
			if len(b.buf) == 0 {
				closing := b.closing
				b.mu.Unlock()
				if closing {
					return
				}
				break
			}
			out, b.buf = b.buf, out[:0]
			b.mu.Unlock()
			signal(b.room)
			if _, err := b.Conn.Write(out); err != nil {
				b.fail(err)
				return
			}
		}
	}
}

func (b *bufferedConn) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
}

// closeFlush bounds how long Close waits for the queue to reach the
// server, as a socket lingers.
const closeFlush = time.Second

// Close writes what is queued (waiting at most closeFlush), then closes
// the pipe.
func (b *bufferedConn) Close() error {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return nil
	}
	b.closing = true
	if b.err == nil {
		b.err = net.ErrClosed // no more writes; the queue still goes
	}
	b.mu.Unlock()
	signal(b.ready)
	t := time.NewTimer(closeFlush)
	defer t.Stop()
	select {
	case <-b.done:
	case <-t.C:
	}
	err := b.Conn.Close() // also ends a drainer still writing
	<-b.done
	return err
}

// SetDeadline sets the read deadline on the pipe and the write deadline
// on the queue.
func (b *bufferedConn) SetDeadline(t time.Time) error {
	_ = b.SetWriteDeadline(t)
	return b.Conn.SetReadDeadline(t)
}

// SetWriteDeadline bounds how long a Write waits for room in the queue.
func (b *bufferedConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	b.writeDeadline = t
	b.mu.Unlock()
	return nil
}
