package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sessionkit/sessionkit/internal/proc"
	"github.com/sessionkit/sessionkit/internal/tick"
)

// record is one line of a recorder's history file: an operation of a
// shopper (Kind "add" or "read"), or how many nodes the router found
// healthy at a moment (Kind "members").
type record struct {
	Kind    string   `json:"k"`
	Shopper int      `json:"s,omitempty"`
	Item    string   `json:"v,omitempty"`
	Call    int64    `json:"t0"`           // invoked, Unix nanoseconds
	Return  int64    `json:"t1,omitempty"` // answered or given up
	Outcome string   `json:"r,omitempty"`  // ok, fail or unknown
	Code    int      `json:"code,omitempty"`
	Cart    []string `json:"c,omitempty"`
	User    string   `json:"u,omitempty"`
	Node    string   `json:"n,omitempty"` // the node that answered
	Final   bool     `json:"f,omitempty"` // a read after the load stopped
	Healthy int      `json:"m,omitempty"`
	Err     string   `json:"e,omitempty"`
}

// The outcomes of an operation. A failed addition was certainly not
// applied (refused before it reached a node, or refused by the shop); an
// unknown one may have been, at any time until the end of the history.
const (
	outcomeOK      = "ok"
	outcomeFail    = "fail"
	outcomeUnknown = "unknown"
)

// The recorder's load: each shopper adds an item and reads its cart
// every pace, and starts a new session when its cart holds cartLimit
// items.
const (
	pace               = 40 * time.Millisecond
	cartLimit          = 400
	sessionsPerShopper = 1000
)

