package otelsession_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/memstore"
	"github.com/sessionkit/sessionkit/otelsession"
)

func Example() {
	// An application exports to its collector; this example keeps the
	// spans in memory to print them.
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	store := memstore.New(memstore.Config{})
	defer store.Close()
	mgr, err := sessionkit.New(store, sessionkit.Config{Observer: otelsession.New(tp)})
	if err != nil {
		panic(err)
	}
	h := mgr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionkit.FromContext(r.Context())
		n, _ := sessionkit.Get[int](s, "visits")
		s.Set("visits", n+1)
	}))

	first := httptest.NewRecorder()
	h.ServeHTTP(first, httptest.NewRequest("GET", "/", nil))
	again := httptest.NewRequest("GET", "/", nil)
	again.AddCookie(first.Result().Cookies()[0])
	h.ServeHTTP(httptest.NewRecorder(), again)

	for _, s := range exp.GetSpans() {
		fmt.Println(s.Name, s.Attributes[0].Value.AsString())
	}
	// Output:
	// sessionkit.create create
	// sessionkit.load load
	// sessionkit.commit commit
}
