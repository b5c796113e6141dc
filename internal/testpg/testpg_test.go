package testpg

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestStartKillRestart(t *testing.T) {
	s := Start(t, Options{})
	url := s.CreateDB(t, "t1")
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		return c.Ping(ctx)
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := ping(); err == nil {
		t.Fatal("server answers after Kill")
	}
	start := time.Now()
	s.Restart(t)
	t.Logf("restart took %v", time.Since(start))
	if err := ping(); err != nil {
		t.Fatal(err)
	}
}
