module github.com/sessionkit/sessionkit/bench

go 1.26

require (
	github.com/buraksezer/consistent v0.10.0
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/sessionkit/sessionkit v0.0.0
	github.com/stathat/consistent v1.0.0
)

replace github.com/sessionkit/sessionkit => ../