// recorder runs the shoppers of one round of TestPartitions, in its own
// namespace (TestMain runs it when SESSIONKIT_NETNS_CLIENT is "record"):
// it logs SESSIONKIT_PARTITION_SHOPPERS users in through the router,
// prints "recording", and then has each shopper, in a loop, add a unique
// item to its cart and read its session, writing every operation to the
// history file as it is invoked and as it returns. When the stop file
// appears it stops the load, reads every session once more (retrying
// until an answer), and exits.
func recorder() error {
	routerURL, admin := os.Getenv("SESSIONKIT_NETNS_ROUTER"), os.Getenv("SESSIONKIT_NETNS_ADMIN")
	stopFile := os.Getenv("SESSIONKIT_PARTITION_STOP")
	prefix := os.Getenv("SESSIONKIT_PARTITION_PREFIX")
	shoppers, err := strconv.Atoi(os.Getenv("SESSIONKIT_PARTITION_SHOPPERS"))
	if err != nil || shoppers < 1 {
		return fmt.Errorf("SESSIONKIT_PARTITION_SHOPPERS: %v", err)
	}
	f, err := os.OpenFile(os.Getenv("SESSIONKIT_PARTITION_HISTORY"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	var mu sync.Mutex
	w := bufio.NewWriter(f)
	write := func(r record) {
		b, _ := json.Marshal(r)
		mu.Lock()
		w.Write(append(b, '\n'))
		mu.Unlock()
	}
	flush := func() {
		mu.Lock()
		w.Flush()
		mu.Unlock()
	}
	transport := &http.Transport{MaxIdleConnsPerHost: shoppers, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}
	type shopper struct {
		id   int // of its session: a shopper that fills a cart starts another
		user string
		c    *http.Client
		n    int
	}
	// login starts a new session for a shopper: a new user, with a new
	// cookie jar, whose cart is empty.
	login := func(s *shopper) error {
		jar, _ := cookiejar.New(nil)
		s.c = &http.Client{Jar: jar, Transport: transport, Timeout: 4 * time.Second}
		s.user, s.n = fmt.Sprintf("%s-%d", prefix, s.id), 0
		return proc.WaitFor(60*time.Second, func() error {
			v, err := shop(s.c, "POST", routerURL+"/api/login", `{"user":"`+s.user+`"}`)
			if err == nil && (v.User != s.user || len(v.Cart) != 0) {
				return proc.Stop(fmt.Errorf("%s after login: %+v", s.user, v))
			}
			return err
		})
	}
	all := make([]*shopper, shoppers)
	for i := range all {
		all[i] = &shopper{id: i * sessionsPerShopper}
		if err := login(all[i]); err != nil {
			return err
		}
	}
	fmt.Println("recording")

	// do runs one operation and records it.
	do := func(i int, s *shopper, kind, item string, final bool) record {
		r := record{Kind: kind, Shopper: i, Item: item, Call: time.Now().UnixNano(), Final: final}
		var v view
		var err error
		if kind == "add" {
			v, err = shop(s.c, "POST", routerURL+"/api/cart", `{"item":"`+item+`"}`)
		} else {
			v, err = shop(s.c, "GET", routerURL+"/api/session", "")
		}
		r.Return = time.Now().UnixNano()
		r.Outcome = classify(err)
		if err == nil {
			r.Code, r.Cart, r.User, r.Node = 200, v.Cart, v.User, v.Node
			if r.Cart == nil {
				r.Cart = []string{}
			}
		} else {
			r.Err = err.Error()
			if se, ok := errors.AsType[*statusError](err); ok {
				r.Code = se.code
			}
		}
		write(r)
		return r
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var retired []*shopper // sessions that were left full: read at the end too
	var loginErr error
	var loginOnce sync.Once
	for _, s := range all {
		wg.Go(func() {
			ticker := time.NewTicker(pace)
			defer ticker.Stop()
			for {
				select {
				case <-stop:
					return
				case <-ticker.C:
				}
				if s.n == cartLimit {
					mu.Lock()
					retired = append(retired, &shopper{id: s.id, user: s.user, c: s.c})
					mu.Unlock()
					// The shop keeps 500 items at most: another
					// session, whose history starts empty.
					s.id++
					if err := login(s); err != nil {
						loginOnce.Do(func() { loginErr = err })
						return
					}
				}
				s.n++
				do(s.id, s, "add", fmt.Sprintf("%s-%d-%d", prefix, s.id, s.n), false)
				do(s.id, s, "read", "", false)
			}
		})
	}
	wg.Go(func() { // the router's view of the nodes, and the flushes
		tick.Every(stop, 200*time.Millisecond, func(time.Time) {
			var members []struct{ Healthy bool }
			healthy := -1
			if adminGet(admin, "/members", &members) == nil {
				healthy = 0
				for _, m := range members {
					if m.Healthy {
						healthy++
					}
				}
			}
			write(record{Kind: "members", Call: time.Now().UnixNano(), Healthy: healthy})
			flush()
		})
	})
	for {
		if _, err := os.Stat(stopFile); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if loginErr != nil {
		return loginErr
	}
	// Each session once more, until it answers.
	for _, s := range append(all, retired...) {
		deadline := time.Now().Add(30 * time.Second)
		for do(s.id, s, "read", "", true).Outcome != outcomeOK {
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	flush()
	return f.Sync()
}

// classify tells what a request's error says of its effect: nil is ok; a
// connection the router refused, the router's "no healthy backend" (it
// sent nothing) and a 4xx refusal of the shop are failures; anything else
// (a 5xx of a node, a 502 or 504 of the router, a reset or a timeout) may
// have been applied, and is unknown.
func classify(err error) string {
	if err == nil {
		return outcomeOK
	}
	if se, ok := errors.AsType[*statusError](err); ok {
		switch {
		case se.code >= 400 && se.code < 500:
			return outcomeFail
		case se.code == http.StatusServiceUnavailable && strings.Contains(se.body, "no healthy backend"):
			return outcomeFail
		}
		return outcomeUnknown
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return outcomeFail
	}
	return outcomeUnknown
}

// readHistory reads a recorder's history file.
func readHistory(path string) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []record
	dec := json.NewDecoder(f)
	for {
		var r record
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return out, nil // a line being written is read next time
			}
			return out, err
		}
		out = append(out, r)
	}
}
