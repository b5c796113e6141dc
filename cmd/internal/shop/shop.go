// Package shop is the demo application: a small shop (log in, fill a cart,
// check out) that shows which node served each request, the strategy, and
// what the session holds. Every end-to-end test drives it, through its
// HTML pages or its JSON API:
//
//	POST /api/login                {"user":"alice"}  log in (renews the token)
//	POST /api/cart                 {"item":"book"}   append to the cart (atomic update)
//	POST /api/checkout                               place an order, empty the cart
//	GET  /api/session                                the session view
//	POST /api/logout                                 end this session
//	POST /api/logout-everywhere                      end every session of the user
//	GET  /healthz                                    liveness
//	GET  /readyz                                     readiness: 503 while the store is unusable
//
// Every POST, of the pages' forms and of the API, is refused (403) when a
// browser says it comes from another origin (http.CrossOriginProtection).
package shop

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sessionkit/sessionkit"
)

// Config configures the shop.
type Config struct {
	// Node is this node's name, shown on every page and in every view.
	Node string
	// Strategy names the session strategy, for display.
	Strategy string
	// Manager manages the sessions; the shop's handler must be wrapped
	// by Manager.Handler.
	Manager *sessionkit.Manager
}

// Session keys the shop uses.
const (
	keyUser   = "user"
	keyCart   = "cart"
	keyOrders = "orders"
	keyFlash  = "flash"
)

// maxCart caps the cart, so that one client cannot grow a session without
// bound.
const maxCart = 500

// View is what GET /api/session returns.
type View struct {
	Node     string         `json:"node"`
	Strategy string         `json:"strategy"`
	User     string         `json:"user"`
	Cart     []string       `json:"cart"`
	Orders   int            `json:"orders"`
	Flash    string         `json:"flash,omitempty"`
	Expires  time.Time      `json:"expires,omitzero"`
	Values   map[string]any `json:"values"`
}

//go:embed page.html
var pageFS embed.FS

var page = template.Must(template.ParseFS(pageFS, "page.html"))

type shop struct {
	cfg Config
}

// New returns the shop's handler, to be wrapped by cfg.Manager.Handler.
func New(cfg Config) http.Handler {
	s := &shop{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("POST /login", s.form(s.login))
	mux.HandleFunc("POST /cart", s.form(s.addToCart))
	mux.HandleFunc("POST /checkout", s.form(s.checkout))
	mux.HandleFunc("POST /logout", s.form(s.logout))
	mux.HandleFunc("POST /logout-everywhere", s.form(s.logoutEverywhere))
	mux.HandleFunc("GET /api/session", s.api(nil))
	mux.HandleFunc("POST /api/login", s.api(s.login))
	mux.HandleFunc("POST /api/cart", s.api(s.addToCart))
	mux.HandleFunc("POST /api/checkout", s.api(s.checkout))
	mux.HandleFunc("POST /api/logout", s.api(s.logout))
	mux.HandleFunc("POST /api/logout-everywhere", s.api(s.logoutEverywhere))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return crossOriginProtection(mux)
}

// crossOriginProtection refuses cross-origin requests that change state
// (every POST of the forms and of the JSON API), with 403: the browser's
// Sec-Fetch-Site header, or else its Origin, must name this very site.
// SameSite=Lax cookies alone let a cross-site form log a visitor in to
// the attacker's account (login CSRF), and sibling subdomains are
// same-site. Requests without either header (not from a browser) pass.
func crossOriginProtection(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const msg = "cross-origin request refused"
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": msg})
			return
		}
		http.Error(w, msg, http.StatusForbidden)
	}))
	return cop.Handler(h)
}

// request is the body of the JSON API's POST requests, and the fields of
// the HTML forms.
type request struct {
	User string `json:"user,omitempty"`
	Item string `json:"item,omitempty"`
}

// action changes the session for one request.
type action func(r *http.Request, s *sessionkit.Session, in request) error

// errBadRequest marks an error that is the client's.
var errBadRequest = errors.New("bad request")

func (s *shop) login(r *http.Request, sess *sessionkit.Session, in request) error {
	user := strings.TrimSpace(in.User)
	if user == "" || len(user) > 64 {
		return fmt.Errorf("%w: user must be 1 to 64 characters", errBadRequest)
	}
	if err := sess.SetPrincipal(user); err != nil {
		return err
	}
	if err := sess.Set(keyUser, user); err != nil {
		return err
	}
	return sess.Set(keyFlash, "Welcome, "+user+".")
}

