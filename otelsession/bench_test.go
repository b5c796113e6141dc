package otelsession_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/otelsession"
)

// BenchmarkRequest serves a request that loads and changes a session on
// memstore, untraced and traced (every span sampled, then dropped): what
// tracing costs a request, allocations foremost.
func BenchmarkRequest(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	defer tp.Shutdown(context.Background())
	for _, bc := range []struct {
		name string
		obs  sessionkit.Observer
	}{{"off", nil}, {"on", otelsession.New(tp)}} {
		b.Run(bc.name, func(b *testing.B) {
			store := memstore.New(memstore.Config{})
			defer store.Close()
			mgr, err := sessionkit.New(store, sessionkit.Config{Observer: bc.obs})
			if err != nil {
				b.Fatal(err)
			}
			h := mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := sessionkit.FromContext(r.Context())
				n, _ := sessionkit.Get[int](s, "n")
				s.Set("n", n+1)
			}))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			cookie := w.Result().Cookies()[0]
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(cookie)
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		})
	}
}
