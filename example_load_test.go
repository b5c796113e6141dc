package sessionkit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"golang.org/x/net/websocket"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
)

// A WebSocket connection outlives the request that opened it, so its
// message loop loads and commits the session itself, once per message,
// with the token of the upgrade request. A message that renews the session
// (a login over the socket) gets a new token, which the loop keeps.
func ExampleManager_Load_webSocket() {
	store := memstore.New(memstore.Config{})
	defer store.Close()
	mgr, err := sessionkit.New(store, sessionkit.Config{})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		sessionkit.FromContext(r.Context()).SetPrincipal("alice")
	})
	mux.Handle("GET /ws", websocket.Handler(func(ws *websocket.Conn) {
		ctx := ws.Request().Context()
		tok := mgr.Token(ws.Request())
		for {
			var msg string
			if websocket.Message.Receive(ws, &msg) != nil {
				return // the client went away
			}
			s, err := mgr.Load(ctx, tok)
			if err != nil {
				websocket.Message.Send(ws, "the session store is unavailable")
				continue
			}
			n, _ := sessionkit.Get[int](s, "messages")
			s.Set("messages", n+1)
			if tok, err = s.Commit(ctx); err != nil {
				websocket.Message.Send(ws, err.Error())
				continue
			}
			websocket.Message.Send(ws, fmt.Sprintf("%s, message %d: %s", s.Principal(), n+1, msg))
		}
	}))
	srv := httptest.NewServer(mgr.Handler(mux))
	defer srv.Close()

	login, err := http.Post(srv.URL+"/login", "", nil)
	if err != nil {
		panic(err)
	}
	login.Body.Close()
	cookie := login.Cookies()[0]

	cfg, err := websocket.NewConfig("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", srv.URL)
	if err != nil {
		panic(err)
	}
	cfg.Header.Set("Cookie", cookie.Name+"="+cookie.Value)
	ws, err := cfg.DialContext(context.Background())
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	for _, msg := range []string{"hello", "again"} {
		var reply string
		websocket.Message.Send(ws, msg)
		websocket.Message.Receive(ws, &reply)
		fmt.Println(reply)
	}
	// Output:
	// alice, message 1: hello
	// alice, message 2: again
}
