package pgtest

import (
	"testing"
	"time"
)

func TestStartKillRestart(t *testing.T) {
	s := Start(t, Options{})
	s.CreateDB(t, "t1") // pgstore's tests connect to the URL it returns
	ping := func() error {
		_, err := s.psql(5*time.Second, "t1", "SELECT 1")
		return err
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
