package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// wire counts the bytes on the clients' connections to the router: what
// the clients write (requests) and read (responses), headers, bodies and
// cookies included.
type wire struct {
	written, read atomic.Int64
	done          atomic.Int64 // requests completed
}

type countingConn struct {
	net.Conn
	w *wire
}

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.w.read.Add(int64(n))
	return n, err
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.w.written.Add(int64(n))
	return n, err
}

// transport returns an HTTP transport whose connections count into w.
func (w *wire) transport(conns int) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{c, w}, nil
		},
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
}

// loss is a user finding their session or cart items gone.
type loss struct {
	seen    time.Duration // the session was last seen whole by a request sent then
	t       time.Duration // the request that found the loss was answered then
	user    int
	session bool // the session; else cart items
	items   int
}

// workload runs simulated users against a router.
type workload struct {
	base  string
	start time.Time
	think time.Duration
	wire  *wire
	tr    *http.Transport

	mu      sync.Mutex
	samples []Sample
	losses  []loss
	served  map[int]string // the node that last answered each user
}

func newWorkload(base string, users int, think time.Duration) *workload {
	w := &workload{base: base, think: think, wire: &wire{}, served: map[int]string{}}
	w.tr = w.wire.transport(users + 8)
	return w
}

// busiest returns the node that last answered the most users, and how
// many.
func (w *workload) busiest() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	counts := map[string]int{}
	for _, n := range w.served {
		counts[n]++
	}
	best, most := "", -1
	for n, c := range counts {
		if c > most || (c == most && n < best) {
			best, most = n, c
		}
	}
	return best, most
}

// view is the part of the shop's session view the users check.
type view struct {
	User  string   `json:"user"`
	Cart  []string `json:"cart"`
	Error string   `json:"error"`
}

type user struct {
	w        *workload
	id       int
	name     string
	client   *http.Client
	rng      *rand.Rand
	loggedIn bool
	cart     []string
	next     int           // next item number
	sent     time.Duration // when the last request was sent
	seen     time.Duration // when a request last sent found the session whole
	unsure   bool          // a checkout got no answer: an empty cart is no loss
	samples  []Sample
	losses   []loss
}

// run starts users, each after a staggered delay within ramp, and runs
// them until ctx ends. It returns when every user has stopped.
func (w *workload) run(ctx context.Context, users int, ramp time.Duration, seed uint64) {
	var wg sync.WaitGroup
	for i := range users {
		u := newUser(w, i, seed)
		delay := time.Duration(0)
		if users > 1 {
			delay = ramp * time.Duration(i) / time.Duration(users)
		}
		wg.Go(func() {
			if sleep(ctx, delay) {
				u.loop(ctx)
			}
			w.mu.Lock()
			w.samples = append(w.samples, u.samples...)
			w.losses = append(w.losses, u.losses...)
			w.mu.Unlock()
		})
	}
	wg.Wait()
	w.tr.CloseIdleConnections()
	slices.SortFunc(w.samples, func(a, b Sample) int { return int(a.T - b.T) })
	slices.SortFunc(w.losses, func(a, b loss) int { return int(a.t - b.t) })
}

func newUser(w *workload, id int, seed uint64) *user {
	jar, _ := cookiejar.New(nil)
	return &user{
		w: w, id: id, name: fmt.Sprintf("user%04d", id),
		client: &http.Client{Jar: jar, Transport: w.tr, Timeout: 5 * time.Second},
		rng:    rand.New(rand.NewPCG(seed, uint64(id))),
	}
}