func (s *shop) addToCart(r *http.Request, sess *sessionkit.Session, in request) error {
	item := strings.TrimSpace(in.Item)
	if item == "" || len(item) > 200 {
		return fmt.Errorf("%w: item must be 1 to 200 characters", errBadRequest)
	}
	return sess.Update(keyCart, func(old any, _ bool) (any, error) {
		cart, _ := old.([]string)
		if len(cart) >= maxCart {
			return nil, fmt.Errorf("%w: the cart holds at most %d items", errBadRequest, maxCart)
		}
		return append(slices.Clip(cart), item), nil
	})
}

func (s *shop) checkout(r *http.Request, sess *sessionkit.Session, _ request) error {
	cart, _ := sessionkit.Get[[]string](sess, keyCart)
	if len(cart) == 0 {
		return fmt.Errorf("%w: the cart is empty", errBadRequest)
	}
	if err := sess.Delete(keyCart); err != nil {
		return err
	}
	err := sess.Update(keyOrders, func(old any, _ bool) (any, error) {
		n, _ := old.(int)
		return n + 1, nil
	})
	if err != nil {
		return err
	}
	return sess.Set(keyFlash, fmt.Sprintf("Order placed: %d items.", len(cart)))
}

func (s *shop) logout(r *http.Request, sess *sessionkit.Session, _ request) error {
	return sess.Destroy()
}

func (s *shop) logoutEverywhere(r *http.Request, sess *sessionkit.Session, _ request) error {
	user := sess.Principal()
	if err := sess.Destroy(); err != nil {
		return err
	}
	if user == "" {
		return nil
	}
	_, err := s.cfg.Manager.RevokeAll(r.Context(), user)
	return err
}

// api serves a JSON endpoint: decode the body (strictly), act, answer the
// session view.
func (s *shop) api(act action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionkit.FromContext(r.Context())
		if act != nil {
			var in request
			if err := decodeJSON(w, r, &in); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
				return
			}
			if err := act(r, sess, in); err != nil {
				s.fail(w, err, true)
				return
			}
		}
		if err := sess.Err(); err != nil {
			s.fail(w, err, true)
			return
		}
		writeJSON(w, http.StatusOK, s.view(sess, false))
	}
}

// decodeJSON reads one JSON object with only known fields. An empty body
// is an empty object.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, 64<<10)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: more than one value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON body: trailing data")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// fail answers an action's error: 400 for the client's, the session
// error's own status otherwise.
func (s *shop) fail(w http.ResponseWriter, err error, asJSON bool) {
	code := http.StatusBadRequest
	if !errors.Is(err, errBadRequest) {
		code = sessionkit.ErrorStatus(err)
	}
	msg := strings.TrimPrefix(err.Error(), errBadRequest.Error()+": ")
	if asJSON {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	http.Error(w, msg, code)
}

// view returns the session view; popFlash shows the flash message once
// (the pages do; the API only shows it, so that its GET never writes).
func (s *shop) view(sess *sessionkit.Session, popFlash bool) View {
	v := View{Node: s.cfg.Node, Strategy: s.cfg.Strategy, Cart: []string{}, Values: map[string]any{}}
	for _, k := range sess.Keys() { // each value decoded once
		val, _ := sess.Get(k)
		v.Values[k] = val
		switch k {
		case keyUser:
			v.User, _ = val.(string)
		case keyCart:
			if cart, ok := val.([]string); ok {
				v.Cart = cart
			}
		case keyOrders:
			v.Orders, _ = val.(int)
		}
	}
	if popFlash {
		if f, ok := sess.Pop(keyFlash); ok {
			v.Flash, _ = f.(string)
		}
	}
	if len(v.Values) > 0 {
		v.Expires = sess.Deadline()
	}
	return v
}

func (s *shop) page(w http.ResponseWriter, r *http.Request) {
	sess := sessionkit.FromContext(r.Context())
	v := s.view(sess, true)
	if err := sess.Err(); err != nil {
		s.fail(w, err, false)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := page.Execute(w, v); err != nil {
		// The header is out: nothing better to do than stop.
		return
	}
}

// form serves an HTML form post: act, then redirect to the page.
func (s *shop) form(act action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		in := request{User: r.PostFormValue("user"), Item: r.PostFormValue("item")}
		sess := sessionkit.FromContext(r.Context())
		if err := act(r, sess, in); err != nil {
			if !errors.Is(err, errBadRequest) {
				s.fail(w, err, false)
				return
			}
			sess.Set(keyFlash, strings.TrimPrefix(err.Error(), errBadRequest.Error()+": "))
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	}
}
