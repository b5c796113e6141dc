module github.com/sessionkit/sessionkit

go 1.26.0

require (
	github.com/redis/rueidis v1.0.79
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.62.0
	golang.org/x/time v0.16.0
)

require golang.org/x/sys v0.49.0 // indirect
