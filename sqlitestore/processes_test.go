package sqlitestore_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/sessionkit"
	"github.com/sessionkit/sessionkit/internal/sqlcore/sqlcoretest"
	"github.com/sessionkit/sessionkit/sqlitestore"
)

const (
	childEnv      = "SQLITESTORE_TEST_CHILD"
	children      = 3
	childWorkers  = 4
	childRounds   = 25
	childDeadline = 60 * time.Second
)

// TestSQLiteProcesses has three processes share one file under load: each
// runs concurrent Updates of one shared key and Commits of its own keys.
// Nothing may be lost, and no write may fail: the busy timeout absorbs
// every lock wait.
func TestSQLiteProcesses(t *testing.T) {
	if arg := os.Getenv(childEnv); arg != "" {
		runChild(t, arg)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "shared.db")
	fresh := filepath.Join(dir, "fresh.db") // the children migrate it at once
	ctx, cancel := context.WithTimeout(context.Background(), childDeadline)
	defer cancel()
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{
		Meta: sessionkit.Meta{Created: now, IdleTimeout: time.Hour, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)},
	})
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, children)
	errs := make([]error, children)
	for i := range children {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSQLiteProcesses$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%s|%d", childEnv, path, fresh, string(tok), i))
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		wg.Go(func() { errs[i] = cmd.Run() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("child %d: %v\n%s", i, err, outs[i].String())
		}
	}
	if t.Failed() {
		return
	}

	rec, found, err := s.Load(ctx, tok)
	if err != nil || !found {
		t.Fatalf("Load: %v, %v", found, err)
	}
	v, err := sessionkit.BinaryCodec{}.Decode(rec.Values["cart"])
	if err != nil {
		t.Fatal(err)
	}
	items := v.([]string)
	slices.Sort(items)
	if n := len(slices.Compact(items)); n != children*childWorkers*childRounds {
		t.Errorf("cart has %d distinct items, want %d: Updates were lost", n, children*childWorkers*childRounds)
	}
	if n := len(rec.Values) - 1; n != children*childWorkers*childRounds {
		t.Errorf("%d committed keys, want %d: Commits were lost", n, children*childWorkers*childRounds)
	}
	fs, err := sqlitestore.Open(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if vs, err := sqlcoretest.Migrations(ctx, fs); err != nil || !slices.Equal(vs, []int{1, 2}) {
		t.Errorf("migrations of the file the children opened at once: %v, %v; want [1 2]", vs, err)
	}
}

// runChild is one process of TestSQLiteProcesses.
func runChild(t *testing.T, arg string) {
	parts := strings.Split(arg, "|")
	path, fresh, tok, id := parts[0], parts[1], sessionkit.Token(parts[2]), parts[3]
	ctx, cancel := context.WithTimeout(context.Background(), childDeadline)
	defer cancel()
	fs, err := sqlitestore.Open(ctx, fresh)
	if err != nil {
		t.Fatalf("open a fresh file with the other processes: %v", err)
	}
	fs.Close()
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	codec := sessionkit.BinaryCodec{}
	var wg sync.WaitGroup
	for w := range childWorkers {
		wg.Go(func() {
			for r := range childRounds {
				item := fmt.Sprintf("p%s-w%d-r%d", id, w, r)
				dl := time.Now().Add(time.Hour)
				_, err := s.Update(ctx, tok, "cart", dl, func(old []byte, ok bool) ([]byte, error) {
					var items []string
					if ok {
						v, err := codec.Decode(old)
						if err != nil {
							return nil, err
						}
						items = v.([]string)
					}
					return codec.Encode(append(items, item))
				})
				if err != nil {
					t.Errorf("Update: %v (busy: %v)", err, errors.Is(err, sqlitestore.ErrBusy))
				}
				b, _ := codec.Encode(r)
				if _, err := s.Commit(ctx, tok, sessionkit.Delta{Set: []sessionkit.Entry{{Key: item, Value: b}}, IdleDeadline: dl}); err != nil {
					t.Errorf("Commit: %v (busy: %v)", err, errors.Is(err, sqlitestore.ErrBusy))
				}
			}
		})
	}
	wg.Wait()
}

// TestSQLiteBusy holds the file's write lock from another connection past
// the busy timeout: writes fail with ErrBusy, which wraps ErrUnavailable
// (503), reads go on, and writes succeed again once the lock is released.
func TestSQLiteBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqlitestore.New(ctx, sqlitestore.Config{Path: path, BusyTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	tok, err := s.Create(ctx, sessionkit.NewToken(), sessionkit.Record{
		Meta:   sessionkit.Meta{Created: now, IdleDeadline: now.Add(time.Hour), Deadline: now.Add(time.Hour)},
		Values: map[string][]byte{"a": {1}},
	})
	if err != nil {
		t.Fatal(err)
	}

	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	d := sessionkit.Delta{Set: []sessionkit.Entry{{Key: "b", Value: []byte{2}}}, IdleDeadline: now.Add(time.Hour)}
	_, err = s.Commit(ctx, tok, d)
	if !errors.Is(err, sqlitestore.ErrBusy) || !errors.Is(err, sessionkit.ErrUnavailable) {
		t.Fatalf("Commit while another process holds the write lock: %v, want ErrBusy and ErrUnavailable", err)
	}
	t.Logf("the error: %v", err)
	if _, found, err := s.Load(ctx, tok); !found || err != nil {
		t.Fatalf("Load while the write lock is held: %v, %v", found, err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, tok, d); err != nil {
		t.Fatalf("Commit once the lock is released: %v", err)
	}
}
