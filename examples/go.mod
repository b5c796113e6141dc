module github.com/sessionkit/sessionkit/examples

go 1.26.0

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/sessionkit/sessionkit v0.0.0-00010101000000-000000000000
)

require (
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)