// fill logs the user in and puts items in the cart, without pauses; it
// reports whether every request succeeded.
func (u *user) fill(ctx context.Context, items int) bool {
	if v, ok := u.do(ctx, "login", "POST", "/api/login", fmt.Sprintf(`{"user":%q}`, u.name)); !ok || v.User != u.name {
		return false
	}
	for i := range items {
		item := fmt.Sprintf("sku-%05d-%s", i+1, u.name)
		if v, ok := u.do(ctx, "cart", "POST", "/api/cart", fmt.Sprintf(`{"item":%q}`, item)); !ok || len(v.Cart) != i+1 {
			return false
		}
	}
	return true
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pause is a think time: uniform between half and one and a half times
// the mean.
func (u *user) pause(ctx context.Context) bool {
	if u.w.think == 0 {
		return ctx.Err() == nil
	}
	d := u.w.think/2 + time.Duration(u.rng.Int64N(int64(u.w.think)+1))
	return sleep(ctx, d)
}

// loop is a user's visit: log in, then browse, add to the cart and check
// out, again and again, checking each answer against what the user knows
// the session holds.
func (u *user) loop(ctx context.Context) {
	for ctx.Err() == nil {
		if !u.loggedIn {
			if v, ok := u.do(ctx, "login", "POST", "/api/login", fmt.Sprintf(`{"user":%q}`, u.name)); ok && v.User == u.name {
				u.loggedIn, u.cart, u.seen = true, nil, u.sent
			}
			if !u.pause(ctx) {
				return
			}
			continue
		}
		u.browse(ctx)
		if !u.pause(ctx) {
			return
		}
		for range 1 + u.rng.IntN(3) {
			if !u.loggedIn {
				break
			}
			u.next++
			item := fmt.Sprintf("sku-%05d-%s", u.next, u.name)
			if v, ok := u.do(ctx, "cart", "POST", "/api/cart", fmt.Sprintf(`{"item":%q}`, item)); ok {
				if u.check(v, 1) {
					u.cart = append(u.cart, item)
				}
			}
			if !u.pause(ctx) {
				return
			}
		}
		if u.loggedIn && len(u.cart) > 0 && u.rng.IntN(2) == 0 {
			u.browse(ctx)
			if !u.pause(ctx) {
				return
			}
			if u.loggedIn && len(u.cart) > 0 {
				v, ok := u.do(ctx, "checkout", "POST", "/api/checkout", "")
				switch {
				case ok && u.check(v, -len(u.cart)):
					u.cart = nil
				case !ok:
					// No answer: the order may have gone through.
					u.unsure = true
				}
				if !u.pause(ctx) {
					return
				}
			}
		}
	}
}

func (u *user) browse(ctx context.Context) {
	if v, ok := u.do(ctx, "browse", "GET", "/api/session", ""); ok {
		u.check(v, 0)
	}
}

// check compares the view after a request with what the user expects;
// delta is how the request changed the cart. It records a loss and
// reports false when the session or items are gone.
func (u *user) check(v view, delta int) bool {
	t := time.Since(u.w.start)
	if v.User != u.name {
		u.losses = append(u.losses, loss{seen: u.seen, t: t, user: u.id, session: true, items: len(u.cart)})
		u.loggedIn, u.cart, u.unsure = false, nil, false
		return false
	}
	if u.unsure && len(v.Cart) == 0 && delta == 0 {
		u.cart = nil // the checkout went through; its answer was lost
	}
	u.unsure = false
	want := len(u.cart) + delta
	if delta < 0 {
		want = 0
	}
	if len(v.Cart) < want {
		u.losses = append(u.losses, loss{seen: u.seen, t: t, user: u.id, items: want - len(v.Cart)})
		// The cart the server holds is the cart from now on.
		u.cart = slices.Clone(v.Cart)
		if delta > 0 && len(u.cart) > 0 {
			u.cart = u.cart[:len(u.cart)-1] // the caller appends the new item
		}
		return delta > 0
	}
	u.seen = u.sent
	return true
}

// do sends one request and records it. ok is false when the request
// failed (no answer, or not 200).
func (u *user) do(ctx context.Context, op, method, path, body string) (v view, ok bool) {
	req, err := http.NewRequestWithContext(ctx, method, u.w.base+path, bytes.NewReader([]byte(body)))
	if err != nil {
		return v, false
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	t0 := time.Now()
	u.sent = t0.Sub(u.w.start)
	resp, err := u.client.Do(req)
	code := 0
	if err == nil {
		code = resp.StatusCode
		if node := resp.Header.Get("X-Sessionkit-Node"); node != "" && code == http.StatusOK {
			u.w.mu.Lock()
			u.w.served[u.id] = node
			u.w.mu.Unlock()
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&v)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if ctx.Err() != nil {
		return v, false // the run ended: not a failure of the strategy
	}
	u.w.wire.done.Add(1)
	u.samples = append(u.samples, Sample{T: t0.Sub(u.w.start), Latency: time.Since(t0), Op: op, Code: code, User: u.id})
	return v, err == nil && code == http.StatusOK
}
