package demo

import (
	"context"
	"strings"
	"testing"
)

// TestRedisStrategyNeedsRedis: the redis strategy without a Redis URL
// fails at once, pointing at the ways to give the URL that keep its
// password off the command line.
func TestRedisStrategyNeedsRedis(t *testing.T) {
	_, err := Start(context.Background(), Config{Strategy: "redis"})
	if err == nil {
		t.Fatal("the redis strategy started without a Redis")
	}
	for _, want := range []string{"SESSIONKIT_REDIS", "-redis-file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %s: %v", want, err)
		}
	}
}
