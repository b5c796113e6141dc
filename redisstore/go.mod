module github.com/sessionkit/sessionkit/redisstore

go 1.26.0

require (
	github.com/redis/rueidis v1.0.79
	github.com/sessionkit/sessionkit v0.0.0-00010101000000-000000000000
	go.uber.org/goleak v1.3.0
)

require (
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)
